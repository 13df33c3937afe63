"""`musegen tokenize`, `train`, `export`: from a corpus to a checkpoint folder."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import typer

from musegen.cli.app import app, fail
from musegen.train.config import TrainConfig  # a dataclass: no torch

# Library imports sit inside the commands: `musegen --help` must not import torch.


@app.command()
def tokenize(
    corpus_dirs: list[Path] = typer.Option(  # noqa: B008
        [Path("data/corpus")], "--corpus", help="corpus folder; repeat to join several"
    ),
    out: Path = typer.Option(Path("data/cache"), "--out"),
    vocab_size: int = typer.Option(2000, min=100, help="BPE vocabulary size"),
    tokenizer: Path | None = typer.Option(None, help="reuse this tokenizer.json (fine-tuning)"),
    jobs: int = typer.Option(2, min=1),
) -> None:
    """Train the BPE tokenizer (unless given) and write token shards with a fixed split."""
    from musegen.data.shards import Shards, build_shards, tokens_per_bar
    from musegen.tokens.tokenizer import MuseTokenizer

    tok = MuseTokenizer.load(tokenizer) if tokenizer else None
    path = build_shards(corpus_dirs, out, tokenizer=tok, vocab_size=vocab_size, jobs=jobs)
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
    """Train a model with Lightning. Any recipe field is an option: --max-steps 2000 --devices 2
    (--print-config shows the recipe they make).

    Fields: data out size context n_layer n_head n_embd dropout batch_size accumulate lr
    min_lr_ratio weight_decay warmup_steps max_steps grad_clip condition_dropout style_power
    val_every val_windows checkpoint_every accelerator devices num_nodes strategy precision
    compile num_workers threads seed init_from unconditioned condition_every_layer
    opening_weight opening_tokens ema_decay mode_switch piano_share transpose_share
    transpose_range plan_dropout plan_bar_dropout plan_contrast infill_share infill_max_bars
    style_contrast mood_contrast
    """
    from musegen.train.fit import fit

    run = fit(recipe(config, ctx.args), resume=resume)
    typer.echo(f"run folder: {run}")


def recipe(config: Path | None, args: list[str]) -> TrainConfig:
    """The TrainConfig of a recipe file and `--name value` overrides (which win).

    jsonargparse reads both and checks every value against the dataclass's field types; any
    mistake (unknown option, bad value, unreadable file) is one line through fail().
    """
    from jsonargparse import ArgumentError, ArgumentParser  # 0.3 s to import

    parser = ArgumentParser(prog="musegen train", exit_on_error=False)
    parser.add_argument("--config", action="config")
    parser.add_class_arguments(TrainConfig)
    argv = [f"--config={config}"] if config else []
    for arg in args:  # jsonargparse's options are the field names: --max-steps=1 -> --max_steps=1
        name, sep, value = arg.partition("=")
        argv.append("--" + name[2:].replace("-", "_") + sep + value if arg[:2] == "--" else arg)
    try:
        values = parser.parse_args(argv).as_dict()
        values.pop("config", None)
        return TrainConfig(**values)
    except (ArgumentError, ValueError) as exc:
        fail(_one_line(str(exc), sorted(f.name for f in fields(TrainConfig))))


def _one_line(message: str, valid: list[str]) -> str:
    """jsonargparse's error on one line, naming options as typed (--max-steps)."""
    message = re.sub(
        r'Parser key "(\w+)"|--(\w+)',
        lambda m: "--" + (m[1] or m[2]).replace("_", "-"),
        " ".join(message.split()),
    )
    if "unrecognized arguments" in message or "is not accepted" in message:
        message += f"; valid: {', '.join(valid)}"
    return message


@app.command()
def export(
    run_dir: Path = typer.Argument(..., help="training run folder (with checkpoints/)"),
    name: str = typer.Option(..., help="checkpoint name"),
    out: Path | None = typer.Option(None, help="folder to write (default checkpoints/NAME)"),
    dtype: str = typer.Option("bfloat16", help="float32 | bfloat16 | float16"),
    data: Path | None = typer.Option(None, help="shards: put held-out numbers on the card"),
    baseline: Path | None = typer.Option(None, help="run trained without conditions, for the card"),
    corpus_dirs: list[Path] | None = typer.Option(  # noqa: B008
        None, "--corpus", help="corpus: put its data card on the card; repeat for several"
    ),
    which: str = typer.Option("best", help="best (lowest validation loss) | last"),
    average_with: Path | None = typer.Option(
        None, help="checkpoint folder of the same network: ship the average of both weights"
    ),
) -> None:
    """Turn a training run into a checkpoint folder (safetensors + JSON + card)."""
    import json

    from musegen.checkpoint.card import write_card
    from musegen.checkpoint.folder import DTYPES, export_run
    from musegen.evaluate.likelihood import card_results

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
    if corpus_dirs:
        from musegen.data import manifest

        rows = [r for folder in corpus_dirs for r in manifest.read_manifest(folder)]
        summary = manifest.summarize(rows)
        folders = ", ".join(map(str, corpus_dirs))
        config["data"] = {"summary": f"{summary['pieces']} pieces from {folders}",
                          "repertories": summary["repertories"],
                          "style_mood": summary["style_mood"]}  # fmt: skip
    (target / "config.json").write_text(json.dumps(config, indent=2, default=_jsonable))
    if base is not None:
        import shutil

        shutil.rmtree(base)
    write_card(target)
    typer.echo(f"checkpoint written: {target}")


def _jsonable(value):
    return dict(value) if hasattr(value, "items") else str(value)
