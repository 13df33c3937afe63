from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.errors import InputError
from musegen.evaluate import config, control, held_out
from musegen.generate.request import STYLE_GUIDANCE
from musegen.music import labels, timeline

Q = 480


def finite_numbers(value, path="report"):
    """(path, number) of every number in a JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from finite_numbers(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from finite_numbers(v, f"{path}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, value


@pytest.mark.slow
def test_quick_evaluation_writes_a_complete_report(tiny_checkpoint, small_corpus, small_shards,
                                                    tmp_path, capsys):  # fmt: skip
    from musegen.cli.app import main

    out = tmp_path / "eval"
    readme = tmp_path / "README.md"
    readme.write_text("# Results\n<!-- results:start -->\nold\n<!-- results:end -->\nafter\n")
    code = main(["evaluate", "suite", str(tiny_checkpoint), "--corpus", str(small_corpus),
                 "--shards", str(small_shards), "--out", str(out), "--quick",
                 "--doc", str(readme)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "report.md" in printed and "Likelihood" in printed
    report = json.loads((out / "report.json").read_text())
    # the README's table is the report's own headline table, markers and the rest kept
    from musegen.evaluate.report import headline_table

    table = headline_table(report)
    assert table in (out / "report.md").read_text()
    assert readme.read_text() == (
        f"# Results\n<!-- results:start -->\n{table}\n<!-- results:end -->\nafter\n"
    )
    for key in ("likelihood", "realism", "style", "mood", "originality", "speed", "seeds"):
        assert key in report
    numbers = dict(finite_numbers(report))
    assert all(math.isfinite(v) for v in numbers.values())  # NaN would be null, not a number

    lk = report["likelihood"]
    # the n-gram baselines and the model are scored on the very same target tokens
    assert lk["model"]["tokens"] > 0
    for key in ("model_any_condition", "ngram_3", "ngram_4", "ngram_5"):
        assert lk[key]["tokens"] == lk["model"]["tokens"]
        assert lk[key]["notes"] == lk["model"]["notes"]
    assert lk["ngram_best"]["nats_per_token"] == min(
        lk[f"ngram_{o}"]["nats_per_token"] for o in (3, 4, 5)
    )
    g = f"guidance_{STYLE_GUIDANCE:g}"  # the higher guidance tried is the shipped one
    shipped, other = f"{g}_any", f"{g}_other-styles"
    headline = [
        lk["model"]["bits_per_note"], lk["ngram_best"]["bits_per_note"],
        report["realism"]["mean_overlap"], report["style"]["real"]["accuracy"],
        report["style"]["guidance_1"]["accuracy"], report["style"][shipped]["accuracy"],
        report["style"][other]["accuracy"],
        report["mood"]["conditioned_valence_match"], report["mood"]["unconditioned_arousal_match"],
        report["mood"][g]["valence_match"],
        report["realism"]["guided"]["mean_overlap"], report["mood"]["checked_valence_match"],
        report["originality"]["generated"]["share_copying_2_bars"],
        report["speed"]["tokens_per_second"], report["speed"]["seconds_per_bar"],
    ]  # fmt: skip
    assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in headline), headline
    md = (out / "report.md").read_text()
    styles = report["style"]["styles"]
    assert len(report["seeds"]) == len(styles)  # quick: one seed per style
    assert {k for k in report["style"] if k.startswith("guidance_")} == {"guidance_1", shipped,
                                                                          other}  # fmt: skip
    for key in ("guidance_1", shipped, other):
        assert sum(map(sum, report["style"][key]["confusion"])) == len(styles) ** 2
    guided = f"guidance {STYLE_GUIDANCE:g} away from"
    assert f'{guided} "any" (as shipped)' in md and f"{guided} the other styles |" in md
    for stat in report["realism"]["statistics"].values():
        assert stat["overlap"] is None or 0 <= stat["overlap"] <= 1

    assert "| Section | Measure | Value |" in md and "quick run" in md
    for png in report["plots"].values():
        assert f"]({png})" in md
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def piece() -> Score:
    """Four bars of 3/4 at 90 qpm, a tempo change in bar 3, one note tied over a bar line."""
    score = Score(Q)
    score.time_signatures.append(TimeSignature(0, 3, 4))
    score.tempos.append(Tempo(0, 90))
    score.tempos.append(Tempo(6 * Q, 120))
    track = Track(name="v", program=40)
    for beat in range(12):
        track.notes.append(Note(beat * Q, Q if beat != 5 else 2 * Q, 60 + beat, 80))
    score.tracks.append(track)
    return score


def test_excerpt_cuts_at_bar_lines_with_the_tempo_in_force():
    score = piece()
    lines = timeline.bar_lines(score, timeline.end_tick(score))
    cut = held_out.excerpt(score, lines, 1, 3)  # bars 2 and 3
    notes = cut.tracks[0].notes
    assert [n.pitch for n in notes] == [63, 64, 65, 66, 67, 68]
    assert notes[0].time == 0 and notes[2].duration == 2 * Q
    tied = held_out.excerpt(score, lines, 1, 2).tracks[0].notes
    assert [n.pitch for n in tied] == [63, 64, 65] and tied[2].duration == Q  # cut at the bar line
    assert timeline.meter_at(cut, 0).numerator == 3
    assert timeline.tempo_at(cut, 0) == pytest.approx(90) and timeline.tempo_at(cut, 3 * Q) == 120
    assert timeline.end_tick(cut) == 6 * Q


def test_a_jobs_random_seed_depends_on_the_job_not_its_place_in_the_plan():
    seeds = [
        held_out.HeldOutSeed("a", "chorale", "calm", Score(Q), Score(Q), 8, start=0),
        held_out.HeldOutSeed("a", "chorale", "calm", Score(Q), Score(Q), 8, start=12),
    ]  # noqa: E501
    plan = held_out.plan(seeds, ["chorale", "medieval"], ["happy", "sad"],
                           config.EvalConfig(out=Path("unused")))  # fmt: skip
    every = [j for section in plan.values() for j in section]
    draws = [held_out.job_seed(0, seeds[j.seed], j) for j in every]
    # The same request at guidance 1 and 5 is paired; different requests draw differently.
    requests = {(j.seed, j.neutral, j.style, j.mood, j.candidates) for j in every}
    assert len(set(draws)) == len(requests) < len(every)
    # Another base seed moves every draw; a later seed of the same piece is its own request.
    job = every[0]
    assert held_out.job_seed(1, seeds[0], job) != held_out.job_seed(0, seeds[0], job)
    assert held_out.job_seed(0, seeds[1], job) != held_out.job_seed(0, seeds[0], job)


def test_mood_of_a_lively_major_line():
    notes = [(i * Q // 4, Q // 4, p) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72] * 4)]
    score = Score(Q)
    score.time_signatures.append(TimeSignature(0, 4, 4))
    score.tempos.append(Tempo(0, 120))
    track = Track(name="v", program=0)
    for t, d, p in notes:
        track.notes.append(Note(t, d, p, 80))
    score.tracks.append(track)
    reference = labels.arousal_reference([1.0, 2.0, 1.5], [90, 110, 100])
    found = control.mood_of(score, 2, reference)
    assert found["mode"] == "major" and found["arousal"] > 0
    assert control.mood_of(Score(Q), 2, reference) is None  # silence has no mood


def test_mood_matching_counts_silence_as_a_miss():
    found = [{"mode": "major", "arousal": 1.0}, {"mode": "minor", "arousal": -1.0}, None]
    happy = control._matches(found, "happy")
    assert happy["valence"] == pytest.approx(1 / 3) and happy["both"] == pytest.approx(1 / 3)
    sad = control._matches(found, "sad")
    assert sad["arousal"] == pytest.approx(1 / 3) and sad["major_share"] == pytest.approx(1 / 3)


def test_config_quick_budgets_and_validation(tmp_path):
    quick = config.EvalConfig(out=tmp_path, quick=True)
    assert (quick.seeds_per_style, quick.max_bars, quick.max_windows) == (1, 2, 4)
    full = config.EvalConfig(out=tmp_path, seeds_per_style=6)
    assert (full.seeds_per_style, full.max_bars, full.seed_bars) == (6, 8, 4)
    with pytest.raises(InputError, match="--max-bars"):
        config.EvalConfig(out=tmp_path, max_bars=0)
