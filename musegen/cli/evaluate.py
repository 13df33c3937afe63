"""`musegen evaluate suite|fidelity|controls|infill`: measure a checkpoint on held-out data or
real songs, how well it obeys its bar plans, and how it fills in bars and adds parts."""

from __future__ import annotations

from pathlib import Path

import typer

from musegen.cli.app import app, fail

evaluate_app = typer.Typer(
    help="Measure a checkpoint: `suite` on the held-out split, `fidelity` on real songs, "
    "`controls`: does it obey key, mood, density, polyphony and register plans, `infill`: "
    "regenerated bars and added parts against the real ones.",
    no_args_is_help=True,
)
app.add_typer(evaluate_app, name="evaluate")

# Library imports sit inside the commands: `musegen --help` must not import torch.


@evaluate_app.command("suite")
def evaluate_suite(
    checkpoint: str | None = typer.Argument(None, help="folder or name; default: default"),
    out: Path = typer.Option(..., "--out", help="folder for report.md, report.json and plots"),
    corpus_dir: Path = typer.Option(Path("data/corpus"), "--corpus", help="corpus folder"),
    shards: Path = typer.Option(Path("data/cache"), "--shards", help="token shards (fixed split)"),
    quick: bool = typer.Option(False, "--quick", help="tiny budgets: a smoke test, not a result"),
    seeds_per_style: int | None = typer.Option(None, min=1, help="held-out seeds per style (4)"),
    seed: int = typer.Option(0, help="random seed for sampling and splits of the real set"),
    max_windows: int | None = typer.Option(None, min=1, help="test windows for likelihood (400)"),
    guidance: float | None = typer.Option(
        None, help="the higher guidance tried (1 is always tried); default: as shipped (5)"
    ),
    device: str = typer.Option("cpu", help="cpu | cuda"),
    threads: int = typer.Option(1, min=1, help="CPU threads for the model"),
    compile: bool = typer.Option(False, "--compile", help="torch.compile the model (needs g++)"),
    doc: Path | None = typer.Option(
        None, help="also put the headline table into this document, e.g. docs/evaluation.md"
    ),
) -> None:
    """Evaluate a checkpoint on the held-out split: likelihood vs n-gram, realism, style and
    mood control, originality and speed. Writes OUT/report.md, OUT/report.json and PNGs."""
    from musegen.evaluate.report import RESULTS_END, RESULTS_START, headlines, update_doc
    from musegen.evaluate.suite import EvalConfig
    from musegen.evaluate.suite import evaluate as run_evaluation

    cfg = EvalConfig(
        out=out, checkpoint=checkpoint, corpus=corpus_dir, shards=shards, quick=quick,
        seeds_per_style=seeds_per_style, seed=seed, max_windows=max_windows, device=device,
        threads=threads, compile=compile, **({} if guidance is None else {"guidance": guidance}),
    )  # fmt: skip
    if doc is not None and (not doc.is_file() or RESULTS_START not in doc.read_text()):
        fail(f"{doc} has no {RESULTS_START} ... {RESULTS_END} block for the results table")
    report = run_evaluation(cfg, say=typer.echo)
    for section, measure, value in headlines(report):
        typer.echo(f"{section:12} {measure}: {value}")
    if doc is not None:
        update_doc(doc, report)
        typer.echo(f"results table updated in {doc}")


