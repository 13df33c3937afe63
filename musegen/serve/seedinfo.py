"""What the page shows about a MIDI file: tracks, bars, meter, tempo, key, and notes to draw.

Read with symusic, apart from the engine's reader: the page describes any file it is given,
and the engine still applies its own limits when it generates.
"""

from __future__ import annotations

import math

from symusic import Score

from musegen.errors import InputError
from musegen.music.instruments import gm_name
from musegen.music.labels import MAJOR_KEY_TONICS, MINOR_KEY_TONICS

MAX_ROLL_NOTES = 20_000  # notes sent to the browser for a piano roll; the rest are counted


def read_score(data: bytes) -> Score:
    """Parse MIDI bytes; a file symusic cannot read becomes one sentence."""
    if data[:4] != b"MThd":
        raise InputError(
            "the upload is not a Standard MIDI File (no MThd header): give a .mid file"
        )
    try:
        return Score.from_midi(data)
    except Exception as err:  # symusic raises RuntimeError, ValueError, ... for damaged files
        reason = (str(err).strip() or type(err).__name__).splitlines()[0][:160]
        raise InputError(
            f"the upload cannot be read as MIDI ({reason}): the file is truncated or damaged; "
            "export it again"
        ) from None


def program_name(program: int, is_drum: bool) -> str:
    """The General MIDI name of a program (pretty_midi has the table)."""
    return "Drums" if is_drum else gm_name(program)


def key_name(sharps: int, tonality: int) -> str:
    """A key signature as "G:major" / "E:minor" (the engine's `key` option spells it so)."""
    names, mode = (MINOR_KEY_TONICS, "minor") if tonality else (MAJOR_KEY_TONICS, "major")
    return f"{names[max(-7, min(7, sharps)) + 7]}:{mode}"


def bar_lines(score: Score, end: int | None = None) -> list[int]:
    """Ticks of the bar lines from 0 to `end` (the score's end), following meter changes."""
    end = score.end() if end is None else end
    meters = sorted((ts.time, ts.numerator, ts.denominator) for ts in score.time_signatures)
    if not meters or meters[0][0] > 0:
        meters.insert(0, (0, 4, 4))
    lines: list[int] = []
    for i, (start, num, den) in enumerate(meters):
        stop = meters[i + 1][0] if i + 1 < len(meters) else max(end, start + 1)
        bar = max(1, round(score.tpq * 4 * num / den))
        tick = start
        while tick < stop and len(lines) <= 100_000:
            lines.append(tick)
            tick += bar
    return lines


def describe(score: Score, name: str) -> dict:
    """The seed's summary and its notes, as JSON for the page and the API."""
    seconds = score.to("second").end() if score.note_num() else 0.0
    lines = bar_lines(score)
    return {
        "name": name,
        "ticks_per_quarter": score.tpq,
        "end_tick": score.end(),
        "seconds": round(float(seconds), 3),
        "bars": len(lines) if score.note_num() else 0,
        "meters": [f"{ts.numerator}/{ts.denominator}" for ts in score.time_signatures] or ["4/4"],
        "tempos_qpm": [round(t.qpm, 2) for t in score.tempos[:16]] or [120.0],
        "tempo_changes": len(score.tempos),
        "keys": [key_name(k.key, k.tonality) for k in score.key_signatures[:16]],
        "tracks": [
            {
                "index": i,
                "name": t.name or f"track {i + 1}",
                "program": t.program,
                "instrument": program_name(t.program, t.is_drum),
                "is_drum": t.is_drum,
                "notes": len(t.notes),
            }
            for i, t in enumerate(score.tracks)
        ],
        "roll": roll(score, lines),
    }


def roll(
    score: Score, lines: list[int] | None = None, split: int | None = None,
    region: tuple[int, int] | None = None, new_tracks: list[int] | None = None,
) -> dict:  # fmt: skip
    """Notes as columns (start, duration, pitch, track), bar lines and where the new material
    is: from `split` on (continue), or in `region` (start, end ticks) on `new_tracks`
    (counted from 0; infill and arrange).

    Columns keep the JSON small: a 20 000-note file is about 400 kB.
    """
    start: list[int] = []
    duration: list[int] = []
    pitch: list[int] = []
    track: list[int] = []
    total = 0
    for i, t in enumerate(score.tracks):
        notes = t.notes.numpy()
        total += len(notes["time"])
        room = MAX_ROLL_NOTES - len(start)
        if room <= 0:
            continue
        start += notes["time"][:room].tolist()
        duration += notes["duration"][:room].tolist()
        pitch += notes["pitch"][:room].tolist()
        track += [i] * min(room, len(notes["time"]))
    lines = bar_lines(score) if lines is None else lines
    step = max(1, math.ceil(len(lines) / 2000))  # at most 2000 bar lines drawn
    return {
        "end": score.end(),
        "tpq": score.tpq,
        "split": split,
        "region": list(region) if region is not None else None,
        "new_tracks": new_tracks,
        "bar_lines": lines[::step],
        "drums": [i for i, t in enumerate(score.tracks) if t.is_drum],
        "start": start,
        "duration": duration,
        "pitch": pitch,
        "track": track,
        "notes_total": total,
        "notes_shown": len(start),
    }
