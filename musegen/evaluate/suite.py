"""`musegen evaluate`: likelihood, realism, style and mood control, originality and speed.

Every number comes from the held-out (test) split that `musegen tokenize` fixed: likelihood on
its fixed windows, seeds cut from its pieces. Baselines and ceilings sit beside each number: an
n-gram model, the model without its condition tokens, real-vs-real overlap, a classifier's
accuracy on real music, unconditioned continuations and the originality of real music.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from musegen import __version__
from musegen.data.originality import OriginalityIndex
from musegen.data.shards import Shards
from musegen.errors import InputError
from musegen.evaluate.config import EvalConfig
from musegen.evaluate.control import (
    mood_control,
    realism,
    style_control,
    train_style_classifier,
)
from musegen.evaluate.held_out import (
    Generation,
    HeldOutSeed,
    Pieces,
    generate_all,
    pick_seeds,
    plan,
)
from musegen.evaluate.likelihood import likelihood
from musegen.evaluate.report import write_report
from musegen.generate.api import MuseGen
from musegen.progress import progress_bar

# --------------------------------------------------------------------------- 5, 6


def originality(index, seeds: list[HeldOutSeed], jobs: list[Generation]) -> dict:
    """Longest passage shared with the training pieces: generated, and real music for scale."""
    result = {"k": index.k, "training_pieces": len(index.piece_ids)}
    for name, scores in (("generated", [j.score for j in jobs]), ("real", [s.real for s in seeds])):
        found = [index.longest_match(s) for s in scores]
        notes = np.array([f["notes"] for f in found], dtype=float)
        bars = np.array([f["bars"] for f in found], dtype=float)
        worst = max(found, key=lambda f: (f["notes"], f["bars"]))
        result[name] = {
            "n": len(found), "median_notes": float(np.median(notes)),
            "max_notes": float(notes.max()), "max_bars": float(bars.max()),
            "share_copying_2_bars": float((bars >= 2).mean()),
            "longest": worst, "notes": notes.tolist(), "bars": bars.tolist(),
        }  # fmt: skip
    return result


def speed(jobs: list[Generation]) -> dict:
    """Decoding speed over all generations, plain (guidance 1) and guided separately."""
    result = {}
    for name, chosen in (("plain", [j for j in jobs if j.guidance == 1]),
                         ("guided", [j for j in jobs if j.guidance != 1])):  # fmt: skip
        seconds = sum(j.seconds for j in chosen)
        tokens, bars = sum(j.tokens for j in chosen), sum(j.bars for j in chosen)
        result[name] = {"continuations": len(chosen), "tokens": tokens, "seconds": seconds,
                        "tokens_per_second": tokens / seconds if seconds else math.nan,
                        "seconds_per_bar": seconds / bars if bars else math.nan}  # fmt: skip
    result["tokens_per_second"] = result["plain"]["tokens_per_second"]
    result["seconds_per_bar"] = result["plain"]["seconds_per_bar"]
    return result


# --------------------------------------------------------------------------- the run


def probe_setup(checkpoint: str | None, corpus: str, shards: str, seeds_per_style: int):
    """What the probes in examples/ share: (MuseGen, EvalConfig, Pieces, Shards, seeds), the
    held-out seeds picked exactly as `evaluate` picks them, on one thread."""

    torch.set_num_threads(1)
    cfg = EvalConfig(out=Path("unused"), corpus=corpus, shards=shards,
                     seeds_per_style=seeds_per_style)  # fmt: skip
    pieces, shard_set = Pieces(cfg.corpus), Shards.open(cfg.shards)
    mg = MuseGen.from_pretrained(checkpoint)
    test = [p["id"] for p in shard_set.pieces("test")]
    seeds = pick_seeds(pieces, test, mg.styles, cfg.seeds_per_style, cfg.seed_bars, cfg.max_bars)
    return mg, cfg, pieces, shard_set, seeds


def evaluate(cfg: EvalConfig, progress: bool = True, say=print) -> dict:
    """Run every section and write report.md, report.json and the plots into cfg.out."""

    started = time.perf_counter()
    torch.set_num_threads(cfg.threads)
    needs = {
        cfg.shards / "index.json": f"musegen tokenize --corpus {cfg.corpus} --out {cfg.shards}",
        cfg.corpus / "labels.json": f"musegen corpus build music21 --out {cfg.corpus}",
    }
    for needed, fix in needs.items():
        if not needed.exists():
            raise InputError(f"{needed} is missing; build it with: {fix}")
    mg = MuseGen.from_pretrained(cfg.checkpoint, device=cfg.device, compile=cfg.compile)
    ckpt = mg.checkpoint
    shards = Shards.open(cfg.shards)
    if shards.tokenizer != ckpt.tokenizer:
        raise InputError(
            f"{cfg.shards} was tokenized with another tokenizer than {ckpt.path}; re-run: "
            f"musegen tokenize --tokenizer {ckpt.path}/tokenizer.json --out NEW_CACHE"
        )
    pieces = Pieces(cfg.corpus)
    references = json.loads((cfg.corpus / "labels.json").read_text())["arousal_reference"]
    train_ids = [p["id"] for p in shards.pieces("train")]
    test_ids = [p["id"] for p in shards.pieces("test")]
    if not test_ids or not train_ids:
        raise InputError(f"{cfg.shards} has no test or no train pieces: evaluate needs both")
    styles, moods = ckpt.tokenizer.styles, ckpt.tokenizer.moods
    seeds = pick_seeds(pieces, test_ids, styles, cfg.seeds_per_style, cfg.seed_bars, cfg.max_bars)
    jobs = plan(seeds, styles, moods, cfg)
    report: dict = {
        "musegen": __version__,
        "checkpoint": {"name": ckpt.name, "path": str(ckpt.path), "sha256": ckpt.sha256},
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "seeds": [
            {"piece": s.piece, "style": s.style, "mood": s.mood, "bars": s.bars} for s in seeds
        ],
    }
    with progress_bar(progress) as bar:
        task = bar.add_task("likelihood", total=3)
        report["likelihood"] = likelihood(ckpt, shards, cfg, lambda: bar.advance(task))
        every = [j for section in jobs.values() for j in section]
        task = bar.add_task("generating", total=len(every))
        generate_all(mg, seeds, every, cfg, lambda: bar.advance(task))
        report["realism"] = realism(seeds, jobs["realism"], cfg)
        if "realism_guided" in jobs:
            guided = realism(seeds, jobs["realism_guided"], cfg)
            report["realism"]["guided"] = {
                "guidance": cfg.guidance, "mean_overlap": guided["mean_overlap"],
                "overlaps": {k: v["overlap"] for k, v in guided["statistics"].items()},
            }  # fmt: skip

        def counter(name: str):
            task = bar.add_task(name, total=None)
            return lambda done, total: bar.update(task, completed=done, total=total)

        classifier = train_style_classifier(
            pieces, train_ids, styles, cfg, counter("style classifier")
        )
        report["style"] = style_control(classifier, pieces, test_ids, styles, jobs["style"], cfg)
        report["mood"] = mood_control(seeds, jobs["mood"], references, moods)
        indexed = counter("originality index")
        index = OriginalityIndex.for_corpus(cfg.corpus, train_ids, progress=indexed)
        indexed(1, 1)  # a full bar also when the index came from the cache
        report["originality"] = originality(index, seeds, [j for j in every if j.guidance == 1])
        report["speed"] = {**speed(every), "device": cfg.device, "threads": cfg.threads}
    report["seconds"] = time.perf_counter() - started
    write_report(report, cfg.out)
    say(f"report: {cfg.out / 'report.md'}")
    return report
