"""A score as the synth plays it: events on exact sample indices, cut into passes.

Every note-on, note-off, control change and pitch bend becomes one int64 row (sample, kind,
channel, a, b), placed from the score's tempo map. A pass is one synth's share: the notes
starting in one time slice, with every control change, so slices rendered side by side sum
to the one-pass mix.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Event kinds, in the order they are applied at the same sample: offs before ons.
OFF, CONTROL, BEND, ON = 0, 1, 2, 3
BLOCK = 64  # FluidSynth's block: events apply at block starts, so slices start on one


def _rows(sample: np.ndarray, kind: int, channel: int, a: np.ndarray, b: Any = 0) -> np.ndarray:
    """(n, 5) int64 event rows: sample, kind, channel, a, b."""
    cols = [sample, np.full_like(sample, kind), np.full_like(sample, channel), a]
    return np.stack([*cols, np.broadcast_to(b, sample.shape)], axis=1).astype(np.int64)


def track_events(track: Any, channel: int, to_samples: Callable) -> tuple[np.ndarray, np.ndarray]:
    """One track's events: notes (n, 2, 5), each note's on and off row, and its control changes
    and pitch bends (m, 5)."""
    notes_out = np.zeros((0, 2, 5), dtype=np.int64)
    notes = track.notes.numpy()
    if len(notes["time"]):
        start = notes["time"].astype(np.int64)
        on = to_samples(start)
        off = np.maximum(to_samples(start + notes["duration"]), on + 1)  # no zero-length notes
        pitch = notes["pitch"].astype(np.int64) & 0x7F
        notes_out = np.stack([_rows(on, ON, channel, pitch, np.clip(notes["velocity"], 1, 127)),
                              _rows(off, OFF, channel, pitch)], axis=1)  # fmt: skip
    rows = [np.zeros((0, 5), dtype=np.int64)]
    cc = track.controls.numpy()
    keep = (cc["number"] != 0) & (cc["number"] != 32)  # bank select: presets chosen directly
    if keep.any():
        t = to_samples(cc["time"][keep])
        rows.append(_rows(t, CONTROL, channel, cc["number"][keep], cc["value"][keep]))
    bends = track.pitch_bends.numpy()
    if len(bends["time"]):
        value = np.clip(bends["value"].astype(np.int64) + 8192, 0, 16383)
        rows.append(_rows(to_samples(bends["time"]), BEND, channel, value))
    return notes_out, np.concatenate(rows)


def _sorted(rows: list[np.ndarray]) -> np.ndarray:
    """Event rows stacked and sorted by sample, then kind (offs first)."""
    events = np.concatenate([*rows, np.zeros((0, 5), np.int64)])
    return events[np.lexsort((events[:, 1], events[:, 0]))]


@dataclass
class Pass:
    """One synth's share of the work: these programs and events, written from `start`.

    A pass owns frames start..end of the output. After its last event it keeps writing, into
    its own tail buffer, until it falls silent (releases and reverb end) or the piece ends;
    the tail is then added to the output.
    """

    programs: list[tuple[int, int, bool]]
    events: np.ndarray  # (n, 5) sorted; controls before `start` are applied at `start`
    start: int
    end: int
    notes_end: int  # the last note-off of its own notes
    tail: list[np.ndarray] = field(default_factory=list)


def time_split(notes: np.ndarray, controls: np.ndarray, programs, total: int,
               music_end: int, frames: int) -> list[Pass]:  # fmt: skip
    """Split a mix (or one stem) into passes of about `frames` by note onset, side by side.

    Voices are independent and FluidSynth's effects are linear, so the sum of the passes is
    the one-pass mix, given that each pass gets every control change (the same channel
    state) and starts on FluidSynth's block grid (the same onset timing). Without effects the
    sum differs from one pass only by small transients at note onsets (FluidSynth reuses voice
    slots), as stems do. With them, the chorus and reverb modulation starts with each synth:
    the same effect, not the same samples (both measured in tests/test_render.py). A slice
    where no note starts makes no pass: the notes sounding into it are their own passes' tails.
    """
    parts = max(1, math.ceil(music_end / frames))
    cuts = [0, *(music_end * k // parts // BLOCK * BLOCK for k in range(1, parts)), total]
    onsets = notes[:, 0, 0]
    passes = []
    for k, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False)):
        mine = (onsets >= a) & ((onsets < b) | (k == parts - 1))
        if not mine.any():
            continue
        events = _sorted([notes[mine].reshape(-1, 5), controls])
        notes_end = int(notes[mine, 1, 0].max(initial=a))
        passes.append(Pass(programs, events, a, b, notes_end))
    return passes
