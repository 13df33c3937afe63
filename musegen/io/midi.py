"""Reading seeds safely and writing MIDI that a DAW accepts (GUIDE section 3).

`read_seed` checks a user's file with two parsers (mido for structure and channels, symusic
for the Score) and turns every problem into one `InputError` line. `write_midi` / `midi_bytes`
write with mido, not symusic's writer, so the conductor track, channels, program changes,
note order and end-of-track events follow the guide exactly.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mido
from symusic import Score
from symusic.core import ScoreTick

from musegen.errors import InputError
from musegen.io.files import atomic_write_bytes
from musegen.music.instruments import DRUM_CHANNEL
from musegen.music.labels import MAJOR_KEY_TONICS, MINOR_KEY_TONICS
from musegen.music.timeline import end_tick, seconds_at

MAX_QPM = 1000.0  # faster tempos (including the invalid 0 µs per quarter) are clamped to this
MIN_MSPQ = round(60_000_000 / MAX_QPM)
MAX_MSPQ = 0xFFFFFF  # the slowest tempo MIDI can store (about 3.58 BPM)
MAX_TICK = 2**31 - 1  # symusic stores ticks as int32
MELODIC_CHANNELS = tuple(c for c in range(16) if c != DRUM_CHANNEL)
SMF = "give a Standard MIDI File (.mid)"
DAMAGED = "the file is truncated or damaged; export it again"


@dataclass
class Limits:
    """Upper bounds on a seed, so a hostile or accidental file cannot exhaust the machine.

    Args:
        max_bytes: file size in bytes (CLI `--max-bytes`).
        max_tracks: MIDI tracks in the file and instrument tracks after parsing (`--max-tracks`).
        max_notes: notes over all tracks (`--max-notes`).
        max_seconds: playing time up to the end of the last note (`--max-seconds`).
        max_ticks_per_quarter: time resolution; 32767 is the most MIDI can express, since the
            0x8000 bit of the header's division field means SMPTE time.
    """

    max_bytes: int = 16 * 1024 * 1024
    max_tracks: int = 256
    max_notes: int = 200_000
    max_seconds: float = 3600.0
    max_ticks_per_quarter: int = 32767


@dataclass
class SeedFile:
    """A checked seed: the symusic Score, its exact MIDI bytes, and each track's MIDI channel.

    `channels` maps a track index of `score` to the channel (0-15) its notes used in the file.
    `warnings` lists repairs made to the Score (such as clamped tempos); `data` is never changed.
    """

    score: Score
    data: bytes
    name: str
    channels: dict[int, int]
    warnings: tuple[str, ...] = field(default=())


# ----------------------------------------------------------------------------- reading


def read_seed(seed: Any, limits: Limits | None = None) -> SeedFile:
    """Load and check a seed given as a path, bytes, symusic Score, PrettyMIDI or mido MidiFile.

    Raises InputError, with one line naming the problem and the fix, for anything unusable.
    """
    limits = limits or Limits()
    name, data = _seed_bytes(seed, limits)
    data = _check_bytes(name, data, limits)
    try:
        midi = mido.MidiFile(file=io.BytesIO(data), clip=False)
        keys, last_tick = _scan(midi)
        if last_tick > MAX_TICK:  # symusic would wrap around to negative times
            raise ValueError(f"an event at tick {last_tick}, beyond the last possible, {MAX_TICK}")
        score = Score.from_midi(data)
    except Exception as err:  # mido raises OSError, EOFError, ValueError, KeyError, ...
        reason = (str(err).strip() or type(err).__name__).splitlines()[0][:160]
        raise _bad(name, f"damaged MIDI data ({reason})") from err
    if len(score.tracks) > limits.max_tracks:
        raise _over(name, "instrument tracks", len(score.tracks), limits.max_tracks, "tracks")
    notes = score.note_num()
    if notes == 0:
        raise _bad(name, "has no notes to continue", "give a seed with at least one note")
    if notes > limits.max_notes:
        raise _over(name, "notes", notes, limits.max_notes, "notes")
    warnings = _clamp_tempos(score)
    seconds = float(seconds_at(score)(end_tick(score)))
    if seconds > limits.max_seconds:
        problem = f"lasts {seconds:.1f} s, more than the limit of {limits.max_seconds:g} s"
        raise _bad(name, problem, f"cut it shorter or pass `max_seconds` {int(seconds) + 1}")
    return SeedFile(score, data, name, _channels(score, keys), tuple(warnings))


def _seed_bytes(seed: Any, limits: Limits) -> tuple[str, bytes]:
    """(display name, MIDI bytes) for each kind of seed."""
    if isinstance(seed, (str, os.PathLike)):
        path = Path(seed)
        if not path.exists():
            raise _bad(str(path), "no such file", "check the path and spelling")
        if path.is_dir():
            raise _bad(str(path), "is a folder, not a MIDI file", "give the path of a .mid file")
        try:
            if (size := path.stat().st_size) > limits.max_bytes:
                raise _over(path.name, "bytes", size, limits.max_bytes, "bytes")
            return path.name, path.read_bytes()
        except OSError as err:
            problem = f"cannot be read ({err.strerror})"
            raise _bad(str(path), problem, "check its permissions") from err
    if isinstance(seed, (bytes, bytearray, memoryview)):
        return "seed", bytes(seed)
    if isinstance(seed, Score):
        score = seed.copy() if isinstance(seed, ScoreTick) else seed.to("tick")
        for tempo in score.tempos:  # symusic writes mspq mod 2**24: 3.5 BPM would become 1000
            tempo.mspq = min(max(tempo.mspq, 0), MAX_MSPQ)
        return _serialise("Score", lambda buffer: buffer.write(score.dumps_midi()))
    if isinstance(seed, mido.MidiFile):
        name = Path(seed.filename).name if seed.filename else "MidiFile"
        return _serialise(name, lambda buffer: seed.save(file=buffer))
    if type(seed).__name__ == "PrettyMIDI":  # pretty_midi is imported only by its users
        return _serialise("PrettyMIDI", seed.write)
    kinds = "a path, bytes, a symusic Score, a pretty_midi.PrettyMIDI or a mido.MidiFile"
    raise TypeError(f"cannot read a seed from {type(seed).__name__}; give {kinds}")


def _serialise(name: str, save: Any) -> tuple[str, bytes]:
    """(name, bytes written by `save(buffer)`), an object's own MIDI writer."""
    buffer = io.BytesIO()
    try:
        save(buffer)
    except Exception as err:
        raise _bad(name, f"cannot be written as MIDI ({err})", "check its values") from err
    return name, buffer.getvalue()


