"""The `musegen` command line: thin wrappers that parse options and call one library function.

Heavy imports (torch, miditok, music21) happen inside the commands so `musegen --help` is fast.
A user mistake prints one line on stderr and exits with status 2, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

app = typer.Typer(
    help="Continue MIDI by style or mood with a small transformer; DAW-safe MIDI and audio.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
corpus_app = typer.Typer(help="Build and inspect training corpora.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")


class UserError(Exception):
    """Raised inside commands for problems the user can fix (exit status 2)."""


def fail(message: str) -> None:
    raise UserError(message)


# --------------------------------------------------------------------------- corpus


@corpus_app.command("build")
def corpus_build(
    source: str = typer.Argument(..., help="'music21' or a folder of MIDI files"),
    out: Path = typer.Option(Path("data/corpus"), "--out", help="corpus folder to write"),
    repertories: str | None = typer.Option(None, help="comma list, music21 only"),
    jobs: int = typer.Option(2, min=1, help="worker processes"),
    limit: int | None = typer.Option(None, min=1, help="at most N source files per repertory"),
    style: str | None = typer.Option(None, help="style label for every file of a MIDI folder"),
    commercial_only: bool = typer.Option(False, help="leave out pieces whose terms forbid it"),
    optout: Path = typer.Option(Path("data/optout.txt"), help="ids/sources/composers to exclude"),
) -> None:
    """Convert a source into MIDI + manifest.csv with style and mood labels (resumable)."""
    from musegen import corpus

    reps = [r.strip() for r in repertories.split(",")] if repertories else None
    summary = corpus.build(source, out, reps, jobs, limit, style, commercial_only, optout)
    typer.echo(f"{summary['pieces']} pieces, {summary['failures']} failures -> {out}/manifest.csv")
    _print_stats(summary)


@corpus_app.command("stats")
def corpus_stats(corpus_dir: Path = typer.Option(Path("data/corpus"), "--corpus")) -> None:
    """Print pieces, bars, hours and licence per repertory, and the style x mood table."""
    from musegen import corpus

    _print_stats(corpus.summarize(corpus.read_manifest(corpus_dir)))


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
    moods = ("happy", "tense", "sad", "calm")
    mood_table = Table(title="Style x mood")
    for col in ("style", *moods, "total"):
        mood_table.add_column(col)
    for style, counts in summary["style_mood"].items():
        row = [str(counts.get(m, 0)) for m in moods]
        mood_table.add_row(style, *row, str(sum(counts.values())))
    console.print(mood_table)


# --------------------------------------------------------------------------- tokenize / train


@app.command()
def tokenize(
    corpus_dir: Path = typer.Option(Path("data/corpus"), "--corpus"),
    out: Path = typer.Option(Path("data/cache"), "--out"),
    vocab_size: int = typer.Option(2000, min=100, help="BPE vocabulary size"),
    tokenizer: Path | None = typer.Option(None, help="reuse this tokenizer.json (fine-tuning)"),
    jobs: int = typer.Option(2, min=1),
) -> None:
    """Train the BPE tokenizer (unless given) and write token shards with a fixed split."""
    from musegen.data import Shards, build_shards, tokens_per_bar
    from musegen.tokenizer import MuseTokenizer

    tok = MuseTokenizer.load(tokenizer) if tokenizer else None
    path = build_shards(corpus_dir, out, tokenizer=tok, vocab_size=vocab_size, jobs=jobs)
    shards = Shards.open(path)
    counts = {s: len(shards.pieces(s)) for s in ("train", "validation", "test")}
    typer.echo(
        f"{len(shards.tokens):,} tokens, {tokens_per_bar(shards):.1f} tokens/bar, vocab "
        f"{shards.tokenizer.vocab_size}, pieces {counts} -> {path}"
    )


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train(
    ctx: typer.Context,
    config: Path | None = typer.Option(None, help="YAML/JSON recipe, e.g. examples/configs/cpu-small.yaml"),
    resume: bool = typer.Option(False, help="continue from OUT/checkpoints/last.ckpt"),
) -> None:
    """Train a model with Lightning. Any recipe field is an option: --max-steps 2000 --devices 2.

    Fields: data out size context n_layer n_head n_embd dropout batch_size accumulate lr
    min_lr_ratio weight_decay warmup_steps max_steps grad_clip condition_dropout style_power
    val_every val_windows checkpoint_every accelerator devices num_nodes strategy precision
    compile num_workers threads seed init_from unconditioned.
    """
    from musegen.config import TrainConfig, coerce
    from musegen.training import fit

    overrides = _parse_overrides(ctx.args, coerce)
    try:
        cfg = TrainConfig.from_file(config, **overrides) if config else TrainConfig.from_dict(overrides)
    except (ValueError, OSError) as exc:
        fail(str(exc))
    run = fit(cfg, resume=resume)
    typer.echo(f"run folder: {run}")


def _parse_overrides(args: list[str], coerce) -> dict:
    from dataclasses import fields

    from musegen.config import TrainConfig

    valid = {f.name for f in fields(TrainConfig)}
    overrides, i = {}, 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            fail(f"unexpected argument {arg!r}; options look like --max-steps 1000")
        key, _, value = arg[2:].partition("=")
        key = key.replace("-", "_")
        if key not in valid:
            fail(f"unknown option --{key.replace('_', '-')}; valid: {', '.join(sorted(valid))}")
        if not value:
            if i + 1 >= len(args):
                fail(f"--{key.replace('_', '-')} needs a value")
            value, i = args[i + 1], i + 1
        try:
            overrides[key] = coerce(key, value)
        except ValueError:
            fail(f"--{key.replace('_', '-')} {value!r} is not a valid value")
        i += 1
    return overrides


@app.command()
def export(
    run_dir: Path = typer.Argument(..., help="training run folder (with checkpoints/)"),
    name: str = typer.Option(..., help="checkpoint name"),
    out: Path | None = typer.Option(None, help="folder to write (default checkpoints/NAME)"),
    dtype: str = typer.Option("bfloat16", help="float32 | bfloat16 | float16"),
) -> None:
    """Turn a training run into a checkpoint folder (safetensors + JSON + card)."""
    from musegen.card import write_card
    from musegen.checkpoint import DTYPES, export_run

    if dtype not in DTYPES:
        fail(f"--dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    target = export_run(run_dir, out or Path("checkpoints") / name, name=name, dtype=dtype)
    write_card(target)
    typer.echo(f"checkpoint written: {target}")


@app.command()
def info(checkpoint: str | None = typer.Argument(None, help="folder or name; default: default")) -> None:
    """Print a checkpoint's card and the styles and moods it knows."""
    from musegen import checkpoint as ckpt

    loaded = ckpt.load(checkpoint)
    typer.echo(loaded.card)
    typer.echo(f"styles: {', '.join(loaded.tokenizer.styles)}")
    typer.echo(f"moods: {', '.join(loaded.tokenizer.moods)}")
    typer.echo(f"parameters: {loaded.model.num_parameters():,}; weights sha256 {loaded.sha256[:16]}")


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and exit status 2."""
    from musegen.errors import MuseGenError

    try:
        app(args=argv, standalone_mode=False)
    except (UserError, MuseGenError, FileNotFoundError) as exc:
        print(f"musegen: error: {exc}", file=sys.stderr)
        return 2
    except typer.Abort:
        print("musegen: aborted", file=sys.stderr)
        return 130
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            print(f"musegen: error: {exc.format_message()} (see --help)", file=sys.stderr)
            return 2
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
