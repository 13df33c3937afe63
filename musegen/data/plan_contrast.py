"""Bar edits that make a bar's plan disagree with its neighbours (a training augmentation).

In real music a bar is much like the bars before it, so a model can predict its density,
polyphony, register and key from the context and never read the plan in front of it: the
shipped model, teacher-forced on held-out pieces, lost 0.2% of its likelihood when every
density plan was turned upside down. A user who asks for a sparse bar after dense ones asks
for exactly what the corpus never shows. These edits make such bars from real ones:

- thin: the notes of some onsets are taken out (density down);
- one voice: only the highest pitched note of each onset is kept (polyphony down);
- doubled: each pitched note gets its lower octave (polyphony up);
- octave: the bar's pitched notes move an octave up or down (register moves a level);
- modulate / switch mode: from one bar on, the pitched notes move to another key, or to the
  parallel mode (the key plans change, the rhythm does not).

The plans of an edited piece are measured again on the edited notes (tokens.layout), so every
plan still describes its bar. Drums keep their notes except where a thinned onset takes them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from musegen.data.augment import base_key, in_note_order, switch_mode
from musegen.tokens.tokenizer import PITCH_RANGE

BAR_EDITS = ("thin", "one_voice", "doubled", "octave_up", "octave_down")


def contrast(tokens: Sequence[str], rng: np.random.Generator, bar_share: float = 0.3,
             key_share: float = 0.3) -> list[str]:  # fmt: skip
    """Base tokens of a piece with about `bar_share` of its bars edited, one bar edit each,
    and with probability `key_share` a change of key or mode from one of its bar lines on."""
    bars = _bars(tokens)
    out: list[str] = []
    for bar in bars:
        if rng.random() < bar_share:
            bar = EDITS[BAR_EDITS[int(rng.integers(len(BAR_EDITS)))]](bar, rng)
        out += bar
    if len(bars) >= 2 and rng.random() < key_share:
        from_bar = int(rng.integers(1, len(bars)))
        if rng.random() < 0.5:
            out = switch_mode(out, *base_key(out), from_bar)
        else:
            out = _modulate(out, from_bar, int(rng.choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5])))
    return out


def _bars(tokens: Sequence[str]) -> list[list[str]]:
    """Tokens cut before each Bar token; tokens before the first Bar join the first bar."""
    bars: list[list[str]] = []
    for t in tokens:
        if t.startswith("Bar_") and bars and any(x.startswith("Bar_") for x in bars[-1]):
            bars.append([])
        if not bars:
            bars.append([])
        bars[-1].append(t)
    return bars


def _onsets(bar: list[str]) -> tuple[list[str], list[list[str]]]:
    """(tokens before the first Position, [each Position with what follows it])."""
    head: list[str] = []
    groups: list[list[str]] = []
    for t in bar:
        if t.startswith("Position_"):
            groups.append([])
        (groups[-1] if groups else head).append(t)
    return head, groups


def _notes(group: list[str]) -> tuple[list[str], list[list[str]]]:
    """(a Position group's other tokens (Position, Tempo), its notes [Program, Pitch, ...])."""
    rest: list[str] = []
    notes: list[list[str]] = []
    for t in group:
        if t.startswith("Program_"):
            notes.append([t])
        elif notes and t.startswith(("Pitch", "Velocity_", "Duration_")):
            notes[-1].append(t)
        else:
            rest.append(t)
    return rest, notes


def thin(bar: list[str], rng: np.random.Generator) -> list[str]:
    """The bar without the notes of a random half (at least one) of its onsets."""
    head, groups = _onsets(bar)
    if len(groups) < 2:
        return bar
    drop = set(rng.choice(len(groups), size=max(1, len(groups) // 2), replace=False).tolist())
    out = list(head)
    for g, group in enumerate(groups):
        rest, notes = _notes(group)
        if g not in drop:
            out += group
        elif len(rest) > 1:  # a tempo change stays where it was
            out += rest
    return out


def one_voice(bar: list[str], rng: np.random.Generator) -> list[str]:
    """The bar with only the highest pitched note at each onset (drums kept), one line."""
    head, groups = _onsets(bar)
    out = list(head)
    for group in groups:
        rest, notes = _notes(group)
        pitched = [n for n in notes if n[1].startswith("Pitch_")]
        kept = [n for n in notes if not n[1].startswith("Pitch_")]
        if pitched:
            kept.append(max(pitched, key=lambda n: int(n[1][6:])))
        out += rest + [t for note in kept for t in note]
    return in_note_order(out)


def doubled(bar: list[str], rng: np.random.Generator) -> list[str]:
    """The bar with each pitched note doubled an octave below where it fits (polyphony up)."""
    head, groups = _onsets(bar)
    out = list(head)
    for group in groups:
        rest, notes = _notes(group)
        low = [[n[0], f"Pitch_{int(n[1][6:]) - 12}", *n[2:]] for n in notes
               if n[1].startswith("Pitch_") and int(n[1][6:]) - 12 >= PITCH_RANGE[0]]  # fmt: skip
        out += rest + [t for note in notes + low for t in note]
    return in_note_order(out)


def _moved(bar: list[str], semitones: int) -> list[str]:
    """The bar's pitched notes moved; the bar unchanged if a note would leave the range."""
    pitches = [int(t[6:]) + semitones for t in bar if t.startswith("Pitch_")]
    if not pitches or not all(PITCH_RANGE[0] <= p < PITCH_RANGE[1] for p in pitches):
        return bar
    return [f"Pitch_{int(t[6:]) + semitones}" if t.startswith("Pitch_") else t for t in bar]


def octave_up(bar: list[str], rng: np.random.Generator) -> list[str]:
    return _moved(bar, 12)


def octave_down(bar: list[str], rng: np.random.Generator) -> list[str]:
    return _moved(bar, -12)


def _modulate(tokens: list[str], from_bar: int, semitones: int) -> list[str]:
    """Pitched notes of bars from_bar on moved by `semitones` (each bar only if it fits)."""
    bars = _bars(tokens)
    return [t for b, bar in enumerate(bars) for t in (_moved(bar, semitones) if b >= from_bar
                                                     else bar)]  # fmt: skip


EDITS = {
    "thin": thin,
    "one_voice": one_voice,
    "doubled": doubled,
    "octave_up": octave_up,
    "octave_down": octave_down,
}
