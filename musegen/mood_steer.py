"""Steering the mode of new notes towards the asked mood's valence (opt-in: `--mood-steer`).

A mood's valence is its mode: happy and calm are major, tense and sad are minor (see
`musegen.labels.mood`). The model learns this from its labels only weakly: a piece's mode is
plain from its first notes, so the label decides little of the likelihood. The steer is a
fixed logit bias: the third and sixth of the seed's tonic in the asked mode are favoured by
`strength` nats per note, the other mode's third and sixth disfavoured by as much. Nothing is
forbidden (unlike `--key`), and other notes, sevenths included, are left to the model.
"""

from __future__ import annotations

import numpy as np
from symusic import Score

from musegen import labels
from musegen.tokenizer import MuseTokenizer

MOOD_MODE = {"happy": "major", "calm": "major", "tense": "minor", "sad": "minor"}
# Scale degrees (semitones above the tonic) that tell the modes apart.
DEGREES = {"major": (4, 9), "minor": (3, 8)}


def seed_tonic(score: Score) -> int:
    """Pitch class of the seed's key (Krumhansl-Schmuckler over its pitched notes); C if none."""
    pitches, durations = [], []
    for track in score.tracks:
        if track.is_drum:
            continue
        notes = track.notes.numpy()
        pitches += notes["pitch"].tolist()
        durations += notes["duration"].tolist()
    if not pitches:
        return 0
    return labels.find_key(labels.pitch_class_histogram(pitches, durations))[0]


def mode_bias(tokenizer: MuseTokenizer, tonic: int, mode: str, strength: float) -> np.ndarray:
    """(V,) float32 logits to add: +strength per note of `mode`'s third or sixth in a token,
    -strength per note of the other mode's (drum notes are not pitches of a key)."""
    favoured = {(tonic + d) % 12 for d in DEGREES[mode]}
    other = {(tonic + d) % 12 for m, ds in DEGREES.items() if m != mode for d in ds}
    bias = np.zeros(tokenizer.vocab_size, dtype=np.float32)
    for v, base in enumerate(tokenizer.base_tokens):
        for token in base:
            kind, _, value = token.partition("_")
            if kind == "Pitch":
                pc = int(value) % 12
                bias[v] += strength * ((pc in favoured) - (pc in other))
    return bias
