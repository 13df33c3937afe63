"""Shared fixtures: a small real corpus from the music21 package, its shards, a tiny model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)  # 2-core CI: one thread per process is fastest for tiny models
os.environ.setdefault("MUSEGEN_NO_PROGRESS", "1")


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    """A few chorales, fiddle tunes and madrigals converted by the real corpus builder."""
    from musegen.data import corpus

    out = tmp_path_factory.mktemp("corpus")
    corpus.build("music21", out, ["bach", "ryansMammoth", "monteverdi"], jobs=2, limit=4,
                 optout_path=out / "none.txt", progress=False)  # fmt: skip
    return out


@pytest.fixture(scope="session")
def small_shards(small_corpus, tmp_path_factory) -> Path:
    from musegen.data.shards import build_shards

    out = tmp_path_factory.mktemp("cache")
    return build_shards(small_corpus, out, vocab_size=800, jobs=1, progress=False)


@pytest.fixture(scope="session")
def tiny_checkpoint(small_shards, tmp_path_factory) -> Path:
    """A tiny model trained for a few steps, saved as a real checkpoint folder."""
    from musegen import checkpoint
    from musegen.train.config import TrainConfig
    from musegen.train.fit import fit

    run = tmp_path_factory.mktemp("run")
    cfg = TrainConfig(data=str(small_shards), out=str(run), size="tiny", context=256,
                      batch_size=8, lr=3e-3, warmup_steps=2, max_steps=20, val_every=10,
                      val_windows=8, checkpoint_every=10, threads=1, infill_share=0.3)  # fmt: skip
    fit(cfg, progress=False)
    return checkpoint.export_run(run, run.parent / "tiny-ckpt", name="tiny-test")


@pytest.fixture(scope="session")
def planless_checkpoint(tmp_path_factory) -> Path:
    """A checkpoint folder without bar plans (the token format before them): the tiny network
    with random weights, for the refusals of infill, arrange and the plan controls."""
    from musegen import checkpoint
    from musegen.model.transformer import ModelConfig, MuseTransformer
    from musegen.tokens.tokenizer import MuseTokenizer

    tok = MuseTokenizer.create(["chorale"], controls=False)
    torch.manual_seed(0)
    cfg = ModelConfig.from_name("tiny", tok.vocab_size, context=256,
                                condition_groups=tok.condition_groups())  # fmt: skip
    folder = tmp_path_factory.mktemp("planless") / "planless"
    return checkpoint.save(folder, MuseTransformer(cfg), tok, name="planless", dtype="float32")


# The fixtures above build a corpus and train; a test that needs any of them is not in the fast
# tier (`make test-fast` runs `-m "not slow"`).
_TRAINED = {"small_corpus", "small_shards", "tiny_checkpoint"}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if _TRAINED & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
