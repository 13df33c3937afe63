"""Keeping one of several continuations decoded side by side: one in the asked mood's mode
first, then the one the model itself finds most typical of the asked style and mood.

The model's mood tokens alone barely move the mode, and its style tokens move the style only
part of the way (README, Results). Decoding a few candidates in one batch and keeping the best
costs about twice the time of one on a CPU, and generation.json records what was kept and why.
"""

from __future__ import annotations

import numpy as np

from musegen import labels


def key_of(placed: list[tuple]) -> str | None:
    """Key found in new notes given as (program, is_drum, Note); None without pitched notes."""
    melodic = [n for _, is_drum, n in placed if not is_drum]
    if not melodic:
        return None
    hist = labels.pitch_class_histogram([n.pitch for n in melodic], [n.duration for n in melodic])
    tonic, mode, _ = labels.find_key(hist)
    return labels.key_name(tonic, mode)


def choose(candidates: list[list[tuple]], mood: str | None,
           gains: np.ndarray | None = None) -> tuple[int, dict]:  # fmt: skip
    """Index of the candidate to keep, and what the choice was based on.

    Args:
        candidates: each candidate's new notes as (program, is_drum, Note).
        mood: the asked mood; candidates in its mode (happy, calm: major; sad, tense: minor),
            by the key finding that labelled the training corpus, come first.
        gains: (K, 2) from sampling.generate's condition_gain (sum, tokens), when guided: among
            the candidates left, the highest mean log p(token | asked) - log p(token | "any")
            wins; without gains, the first.
    """
    keys = [key_of(placed) for placed in candidates]
    info: dict = {"candidates": len(candidates), "keys": keys}
    eligible = list(range(len(candidates)))
    wanted = labels.MODE_OF_MOOD.get(mood or "")
    if wanted is not None:
        matching = [c for c, key in enumerate(keys) if key and key.endswith(":" + wanted)]
        info.update(wanted_mode=wanted, mode_matched=bool(matching))
        eligible = matching or eligible
    chosen = eligible[0]
    if gains is not None:
        per_token = gains[:, 0] / np.maximum(gains[:, 1], 1)
        info["condition_gain_per_token"] = [round(float(g), 4) for g in per_token]
        chosen = max(eligible, key=lambda c: (per_token[c], -c))
    info["chosen"] = chosen + 1
    return chosen, info