def _check_bytes(name: str, data: bytes, limits: Limits) -> bytes:
    """Header and chunk checks with precise messages; returns the SMF (unwrapped from RMID)."""
    if not data:
        raise _bad(name, "is empty (0 bytes)", SMF)
    if len(data) > limits.max_bytes:
        raise _over(name, "bytes", len(data), limits.max_bytes, "bytes")
    if data[:4] == b"RIFF" and data[8:12] == b"RMID" and b"MThd" in data[12:]:
        data = data[data.index(b"MThd", 12) :]  # RIFF-wrapped MIDI: the SMF is inside
    if not data.startswith(b"MThd"):
        raise _bad(name, f"not a MIDI file (it starts with {data[:4]!r}{_looks_like(data)})", SMF)
    if len(data) < 14:
        raise _bad(name, f"the MIDI header is cut short ({len(data)} bytes)")
    size, fmt, ntracks, division = struct.unpack(">IHHH", data[4:14])
    if size < 6:
        raise _bad(name, f"the MIDI header declares {size} bytes, fewer than 6")
    if fmt >= 2:
        kind = "type 2 (sequential patterns)" if fmt == 2 else f"unknown MIDI file type {fmt}"
        raise _bad(name, f"{kind} is not supported", "export as type 0 or 1")
    if division & 0x8000:
        fps = 256 - (division >> 8)
        problem = f"uses SMPTE time ({fps} frames per second) instead of ticks per quarter note"
        raise _bad(name, problem, "export it again with musical time (PPQ), as DAWs do by default")
    if division == 0:
        raise _bad(name, "ticks per quarter note is 0")
    if division > limits.max_ticks_per_quarter:
        limit = limits.max_ticks_per_quarter
        problem = f"{division} ticks per quarter note is more than the limit of {limit}"
        raise _bad(name, problem, f"export it again at {limit} PPQ or less")
    if ntracks == 0:
        raise _bad(name, "has no tracks, so no notes to continue")
    if ntracks > limits.max_tracks:
        raise _over(name, "tracks", ntracks, limits.max_tracks, "tracks")
    pos = 8 + size
    for number in range(1, ntracks + 1):
        track = f"track {number} of {ntracks}"
        if pos + 8 > len(data):
            raise _bad(name, f"{track} is missing (the file ends early)")
        kind, length = struct.unpack(">4sI", data[pos : pos + 8])
        if kind != b"MTrk":
            raise _bad(name, f"found {kind!r} where {track} should start")
        if pos + 8 + length > len(data):
            left = len(data) - pos - 8
            raise _bad(name, f"{track} declares {length} bytes but only {left} remain")
        pos += 8 + length
    return data


