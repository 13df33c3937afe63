"""`musegen tokenize`, `train`, `export`: from a corpus to a checkpoint folder."""

from __future__ import annotations

from pathlib import Path

import typer

from musegen.cli.app import app, fail

# Library imports sit inside the commands: `musegen --help` must not import torch.


@app.command()
def tokenize(
    corpus_dir: Path = typer.Option(Path("data/corpus"), "--corpus"),
    out: Path = typer.Option(Path("data/cache"), "--out"),
    vocab_size: int = typer.Option(2000, min=100, help="BPE vocabulary size"),
    tokenizer: Path | None = typer.Option(None, help="reuse this tokenizer.json (fine-tuning)"),
    jobs: int = typer.Option(2, min=1),
) -> None:
    """Train the BPE tokenizer (unless given) and write token shards with a fixed split."""
    from musegen.data.shards import Shards, build_shards, tokens_per_bar
    from musegen.tokens.tokenizer import MuseTokenizer

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
    from musegen.train.config import TrainConfig, coerce
    from musegen.train.fit import fit

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

    from musegen.train.config import TrainConfig

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

    from musegen.checkpoint.card import card_results, write_card
    from musegen.checkpoint.folder import DTYPES, export_run

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
        from musegen.data.shards import Shards
        from musegen.music.instruments import program_stats

        config["programs"] = program_stats(Shards.open(shards_dir))
    else:
        typer.echo(f"note: no token shards at {shards_dir}, so the checkpoint does not know which "
                   "instruments it was trained on and will not stand in known ones for unknown "
                   "seed instruments; pass --data SHARDS", err=True)  # fmt: skip
    if corpus_dir is not None:
        from musegen.data import corpus

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
