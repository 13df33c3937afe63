from __future__ import annotations

import math

import numpy as np
import pytest
from symusic import Note, Score, TimeSignature, Track

from musegen.evaluate import metrics
from musegen.evaluate.ngram import KneserNey
from musegen.model.loss import IGNORE

Q = 480  # ticks per quarter


def score_of(*notes: tuple[int, int, int], numerator: int = 4) -> Score:
    """A one-track score from (quarter onset, quarters, pitch) triples."""
    score = Score(Q)
    score.time_signatures.append(TimeSignature(0, numerator, 4))
    track = Track(name="t", program=0)
    for onset, length, pitch in notes:
        track.notes.append(Note(round(onset * Q), round(length * Q), pitch, 80))
    score.tracks.append(track)
    return score


C_MAJOR = [60, 62, 64, 65, 67, 69, 71]


def test_c_major_scale_statistics():
    s = metrics.statistics(score_of(*[(i, 1, p) for i, p in enumerate(C_MAJOR)], (7, 1, 72)), 2)
    assert s["scale_consistency"] == 1.0
    # C twice, six other pitch classes once: -(1/4 log2 1/4 + 6/8 log2 1/8) = 2.75 bits
    assert s["pitch_class_entropy"] == pytest.approx(2.75)
    assert s["pitch_range"] == 12
    assert s["polyphony"] == 1.0
    assert s["note_density"] == 4.0
    assert s["empty_beat_rate"] == 0.0
    seven = metrics.statistics(score_of(*[(i, 1, p) for i, p in enumerate(C_MAJOR)]))
    assert seven["pitch_class_entropy"] == pytest.approx(math.log2(7))


def test_chromatic_notes_lower_scale_consistency():
    chromatic = metrics.notes_of(score_of(*[(i, 1, 60 + i) for i in range(12)]))
    assert metrics.scale_consistency(chromatic) == pytest.approx(7 / 12)
    assert metrics.pitch_class_entropy(chromatic) == pytest.approx(math.log2(12))


def test_empty_beat_rate_counts_a_silent_bar():
    one_bar = [(i, 1, 60) for i in range(4)]
    assert metrics.empty_beat_rate(metrics.notes_of(score_of(*one_bar), bars=2)) == 0.5
    # a whole note starts on one beat of four (MusPy counts onsets)
    assert metrics.empty_beat_rate(metrics.notes_of(score_of((0, 4, 60)), bars=1)) == 0.75


def test_polyphony_and_groove():
    chord = metrics.notes_of(score_of((0, 2, 60), (0, 2, 64), (0, 2, 67), (2, 2, 72)))
    assert metrics.polyphony(chord) == pytest.approx((3 * 2 + 1 * 2) / 4)
    same = metrics.notes_of(score_of(*[(i, 1, 60) for i in range(8)]), bars=2)
    assert metrics.groove_consistency(same) == 1.0
    # bar 2 moves two of its four onsets: 4 of 48 grid positions differ
    moved = metrics.notes_of(score_of(*[(i, 1, 60) for i in range(4)], (4, 1, 60), (5.5, 1, 60),
                                      (6, 1, 60), (7.5, 1, 60)), bars=2)  # fmt: skip
    assert metrics.groove_consistency(moved) == pytest.approx(1 - 4 / 48)
    assert math.isnan(metrics.groove_consistency(metrics.notes_of(score_of((0, 1, 60)), bars=1)))


def test_statistics_of_an_empty_excerpt_are_nan_where_undefined():
    s = metrics.statistics(Score(Q), bars=2)
    assert math.isnan(s["pitch_class_entropy"]) and math.isnan(s["polyphony"])
    assert s["note_density"] == 0 and s["empty_beat_rate"] == 1.0


def test_overlap_area_of_identical_and_disjoint_samples():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 200)
    assert metrics.overlap_area(a, a) == pytest.approx(1.0, abs=1e-6)
    assert metrics.overlap_area(a, rng.normal(0, 1, 200)) > 0.8
    assert metrics.overlap_area(a, a + 50) < 1e-6
    assert 0.2 < metrics.overlap_area(a, a + 1.5) < 0.7
    assert metrics.overlap_area([1.0, 1.0], [1.0, 1.0, 1.0]) == 1.0
    assert metrics.overlap_area([1.0, 1.0], [5.0, 5.0]) < 1e-6
    assert math.isnan(metrics.overlap_area([math.nan], [1.0]))


def _style_a(rng) -> Score:  # fast, high, single line
    return score_of(*[(i / 4, 0.25, int(rng.integers(72, 84))) for i in range(32)], numerator=4)