def _bad(name: str, problem: str, fix: str = DAMAGED) -> InputError:
    return InputError(f"{name}: {problem}; {fix}")


def _over(name: str, what: str, value: int, limit: int, flag: str) -> InputError:
    problem = f"has {value} {what}, more than the limit of {limit}"
    return _bad(name, problem, f"pass `max_{flag}` {value} to allow it")


_MAGIC = {
    b"ID3": "an MP3 audio file",
    b"\xff\xfb": "an MP3 audio file",
    b"OggS": "an Ogg audio file",
    b"fLaC": "a FLAC audio file",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a zip archive (compressed MusicXML .mxl?)",
    b"\x1f\x8b": "a gzip archive",
    b"<": "XML or HTML text (MusicXML?)",
    b"X:": "ABC notation text",
}


def _looks_like(data: bytes) -> str:
    """A few words on what a non-MIDI file seems to be."""
    if data.startswith(b"RIFF"):
        return ", a RIFF/WAV audio file" if data[8:12] == b"WAVE" else ", a RIFF file"
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    words = next((w for magic, w in _MAGIC.items() if head.startswith(magic)), None)
    text = head.decode("utf-8", "replace")
    if words is None and all(c.isprintable() or c in "\t\r\n" for c in text):
        words = "text"
    return f", {words}" if words else ""


def _clamp_tempos(score: Score) -> list[str]:
    """Clamp tempos faster than MAX_QPM (a 0 µs tempo would make time stand still)."""
    fast = [t for t in score.tempos if t.mspq < MIN_MSPQ]
    for tempo in fast:
        tempo.mspq = MIN_MSPQ
    return [f"{len(fast)} tempo(s) faster than {MAX_QPM:g} BPM clamped to it"] if fast else []


