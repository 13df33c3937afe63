from __future__ import annotations

import pytest

from musegen.music import labels


def scale_notes(tonic: int, mode: str):
    steps = (0, 2, 4, 5, 7, 9, 11) if mode == "major" else (0, 2, 3, 5, 7, 8, 10)
    pitches = [60 + tonic + s for s in steps] + [60 + tonic, 67 + tonic, 60 + tonic]
    return pitches, [1.0] * len(steps) + [2.0, 1.0, 3.0]


@pytest.mark.parametrize("tonic,mode", [(0, "major"), (9, "minor"), (7, "major"), (2, "minor")])
def test_key_found_from_scale(tonic, mode):
    pitches, durations = scale_notes(tonic, mode)
    found_tonic, found_mode, corr = labels.find_key(
        labels.pitch_class_histogram(pitches, durations)
    )
    assert (found_tonic, found_mode) == (tonic, mode)
    assert corr > 0.5


def test_histogram_is_duration_weighted():
    hist = labels.pitch_class_histogram([60, 62], [3.0, 1.0])
    assert hist[0] == pytest.approx(0.75) and hist[2] == pytest.approx(0.25)


def test_fast_major_is_happy_and_slow_minor_is_sad():
    reference = labels.arousal_reference([1.0, 2.0, 4.0], [60, 100, 140])
    fast = labels.arousal(density=6.0, tempo=160, reference=reference)
    slow = labels.arousal(density=0.8, tempo=50, reference=reference)
    assert labels.mood("major", fast) == "happy"
    assert labels.mood("minor", slow) == "sad"
    assert labels.mood("minor", fast) == "tense"
    assert labels.mood("major", slow) == "calm"


def test_onset_density_counts_chords_once():
    assert labels.onset_density([0.0, 0.0, 0.0, 1.0], 2.0) == pytest.approx(1.0)


def test_parse_key():
    assert labels.parse_key("C:major") == (0, "major")
    assert labels.parse_key("f#:minor") == (6, "minor")
    assert labels.parse_key("Bb") == (10, "major")
    with pytest.raises(ValueError, match="unknown key"):
        labels.parse_key("H:major")
    with pytest.raises(ValueError, match="major or minor"):
        labels.parse_key("C:dorian")
    assert labels.scale_pitch_classes(0, "major") == {0, 2, 4, 5, 7, 9, 11}
