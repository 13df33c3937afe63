"""Token layouts built from a piece's bars: plans before bars, and fill-in-the-middle.

One place writes both what training sees and what generation prompts with, so the two can
not drift apart (musegen.tokens.controls describes the tokens).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from musegen.music import timeline
from musegen.music.attributes import attributes
from musegen.tokens.controls import (
    ANY,
    DENSITY,
    HOLE,
    INFILL,
    KEY,
    POLYPHONY,
    REGISTER,
    key_value,
    plan_tokens,
)
from musegen.tokens.tokenizer import MuseTokenizer

Plan = dict[str, str]


# A bar's plan as stored: key (tonic + 12 for minor; NO_KEY), density, polyphony, register.
PLAN_WIDTH, NO_KEY = 4, 24


def bar_plan_codes(tok: MuseTokenizer, ids: list[int]) -> np.ndarray:
    """(bars, PLAN_WIDTH) uint8: the attributes of every bar of the tokens, one row per Bar.

    Measured on the tokens decoded, so the bars are exactly the ones the Bar tokens open.
    """
    bars = int(tok.bar_count[np.asarray(ids, dtype=np.int64)].sum()) if ids else 0
    codes = np.zeros((bars, PLAN_WIDTH), np.uint8)
    codes[:, 0] = NO_KEY
    score = tok.decode(ids)
    if bars == 0 or not any(len(t.notes) for t in score.tracks):
        return codes
    lines = timeline.bar_lines(score, timeline.end_tick(score))
    found = attributes(score, lines[: bars + 1]) if len(lines) > 1 else []
    for b, bar in enumerate(found[:bars]):
        if bar.tonic is not None:
            codes[b, 0] = bar.tonic + (12 if bar.mode == "minor" else 0)
        codes[b, 1:] = bar.density, bar.polyphony, bar.register
    return codes


def plan_from_codes(row: np.ndarray, shift: int = 0) -> dict[str, str]:
    """A stored plan row as plan values, its key transposed by `shift` semitones."""
    key = int(row[0])
    return {
        KEY: ANY if key == NO_KEY else key_value((key % 12 + shift) % 12,
                                                 "minor" if key >= 12 else "major"),
        DENSITY: str(int(row[1])), POLYPHONY: str(int(row[2])), REGISTER: str(int(row[3])),
    }  # fmt: skip


def plans_of_ids(tok: MuseTokenizer, ids: list[int]) -> list[Plan]:
    """The plan every bar of these piece tokens has (one per Bar token)."""
    return [plan_from_codes(row) for row in bar_plan_codes(tok, ids)]


def split_bars(ids: Sequence[int], starts_bar: np.ndarray) -> list[list[int]]:
    """The ids of each bar (from one Bar-starting id to the next); ids before the first Bar,
    if any, join the first bar."""
    ids = [int(i) for i in ids]
    cuts = [k for k, i in enumerate(ids) if starts_bar[i]]
    if not cuts:
        return [ids] if ids else []
    cuts[0] = 0
    return [ids[a:b] for a, b in zip(cuts, [*cuts[1:], len(ids)], strict=True)]


def plan_ids(tok: MuseTokenizer, plan: Plan | None) -> list[int]:
    """Ids of a bar's plan (all "any" for None)."""
    return [tok.token_id(name) for name in plan_tokens(plan or {})]


def with_plans(tok: MuseTokenizer, bars: Sequence[Sequence[int]],
               plans: Sequence[Plan | None]) -> list[int]:  # fmt: skip
    """Each bar's plan, then the bar: the stream a model with controls reads and writes."""
    out: list[int] = []
    for bar, plan in zip(bars, plans, strict=True):
        out += plan_ids(tok, plan)
        out += bar
    return out


def take_programs(tok: MuseTokenizer, bar: Sequence[int],
                  programs: set[int] | None) -> tuple[list[int], list[int]]:  # fmt: skip
    """(the bar without the notes of `programs`, the bar with only them); None takes all.

    Both keep the bar's Bar, TimeSig and Tempo tokens, and a Position only where a note or a
    tempo of theirs stands on it.
    """
    kept: list[str] = []
    taken: list[str] = []
    position: str | None = None
    pending = {id(kept): None, id(taken): None}  # a Position not yet written to a side
    note: list[str] = []

    def put(side: list[str], tokens: Iterable[str]) -> None:
        if pending[id(side)] is not None:
            side.append(pending[id(side)])
            pending[id(side)] = None
        side.extend(tokens)

    def close_note() -> None:
        if note:
            program = int(note[0].split("_", 1)[1])
            put(taken if programs is None or program in programs else kept, note)
            note.clear()

    for t in tok.to_base(bar):
        kind = t.split("_", 1)[0]
        if kind == "Program":
            close_note()
            note.append(t)
        elif note and kind in ("Pitch", "PitchDrum", "Velocity", "Duration"):
            note.append(t)
        else:
            close_note()
            if kind == "Position":
                position = t
                pending[id(kept)] = pending[id(taken)] = position
            elif kind == "Tempo":
                put(kept, [t])
                put(taken, [t])
            else:  # Bar, TimeSig: both sides
                kept.append(t)
                taken.append(t)
    close_note()
    return tok.from_base(kept), tok.from_base(taken)


def infill_layout(tok: MuseTokenizer, bars: Sequence[Sequence[int]],
                  plans: Sequence[Plan | None], region: tuple[int, int],
                  programs: set[int] | None) -> tuple[list[int], list[int]]:  # fmt: skip
    """(context, middle): the fill-in-the-middle layout of bars [start, end) of `bars`.

    context: every bar with its plan, except each bar of the region, which is a Hole and the
    bar without the notes of `programs` (all notes for None), then Infill. middle: the
    region's plans and bars with only those notes, what the model learns to write after it.
    """
    start, end = region
    context: list[int] = []
    middle: list[int] = []
    hole = tok.token_id(HOLE)
    for b, (bar, plan) in enumerate(zip(bars, plans, strict=True)):
        if start <= b < end:
            kept, taken = take_programs(tok, bar, programs)
            context += [hole, *kept]
            middle += plan_ids(tok, plan) + taken
        else:
            context += plan_ids(tok, plan) + list(bar)
    return context + [tok.token_id(INFILL)], middle
