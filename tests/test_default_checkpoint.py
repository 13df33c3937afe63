"""The shipped default checkpoint loads, knows the corpus styles, and continues the demo seeds."""

from __future__ import annotations

from pathlib import Path

import pytest
from symusic import Score

from musegen import MuseGen
from musegen.checkpoint.card import render_card
from musegen.music import timeline

SEEDS = Path(__file__).resolve().parents[1] / "examples" / "seeds"


@pytest.fixture(scope="module")
def mg() -> MuseGen:
    return MuseGen.from_pretrained()


def test_default_card_and_labels(mg):
    assert mg.checkpoint.name == "default"
    assert {"chorale", "celtic-fiddle", "european-folk", "renaissance-polyphony", "pop",
            "rock", "funk"} <= set(mg.styles)  # fmt: skip
    assert mg.checkpoint.tokenizer.has_controls  # bar plans, infill and arrange
    assert mg.moods == ["happy", "tense", "sad", "calm"]
    assert "Validation" in mg.checkpoint.card and "Kneser-Ney" in mg.checkpoint.card
    # written from config.json, so it is current, and it names the recipe's infill share
    assert mg.checkpoint.card == render_card(mg.checkpoint.config)
    assert "0.3 of pieces laid out fill-in-the-middle" in mg.checkpoint.card
    assert "drums" in mg.checkpoint.card and "Electric Bass" in mg.checkpoint.card
    weights = mg.checkpoint.path / "model.safetensors"
    assert weights.stat().st_size < 25 * 2**20


@pytest.mark.parametrize("name,style", [("chorale_opening.mid", "chorale"),
                                        ("fiddle_jig.mid", "celtic-fiddle"),
                                        ("groove_7_8.mid", None)])  # fmt: skip
def test_default_continues_demo_seeds_on_the_grid(mg, tmp_path, name, style):
    seed = Score(str(SEEDS / name))
    result = mg.continue_midi(SEEDS / name, bars=4, style=style, seed=7)
    meter = timeline.meter_at(seed, 0)
    bar = meter.bar_ticks(seed.ticks_per_quarter)
    assert result.new_start % bar == 0 and result.new_start >= timeline.end_tick(seed)
    new = [n for t in result.continuation.score.tracks for n in t.notes]
    assert new, "the default model wrote no notes"
    assert all(n.time + n.duration <= 4 * bar for n in new)
    assert result.provenance["complete"]
    result.save(tmp_path / "full.mid")
