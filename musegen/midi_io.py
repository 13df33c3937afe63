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
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mido
from symusic import Score
from symusic.core import ScoreTick

from musegen.errors import InputError
from musegen.timeline import end_tick

MAX_QPM = 1000.0  # faster tempos (including the invalid 0 µs per quarter) are clamped to this
MIN_MSPQ = round(60_000_000 / MAX_QPM)
DRUM_CHANNEL = 9
MAX_TICK = 2**31 - 1  # symusic stores ticks as int32
MELODIC_CHANNELS = tuple(c for c in range(16) if c != DRUM_CHANNEL)
_MAJOR = ("Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#")
_MINOR = ("Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#", "G#", "D#", "A#")


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
class Seed:
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


def read_seed(seed: Any, limits: Limits | None = None) -> Seed:
    """Load and check a seed given as a path, bytes, symusic Score, PrettyMIDI or mido MidiFile.

    Raises InputError, with one line naming the problem and the fix, for anything unusable.
    """
    limits = limits or Limits()
    name, data = _seed_bytes(seed, limits)
    data = _check_bytes(name, data, limits)
    try:
        midi = mido.MidiFile(file=io.BytesIO(data), clip=False)
    except Exception as err:  # mido raises OSError, EOFError, ValueError, KeyError, ...
        raise _damaged(name, err) from err
    keys, last_tick = _scan(midi)
    if last_tick > MAX_TICK:  # symusic would wrap around to negative times
        raise InputError(
            f"{name}: has events at tick {last_tick}, beyond the {MAX_TICK} MIDI tools can "
            "count to; the file is damaged, export it again"
        )
    try:
        score = Score.from_midi(data)
    except Exception as err:
        raise _damaged(name, err) from err
    if len(score.tracks) > limits.max_tracks:
        raise _over(name, "instrument tracks", len(score.tracks), limits.max_tracks, "tracks")
    notes = sum(len(t.notes) for t in score.tracks)
    if notes == 0:
        raise InputError(f"{name}: has no notes to continue; give a seed with at least one note")
    if notes > limits.max_notes:
        raise _over(name, "notes", notes, limits.max_notes, "notes")
    warnings = _clamp_tempos(score)
    seconds = _seconds(score, end_tick(score))
    if seconds > limits.max_seconds:
        raise InputError(
            f"{name}: lasts {seconds:.0f} s, more than the limit of {limits.max_seconds:g} s; "
            f"cut it shorter or pass --max-seconds {int(seconds) + 1}"
        )
    return Seed(score, data, name, _channels(score, keys), tuple(warnings))


def _seed_bytes(seed: Any, limits: Limits) -> tuple[str, bytes]:
    """(display name, MIDI bytes) for each kind of seed."""
    if isinstance(seed, (str, os.PathLike)):
        path = Path(seed)
        if not path.exists():
            raise InputError(f"{path}: no such file; check the path and spelling")
        if path.is_dir():
            raise InputError(f"{path}: is a folder, not a MIDI file; give the path of a .mid file")
        try:
            size = path.stat().st_size
            if size > limits.max_bytes:
                raise _over(path.name, "bytes", size, limits.max_bytes, "bytes")
            return path.name, path.read_bytes()
        except OSError as err:
            msg = f"{path}: cannot be read ({err.strerror}); check its permissions"
            raise InputError(msg) from err
    if isinstance(seed, (bytes, bytearray, memoryview)):
        return "seed", bytes(seed)
    if isinstance(seed, Score):
        try:
            tick = seed if isinstance(seed, ScoreTick) else seed.to("tick")
            return "Score", bytes(tick.dumps_midi())
        except Exception as err:
            raise InputError(f"Score: cannot be written as MIDI ({err}); check its values") from err
    if isinstance(seed, mido.MidiFile):
        name = Path(seed.filename).name if seed.filename else "MidiFile"
        return name, _serialise(name, lambda buffer: seed.save(file=buffer))
    if type(seed).__name__ == "PrettyMIDI":  # pretty_midi is imported only by its users
        return "PrettyMIDI", _serialise("PrettyMIDI", seed.write)
    kinds = "a path, bytes, a symusic Score, a pretty_midi.PrettyMIDI or a mido.MidiFile"
    raise TypeError(f"cannot read a seed from {type(seed).__name__}; give {kinds}")


def _serialise(name: str, save: Any) -> bytes:
    """Bytes written by `save(buffer)`, an object's own MIDI writer."""
    buffer = io.BytesIO()
    try:
        save(buffer)
    except Exception as err:
        raise InputError(f"{name}: cannot be written as MIDI ({err}); check its values") from err
    return buffer.getvalue()


