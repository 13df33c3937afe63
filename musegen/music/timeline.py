"""Bar lines, meter and tempo in force at a tick, read from a symusic Score.

Every stage that must land on the grid (corpus statistics, continuation, plots, evaluation)
asks this module where bars start, so they all agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from symusic import Score, Tempo, TimeSignature


@dataclass(frozen=True)
class Meter:
    numerator: int
    denominator: int

    def bar_ticks(self, tpq: int) -> int:
        """Length of one bar in ticks at `tpq` ticks per quarter note."""
        return max(1, round(self.numerator * tpq * 4 / self.denominator))

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


def meter_changes(score: Score) -> list[tuple[int, Meter]]:
    """(tick, meter) pairs sorted by tick, with 4/4 at tick 0 when the file names none."""
    changes: dict[int, Meter] = {}
    for ts in sorted(score.time_signatures, key=lambda t: t.time):
        if ts.numerator > 0 and ts.denominator > 0:
            changes[int(ts.time)] = Meter(int(ts.numerator), int(ts.denominator))
    if 0 not in changes:  # MIDI's default meter until the first time signature
        changes[0] = Meter(4, 4)
    return sorted(changes.items())


def bar_lines(score: Score, until: int) -> list[int]:
    """Ticks of every bar start from 0 up to and including the first one at or after `until`.

    A meter change that falls inside a bar starts a new bar there, as notation programs do.
    """
    tpq = score.ticks_per_quarter
    changes = meter_changes(score)
    lines: list[int] = []
    for i, (start, meter) in enumerate(changes):
        end = changes[i + 1][0] if i + 1 < len(changes) else None
        tick = start
        while end is None or tick < end:
            lines.append(tick)
            if tick >= until:
                return lines
            tick += meter.bar_ticks(tpq)
    return lines


def next_bar_line(score: Score, tick: int) -> int:
    """The first bar line at or after `tick`."""
    return next(t for t in bar_lines(score, tick) if t >= tick)


def meter_at(score: Score, tick: int) -> Meter:
    """The meter in force at `tick`."""
    current = Meter(4, 4)
    for start, meter in meter_changes(score):
        if start <= tick:
            current = meter
    return current


def tempo_at(score: Score, tick: int) -> float:
    """Quarter notes per minute in force at `tick` (120 when the file has no tempo)."""
    current = 120.0
    for tempo in sorted(score.tempos, key=lambda t: t.time):
        if tempo.time <= tick:
            current = float(tempo.qpm)
    return current


def key_at(score: Score, tick: int) -> tuple[int, int] | None:
    """(sharps, tonality) of the key signature in force at `tick`, or None."""
    current = None
    for ks in sorted(score.key_signatures, key=lambda k: k.time):
        if ks.time <= tick:
            current = (int(ks.key), int(ks.tonality))
    return current


def end_tick(score: Score) -> int:
    """Tick where the last note ends (0 for a score without notes)."""
    return max((int(n.time + n.duration) for t in score.tracks for n in t.notes), default=0)


def seconds_at(score: Score) -> Callable[[np.ndarray], np.ndarray]:
    """A vectorised tick -> seconds function from the tempo map, in float64 (exact to a sample)."""
    tempos = score.tempos.numpy()
    order = np.argsort(tempos["time"], kind="stable")
    ticks = tempos["time"][order].astype(np.int64)
    mspq = tempos["mspq"][order].astype(np.float64)
    keep = np.append(ticks[1:] != ticks[:-1], True)[: len(ticks)]  # last tempo at a tick wins
    ticks, mspq = ticks[keep], mspq[keep]
    if len(ticks) == 0 or ticks[0] > 0:  # MIDI's 120 qpm until the first tempo
        ticks, mspq = np.insert(ticks, 0, 0), np.insert(mspq, 0, 500000.0)
    sec_per_tick = mspq / 1e6 / score.ticks_per_quarter
    starts = np.concatenate([[0.0], np.cumsum(np.diff(ticks) * sec_per_tick[:-1])])

    def convert(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.int64)
        i = np.searchsorted(ticks, t, side="right") - 1
        return starts[i] + (t - ticks[i]) * sec_per_tick[i]

    return convert


def cut(score: Score, start: int, end: int | None = None, *, truncate: bool = False) -> Score:
    """Notes starting in [start, end), moved to tick 0, with the tempo, meter and key in force.

    symusic's clip keeps the events in force at `start`; `truncate` also shortens notes that
    ring past `end`, so that an excerpt is exactly its bars long.
    """
    end = end_tick(score) + 1 if end is None else end
    out = score.clip(start, end, clip_end=False).shift_time(-start)
    if not any(ts.time == 0 for ts in out.time_signatures):  # MIDI's default meter, written
        meter = meter_at(score, start)
        out.time_signatures.insert(0, TimeSignature(0, meter.numerator, meter.denominator))
    if not any(t.time == 0 for t in out.tempos):  # and its default tempo
        out.tempos.insert(0, Tempo(0, tempo_at(score, start)))
    if truncate:
        for track in out.tracks:
            notes = track.notes.numpy()
            notes["duration"] = np.minimum(notes["duration"], end - start - notes["time"])
            track.notes = type(track.notes).from_numpy(
                notes["time"], notes["duration"], notes["pitch"], notes["velocity"]
            )
    return out
