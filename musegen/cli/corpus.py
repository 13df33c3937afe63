"""`musegen corpus build|stats`: training corpora from music21 or a folder of MIDI files."""

from __future__ import annotations

from pathlib import Path

import typer

from musegen.cli.app import corpus_app, fail
from musegen.music.labels import MOODS

# Library imports sit inside the commands: `musegen --help` must not import torch.


@corpus_app.command("build")
def corpus_build(
    source: str = typer.Argument(
        ..., help="'music21', pop909:FOLDER, groove:FOLDER, pop909-band:FOLDER or a MIDI folder"
    ),
    out: Path = typer.Option(Path("data/corpus"), "--out", help="corpus folder to write"),
    repertories: str | None = typer.Option(None, help="comma list, music21 only"),
    jobs: int = typer.Option(2, min=1, help="worker processes"),
    limit: int | None = typer.Option(None, min=1, help="at most N source files per repertory"),
    cap: list[str] = typer.Option([], help="REPERTORY=N: at most N files of one repertory"),
    style: str | None = typer.Option(None, help="style label for every file of a MIDI folder"),
    commercial_only: bool = typer.Option(False, help="leave out pieces whose terms forbid it"),
    optout: Path = typer.Option(Path("data/optout.txt"), help="ids/sources/composers to exclude"),
) -> None:
    """Convert a source into MIDI + manifest.csv with style and mood labels (resumable)."""
    from musegen.data import corpus

    reps = [r.strip() for r in repertories.split(",")] if repertories else None
    caps = {}
    for item in cap:
        name, _, number = item.partition("=")
        if not number.isdigit():
            fail(f"--cap {item!r} is invalid: use REPERTORY=N, e.g. palestrina=300")
        caps[name.strip()] = int(number)
    summary = corpus.build(source, out, reps, jobs, limit, style, commercial_only, optout,
                           caps=caps or None)  # fmt: skip
    typer.echo(f"{summary['pieces']} pieces, {summary['failures']} failures -> {out}/manifest.csv")
    _print_stats(summary)


@corpus_app.command("stats")
def corpus_stats(
    corpus_dir: Path = typer.Option(Path("data/corpus"), "--corpus"),
    markdown: bool = typer.Option(False, help="print Markdown tables (for data/README.md)"),
) -> None:
    """Print pieces, bars, hours and licence per repertory, and the style x mood table."""
    from musegen.data import manifest

    summary = manifest.summarize(manifest.read_manifest(corpus_dir))
    if markdown:
        typer.echo(manifest.markdown_tables(summary))
    else:
        _print_stats(summary)


def _print_stats(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="Repertories")
    for col in ("repertory", "style", "pieces", "bars", "hours", "commercial use", "licence"):
        table.add_column(col)
    for name, rep in sorted(summary["repertories"].items()):
        uses = ", ".join(f"{k}: {v}" for k, v in rep["commercial_use"].items())
        table.add_row(name, rep["style"], str(rep["pieces"]), str(rep["bars"]),
                      f"{rep['hours']:.1f}", uses, rep["licence_note"][:60])  # fmt: skip
    console.print(table)
    moods = MOODS
    mood_table = Table(title="Style x mood")
    for col in ("style", *moods, "total"):
        mood_table.add_column(col)
    for style, counts in summary["style_mood"].items():
        row = [str(counts.get(m, 0)) for m in moods]
        mood_table.add_row(style, *row, str(sum(counts.values())))
    console.print(mood_table)
