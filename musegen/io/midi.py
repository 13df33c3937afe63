"""Writing MIDI that a DAW accepts (GUIDE section 3).

`write_midi` / `midi_bytes` write with mido, not symusic's writer, so the conductor track,
channels (`assign_channels`, the synth's too), program changes, note order and end-of-track
events follow the guide exactly. The same score always gives the same bytes.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import mido
from symusic import Score
from symusic.core import ScoreTick

from musegen.errors import InputError
from musegen.io.channels import assign_channels
from musegen.io.files import atomic_write_bytes
from musegen.music.labels import MAJOR_KEY_TONICS, MINOR_KEY_TONICS

Event = tuple[int, int, int, str, dict[str, Any]]  # (tick, priority, order, type, attributes)
_META = {"track_name", "set_tempo", "time_signature", "key_signature", "marker", "text", "lyrics"}


def _ev(tick: int, priority: int, order: int, kind: str, **attributes: Any) -> Event:
    """An event to sort by (tick, priority, order): at a tick, note-offs (2) come before
    controls (3), bends (4) and note-ons (5). Messages are built once, when times are known."""
    return max(0, int(tick)), priority, order, kind, attributes


def write_midi(
    score: Score,
    path: str | os.PathLike[str],
    *,
    channels: dict[int, int] | None = None,
    marker: str | None = None,
    marker_tick: int = 0,
    key_signatures: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write `score` as DAW-safe MIDI (see `midi_bytes`), atomically; return the path.

    Refuses to replace an existing file unless `overwrite` is true (the CLI's --force).
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name ending in .mid")
    if path.exists() and not overwrite:
        raise InputError(f"{path}: already exists; pass `force` to overwrite it")
    data = midi_bytes(
        score,
        channels=channels,
        marker=marker,
        marker_tick=marker_tick,
        key_signatures=key_signatures,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, data)


def midi_bytes(
    score: Score,
    *,
    channels: dict[int, int] | None = None,
    marker: str | None = None,
    marker_tick: int = 0,
    key_signatures: bool = True,
) -> bytes:
    """Serialise `score` as a type-1 Standard MIDI File following GUIDE section 3.

    Args:
        channels: preferred MIDI channel per track index (e.g. `SeedFile.channels`); see
            `assign_channels`: drums always go to channel 9, and a melodic track never does.
        marker: text written as a marker and a text event on the conductor track.
        marker_tick: where the marker goes (e.g. the first generated bar).
        key_signatures: write the score's key signatures (some seeds carry wrong ones).

    Zero-length notes are dropped, same-pitch overlaps on a channel are shortened, velocity is
    clamped to 1..127 and pitch to 0..127. The same score always gives the same bytes.
    """
    if not isinstance(score, ScoreTick):
        score = score.to("tick")
    tpq = int(score.ticks_per_quarter)
    if not 1 <= tpq <= 32767:
        raise ValueError(f"ticks_per_quarter must be in 1..32767, got {tpq}")
    midi = mido.MidiFile(type=1, ticks_per_beat=tpq)
    midi.tracks.append(_conductor(score, marker, max(0, marker_tick), key_signatures))
    assigned = assign_channels(list(score.tracks), channels)
    notes = _clean_notes(score, assigned)
    for index, track in enumerate(score.tracks):
        ch = assigned[index]
        name = track.name or ("Drums" if track.is_drum else f"Track {index + 1}")
        events = [
            _ev(0, 0, 0, "track_name", name=name),
            _ev(0, 1, 0, "program_change", channel=ch, program=track.program & 127),
        ]
        controls = [(c.time, c.number & 127, c.value & 127) for c in track.controls]
        if not any(number == 64 for _, number, _ in controls):  # pedals built in code
            for p in track.pedals:
                controls += [(p.time, 64, 127), (p.time + p.duration, 64, 0)]
        for tick, number, value in controls:
            events.append(
                _ev(tick, 3, number, "control_change", channel=ch, control=number, value=value)
            )
        for bend in track.pitch_bends:
            value = min(8191, max(-8192, bend.value))
            events.append(_ev(bend.time, 4, 0, "pitchwheel", channel=ch, pitch=value))
        for lyric in track.lyrics:  # just before the note-on it belongs to
            events.append(_ev(lyric.time, 5, -1, "lyrics", text=lyric.text))
        for start, end, pitch, velocity in notes[index]:
            events.append(
                _ev(start, 5, pitch, "note_on", channel=ch, note=pitch, velocity=velocity)
            )
            events.append(_ev(end, 2, pitch, "note_off", channel=ch, note=pitch))  # offs first
        midi.tracks.append(_to_track(events))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def _conductor(score: Score, marker: str | None, marker_tick: int, keys: bool) -> mido.MidiTrack:
    """Track 0: name, tempo and meter at tick 0, the whole tempo/meter/key map, markers."""
    events = [_ev(0, 0, 0, "track_name", name="Conductor")]
    tempos = {max(0, t.time): min(0xFFFFFF, max(1, t.mspq)) for t in _by_time(score.tempos)}
    tempos.setdefault(0, 500_000)
    events += [_ev(t, 1, 0, "set_tempo", tempo=v) for t, v in tempos.items()]
    meters = {
        max(0, ts.time): (ts.numerator, ts.denominator)
        for ts in _by_time(score.time_signatures)
        if 1 <= ts.numerator <= 255 and ts.denominator in (1, 2, 4, 8, 16, 32, 64, 128)
    }
    meters.setdefault(0, (4, 4))
    for t, (num, den) in meters.items():
        events.append(_ev(t, 2, 0, "time_signature", numerator=num, denominator=den))
    if keys:
        for ks in _by_time(score.key_signatures):
            if -7 <= ks.key <= 7 and ks.tonality in (0, 1):
                if ks.tonality:
                    key = MINOR_KEY_TONICS[ks.key + 7] + "m"
                else:
                    key = MAJOR_KEY_TONICS[ks.key + 7]
                events.append(_ev(ks.time, 3, 0, "key_signature", key=key))
    events += [_ev(m.time, 4, i, "marker", text=m.text) for i, m in enumerate(score.markers)]
    if marker:  # the label of generated material: a marker, and a text event for other tools
        n = len(score.markers)
        events += [_ev(marker_tick, 4, n, kind, text=marker) for kind in ("marker", "text")]
    return _to_track(events)


def _by_time(events: Any) -> list[Any]:
    return sorted(events, key=lambda e: e.time)  # stable: the last of equal ticks wins in dicts


def _to_track(events: list[Event]) -> mido.MidiTrack:
    """Sort events (stably) and convert them to mido messages with delta times."""
    track, now = mido.MidiTrack(), 0
    for tick, _, _, kind, attributes in sorted(events, key=lambda e: e[:3]):
        message = mido.MetaMessage if kind in _META else mido.Message
        attributes = {k: _text(v) if k in ("name", "text") else v for k, v in attributes.items()}
        track.append(message(kind, time=tick - now, **attributes))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def _text(value: str) -> str:
    """Text as mido writes it (one latin-1 char per byte) holding UTF-8 bytes, which symusic and
    DAWs read back; any character goes (a seed's Japanese track name used to crash the writer).
    U+FFFD, which symusic leaves for bytes that were not UTF-8, is dropped."""
    return value.replace("\ufffd", "").encode("utf-8", "replace").decode("latin-1")


def _clean_notes(score: Score, channels: list[int]) -> list[list[tuple[int, int, int, int]]]:
    """Per track (start, end, pitch, velocity): clamped, no zero lengths, no same-pitch overlaps
    on a channel (the earlier note ends where the next starts)."""
    by_key: dict[tuple[int, int], list[list[int]]] = {}
    for index, track in enumerate(score.tracks):
        for n in track.notes:
            start, end = max(0, n.time), n.time + n.duration
            if end <= start:
                continue
            pitch, velocity = min(127, max(0, n.pitch)), min(127, max(1, n.velocity))
            by_key.setdefault((channels[index], pitch), []).append(
                [start, end, pitch, velocity, index]
            )
    out: list[list[tuple[int, int, int, int]]] = [[] for _ in score.tracks]
    for key in sorted(by_key):
        notes = sorted(by_key[key], key=lambda n: (n[0], n[4]))  # stable: input order on ties
        for a, b in zip(notes, notes[1:], strict=False):
            a[1] = min(a[1], b[0])  # shorten the first of two sounding at once
        for start, end, pitch, velocity, index in notes:
            if end > start:
                out[index].append((start, end, pitch, velocity))
    for notes in out:
        notes.sort()
    return out