def _scan(midi: mido.MidiFile) -> tuple[list[tuple[int | None, int, str]], int]:
    """Replay symusic 0.6's track split with mido: ((channel, program, name) per track, last tick).

    symusic splits each MIDI track into one track per (channel, program in force at the
    note-on), sorted by (channel, program), then one notes-free track (channel None) when the
    MIDI track has lyrics; all are named after the MIDI track's last track_name.
    """
    keys: list[tuple[int | None, int, str]] = []
    last = 0
    for track in midi.tracks:
        programs, seen, name, lyrics, tick = [0] * 16, set(), "", False, 0
        for msg in track:
            tick += msg.time
            if msg.type == "end_of_track":  # symusic ignores anything after it; mido does not
                break
            if msg.type == "program_change":
                programs[msg.channel] = msg.program
            elif msg.type == "note_on" and msg.velocity > 0:
                seen.add((msg.channel, programs[msg.channel]))
            elif msg.type == "track_name":
                name = msg.name
            elif msg.type == "lyrics":  # symusic drops text that is empty once non-UTF-8 is gone
                lyrics |= bool(msg.text.encode("latin-1", "replace").decode("utf-8", "ignore"))
        keys += [(ch, prog, name) for ch, prog in sorted(seen)]
        keys += [(None, 0, name)] if lyrics else []
        last = max(last, tick)
    return keys, last


def _channels(score: Score, keys: list[tuple[int | None, int, str]]) -> dict[int, int]:
    """MIDI channel of each symusic track that has notes, from `_scan`'s replay.

    When the replay disagrees with symusic, tracks are matched by (name, program, drum).
    """
    tracks = list(score.tracks)
    if len(keys) == len(tracks) and all(
        t.program == prog and t.is_drum == (ch == DRUM_CHANNEL) and (ch is not None or not t.notes)
        for t, (ch, prog, _) in zip(tracks, keys, strict=True)
    ):
        return {i: ch for i, (ch, _, _) in enumerate(keys) if ch is not None}
    channels: dict[int, int] = {}
    free = [k for k in keys if k[0] is not None]
    for i, t in enumerate(tracks):
        if not t.notes:
            continue
        fits = [k for k in free if k[1] == t.program and (k[0] == DRUM_CHANNEL) == t.is_drum]
        named = [k for k in fits if k[2] == t.name] or fits
        if named:
            free.remove(named[0])
            channels[i] = int(named[0][0])  # type: ignore[arg-type]
        else:
            channels[i] = DRUM_CHANNEL if t.is_drum else MELODIC_CHANNELS[i % 15]
    return channels


# ----------------------------------------------------------------------------- writing

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
        raise _bad(str(path), "is a folder", "give a file name ending in .mid")
    if path.exists() and not overwrite:
        raise _bad(str(path), "already exists", "pass `force` to overwrite it")
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
        channels: preferred MIDI channel per track index (e.g. `SeedFile.channels`); drums always
            go to channel 9, and a melodic track never does.
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
    assigned = _assign_channels(list(score.tracks), channels or {})
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


def _assign_channels(tracks: list[Any], preferred: dict[int, int]) -> dict[int, int]:
    """Drums on 9; melodic tracks on their preferred channel unless 9 or already taken."""
    assigned: dict[int, int] = {}
    taken: set[int] = set()
    for i, track in enumerate(tracks):
        want = preferred.get(i)
        if track.is_drum:
            assigned[i] = DRUM_CHANNEL
        elif want in MELODIC_CHANNELS and want not in taken:
            assigned[i] = want
            taken.add(want)
    free = [c for c in MELODIC_CHANNELS if c not in taken]
    for i, track in enumerate(tracks):
        if i in assigned:
            continue
        if free:
            assigned[i] = free.pop(0)
            continue
        # More than 15 melodic tracks: share a channel, with a track of the same program when
        # there is one (its program change agrees); _clean_notes resolves overlaps per channel.
        same = [assigned[j] for j in sorted(assigned) if tracks[j].program == track.program]
        same = [c for c in same if c != DRUM_CHANNEL]
        assigned[i] = same[0] if same else MELODIC_CHANNELS[i % 15]
    return assigned


def _clean_notes(score: Score, channels: dict[int, int]) -> list[list[tuple[int, int, int, int]]]:
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


def as_score(midi: str | os.PathLike | Score) -> Score:
    """A tick-time Score from a MIDI path (read safely, default limits) or from a Score."""
    if isinstance(midi, Score):
        return midi if isinstance(midi, ScoreTick) else midi.to("tick")
    return read_seed(midi).score
