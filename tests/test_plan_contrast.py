"""Bar edits against the plans (musegen.data.plan_contrast) on music built in code: each edit
moves the attribute it is for, in the direction it is for, and nothing outside its bar."""

from __future__ import annotations

import numpy as np
import pytest
from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.data.plan_contrast import (
    BAR_EDITS,
    EDITS,
    _bars,
    _modulate,
    contrast,
)
from musegen.tokens.layout import bar_plan_codes
from musegen.tokens.tokenizer import MuseTokenizer

TPQ = 480
BAR = 4 * TPQ


@pytest.fixture(scope="module")
def tok() -> MuseTokenizer:
    return MuseTokenizer.create(["chorale"])


def band(bars: int = 4) -> Score:
    """Triads in the middle register on every eighth, a bass on each beat, a kick on 1 and 3."""
    s = Score(TPQ)
    s.tempos.append(Tempo(0, 100.0))
    s.time_signatures.append(TimeSignature(0, 4, 4))
    piano, bass, drums = Track("p", 0, False), Track("b", 33, False), Track("d", 0, True)
    for b in range(bars):
        for e in range(8):
            t = b * BAR + e * TPQ // 2
            piano.notes.extend(Note(t, TPQ // 2, p, 80) for p in (60, 64, 67))
        for q in range(4):
            bass.notes.append(Note(b * BAR + q * TPQ, TPQ, 36, 90))
        drums.notes.extend(Note(b * BAR + q * TPQ, TPQ // 4, 36, 100) for q in (0, 2))
    s.tracks.extend([piano, bass, drums])
    return s


def codes_after(tok, base: list[str]) -> np.ndarray:
    return bar_plan_codes(tok, tok.from_base(base)).astype(int)


@pytest.mark.parametrize(
    "edit, column, sign",
    [("thin", 1, -1), ("one_voice", 2, -1), ("doubled", 2, +1),
     ("octave_up", 3, +1), ("octave_down", 3, -1)],
)  # fmt: skip
def test_each_edit_moves_its_attribute_of_its_bar_only(tok, edit, column, sign):
    base = tok.to_base(tok.encode(band()))
    bars = _bars(base)
    assert len(bars) == 4
    before = codes_after(tok, base)
    edited = [t for b, bar in enumerate(bars) for t in (EDITS[edit](bar, np.random.default_rng(0))
                                                       if b == 2 else bar)]  # fmt: skip
    after = codes_after(tok, edited)
    assert np.sign(after[2, column] - before[2, column]) == sign
    assert (after[[0, 1, 3]] == before[[0, 1, 3]]).all()
    drums = [t for t in edited if t.startswith("PitchDrum_")]
    if edit != "thin":  # only thinning takes drum hits
        assert drums == [t for t in base if t.startswith("PitchDrum_")]


def test_modulation_moves_the_key_from_its_bar_on(tok):
    base = tok.to_base(tok.encode(band()))
    moved = _modulate(base, 2, 5)
    after, before = codes_after(tok, moved), codes_after(tok, base)
    assert before[0, 0] == 0  # C major
    assert (after[:1] == before[:1]).all()
    assert after[3, 0] == 5  # F major
    decoded = tok.decode(tok.from_base(moved))
    assert sum(len(t.notes) for t in decoded.tracks) == sum(len(t.notes) for t in band().tracks)


def test_contrast_keeps_the_bar_lines_and_decodes(tok):
    base = tok.to_base(tok.encode(band(8)))
    for seed in range(20):
        out = contrast(base, np.random.default_rng(seed), bar_share=0.5, key_share=0.5)
        assert sum(t.startswith("Bar_") for t in out) == 8
        assert len(bar_plan_codes(tok, tok.from_base(out))) == 8
    edits_seen = {
        e for e in BAR_EDITS if EDITS[e](_bars(base)[0], np.random.default_rng(0)) != _bars(base)[0]
    }
    assert edits_seen == set(BAR_EDITS)  # none of them is a no-op on this music
