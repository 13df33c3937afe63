"""Choosing one of several candidates: the asked mood's mode first, then the condition gain."""

from __future__ import annotations

import numpy as np
from symusic import Note

from musegen.candidates import choose, key_of


def placed(*pitches: int) -> list[tuple]:
    """New notes as continuation._place gives them, a drum hit included (it has no key)."""
    notes = [(0, False, Note(i * 480, 480, p, 80)) for i, p in enumerate(pitches)]
    return notes + [(0, True, Note(0, 120, 37, 100))]


C_MAJOR, C_MINOR = placed(60, 64, 67, 72, 64, 60), placed(60, 63, 67, 72, 63, 60)


def test_key_of_ignores_drums_and_silence():
    assert key_of(C_MAJOR) == "C:major" and key_of(C_MINOR) == "C:minor"
    assert key_of(placed()) is None


def test_the_first_candidate_in_the_asked_mode_is_kept():
    chosen, info = choose([C_MAJOR, C_MINOR, C_MINOR], "sad")
    assert chosen == 1 and info["chosen"] == 2 and info["mode_matched"]
    assert info["keys"] == ["C:major", "C:minor", "C:minor"] and info["wanted_mode"] == "minor"
    assert choose([C_MAJOR, C_MINOR], "calm")[0] == 0
    chosen, info = choose([C_MAJOR, placed()], "tense")  # none fits: the first, and it says so
    assert chosen == 0 and not info["mode_matched"]
    assert choose([C_MAJOR, C_MINOR], None) == (0, {"candidates": 2, "keys": ["C:major",
                                                    "C:minor"], "chosen": 1})  # fmt: skip


def test_the_gain_decides_among_candidates_in_the_mode():
    # per token: 0.1, 0.5, 0.3 -- the second is best overall, but only the first and third
    # are in the asked mode; a long candidate with a larger sum does not win by length
    gains = np.array([[1.0, 10], [5.0, 10], [6.0, 20]])
    assert choose([C_MAJOR, C_MAJOR, C_MAJOR], None, gains)[0] == 1
    chosen, info = choose([C_MINOR, C_MAJOR, C_MINOR], "sad", gains)
    assert chosen == 2 and info["condition_gain_per_token"] == [0.1, 0.5, 0.3]
    ties = np.array([[1.0, 10], [1.0, 10]])
    assert choose([C_MAJOR, C_MAJOR], "happy", ties)[0] == 0  # a tie keeps the earlier one