def _check_bytes(name: str, data: bytes, limits: Limits) -> bytes:
    """Header and chunk checks with precise messages; returns the SMF (unwrapped from RMID)."""
    if not data:
        raise InputError(f"{name}: is empty (0 bytes); give a Standard MIDI File (.mid)")
    if len(data) > limits.max_bytes:
        raise _over(name, "bytes", len(data), limits.max_bytes, "bytes")
    if data[:4] == b"RIFF" and data[8:12] == b"RMID" and b"MThd" in data[12:]:
        data = data[data.index(b"MThd", 12) :]  # RIFF-wrapped MIDI: the SMF is inside
    if not data.startswith(b"MThd"):
        raise InputError(
            f"{name}: not a MIDI file (it starts with {data[:4]!r}{_looks_like(data)}); "
            "give a Standard MIDI File (.mid)"
        )
    fix = "the file is truncated or damaged; export it again"
    if len(data) < 14:
        raise InputError(f"{name}: the MIDI header is cut short ({len(data)} bytes); {fix}")
    size, fmt, ntracks, division = struct.unpack(">IHHH", data[4:14])
    if size < 6:
        raise InputError(f"{name}: the MIDI header declares {size} bytes, fewer than 6; {fix}")
    if fmt == 2:
        raise InputError(
            f"{name}: type 2 (sequential patterns) is not supported; export as type 0 or 1"
        )
    if fmt > 2:
        raise InputError(f"{name}: unknown MIDI file type {fmt}; export as type 0 or 1")
    if division & 0x8000:
        fps = 256 - (division >> 8)
        raise InputError(
            f"{name}: uses SMPTE time ({fps} frames per second) instead of ticks per quarter "
            "note; export it again with musical time (PPQ), as DAWs do by default"
        )
    if division == 0:
        raise InputError(f"{name}: ticks per quarter note is 0; {fix}")
    if division > limits.max_ticks_per_quarter:
        raise InputError(
            f"{name}: {division} ticks per quarter note is more than the limit of "
            f"{limits.max_ticks_per_quarter}; export it again at 960 PPQ or less"
        )
    if ntracks == 0:
        raise InputError(f"{name}: has no tracks, so no notes to continue; {fix}")
    if ntracks > limits.max_tracks:
        raise _over(name, "tracks", ntracks, limits.max_tracks, "tracks")
    pos = 8 + size
    for index in range(ntracks):
        if pos + 8 > len(data):
            raise InputError(
                f"{name}: track {index + 1} of {ntracks} is missing (the file ends early); {fix}"
            )
        kind, length = struct.unpack(">4sI", data[pos : pos + 8])
        if kind != b"MTrk":
            raise InputError(
                f"{name}: found {kind!r} where track {index + 1} of {ntracks} should start; {fix}"
            )
        if pos + 8 + length > len(data):
            left = len(data) - pos - 8
            raise InputError(
                f"{name}: track {index + 1} of {ntracks} declares {length} bytes but only "
                f"{left} remain; {fix}"
            )
        pos += 8 + length
    return data


def _looks_like(data: bytes) -> str:
    """A few words on what a non-MIDI file seems to be."""
    head = data[:64]
    signatures = [
        (b"RIFF", ", a RIFF/WAV audio file" if data[8:12] == b"WAVE" else ", a RIFF file"),
        (b"ID3", ", an MP3 audio file"),
        (b"\xff\xfb", ", an MP3 audio file"),
        (b"OggS", ", an Ogg audio file"),
        (b"fLaC", ", a FLAC audio file"),
        (b"%PDF", ", a PDF document"),
        (b"PK\x03\x04", ", a zip archive (compressed MusicXML .mxl?)"),
        (b"\x1f\x8b", ", a gzip archive"),
    ]
    for magic, words in signatures:
        if head.startswith(magic):
            return words
    try:
        text = head.decode("utf-8").lstrip("\ufeff \t\r\n")
    except UnicodeDecodeError:
        return ""
    if text.startswith("<"):
        return ", XML or HTML text (MusicXML?)"
    if text.startswith("X:"):
        return ", ABC notation text"
    return ", text" if text.isprintable() or "\n" in text else ""


def _damaged(name: str, err: Exception) -> InputError:
    reason = str(err).strip() or type(err).__name__
    reason = reason.splitlines()[0][:160]
    return InputError(
        f"{name}: damaged MIDI data ({reason}); the file is truncated or corrupt, export it again"
    )


def _over(name: str, what: str, value: int, limit: int, flag: str) -> InputError:
    return InputError(
        f"{name}: has {value} {what}, more than the limit of {limit}; "
        f"pass --max-{flag} {value} to allow it"
    )


def _clamp_tempos(score: Score) -> list[str]:
    """Clamp tempos faster than MAX_QPM (a 0 µs tempo would make time stand still)."""
    fast = [t for t in score.tempos if t.mspq < MIN_MSPQ]
    for tempo in fast:
        tempo.mspq = MIN_MSPQ
    if not fast:
        return []
    return [f"{len(fast)} tempo event(s) faster than {MAX_QPM:g} BPM clamped to {MAX_QPM:g} BPM"]


