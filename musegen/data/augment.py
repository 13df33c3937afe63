"""Training augmentations on base tokens: a switch to the parallel mode, a piano reduction,
a transposition.

Parallel mode: a piece, from one of its bar lines on, is moved to the other mode.

A major piece's third and sixth are lowered (C major -> C harmonic minor: E->Eb, A->Ab, the
leading tone kept); a minor piece's third, sixth and seventh are raised (C minor -> C major).
The piece's mood label becomes the other valence of the same arousal (happy <-> tense,
calm <-> sad), so the label names the mode of what follows the switch.

Why: in real music the labels and the opening always agree, so a model learns to read the mode
off the notes and ignore the label. Asked for "sad" after a major seed, it stays major. Pieces
that switch to the labelled mode at a bar line are the missing examples. The switch to the
parallel key is an old device (Schubert, the Picardy third), so the music stays idiomatic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from musegen.music.labels import find_key
from musegen.tokens.tokenizer import PITCH_RANGE

OTHER_VALENCE = {"happy": "tense", "tense": "happy", "calm": "sad", "sad": "calm"}

# Semitones added to each pitch class above the tonic.
_TO_MINOR = {4: -1, 9: -1}
_TO_MAJOR = {3: +1, 8: +1, 10: +1}


def base_key(tokens: Sequence[str]) -> tuple[int, str]:
    """(tonic, mode) of the pitched notes in base tokens (drums have PitchDrum tokens)."""
    hist = np.zeros(12)
    for t in tokens:
        if t.startswith("Pitch_"):
            hist[int(t[6:]) % 12] += 1
    tonic, mode, _ = find_key(hist)
    return tonic, mode


def switch_mode(tokens: Sequence[str], tonic: int, mode: str, from_bar: int) -> list[str]:
    """The base tokens with every pitched note after the `from_bar`-th Bar token (0 = all)
    moved from `mode` on `tonic` to the parallel mode. Drums and timing are untouched."""
    shift = _TO_MINOR if mode == "major" else _TO_MAJOR
    out, bars = [], 0
    for t in tokens:
        if t.startswith("Bar_"):
            bars += 1
        elif t.startswith("Pitch_") and bars > from_bar:
            pitch = int(t[6:])
            moved = pitch + shift.get((pitch - tonic) % 12, 0)
            if PITCH_RANGE[0] <= moved < PITCH_RANGE[1]:
                t = f"Pitch_{moved}"
        out.append(t)
    return in_note_order(out)


def to_piano(tokens: Sequence[str]) -> list[str]:
    """Every pitched part played by one piano (GM program 0); drums stay drums.

    Why: users' seeds are very often piano, and a continuation keeps the seed's instruments,
    but the corpus has its chorales on a choir, its fiddle tunes on a fiddle and so on. Piano
    reductions of every style teach the model what each style sounds like on a piano.
    """
    program = "Program_-1"
    return in_note_order([t if not t.startswith("Program_") or t == program else "Program_0"
                          for t in tokens])  # fmt: skip


def transpose(tokens: Sequence[str], semitones: int) -> list[str] | None:
    """Every pitched note moved by `semitones` (drums stay); None if one would leave the range.

    The usual regulariser of symbolic-music models (Music Transformer, MuseNet): the corpus
    has each tune in one or two keys, and a model that has seen it a few times learns them.
    """
    out = []
    for t in tokens:
        if t.startswith("Pitch_"):
            pitch = int(t[6:]) + semitones
            if not PITCH_RANGE[0] <= pitch < PITCH_RANGE[1]:
                return None
            t = f"Pitch_{pitch}"
        out.append(t)
    return out


def in_note_order(tokens: Sequence[str]) -> list[str]:
    """Notes at each position in the tokenizer's order: by program (in order of appearance),
    then strictly rising pitch; a second note of one pitch and program there is dropped."""
    out: list[str] = []
    notes: list[list[str]] = []  # each [Program_, Pitch_ or PitchDrum_, Velocity_, Duration_]

    def flush() -> None:
        rank: dict[str, int] = {}
        for note in notes:
            rank.setdefault(note[0], len(rank))
        seen = set()
        for note in sorted(notes, key=lambda n: (rank[n[0]], _sort_pitch(n))):
            key = (note[0], _pitch(note))
            if key[1] is None or key not in seen:
                out.extend(note)
                seen.add(key)
        notes.clear()

    for t in tokens:
        if t.startswith("Program_"):
            notes.append([t])
        elif notes and t.startswith(("Pitch", "Velocity_", "Duration_")):
            notes[-1].append(t)
        else:
            flush()
            out.append(t)
    flush()
    return out


def _sort_pitch(note: list[str]) -> int:
    pitch = _pitch(note)
    return -1 if pitch is None else pitch  # drums: a stable sort keeps their order


def _pitch(note: list[str]) -> int | None:
    """The pitch of a pitched note's tokens; None for a drum note (its order is kept)."""
    return int(note[1][6:]) if len(note) > 1 and note[1].startswith("Pitch_") else None
