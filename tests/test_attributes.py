"""Per-bar attributes and the independent judges, on music built in code with symusic."""

from __future__ import annotations

import math

import numpy as np
import pytest
from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.evaluate import judges
from musegen.music import attributes as at
from musegen.music import labels

TPQ = 480
BAR = 4 * TPQ
# one 4/4 bar each, (pitch, eighths): scale notes, the tonic triad held longest
C_MAJOR = [(60, 2), (62, 1), (64, 1), (65, 1), (67, 2), (71, 1)]
A_MINOR = [(57, 2), (59, 1), (60, 1), (62, 1), (64, 2), (68, 1)]


def score_of(*tracks: list[tuple[int, int, int]], drums: tuple[int, ...] = (),
             meter: tuple[int, int] = (4, 4), tempos: tuple[tuple[int, float], ...] = ()
             ) -> Score:  # fmt: skip
    """A tick score with one track per list of (time, duration, pitch); `drums` are indices."""
    score = Score(TPQ)
    score.time_signatures.append(TimeSignature(0, *meter))
    for time, qpm in tempos:
        score.tempos.append(Tempo(time, qpm))
    for i, notes in enumerate(tracks):
        track = Track(name=f"t{i}", program=0, is_drum=i in drums)
        for time, duration, pitch in notes:
            track.notes.append(Note(time, duration, pitch, 80))
        score.tracks.append(track)
    return score


