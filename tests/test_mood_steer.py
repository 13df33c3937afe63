"""Tests for musegen.mood_steer: the bias table, the seed's tonic, and the steer in a real
continuation with the tiny checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen import mood_steer
from musegen.api import MuseGen
from musegen.errors import InputError


@pytest.fixture(scope="module")
def mg(tiny_checkpoint) -> MuseGen:
    return MuseGen.from_pretrained(tiny_checkpoint)


def g_major_seed(bars: int = 2) -> Score:
    score = Score(480)
    score.tempos.append(Tempo(0, 110.0))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    flute = Track("Flute", 73, False)
    for i, pitch in enumerate([67, 71, 74, 72, 71, 69, 66, 67] * bars):  # G B D C B A F# G
        flute.notes.append(Note(i * 240, 240, pitch, 80))
    kit = Track("Drums", 0, True)
    kit.notes.append(Note(0, 120, 40, 90))  # E as a drum note: not a pitch of the key
    score.tracks.extend([flute, kit])
    return score


def test_seed_tonic_ignores_drums_and_defaults_to_c():
    assert mood_steer.seed_tonic(g_major_seed()) == 7
    assert mood_steer.seed_tonic(Score(480)) == 0


def test_bias_favours_the_moods_third_and_sixth(mg):
    tok = mg.checkpoint.tokenizer
    bias = mood_steer.mode_bias(tok, tonic=0, mode="minor", strength=2.0)
    for v, base in enumerate(tok.base_tokens):
        pcs = [int(t[6:]) % 12 for t in base if t.startswith("Pitch_")]
        expected = 2.0 * (sum(pc in (3, 8) for pc in pcs) - sum(pc in (4, 9) for pc in pcs))
        assert bias[v] == pytest.approx(expected), base
    assert (bias > 0).any() and (bias < 0).any()
    kinds = [{t.split("_")[0] for t in b} for b in tok.base_tokens]
    drums = [v for v, k in enumerate(kinds) if "PitchDrum" in k and "Pitch" not in k]
    assert drums and not bias[drums].any()
    major = mood_steer.mode_bias(tok, tonic=0, mode="major", strength=2.0)
    np.testing.assert_array_equal(major, -bias)  # the modes swap roles


def test_a_strong_steer_keeps_the_other_modes_third_and_sixth_out(mg):
    seed = g_major_seed()
    steered = mg.continue_midi(seed, bars=4, mood="sad", mood_steer=20.0, seed=3,
                               temperature=1.2)  # fmt: skip
    new = [n.pitch % 12 for t in steered.continuation.score.tracks if not t.is_drum
           for n in t.notes]  # fmt: skip
    assert new and not {11, 4} & set(new)  # B and E: G major's third and sixth
    assert steered.provenance["mood_steer"] == {"towards": "G:minor", "nats": 20.0}
    plain = mg.continue_midi(seed, bars=4, mood="sad", seed=3, temperature=1.2)
    assert plain.provenance["mood_steer"] is None
    keyed = mg.continue_midi(seed, bars=1, mood="sad", mood_steer=5.0, key="G:major")
    assert keyed.provenance["mood_steer"] is None  # --key decides the scale itself
    with pytest.raises(InputError, match="mood-steer"):
        mg.continue_midi(seed, bars=1, mood="sad", mood_steer=-1.0)