def _seconds(score: Score, until: int) -> float:
    """Seconds from tick 0 to `until` under the score's tempo map (120 BPM before the first)."""
    tpq, mspq, tick, total = score.ticks_per_quarter, 500_000, 0, 0.0
    for tempo in sorted(score.tempos, key=lambda t: t.time):
        if tempo.time >= until:
            break
        total += (max(tempo.time, 0) - tick) * mspq / 1e6 / tpq
        tick, mspq = max(tempo.time, 0), tempo.mspq
    return total + (until - tick) * mspq / 1e6 / tpq


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
        raise InputError(f"{path}: already exists; pass --force to overwrite it")
    data = midi_bytes(
        score,
        channels=channels,
        marker=marker,
        marker_tick=marker_tick,
        key_signatures=key_signatures,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
        channels: preferred MIDI channel per track index (e.g. `Seed.channels`); drums always
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
        channel = assigned[index]
        name = track.name or ("Drums" if track.is_drum else f"Track {index + 1}")
        events: list[tuple[int, int, int, mido.Message | mido.MetaMessage]] = [
            (0, 0, 0, mido.MetaMessage("track_name", name=name)),
            (0, 1, 0, mido.Message("program_change", channel=channel, program=track.program & 127)),
        ]
        has_cc64 = False
        for c in track.controls:
            has_cc64 |= c.number == 64
            cc = mido.Message(
                "control_change", channel=channel, control=c.number & 127, value=c.value & 127
            )
            events.append((max(0, c.time), 3, c.number, cc))
        if not has_cc64:  # pedals built in code, without their CC64 events
            for p in track.pedals:
                for tick, value in ((p.time, 127), (p.time + p.duration, 0)):
                    cc = mido.Message("control_change", channel=channel, control=64, value=value)
                    events.append((max(0, tick), 3, 64, cc))
        for b in track.pitch_bends:
            bend = mido.Message("pitchwheel", channel=channel, pitch=min(8191, max(-8192, b.value)))
            events.append((max(0, b.time), 4, 0, bend))
        for lyric in track.lyrics:
            lyric_event = mido.MetaMessage("lyrics", text=lyric.text)
            events.append((max(0, lyric.time), 5, -1, lyric_event))  # just before its note-on
        for start, end, pitch, velocity in notes[index]:
            on = mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)
            off = mido.Message("note_off", channel=channel, note=pitch, velocity=0)
            events += [(start, 5, pitch, on), (end, 2, pitch, off)]  # offs before ons
        midi.tracks.append(_to_track(events))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def _conductor(score: Score, marker: str | None, marker_tick: int, keys: bool) -> mido.MidiTrack:
    """Track 0: name, tempo and meter at tick 0, the whole tempo/meter/key map, markers."""
    events: list[tuple[int, int, int, mido.MetaMessage]] = [
        (0, 0, 0, mido.MetaMessage("track_name", name="Conductor"))
    ]
    tempos = {max(0, t.time): min(0xFFFFFF, max(1, t.mspq)) for t in _by_time(score.tempos)}
    tempos.setdefault(0, 500_000)
    events += [(t, 1, 0, mido.MetaMessage("set_tempo", tempo=v)) for t, v in tempos.items()]
    meters = {
        max(0, ts.time): (ts.numerator, ts.denominator)
        for ts in _by_time(score.time_signatures)
        if 1 <= ts.numerator <= 255 and ts.denominator in (1, 2, 4, 8, 16, 32, 64, 128)
    }
    meters.setdefault(0, (4, 4))
    for t, (num, den) in meters.items():
        meta = mido.MetaMessage("time_signature", numerator=num, denominator=den)
        events.append((t, 2, 0, meta))
    if keys:
        for ks in _by_time(score.key_signatures):
            if -7 <= ks.key <= 7 and ks.tonality in (0, 1):
                key = _MINOR[ks.key + 7] + "m" if ks.tonality else _MAJOR[ks.key + 7]
                events.append((max(0, ks.time), 3, 0, mido.MetaMessage("key_signature", key=key)))
    texts = [(max(0, m.time), m.text) for m in score.markers]
    if marker:
        texts.append((marker_tick, marker))
    for i, (tick, text) in enumerate(texts):
        events.append((tick, 4, i, mido.MetaMessage("marker", text=text)))
        if marker and i == len(texts) - 1:
            events.append((tick, 4, i, mido.MetaMessage("text", text=text)))
    return _to_track(events)


def _by_time(events: Any) -> list[Any]:
    return sorted(events, key=lambda e: e.time)  # stable: the last of equal ticks wins in dicts


def _to_track(events: list[tuple[int, int, int, Any]]) -> mido.MidiTrack:
    """Sort (tick, priority, order, message) by the first three and convert to delta times."""
    track, now = mido.MidiTrack(), 0
    for tick, _, _, msg in sorted(events, key=lambda e: e[:3]):
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


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
    for i in range(len(tracks)):
        if i not in assigned:
            # More than 15 melodic tracks: channels are reused in turn; the overlap clean-up
            # in _clean_notes works per channel, so shared channels stay valid MIDI.
            channel = free.pop(0) if free else MELODIC_CHANNELS[i % 15]
            assigned[i] = channel
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
        notes = sorted(by_key[key], key=lambda n: (n[0], n[1], n[4], n[3]))
        for a, b in zip(notes, notes[1:], strict=False):
            a[1] = min(a[1], b[0])  # shorten the first of two sounding at once
        for start, end, pitch, velocity, index in notes:
            if end > start:
                out[index].append((start, end, pitch, velocity))
    for notes in out:
        notes.sort()
    return out