def line(scale: list[tuple[int, int]], start: int = 0) -> list[tuple[int, int, int]]:
    """Notes of (pitch, eighths) one after another from `start`."""
    notes, time = [], start
    for pitch, eighths in scale:
        notes.append((time, eighths * TPQ // 2, pitch))
        time += eighths * TPQ // 2
    return notes


def lines(bars: int, bar: int = BAR) -> list[int]:
    return [b * bar for b in range(bars + 1)]


def one_bar(notes: list[tuple[int, int, int]]) -> at.BarAttributes:
    (bar,) = at.attributes(score_of(notes), lines(1))
    return bar


def test_c_major_bar_reads_major_on_c():
    bar = one_bar(line(C_MAJOR))
    assert (bar.tonic, bar.mode) == (0, "major")
    assert bar.key_strength > 0.5


def test_a_minor_bar_reads_minor_on_a():
    bar = one_bar(line(A_MINOR))
    assert (bar.tonic, bar.mode) == (9, "minor")


def test_key_follows_a_modulation_bar_by_bar():
    notes = line(C_MAJOR * 2) + line(A_MINOR * 2, start=2 * BAR)
    bars = at.attributes(score_of(notes), lines(4))
    assert [(b.tonic, b.mode) for b in bars] == [(0, "major")] * 2 + [(9, "minor")] * 2


def test_bar_keys_are_the_project_key_finder():
    """The all-bars-at-once key finding gives labels.find_key's answer, bar by bar."""
    rng = np.random.default_rng(21)
    hist = rng.random((300, 12)) ** 3 * (rng.random((300, 12)) < 0.5)  # sparse, uneven bars
    hist = np.vstack([hist, np.zeros(12), np.full(12, 7.0)])  # silence, and no key at all
    for h, (tonic, mode, strength) in zip(hist, at._keys(hist, (1.0,)), strict=True):
        if h.sum() == 0 or np.allclose(h, h[0]):
            assert (tonic, mode, strength) == (None, None, 0.0)
        else:
            expected = labels.find_key(h)
            assert (tonic, mode) == expected[:2] and strength == pytest.approx(expected[2])


def test_sixteen_notes_read_denser_than_four():
    sixteen = one_bar([(i * TPQ // 4, TPQ // 4, 60 + i % 5) for i in range(16)])
    four = one_bar([(i * TPQ, TPQ, 60 + i) for i in range(4)])
    assert sixteen.density > four.density
    assert (sixteen.density, four.density) == (5, 2)
    assert sixteen.tracks[0].onsets == 16


def test_density_scales_with_the_meter():
    """A level names a note value: quarters in 3/4, eighths and sixteenths in 2/4 read as in 4/4."""
    waltz = score_of([(i * TPQ, TPQ, 60) for i in range(3)], meter=(3, 4))
    assert at.attributes(waltz, lines(1, 3 * TPQ))[0].density == at.density_level(4) == 2
    for per_quarter, level in ((2, 3), (4, 5)):
        step = TPQ // per_quarter
        march = score_of([(i * step, step, 60) for i in range(2 * per_quarter)], meter=(2, 4))
        assert at.attributes(march, lines(1, 2 * TPQ))[0].density == level
    assert at.density_level(4, quarters_per_bar=2.0) == at.density_level(8) == 3
    by_default = at.attributes(score_of([(i * TPQ, TPQ, 60) for i in range(5)], meter=(3, 4)))
    assert [(b.start, b.end) for b in by_default] == [(0, 3 * TPQ), (3 * TPQ, 6 * TPQ)]


def test_three_note_chord_reads_polyphony_three():
    bar = one_bar([(0, BAR, 60), (0, BAR, 64), (0, BAR, 67)])
    assert bar.polyphony == 3 and bar.tracks[0].polyphony == 3
    assert bar.density == 1  # a chord is one onset
    assert (bar.chord_root, bar.chord_quality) == (0, "maj")


def test_legato_overlap_is_not_a_second_voice():
    melody = [(i * TPQ, TPQ + TPQ // 16, 60 + 2 * i) for i in range(4)]  # each overlaps the next
    assert one_bar(melody).polyphony == 1


def test_chords_by_template():
    minor = one_bar([(0, BAR, p) for p in (57, 60, 64)])
    assert (minor.chord_root, minor.chord_quality) == (9, "min")
    seventh = one_bar([(0, BAR, p) for p in (55, 59, 62, 65)])
    assert (seventh.chord_root, seventh.chord_quality) == (7, "7")


def test_low_octave_reads_a_lower_register_than_a_high_one():
    low = one_bar([(i * TPQ, TPQ, 36 + s) for i, s in enumerate((0, 4, 7, 4))])  # octave 2
    high = one_bar([(i * TPQ, TPQ, 72 + s) for i, s in enumerate((0, 4, 7, 4))])  # octave 5
    assert low.register < high.register
    assert (low.register, high.register) == (1, 4)


def test_empty_bars_read_as_empty():
    notes = line(C_MAJOR) + line(C_MAJOR, start=3 * BAR)
    bars = at.attributes(score_of(notes), lines(6))
    assert [b.empty for b in bars] == [False, True, True, False, True, True]
    for b in (bars[1], bars[2], bars[5]):
        assert (b.notes, b.density, b.polyphony, b.register) == (0, 0, 0, 0)
        assert (b.chord_root, b.chord_quality) == (None, None)
        assert all(t.onsets == t.density == t.polyphony == t.register == 0 for t in b.tracks)
    assert bars[1].mode == "major"  # a rest inside music keeps its neighbours' key
    assert (bars[5].tonic, bars[5].mode, bars[5].key_strength) == (None, None, 0.0)  # no window
    assert bars[0].density > 0 and bars[0].polyphony == 1
    alone = at.attributes(score_of(notes), lines(6), key_window=(1.0,))  # each bar on its own
    assert [b.mode for b in alone] == ["major", None, None, "major", None, None]
    silence = at.attributes(score_of([], []), lines(2))
    assert all(b.empty and b.mode is None and b.density == 0 for b in silence)


def test_a_note_held_over_the_bar_line_sounds_in_the_next_bar():
    bars = at.attributes(score_of([(0, 2 * BAR, 60), (0, 2 * BAR, 64)]), lines(2))
    assert not bars[1].empty
    assert (bars[1].density, bars[1].polyphony, bars[1].register) == (0, 2, 3)


def test_drums_count_hits_and_have_no_register():
    hats = [(i * TPQ // 4, 30, 42) for i in range(16)]
    kicks = [(i * TPQ, 30, 36) for i in range(4)]
    bass = [(i * TPQ, TPQ, 40) for i in range(4)]
    (bar,) = at.attributes(score_of(hats + kicks, bass, drums=(0,)), lines(1))
    drums, low = bar.tracks
    assert drums.is_drum and drums.onsets == 16 and drums.density == 5 and drums.register == 0
    assert drums.polyphony == 1  # 16 hat onsets, 4 with a kick: mean 1.25
    assert (low.density, low.polyphony, low.register) == (2, 1, 1)
    assert bar.density == 5 and bar.register == 1  # bar register from pitched tracks only


def test_levels_round_trip_and_increase():
    for level in range(len(at.DENSITY_VALUES)):
        assert at.density_level(at.density_value(level)) == level
    for level in range(at.POLYPHONY_MAX + 1):
        assert at.polyphony_level(at.polyphony_value(level)) == level
    for level in range(len(at.REGISTER_VALUES)):
        assert at.register_level(at.register_value(level)) == level
    for band in range(len(at.TEMPO_VALUES)):
        assert at.tempo_band(at.tempo_value(band)) == band
    assert at.polyphony_level(9.0) == at.POLYPHONY_MAX and at.register_level(None) == 0
    assert [at.tempo_band(q) for q in (50, 70, 100, 120, 150, 200)] == [0, 1, 2, 3, 4, 5]


def test_global_tempo_band_and_meter():
    notes = [(i * TPQ, TPQ, 60) for i in range(12)]  # 4 bars of 3/4
    steady = at.global_attributes(score_of(notes, meter=(3, 4), tempos=((0, 100.0),)))
    assert (steady.qpm, steady.tempo_band, steady.numerator, steady.denominator) == (
        pytest.approx(100.0), 2, 3, 4)  # fmt: skip
    mostly_fast = score_of(notes, tempos=((0, 60.0), (2 * TPQ, 150.0)))  # 2 of 12 beats slow
    assert at.global_attributes(mostly_fast).tempo_band == at.tempo_band(150.0)
    assert at.global_attributes(score_of(notes)).qpm == 120.0  # MIDI's default


def test_bad_lines_name_the_problem():
    with pytest.raises(ValueError, match="increasing"):
        at.attributes(score_of([(0, TPQ, 60)]), [0, 0])
    with pytest.raises(ValueError, match="odd"):
        at.attributes(score_of([(0, TPQ, 60)]), [0, BAR], key_window=(1.0, 1.0))


def test_mood_mapping_follows_valence_and_arousal():
    for mood, target in at.MOOD_ATTRIBUTES.items():
        assert target.mode == labels.MODE_OF_MOOD[mood]
        assert (target.density_offset > 0) == labels.HIGH_AROUSAL[mood]
        assert (target.tempo_offset > 0) == labels.HIGH_AROUSAL[mood]
    assert set(at.MOOD_ATTRIBUTES) == set(labels.MOODS)
    assert at.mood_targets("happy", 3, 2) == ("major", 4, 3)
    assert at.mood_targets("sad", 1, 0) == ("minor", 1, 0)  # never silence, never below band 0
    assert at.median_level([0, 0, 2, 3, 3]) == 3
    with pytest.raises(ValueError, match="happy"):
        at.mood_targets("angry", 3, 2)


def block(chords: tuple[tuple[int, ...], ...], start: int) -> list[tuple[int, int, int]]:
    """One chord per quarter note from `start`."""
    return [(start + i * TPQ, TPQ, p) for i, chord in enumerate(chords) for p in chord]


CADENCE_C = line(C_MAJOR) + block(((48, 64, 67, 72), (53, 65, 69, 72), (55, 62, 67, 71),
                                   (48, 64, 67, 72)), BAR)  # fmt: skip
CADENCE_A = line(A_MINOR) + block(((45, 60, 64, 69), (50, 62, 65, 69), (52, 59, 64, 68),
                                   (45, 60, 64, 69)), BAR)  # fmt: skip


@pytest.mark.parametrize(("notes", "key"), [(CADENCE_C, (0, "major")), (CADENCE_A, (9, "minor"))])
def test_both_key_finders_agree_on_clear_cases(notes, key):
    score = score_of(notes)
    assert judges.key_by_music21(score) == key
    assert judges.key_by_project(score) == key
    assert judges.mode_by_music21(score) == judges.mode_by_project(score) == key[1]
    assert judges.mode_by_project([(p, d) for _, d, p in notes]) == key[1]


def test_music21_judge_matches_music21_on_the_whole_stream():
    """The one-note-per-pitch-class shortcut gives music21 the same answer as every note."""
    from music21 import note, stream

    notes = line([(62, 2), (65, 1), (69, 2), (67, 1), (65, 1), (64, 1), (62, 2), (61, 2)])
    whole = stream.Stream()
    for time, duration, pitch in notes:
        whole.insert(time / TPQ, note.Note(pitch, quarterLength=duration / TPQ))
    expected = whole.analyze("key")
    assert judges.key_by_music21(score_of(notes)) == (expected.tonic.pitchClass, expected.mode)
    assert judges.key_by_music21(whole) == (expected.tonic.pitchClass, expected.mode)
    assert judges.mode_by_music21(score_of([])) is None


def test_judges_window_keeps_only_the_asked_bars():
    score = score_of(line(C_MAJOR) + line(A_MINOR * 2, start=BAR))
    assert judges.mode_by_project(score, start=BAR) == "minor"
    assert judges.mode_by_project(score, end=BAR) == "major"


def test_spearman():
    assert judges.spearman([1, 2, 3, 4, 5], [2, 4, 8, 16, 32]) == pytest.approx(1.0)
    assert judges.spearman([1, 2, 3, 4], [9, 7, 5, 1]) == pytest.approx(-1.0)
    assert judges.spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(0.8207826816681233)
    assert judges.spearman([1, 2, math.nan, 3], [1, 2, 0, 3]) == pytest.approx(1.0)
    assert math.isnan(judges.spearman([1, 2, 3], [4, 4, 4]))
    with pytest.raises(ValueError, match="equal-length"):
        judges.spearman([1, 2], [1, 2, 3])


def test_confusion_png(tmp_path):
    path = judges.confusion_png([[5, 1], [2, 4]], ["major", "minor"], tmp_path / "c.png", "mode")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="square"):
        judges.confusion_png([[1, 2]], ["a", "b"], tmp_path / "bad.png", "bad")