def _style_b(rng) -> Score:  # slow low chords
    notes = []
    for bar in range(2):
        root = int(rng.integers(40, 52))
        notes += [(bar * 4, 4, root), (bar * 4, 4, root + 4), (bar * 4, 4, root + 7)]
    return score_of(*notes)


def test_style_classifier_separates_two_textures():
    rng = np.random.default_rng(1)
    x = np.array([metrics.style_features(f(rng), 2) for f in [_style_a, _style_b] * 10])
    y = np.array([0, 1] * 10)
    assert x.shape == (20, 66) and np.isfinite(x).all()
    model = metrics.SoftmaxRegression().fit(x, y, 2)
    test = np.array([metrics.style_features(f(rng), 2) for f in [_style_a, _style_b] * 3])
    assert (model.predict(test) == np.array([0, 1] * 3)).all()
    assert np.allclose(model.predict_proba(test).sum(1), 1)
    matrix = metrics.confusion(np.array([0, 0, 1]), np.array([0, 1, 1]), 2)
    assert matrix.tolist() == [[1, 1], [0, 1]]


def test_style_features_see_one_line_per_program_not_per_track():
    # A soprano over a leaping bass: as two choir tracks, as one choir track holding both, and
    # as two different instruments. The tokenizer cannot tell the first two apart, so the
    # classifier must not either; the third has two instruments, each with its own line.
    soprano = [(i, 1, p) for i, p in enumerate([72, 74, 76, 77])]
    bass = [(i, 1, p) for i, p in enumerate([48, 55, 43, 50])]
    two_tracks, one_track = score_of(*soprano), score_of(*soprano, *bass)
    extra = Track(name="bass", program=0)
    for onset, length, pitch in bass:
        extra.notes.append(Note(onset * Q, length * Q, pitch, 80))
    two_tracks.tracks.append(extra)
    two_programs = two_tracks.copy()
    two_programs.tracks[1].program = 42
    scores = {"tracks": two_tracks, "one": one_track, "programs": two_programs}
    features = {name: metrics.style_features(s, 1) for name, s in scores.items()}
    assert np.array_equal(features["tracks"], features["one"])
    assert not np.array_equal(features["programs"], features["one"])  # the bass leaps count


# --------------------------------------------------------------------------- n-gram


def test_ngram_distributions_sum_to_one():
    rng = np.random.default_rng(0)
    model = KneserNey.fit([rng.integers(0, 20, 200) for _ in range(5)] + [np.arange(20)], 20, 4)
    for order in (1, 2, 3, 4):
        for history in ([20, 20, 20], [1, 2, 3], [5, 5, 5]):
            p = np.exp(model.log_probs(np.tile(history, (20, 1)), np.arange(20), order))
            assert p.sum() == pytest.approx(1.0) and (p > 0).all()


def test_ngram_perplexity_is_lower_on_repetitive_music_than_uniform():
    vocab = 50
    riff = np.tile([3, 7, 7, 9, 12, 3, 5], 30)
    model = KneserNey.fit([riff, riff[3:]], vocab, order=5)
    inputs = riff[None, :64].copy()
    targets = np.concatenate([riff[1:65]])[None, :].copy()
    targets[0, 0] = IGNORE
    for order in (3, 4, 5):
        log_p = model.window_log_probs(inputs, targets, order)
        assert len(log_p) == 63  # exactly the targets that are not IGNORE
        assert math.exp(-log_p.mean()) < 2 < vocab  # uniform guessing has perplexity 50
    noise = np.random.default_rng(3).integers(0, vocab, (1, 64))
    noise_targets = np.roll(noise, -1, 1)
    noise_targets[0, -1] = IGNORE
    assert math.exp(-model.window_log_probs(noise, noise_targets).mean()) > 10


def test_ngram_window_scoring_matches_log_probs():
    rng = np.random.default_rng(2)
    model = KneserNey.fit([rng.integers(0, 10, 300)], 10, order=3)
    x = rng.integers(0, 10, (2, 6))
    y = np.roll(x, -1, 1)
    y[:, -1] = IGNORE
    got = model.window_log_probs(x, y, 3)
    pad = model.pad
    # row 0, position 0: history (pad, x0); position 3: history (x2, x3)
    assert got[0] == pytest.approx(model.log_probs([[pad, x[0, 0]]], [x[0, 1]], 3)[0])
    assert got[3] == pytest.approx(model.log_probs([[x[0, 2], x[0, 3]]], [x[0, 4]], 3)[0])
    with pytest.raises(ValueError, match="order"):
        model.log_probs([[1, 2]], [3], 4)
