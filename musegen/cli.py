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
    cap: list[str] = typer.Option([], help="REPERTORY=N: at most N files of one repertory"),
    style: str | None = typer.Option(None, help="style label for every file of a MIDI folder"),
    commercial_only: bool = typer.Option(False, help="leave out pieces whose terms forbid it"),
    optout: Path = typer.Option(Path("data/optout.txt"), help="ids/sources/composers to exclude"),
) -> None:
    """Convert a source into MIDI + manifest.csv with style and mood labels (resumable)."""
    from musegen import corpus

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
    from musegen import corpus

    summary = corpus.summarize(corpus.read_manifest(corpus_dir))
    if markdown:
        typer.echo(corpus.markdown_tables(summary))
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
    config: Path | None = typer.Option(
        None, help="YAML/JSON recipe, e.g. examples/configs/cpu-small.yaml"
    ),
    resume: bool = typer.Option(False, help="continue from OUT/checkpoints/last.ckpt"),
) -> None:
    """Train a model with Lightning. Any recipe field is an option: --max-steps 2000 --devices 2.

    Fields: data out size context n_layer n_head n_embd dropout batch_size accumulate lr
    min_lr_ratio weight_decay warmup_steps max_steps grad_clip condition_dropout style_power
    val_every val_windows checkpoint_every accelerator devices num_nodes strategy precision
    compile num_workers threads seed init_from unconditioned condition_every_layer
    opening_weight opening_tokens ema_decay mode_switch piano_share transpose_share
    transpose_range style_contrast mood_contrast
    """
    from musegen.config import TrainConfig, coerce
    from musegen.training import fit

    overrides = _parse_overrides(ctx.args, coerce)
    try:
        cfg = (
            TrainConfig.from_file(config, **overrides)
            if config
            else TrainConfig.from_dict(overrides)
        )
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
    data: Path | None = typer.Option(None, help="shards: put held-out numbers on the card"),
    baseline: Path | None = typer.Option(None, help="run trained without conditions, for the card"),
    corpus_dir: Path | None = typer.Option(
        None, "--corpus", help="corpus: put its data card on the card"
    ),
    which: str = typer.Option("best", help="best (lowest validation loss) | last"),
    average_with: Path | None = typer.Option(
        None, help="checkpoint folder of the same network: ship the average of both weights"
    ),
) -> None:
    """Turn a training run into a checkpoint folder (safetensors + JSON + card)."""
    import json

    from musegen.card import card_results, write_card
    from musegen.checkpoint import DTYPES, export_run

    if dtype not in DTYPES:
        fail(f"--dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    if which not in ("best", "last"):
        fail(f"--which {which!r} is not best or last")
    target = export_run(run_dir, out or Path("checkpoints") / name, name=name, dtype=dtype,
                        which=which, average_with=average_with)  # fmt: skip
    config = json.loads((target / "config.json").read_text())
    base = None
    if baseline is not None:
        base = export_run(baseline, target.parent / f".{name}-baseline", name=f"{name}-baseline",
                          dtype="float32")  # fmt: skip
    if data is not None:
        config.update(card_results(target, data, base))
    shards_dir = data or Path(config.get("training", {}).get("train", {}).get("data", ""))
    if (shards_dir / "index.json").exists():  # which instruments it knows (musegen.programs)
        from musegen.data import Shards
        from musegen.programs import program_stats

        config["programs"] = program_stats(Shards.open(shards_dir))
    else:
        typer.echo(f"note: no token shards at {shards_dir}, so the checkpoint does not know which "
                   "instruments it was trained on and will not stand in known ones for unknown "
                   "seed instruments; pass --data SHARDS", err=True)  # fmt: skip
    if corpus_dir is not None:
        from musegen import corpus

        summary = corpus.summarize(corpus.read_manifest(corpus_dir))
        config["data"] = {"summary": f"{summary['pieces']} pieces from {corpus_dir}",
                          "repertories": summary["repertories"]}  # fmt: skip
    (target / "config.json").write_text(json.dumps(config, indent=2, default=_jsonable))
    if base is not None:
        import shutil

        shutil.rmtree(base)
    write_card(target)
    typer.echo(f"checkpoint written: {target}")


def _jsonable(value):
    return dict(value) if hasattr(value, "items") else str(value)


@app.command()
def info(
    checkpoint: str | None = typer.Argument(None, help="folder or name; default: default"),
) -> None:
    """Print a checkpoint's card and the styles and moods it knows."""
    from musegen import checkpoint as ckpt

    loaded = ckpt.load(checkpoint)
    typer.echo(loaded.card)
    typer.echo(f"styles: {', '.join(loaded.tokenizer.styles)}")
    typer.echo(f"moods: {', '.join(loaded.tokenizer.moods)}")
    typer.echo(
        f"parameters: {loaded.model.num_parameters():,}; weights sha256 {loaded.sha256[:16]}"
    )


# --------------------------------------------------------------------------- generation


def _range(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    low, sep, high = text.partition("-")
    try:
        return int(low), int(high) if sep else int(low)
    except ValueError:
        fail(f"--pitch-range {text!r} is invalid: use LOW-HIGH, e.g. 36-96")


def _programs(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        fail(f"--programs {text!r} is invalid: use GM program numbers, e.g. 0,40 (-1 = drums)")


@app.command("continue")
def continue_(
    seed_file: Path = typer.Argument(..., help="the seed MIDI file"),
    out: Path = typer.Option(..., "-o", "--out", help="output folder"),
    bars: int = typer.Option(8, help="new bars to add"),
    style: str | None = typer.Option(None, help="see `musegen styles`"),
    mood: str | None = typer.Option(None, help="happy | tense | sad | calm"),
    temperature: float = typer.Option(0.95),
    top_k: int | None = typer.Option(None),
    top_p: float = typer.Option(0.95),
    min_p: float = typer.Option(0.0),
    repetition_penalty: float = typer.Option(1.0),
    guidance: float | None = typer.Option(
        None, help="classifier-free guidance; 1 = off; default 5 with --style, else 1"
    ),
    guide_against: str = typer.Option(
        "any",
        help="with --style: guidance moves away from the unconditioned model (any, classic "
        "classifier-free guidance) or from the other styles (other-styles)",
    ),
    variations: int = typer.Option(1),
    mood_candidates: int = typer.Option(
        4,
        help="with --mood: continuations tried per variation, keeping one in the mood's "
        "mode (major for happy/calm, minor for sad/tense); 1 = off",
    ),
    seed: int = typer.Option(0, help="random seed: the same seed gives the same files"),
    key: str | None = typer.Option(None, help="keep new notes in a key, e.g. C:major"),
    pitch_range: str | None = typer.Option(None, help="LOW-HIGH MIDI pitches, e.g. 36-96"),
    programs: str | None = typer.Option(None, help="GM programs for new material, e.g. 0,40"),
    checkpoint: str | None = typer.Option(None, help="checkpoint folder or name"),
    soundfont: Path | None = typer.Option(None, help="SF2 for audio (default: see README)"),
    no_audio: bool = typer.Option(False, "--no-audio", help="skip WAV rendering"),
    force: bool = typer.Option(False, help="overwrite existing outputs"),
    max_notes: int | None = typer.Option(None, help="raise the seed note limit"),
    max_tracks: int | None = typer.Option(None, help="raise the seed track limit"),
    max_bytes: int | None = typer.Option(None, help="raise the seed size limit"),
    max_seconds: float | None = typer.Option(None, help="raise the seed length limit"),
    check_originality: bool = typer.Option(
        False, "--check-originality", help="report the longest passage copied from the corpus"
    ),
    corpus_dir: Path = typer.Option(
        Path("data/corpus"), "--corpus", help="training corpus for --check-originality"
    ),
) -> None:
    """Continue SEED_FILE: writes full.mid, continuation.mid, full.wav, stems/, pianoroll.png
    and generation.json into OUT (with -1, -2, ... suffixes for variations)."""
    from musegen.workflow import continue_file

    options = dict(
        style=style, mood=mood, temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
        repetition_penalty=repetition_penalty, guidance=guidance, seed=seed, key=key,
        pitch_range=_range(pitch_range), programs=_programs(programs),
        mood_candidates=mood_candidates, guide_against=guide_against,
    )  # fmt: skip
    limits = dict(max_notes=max_notes, max_tracks=max_tracks, max_bytes=max_bytes,
                  max_seconds=max_seconds)  # fmt: skip
    written = continue_file(
        seed_file, out, bars=bars, variations=variations, options=options, checkpoint=checkpoint,
        soundfont=soundfont, audio=not no_audio, force=force, limits=limits,
        check_originality=check_originality, corpus=corpus_dir,
    )  # fmt: skip
    for path in written:
        typer.echo(str(path))


@app.command()
def render(
    midi: Path = typer.Argument(..., help="MIDI file to render"),
    out: Path = typer.Option(..., "-o", "--out", help="WAV file to write"),
    soundfont: Path | None = typer.Option(None),
    stems: bool = typer.Option(False, help="also write one WAV per track into OUT_stems/"),
    sample_rate: int = typer.Option(44100, help="44100 or 48000"),
    bit_depth: int = typer.Option(16, help="16 or 24"),
    force: bool = typer.Option(False, help="overwrite OUT"),
) -> None:
    """Render a MIDI file to WAV with FluidSynth, offline and sample-accurate."""
    from musegen.midi_io import read_seed
    from musegen.render import render as render_wav

    if out.exists() and not force:
        fail(f"{out} exists; pass --force to overwrite it")
    score = read_seed(midi).score
    stems_dir = out.with_name(out.stem + "_stems") if stems else None
    info = render_wav(score, out, soundfont=soundfont, sample_rate=sample_rate,
                      bit_depth=bit_depth, stems_dir=stems_dir)  # fmt: skip
    typer.echo(f"{out} ({info['seconds']:.1f} s audio in {info['render_seconds']:.2f} s)")


@app.command()
def styles(checkpoint: str | None = typer.Option(None)) -> None:
    """List the styles a checkpoint knows."""
    from musegen import checkpoint as ckpt
    from musegen.tokenizer import MuseTokenizer

    typer.echo("\n".join(MuseTokenizer.load(ckpt.resolve(checkpoint) / "tokenizer.json").styles))


@app.command()
def moods(checkpoint: str | None = typer.Option(None)) -> None:
    """List the moods a checkpoint knows (valence/arousal quadrants)."""
    from musegen import checkpoint as ckpt
    from musegen.tokenizer import MuseTokenizer

    typer.echo("\n".join(MuseTokenizer.load(ckpt.resolve(checkpoint) / "tokenizer.json").moods))


# --------------------------------------------------------------------------- evaluation


@app.command()
def evaluate(
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
    readme: Path | None = typer.Option(None, help="also put the headline table into this README"),
) -> None:
    """Evaluate a checkpoint on the held-out split: likelihood vs n-gram, realism, style and
    mood control, originality and speed. Writes OUT/report.md, OUT/report.json and PNGs."""
    from musegen.evaluation import EvalConfig
    from musegen.evaluation import evaluate as run_evaluation
    from musegen.evaluation_report import README_END, README_START, headlines, update_readme

    cfg = EvalConfig(
        out=out, checkpoint=checkpoint, corpus=corpus_dir, shards=shards, quick=quick,
        seeds_per_style=seeds_per_style, seed=seed, max_windows=max_windows, device=device,
        threads=threads, compile=compile, **({} if guidance is None else {"guidance": guidance}),
    )  # fmt: skip
    if readme is not None and (not readme.is_file() or README_START not in readme.read_text()):
        fail(f"{readme} has no {README_START} ... {README_END} block for the results table")
    report = run_evaluation(cfg, say=typer.echo)
    for section, measure, value in headlines(report):
        typer.echo(f"{section:12} {measure}: {value}")
    if readme is not None:
        update_readme(readme, report)
        typer.echo(f"results table updated in {readme}")


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and exit status 2."""
    from musegen.errors import MuseGenError

    try:
        result = app(args=argv, standalone_mode=False)
    except (UserError, MuseGenError, FileNotFoundError) as exc:
        print(f"musegen: error: {exc}", file=sys.stderr)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("musegen: aborted", file=sys.stderr)
        return 130
    except typer.TyperException as exc:  # usage errors: unknown option, bad value, ...
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if not message.strip():  # bare `musegen` printed its help
            return 0
        print(f"musegen: error: {' '.join(message.split())} (see --help)", file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
