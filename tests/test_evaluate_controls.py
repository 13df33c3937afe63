"""`musegen evaluate controls`: the summaries on jobs built in code, the refusal of a checkpoint
without plans, and one quick run end to end on the tiny model."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.cli.app import main
from musegen.errors import InputError
from musegen.evaluate.controls import (
    ASKED_LEVELS,
    ControlsConfig,
    Job,
    Seed,
    evaluate_controls,
    level_summary,
    measure,
    mode_summary,
    neutral_seeds,
    plan_jobs,
)
from musegen.evaluate.controls_report import finite


def score_of(notes: list[tuple[int, int, int]], tpq: int = 480) -> Score:
    """A 4/4 piano score of (tick, duration, pitch) notes."""
    score = Score(tpq)
    score.time_signatures.append(TimeSignature(0, 4, 4))
    score.tempos.append(Tempo(0, 120.0))
    piano = Track(name="Piano", program=0)
    for time, duration, pitch in notes:
        piano.notes.append(Note(time, duration, pitch, 80))
    score.tracks.append(piano)
    return score


def seeds_of(kinds: list[str]) -> list[Seed]:
    return [Seed(f"s{i}", kind, score_of([]), 0, i) for i, kind in enumerate(kinds)]


def test_measure_reads_levels_and_mode_of_the_new_bars() -> None:
    sixteenths = score_of([(i * 120, 120, 72) for i in range(16)])  # one bar, 16 onsets
    quarters = score_of([(i * 480, 480, 72) for i in range(4)])
    assert measure("density", sixteenths, 1)["mean"] > measure("density", quarters, 1)["mean"]
    chord = score_of([(0, 1920, p) for p in (60, 64, 67)] + [(1920, 1920, 48)])
    found = measure("polyphony", chord, 2)
    assert found == {"levels": [3, 1], "mean": 2.0}
    silent_second_bar = measure("register", score_of([(0, 480, 90)]), 2)
    assert silent_second_bar == {"levels": [5, 0], "mean": 5.0}  # silent bars are left out
    assert measure("register", score_of([]), 2)["mean"] is None
    c_major = score_of([(i * 480, 480, p) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72,
                                                                 67, 64, 60, 67])])  # fmt: skip
    assert measure("key", c_major, 3) == {"music21": "major", "project": "major"}


def test_level_summary_has_one_row_per_asked_level_and_ranks_them() -> None:
    seeds = seeds_of(["neutral", "real"])
    jobs = [Job(i, "density", level, {"levels": [level], "mean": float(level)})
            for i in range(2) for level in ASKED_LEVELS["density"]]  # fmt: skip
    jobs[0].found = {"levels": [0], "mean": None}  # a silent continuation: left out
    result = level_summary(jobs, seeds, "density")
    assert [row["asked"] for row in result["rows"]] == [1, 2, 3, 4, 5, 6]
    assert result["spearman"] == {"neutral": 1.0, "real": 1.0, "all": 1.0}
    assert result["n"] == {"neutral": 5, "real": 6, "all": 11}
    first = result["rows"][0]["neutral"]
    assert math.isnan(first["mean"]) and (first["n"], first["silent"]) == (1, 1)
    assert sum(map(sum, result["confusion"])) == 11
    assert all(result["confusion"][i][i] == (1 if i == 0 else 2) for i in range(6))
    for job in jobs[6:]:
        job.found = {"levels": [1], "mean": 7.0 - job.asked}  # the real seed obeys backwards
    assert level_summary(jobs, seeds, "density")["spearman"]["real"] == -1.0


def test_mode_summary_scores_each_finder_on_its_own() -> None:
    seeds = seeds_of(["neutral"])
    jobs = [Job(0, "key", "major", {"music21": "major", "project": "major"}),
            Job(0, "key", "minor", {"music21": "minor", "project": "major"}),
            Job(0, "mood", "minor", None, error="failed")]  # fmt: skip
    result = mode_summary(jobs, seeds)
    assert result["key"]["music21"]["neutral"] == {"agreement": 1.0, "n": 2, "no_mode": 0}
    assert result["key"]["project"]["neutral"]["agreement"] == 0.5
    assert result["key"]["project"]["confusion"] == [[1, 0], [1, 0]]
    assert result["key"]["finders_agree"] == 0.5
    assert result["mood"]["music21"]["all"] == {"agreement": 0.0, "n": 1, "no_mode": 1}


def test_plan_asks_every_level_and_both_modes_two_ways() -> None:
    seeds = neutral_seeds(ControlsConfig())
    assert [s.name for s in seeds] == ["neutral 4/4", "neutral 3/4", "neutral 6/8", "neutral 2/4"]
    assert all(s.score.note_num() == 1 for s in seeds)
    jobs = plan_jobs(seeds, ["happy", "tense", "sad", "calm"])
    assert len(jobs) == 4 * (2 * 2 + 6 + 4 + 5)
    assert Job(0, "key", "minor").options(seeds[0]) == {"key": "C:minor"}
    assert Job(0, "mood", "major").options(seeds[0]) == {"mood": "happy"}
    assert len(plan_jobs(seeds, ["calm"])) == 4 * (2 + 6 + 4 + 5)  # no happy/sad: key only
    with pytest.raises(InputError, match="seed_bars"):
        ControlsConfig(seed_bars=0)
    with pytest.raises(InputError, match="no such folder"):
        ControlsConfig(seeds=Path("/nonexistent/seeds"))


def test_a_checkpoint_without_plans_is_refused_in_one_line(
    tmp_path: Path, capsys, planless_checkpoint
) -> None:
    code = main(["evaluate", "controls", str(planless_checkpoint), "--quick", "--out",
                 str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "not supported" in err and "no bar plans" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_quick_run_writes_a_complete_report(tiny_checkpoint, small_corpus, small_shards,
                                            tmp_path: Path, capsys) -> None:  # fmt: skip
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    score_of([(0, 480, 60)]).dump_midi(str(seeds / "0-short.mid"))  # one bar: skipped
    piece = sorted((small_corpus / "midi").rglob("*.mid"))[0]
    (seeds / "1-real.mid").write_bytes(piece.read_bytes())
    out = tmp_path / "report"
    code = main(["evaluate", "controls", str(tiny_checkpoint), "--quick", "--seeds", str(seeds),
                 "--corpus", str(small_corpus), "--shards", str(small_shards),
                 "--out", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "Spearman correlation" in printed and "controls report:" in printed
    report = json.loads((out / "results.json").read_text())
    assert [s["kind"] for s in report["seeds"]] == ["neutral", "neutral", "real"]
    assert report["skipped"] == [{"file": "0-short.mid", "reason": "shorter than 4 bars"}]
    assert len(report["jobs"]) == 3 * (2 * 2 + 6 + 4 + 5)
    text = (out / "report.md").read_text()
    for control, levels in ASKED_LEVELS.items():
        entry = report["levels"][control]
        assert [row["asked"] for row in entry["rows"]] == list(levels)
        for value in entry["spearman"].values():
            assert value is None or -1.0 <= value <= 1.0
        section = text.split(f"### {control}:")[1].split("\n\n")[1]
        rows = [line for line in section.splitlines() if re.match(r"\| \d+ \|", line)]
        assert [int(r.split("|")[1]) for r in rows] == list(levels)
        assert sum(row["all"]["n"] for row in entry["rows"]) == 3 * len(levels)
        assert (out / f"{control}.png").stat().st_size > 0
    for way in ("key", "mood"):
        for finder in ("music21", "project"):
            cell = report["mode"][way][finder]["all"]
            assert cell["n"] == 6 and 0.0 <= cell["agreement"] <= 1.0
            assert (out / f"mode_{way}_{finder}.png").stat().st_size > 0
    style = report["style"]
    assert "skipped" not in style and 0.0 <= style["continuations"]["balanced_accuracy"] <= 1.0
    assert style["continuations"]["n"] == 2 * len(style["styles"])
    assert "## Style" in text and "balanced accuracy" in text
    assert report["command"].startswith(f"musegen evaluate controls {tiny_checkpoint}")
    assert report["failed_generations"] == 0
    cfg = ControlsConfig(checkpoint=str(tiny_checkpoint), seeds=seeds, quick=True)
    again = evaluate_controls(cfg, say=lambda line: None, progress=False)
    assert json.loads(json.dumps(finite(again["jobs"]))) == report["jobs"]  # deterministic