@evaluate_app.command("fidelity")
def evaluate_fidelity(
    folder: Path = typer.Argument(..., help="a folder of real multitrack MIDI songs"),
    checkpoint: str | None = typer.Option(None, help="folder or name; default: default"),
    seed_bars: int | None = typer.Option(None, min=1, help="bars of each song given as seed (8)"),
    new_bars: int | None = typer.Option(None, min=1, help="bars continued and compared (4)"),
    songs: int | None = typer.Option(None, min=1, help="at most this many songs (20)"),
    quick: bool = typer.Option(False, "--quick", help="2 songs, 4 + 2 bars: a smoke test"),
    out: Path = typer.Option(Path("out/fidelity"), "--out", help="folder for the report"),
    seed: int = typer.Option(0, help="random seed for sampling"),
    key: str | None = typer.Option(
        None, help="the continuations' `--key` (e.g. seed: keep the seed's last key plan)"
    ),
    adapt_steps: int = typer.Option(0, help="the continuations' `--adapt-steps` (0 = off)"),
) -> None:
    """Continue the first bars of each song and compare, track by track, with the song's real
    next bars (the ceiling) and a loop of the seed's last bars (the copy floor)."""
    from musegen.evaluate.fidelity import fidelity_command

    fidelity_command(folder, checkpoint=checkpoint, seed_bars=seed_bars, new_bars=new_bars,
                     songs=songs, quick=quick, out=out, seed=seed, key=key,
                     adapt_steps=adapt_steps, say=typer.echo)  # fmt: skip


@evaluate_app.command("controls")
def evaluate_controls(
    checkpoint: str | None = typer.Argument(None, help="folder or name; default: default"),
    seeds: Path | None = typer.Option(
        None, "--seeds", help="a folder of real held-out MIDI files (their first bars are seeds)"
    ),
    files: int | None = typer.Option(None, min=1, help="at most this many files of --seeds (8)"),
    seed_bars: int | None = typer.Option(None, min=1, help="bars of each file given as seed (8)"),
    new_bars: int | None = typer.Option(None, min=1, help="bars generated per continuation (4)"),
    quick: bool = typer.Option(False, "--quick", help="2 neutral seeds, 1 file, 4 + 2 bars"),
    corpus_dir: Path | None = typer.Option(
        None, "--corpus", help="a corpus: also judge styles with a classifier trained on it"
    ),
    shards: Path = typer.Option(Path("data/cache"), "--shards", help="the corpus's shards"),
    out: Path | None = typer.Option(
        None, "--out", help="report folder; default CHECKPOINT/evaluation/controls"
    ),
    seed: int = typer.Option(0, help="random seed for sampling"),
) -> None:
    """Ask the network alone for each mode (by key and by mood) and each density, polyphony
    and register level, from neutral seeds and real ones; judge the new bars with measures
    generation never uses (two key finders, the bar attributes). Writes OUT/report.md,
    results.json and confusion PNGs."""
    from musegen.evaluate.controls import ControlsConfig, controls_command

    cfg = ControlsConfig(checkpoint=checkpoint, seeds=seeds, out=out, seed_bars=seed_bars,
                         new_bars=new_bars, files=files, quick=quick, seed=seed,
                         corpus=corpus_dir, shards=shards)  # fmt: skip
    controls_command(cfg, say=typer.echo)


@evaluate_app.command("infill")
def evaluate_infill(
    folder: Path = typer.Argument(..., help="a folder of real multitrack MIDI songs"),
    checkpoint: str | None = typer.Option(None, help="folder or name (one trained to infill)"),
    songs: int | None = typer.Option(None, min=1, help="at most this many songs (20)"),
    bars: str | None = typer.Option(None, help="bars regenerated, FIRST-LAST (5-8)"),
    part_bars: str | None = typer.Option(None, help="bars of an added bass/drums (1-8)"),
    quick: bool = typer.Option(False, "--quick", help="2 songs, bars 3-4, parts 1-4: a smoke test"),
    out: Path = typer.Option(Path("out/infill"), "--out", help="folder for the report"),
    seed: int = typer.Option(0, help="random seed for sampling"),
    adapt_steps: int = typer.Option(0, help="adapt to each piece first (0 = off)"),
) -> None:
    """Blank bars of each song and regenerate them; remove its bass or drums and add them back.
    Compare with the real part (its own fit with its surroundings is the ceiling) and check the
    joins. Writes OUT/report.md, results.json and infill.png; prints the tables."""
    from musegen.evaluate.infill_eval import InfillEvalConfig, infill_command

    cfg = InfillEvalConfig(folder, checkpoint=checkpoint, songs=songs, region=bars,
                           part_bars=part_bars, quick=quick, seed=seed,
                           adapt_steps=adapt_steps)  # fmt: skip
    infill_command(cfg, out=out, say=typer.echo)
