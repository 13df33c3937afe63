"""Continuation semantics on seeds built in code, read back with four independent parsers."""

from __future__ import annotations

import shutil

import mido
import pretty_midi
import pytest
import torch
from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.errors import InputError
from musegen.generate.api import MuseGen
from musegen.generate.continuation import _mode_check, negative_conditions
from musegen.generate.request import STYLE_GUIDANCE, ContinueRequest
from musegen.music import labels, timeline


def seed_score(tpq=480, meter=(4, 4), bars=3, drums=False, tempo_change=False) -> Score:
    score = Score(tpq)
    score.tempos.append(Tempo(0, 100.0))
    if tempo_change:
        score.tempos.append(Tempo(tpq * 4, 132.0))
    score.time_signatures.append(TimeSignature(0, *meter))
    bar = round(meter[0] * tpq * 4 / meter[1])
    melody = Track(name="Violin", program=40)
    bass = Track(name="Cello", program=42)
    for b in range(bars):
        for i, p in enumerate((67, 69, 71, 72)):
            melody.notes.append(Note(b * bar + i * bar // 4, bar // 4, p, 90))
        bass.notes.append(Note(b * bar, bar, 48, 70))
    score.tracks.extend([melody, bass])
    if drums:
        kit = Track(name="Drums", program=0, is_drum=True)
        for b in range(bars):
            kit.notes.append(Note(b * bar, tpq // 4, 36, 100))
        score.tracks.append(kit)
    return score


@pytest.fixture(scope="module")
def mg(tiny_checkpoint) -> MuseGen:
    return MuseGen.from_pretrained(tiny_checkpoint)


def notes_of(score: Score, until: int | None = None):
    return sorted((i, n.time, n.duration, n.pitch, n.velocity)
                  for i, t in enumerate(score.tracks) for n in t.notes
                  if until is None or n.time < until)  # fmt: skip


@pytest.mark.parametrize(
    "tpq,meter,drums,tempo_change",
    [(480, (4, 4), False, False), (96, (3, 4), False, True), (960, (6, 8), True, False),
     (480, (7, 8), True, True), (384, (5, 4), False, False), (480, (3, 1), False, False),
     (96, (7, 2), True, False), (480, (11, 16), False, False)],
)  # fmt: skip
def test_new_bars_start_on_the_bar_line_and_keep_the_seed(mg, tmp_path, tpq, meter, drums,
                                                          tempo_change):  # fmt: skip
    seed = seed_score(tpq, meter, bars=3, drums=drums, tempo_change=tempo_change)
    result = mg.continue_midi(seed, bars=2, seed=1)
    bar = timeline.Meter(*meter).bar_ticks(tpq)
    assert result.new_start == 3 * bar
    path = result.save(tmp_path / "full.mid")
    new_path = result.continuation.save(tmp_path / "new.mid")
    back = Score(str(path))
    assert back.ticks_per_quarter == tpq
    # the seed survives exactly: notes, tempo map, meter
    assert notes_of(back, result.new_start) == notes_of(seed)
    assert [(t.time, round(t.qpm, 3)) for t in back.tempos] == [
        (t.time, round(t.qpm, 3)) for t in seed.tempos]  # fmt: skip
    assert [(t.time, t.numerator, t.denominator) for t in back.time_signatures] == [
        (0, *meter)]  # fmt: skip
    new_notes = [n for t in back.tracks for n in t.notes if n.time >= result.new_start]
    assert all(result.new_start <= n.time and n.time + n.duration <= 5 * bar for n in new_notes)
    # Every generated bar holds a note and lands in its own part of a seed bar: 7/2 as two
    # bars of 7/4, 11/16 inside 6/8 bars.
    parts = 2 if meter == (7, 2) else 1
    assert {(n.time - result.new_start) * parts // bar for n in new_notes} == set(range(2 * parts))
    # tracks: same names and programs, drums stay drums on channel 10
    assert [(t.name, t.program, t.is_drum) for t in back.tracks[: len(seed.tracks)]] == [
        (t.name, t.program, t.is_drum) for t in seed.tracks]  # fmt: skip
    mid = mido.MidiFile(str(path), clip=False)
    assert mid.type == 1 and any(m.type == "marker" and "musegen" in m.text for m in mid.tracks[0])
    for track in mid.tracks[1:]:
        channels = {m.channel for m in track if m.type == "note_on"}
        names = [m.name for m in track if m.type == "track_name"]
        assert names and len(channels) <= 1
        if names[0] == "Drums":
            assert channels <= {9}
    pm = pretty_midi.PrettyMIDI(str(path))
    assert sum(len(i.notes) for i in pm.instruments) == len(notes_of(back))
    # the new bars alone start at tick 0 with the tempo and meter in force there
    new = Score(str(new_path))
    assert [(t.numerator, t.denominator) for t in new.time_signatures] == [meter]
    assert new.tempos[0].time == 0
    assert round(new.tempos[0].qpm) == (132 if tempo_change else 100)
    assert sorted(n.time + result.new_start for t in new.tracks for n in t.notes) == sorted(
        n.time for n in new_notes)  # fmt: skip


def test_a_seed_with_a_pickup_bar_is_continued_on_its_own_bar_lines(mg, tmp_path):
    """A 1/8 anacrusis before 6/8, the way notation programs export one."""
    seed = seed_score(meter=(6, 8), bars=2).shift_time(240)
    seed.tempos[0].time = 0
    seed.time_signatures.clear()
    seed.time_signatures.extend([TimeSignature(0, 1, 8), TimeSignature(240, 6, 8)])
    seed.tracks[0].notes.append(Note(0, 240, 65, 90))
    result = mg.continue_midi(seed, bars=2, seed=1)
    assert result.new_start == 240 + 2 * 1440
    back = Score(str(result.save(tmp_path / "full.mid")))
    assert [(t.time, t.numerator, t.denominator) for t in back.time_signatures] == [
        (0, 1, 8), (240, 6, 8)]  # fmt: skip
    assert notes_of(back, result.new_start) == notes_of(seed)
    new = [n for t in back.tracks for n in t.notes if n.time >= result.new_start]
    assert new and all(n.time + n.duration <= result.new_start + 2 * 1440 for n in new)


def test_music21_reads_the_outputs(mg, tmp_path):
    import music21

    result = mg.continue_midi(seed_score(), bars=2, seed=2)
    parsed = music21.converter.parse(str(result.save(tmp_path / "f.mid")))
    assert len(parsed.flatten().notes) > 0


def test_same_seed_same_bytes_and_variations_differ(mg):
    seed = seed_score()
    a = mg.continue_midi(seed, bars=2, seed=5, style="chorale")
    b = mg.continue_midi(seed, bars=2, seed=5, style="chorale")
    assert a.to_bytes() == b.to_bytes() and a.continuation.to_bytes() == b.continuation.to_bytes()
    many = mg.variations(seed, 3, bars=2, seed=5, temperature=1.5)
    assert isinstance(many, list) and len(many) == 3
    assert len({m.continuation.to_bytes() for m in many}) > 1


def test_seed_inputs_of_every_kind(mg, tmp_path):
    seed = seed_score()
    path = tmp_path / "seed.mid"
    seed.dump_midi(str(path))
    data = path.read_bytes()
    kinds = [str(path), path, data, Score(str(path)), pretty_midi.PrettyMIDI(str(path)),
             mido.MidiFile(str(path))]  # fmt: skip
    outs = {mg.continue_midi(k, bars=1, seed=3).continuation.to_bytes() for k in kinds}
    assert len(outs) == 1
    assert path.read_bytes() == data  # the seed file is never modified


def test_adapting_to_the_seed_changes_the_continuation_not_the_model(mg):
    seed = seed_score()
    weights = {k: v.clone() for k, v in mg.checkpoint.model.state_dict().items()}
    plain = mg.continue_midi(seed, bars=2, seed=6)
    tuned = mg.continue_midi(seed, bars=2, seed=6, adapt_steps=3)
    assert tuned.provenance["request"]["adapt_steps"] == 3
    assert plain.continuation.to_bytes() != tuned.continuation.to_bytes()
    model = mg.checkpoint.model.state_dict()
    assert all(torch.equal(v, model[k]) for k, v in weights.items())
    again = mg.continue_midi(seed, bars=2, seed=6)
    assert again.continuation.to_bytes() == plain.continuation.to_bytes()


def test_constraints_hold(mg):
    seed = seed_score()
    result = mg.continue_midi(seed, bars=4, seed=4, pitch_range=(55, 80), temperature=1.3)
    new = [n for t in result.continuation.score.tracks for n in t.notes]
    assert new and all(55 <= n.pitch <= 80 for n in new)
    only_violin = mg.continue_midi(seed, bars=2, seed=4, programs=[40])
    counts = [len(t.notes) for t in only_violin.continuation.score.tracks]
    assert counts[1] == 0  # the cello track gets nothing new


def test_mode_check_keeps_the_first_candidate_in_the_asked_mode():
    def placed(*pitches):  # (program, is_drum, Note) as _place gives them, plus a drum hit
        return [(0, False, Note(i * 480, 480, p, 80)) for i, p in enumerate(pitches)] + [
            (0, True, Note(0, 120, 37, 100))
        ]

    c_major, c_minor = placed(60, 64, 67, 72, 64, 60), placed(60, 63, 67, 72, 63, 60)
    chosen, check = _mode_check([c_major, c_minor, c_minor], "sad")
    assert chosen == 1 and check["chosen"] == 2 and check["matched"]
    assert check["candidates"] == ["C:major", "C:minor", "C:minor"]
    assert _mode_check([c_major, c_minor], "calm")[0] == 0
    chosen, check = _mode_check([c_major, placed()], "tense")  # none fits: the first, said so
    assert chosen == 0 and not check["matched"] and check["candidates"][1] is None


def test_asking_a_mood_keeps_a_candidate_in_its_mode(mg):
    seed = seed_score()
    for mood in ("sad", "happy"):
        result = mg.continue_midi(
            seed, bars=2, seed=3, mood=mood, temperature=1.2, mood_candidates=4
        )  # rejection is opt-in
        check = result.provenance["mood_check"]
        assert len(check["candidates"]) == 4 and check["wanted_mode"] in ("major", "minor")
        notes = [n for t in result.continuation.score.tracks if not t.is_drum for n in t.notes]
        hist = labels.pitch_class_histogram([n.pitch for n in notes], [n.duration for n in notes])
        tonic, mode, _ = labels.find_key(hist)
        assert labels.key_name(tonic, mode) == check["candidates"][check["chosen"] - 1]
        if check["matched"]:
            assert mode == check["wanted_mode"]
        again = mg.continue_midi(seed, bars=2, seed=3, mood=mood, temperature=1.2,
                                 mood_candidates=4)  # fmt: skip
        assert again.to_bytes() == result.to_bytes()
    two = mg.variations(seed, 2, bars=2, seed=3, mood="sad", temperature=1.2, mood_candidates=4)
    assert [t.provenance["variation"] for t in two] == [1, 2]  # 8 rows decoded, 2 kept
    assert all(len(t.provenance["mood_check"]["candidates"]) == 4 for t in two)
    assert two[0].continuation.to_bytes() != two[1].continuation.to_bytes()
    alone = mg.continue_midi(seed, bars=2, seed=3, mood="sad", mood_candidates=1)
    assert "mood_check" not in alone.provenance
    assert "mood_check" not in mg.continue_midi(seed, bars=2, seed=3).provenance
    with pytest.raises(InputError, match="`mood_candidates` 0"):
        mg.continue_midi(seed, bars=1, mood="sad", mood_candidates=0)


def test_a_style_is_guided_unless_told_otherwise(mg):
    assert ContinueRequest().guidance == 1.0 and ContinueRequest(mood="sad").guidance == 1.0
    assert ContinueRequest(style="chorale").guidance == STYLE_GUIDANCE > 1
    assert ContinueRequest(style="chorale", guidance=1.0).guidance == 1.0
    result = mg.continue_midi(seed_score(), bars=1, seed=2, style="chorale")
    assert result.provenance["request"]["guidance"] == STYLE_GUIDANCE


def test_a_style_is_guided_away_from_any_or_from_the_other_styles(mg):
    tok = mg.checkpoint.tokenizer
    assert len(tok.styles) >= 2
    style = tok.styles[0]
    others = negative_conditions(tok, ContinueRequest(style=style, mood="sad",
                                              guide_against="other-styles"))  # fmt: skip
    assert others == [tok.condition_ids(s, None) for s in tok.styles[1:]]
    anyway = [tok.condition_ids(None, None)]
    assert negative_conditions(tok, ContinueRequest(style=style)) == anyway  # default
    assert negative_conditions(tok, ContinueRequest(mood="sad")) == anyway  # no style: classic CFG
    seed = seed_score()
    against = [mg.continue_midi(seed, bars=2, seed=5, style=style, guide_against=g)
               for g in ("other-styles", "any", "other-styles")]  # fmt: skip
    assert against[0].to_bytes() == against[2].to_bytes()  # deterministic with 1 + K rows
    assert against[0].to_bytes() != against[1].to_bytes()
    assert against[0].provenance["request"]["guide_against"] == "other-styles"
    default = mg.continue_midi(seed, bars=2, seed=5, style=style)
    assert default.provenance["request"]["guide_against"] == "any"
    assert default.to_bytes() == against[1].to_bytes()
    with pytest.raises(InputError, match="`guide_against` 'none' is invalid"):
        mg.continue_midi(seed, bars=1, style=style, guide_against="none")


def test_unknown_names_and_bad_options_list_the_valid_ones(mg):
    with pytest.raises(InputError, match="knows"):
        mg.continue_midi(seed_score(), bars=1, style="dubstep")
    with pytest.raises(InputError, match="happy"):
        mg.continue_midi(seed_score(), bars=1, mood="angry")
    with pytest.raises(InputError, match="`bars`"):
        mg.continue_midi(seed_score(), bars=0)
    with pytest.raises(InputError, match="temperature"):
        mg.continue_midi(seed_score(), bars=1, temperature=0)


def test_long_seed_is_cut_at_a_bar_line_with_a_notice(mg):
    notices = []
    result = mg.continue_midi(seed_score(bars=60), bars=1, seed=1, notice=notices.append)
    assert notices and "bar line" in notices[0]
    assert result.provenance["prompt_tokens"] <= mg.checkpoint.model.config.context


@pytest.mark.skipif(shutil.which("g++") is None, reason="torch.compile needs a C++ compiler")
def test_compiled_model_continues_exactly_like_the_eager_one(tiny_checkpoint, monkeypatch):
    eager = MuseGen.from_pretrained(tiny_checkpoint)
    compiled = MuseGen.from_pretrained(tiny_checkpoint, compile=True)
    assert compiled.checkpoint.model is not eager.checkpoint.model
    # guided: the prompt and its unconditioned copy decode as one batch of two
    a = eager.continue_midi(seed_score(), bars=2, seed=4, mood="sad", guidance=2.0)
    b = compiled.continue_midi(seed_score(), bars=2, seed=4, mood="sad", guidance=2.0)
    assert a.to_bytes() == b.to_bytes()
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    with pytest.raises(InputError, match="C\\+\\+ compiler"):
        MuseGen.from_pretrained(tiny_checkpoint, compile=True)
