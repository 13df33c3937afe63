"""Stand-in programs: seed instruments a checkpoint never learned are shown as ones it knows."""

from __future__ import annotations

import dataclasses

import pytest
from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.data.shards import Shards
from musegen.errors import InputError
from musegen.generate.api import MuseGen
from musegen.music.instruments import as_seen, known_programs, program_stats, stand_ins


def stats_for(style: str) -> dict:
    return {
        "40": {"share": 0.5, "mean_pitch": 72.0, "styles": {style: 1.0}},
        "42": {"share": 0.49, "mean_pitch": 50.0, "styles": {style: 1.0}},
        "0": {"share": 0.01, "mean_pitch": 60.0, "styles": {"other": 1.0}},
    }


def piano_and_drums(bars: int = 2) -> Score:
    score = Score(480)
    score.tempos.append(Tempo(0, 100.0))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    right, left = Track("Piano RH", 0), Track("Piano LH", 0)
    kit = Track("Kit", 0, True)
    for b in range(bars):
        for i, p in enumerate((72, 74, 76, 77)):
            right.notes.append(Note(b * 1920 + i * 480, 480, p, 80))
        left.notes.append(Note(b * 1920, 1920, 48, 70))
        kit.notes.append(Note(b * 1920, 120, 36, 100))
    score.tracks.extend([right, left, kit])
    return score


def test_program_stats_count_the_training_notes(small_shards):
    shards = Shards.open(small_shards)
    stats = program_stats(shards)
    assert abs(sum(s["share"] for s in stats.values()) - 1) < 1e-9
    assert all(21 <= s["mean_pitch"] <= 108 for s in stats.values())
    for s in stats.values():
        assert all(0 < share <= 1 for share in s["styles"].values())


def test_unknown_programs_get_the_nearest_known_one_and_drums_none():
    stats = stats_for("chorale")
    assert set(known_programs(stats)) == {40, 42}  # program 0 is under the 2% floor
    seed = piano_and_drums()
    assert stand_ins(seed, stats, None) == {0: 40, 1: 42, 2: None}
    assert stand_ins(seed, {}, None) == {}  # a checkpoint without statistics changes nothing
    shown = as_seen(seed, {0: 40, 1: 42, 2: None})
    assert [(t.name, t.program, t.is_drum) for t in shown.tracks] == [
        ("Piano RH", 40, False), ("Piano LH", 42, False)]  # fmt: skip
    assert [t.program for t in seed.tracks] == [0, 0, 0]  # the seed itself is untouched


def test_continuation_writes_back_onto_the_seed_tracks(tiny_checkpoint):
    base = MuseGen.from_pretrained(tiny_checkpoint)
    style = base.styles[0]
    ckpt = dataclasses.replace(
        base.checkpoint, config={**base.checkpoint.config, "programs": stats_for(style)}
    )
    mg = MuseGen(ckpt)
    seed = piano_and_drums()
    notices: list[str] = []
    result = mg.continue_midi(seed, bars=4, style=style, seed=3, notice=notices.append)
    assert result.provenance["program_stand_ins"] == {"Piano RH": 40, "Piano LH": 42, "Kit": None}
    assert any("shown as program 40" in n for n in notices)
    assert any("'Kit' is not continued" in n for n in notices)
    new = result.continuation.score
    assert [(t.name, t.program, t.is_drum) for t in new.tracks] == [
        ("Piano RH", 0, False), ("Piano LH", 0, False), ("Kit", 0, True)]  # fmt: skip
    assert len(new.tracks[2].notes) == 0  # no drum part from a model without drums
    assert sum(len(t.notes) for t in new.tracks[:2]) > 0
    with pytest.raises(InputError, match="`programs`"):
        drums_only = piano_and_drums()
        drums_only.tracks = [drums_only.tracks[2]]
        mg.continue_midi(drums_only, bars=1)
    # an explicit --programs choice is the user's: no stand-ins
    chosen = mg.continue_midi(seed, bars=1, style=style, seed=3, programs=[0])
    assert chosen.provenance["program_stand_ins"] == {}
