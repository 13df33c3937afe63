"""Reading a seed safely: a user's MIDI file checked with two parsers before anything uses it.

`read_seed` checks the file with mido (structure, and the channel each track used) and symusic
(the Score), applies the `Limits`, and turns every problem into one `InputError` line that
names it and the fix. The seed's bytes are kept exactly as given.
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
from musegen.io.channels import MELODIC_CHANNELS
from musegen.music.instruments import DRUM_CHANNEL
from musegen.music.timeline import end_tick, seconds_at

MAX_QPM = 1000.0  # faster tempos (including the invalid 0 µs per quarter) are clamped to this
MIN_MSPQ = round(60_000_000 / MAX_QPM)
MAX_MSPQ = 0xFFFFFF  # the slowest tempo MIDI can store (about 3.58 BPM)
MAX_TICK = 2**31 - 1  # symusic stores ticks as int32
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


def as_score(midi: str | os.PathLike | Score) -> Score:
    """A tick-time Score from a MIDI path (read safely, default limits) or from a Score."""
    if isinstance(midi, Score):
        return midi if isinstance(midi, ScoreTick) else midi.to("tick")
    return read_seed(midi).score
