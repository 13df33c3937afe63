from __future__ import annotations

import pytest
from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.tokens.controls import control_tokens
from musegen.tokens.tokenizer import MuseTokenizer


def _two_tracks() -> Score:
    score = Score(480)
    score.tempos.append(Tempo(0, 96.0))
    score.time_signatures.append(TimeSignature(0, 3, 4))
    strings = Track(name="Violin", program=40)
    cello = Track(name="Cello", program=42)
    for bar in range(4):
        for beat in range(3):
            t = (bar * 3 + beat) * 480
            strings.notes.append(Note(t, 240, 72 + beat, 90))
            strings.notes.append(Note(t + 240, 240, 74 + beat, 70))
        cello.notes.append(Note(bar * 1440, 1440, 48 + bar, 80))
    score.tracks.extend([strings, cello])
    return score


def test_round_trip_keeps_notes_programs_tempo_meter():
    tok = MuseTokenizer.create(["chorale", "celtic-fiddle"])
    score = _two_tracks()
    back = tok.decode(tok.encode(score))
    tpq = back.ticks_per_quarter

    def notes(s, scale):
        return sorted((t.program, n.time * scale, n.duration * scale, n.pitch)
                      for t in s.tracks for n in t.notes)  # fmt: skip

    assert notes(back, 480 // tpq) == notes(score, 1)
    assert [(ts.numerator, ts.denominator) for ts in back.time_signatures] == [(3, 4)]
    assert back.tempos[0].qpm == pytest.approx(96, rel=0.05)


def test_meters_missing_from_the_vocabulary_keep_their_bar_length():
    tok = MuseTokenizer.create(["chorale"])
    assert tok.vocab_meter(3, 4) == (3, 4, 1)
    assert tok.vocab_meter(3, 1) == (12, 4, 1)  # same bar length, finest grid
    assert tok.vocab_meter(10, 8) == (5, 4, 1)
    assert tok.vocab_meter(12, 16) == (6, 8, 1)
    assert tok.vocab_meter(7, 2) == (7, 4, 2)  # no meter of 14 quarters: two bars of 7
    assert tok.vocab_meter(36, 4) == (12, 4, 3)
    assert tok.vocab_meter(1, 8) is None and tok.vocab_meter(11, 16) is None
    # New bars are generated in a meter with a token, on the positions inside the bar only.
    assert tok.generation_meter(3, 4) == (3, 4, 1, 36)
    assert tok.generation_meter(7, 2) == (7, 4, 2, 84)
    assert tok.generation_meter(1, 8) == (2, 8, 1, 12)  # the first half of a 2/8 bar
    assert tok.generation_meter(11, 16) == (6, 8, 1, 66)
    # A 3/1 piece: miditok alone drops the meter and counts 4/4 bars (three per real bar).
    score = Score(480)
    score.time_signatures.append(TimeSignature(0, 3, 1))
    track = Track(name="Voice", program=52)
    track.notes.extend(Note(bar * 5760 + beat * 1920, 1920, 60 + beat, 80)
                       for bar in range(2) for beat in range(3))  # fmt: skip
    score.tracks.append(track)
    tokens = tok.to_base(tok.encode(score))
    assert tokens.count("Bar_None") == 2 and "TimeSig_12/4" in tokens
    back = tok.decode(tok.encode(score))
    scale = 480 // back.ticks_per_quarter
    assert [n.time * scale for n in back.tracks[0].notes] == [n.time for n in track.notes]
    assert [(ts.numerator, ts.denominator) for ts in score.time_signatures] == [(3, 1)]


def test_a_pickup_bar_without_a_token_ends_a_full_bar_of_the_next_meter():
    """A 1/8 anacrusis before 6/8 (as music21 writes one): miditok alone drops the 1/8, counts a
    4/4 bar from tick 0 and puts every later bar line an eighth off."""
    tok = MuseTokenizer.create(["celtic-fiddle"])
    score = Score(480)
    score.tempos.append(Tempo(0, 90.0))
    score.time_signatures.extend([TimeSignature(0, 1, 8), TimeSignature(240, 6, 8)])
    track = Track(name="Fiddle", program=40)
    track.notes.extend(Note(i * 240, 240, 62 + i % 7, 80) for i in range(13))  # pickup + 2 bars
    score.tracks.append(track)
    tokens = tok.to_base(tok.encode(score))
    bars = " ".join(tokens).split("Bar_None")[1:]
    assert len(bars) == 3 and all(b.split()[0] == "TimeSig_6/8" for b in bars)
    assert [t for t in bars[0].split() if t.startswith(("Position", "Pitch"))][-2:] == [
        "Position_60", "Pitch_62"]  # the last eighth of the first bar  # fmt: skip
    back = tok.decode(tok.encode(score))
    assert back.tempos[0].time == 0 and back.tempos[0].qpm == pytest.approx(90, rel=0.05)
    assert [(ts.time, ts.numerator) for ts in score.time_signatures] == [(0, 1), (240, 6)]
    # A first meter with no token that lasts longer than a bar is no pickup: left in place.
    long_bars = Score(480)
    long_bars.time_signatures.extend([TimeSignature(0, 11, 16), TimeSignature(3960, 3, 4)])
    kept = tok.in_vocab_meters(long_bars).time_signatures
    assert [(ts.time, ts.numerator, ts.denominator) for ts in kept] == [(0, 11, 16), (3960, 3, 4)]


def test_conditions_and_unknown_names():
    tok = MuseTokenizer.create(["chorale", "celtic-fiddle"])
    assert tok.styles == ["celtic-fiddle", "chorale"]
    assert tok.moods == ["happy", "tense", "sad", "calm"]
    style, mood = tok.condition_ids("chorale", None)
    assert tok.to_base([style, mood]) == ["Style_chorale", "Mood_any"]
    with pytest.raises(ValueError, match="knows: celtic-fiddle, chorale"):
        tok.condition_ids("jazz", None)
    with pytest.raises(ValueError, match="underscore|'_'"):
        MuseTokenizer.create(["bad_name"])


def test_bpe_save_load_equal_and_shorter(small_corpus, tmp_path):
    from musegen.data.manifest import read_manifest

    rows = read_manifest(small_corpus)
    paths = [small_corpus / r["path"] for r in rows]
    tok = MuseTokenizer.create(sorted({r["style"] for r in rows}))
    score = Score(str(paths[0]))
    base_len = len(tok.encode(score))
    tok.train_bpe(paths, 800)
    assert len(tok.remi) == 800 and tok.vocab_size == 800 + len(control_tokens())
    ids = tok.encode(score)
    assert len(ids) < base_len
    tok.save(tmp_path / "tokenizer.json")
    again = MuseTokenizer.load(tmp_path / "tokenizer.json")
    assert again == tok and again.encode(score) == ids
    # every learned id maps to base tokens; bar counts agree with the base sequence
    assert sum(tok.bar_count[i] for i in ids) == tok.to_base(ids).count("Bar_None")
    # special tokens keep their ids after BPE
    assert tok.to_base(tok.condition_ids("chorale", "sad")) == ["Style_chorale", "Mood_sad"]
