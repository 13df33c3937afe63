"""Likelihood on the held-out windows: the model, told its conditions or "any", against n-grams."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from musegen.checkpoint import load
from musegen.data.shards import Shards, WindowSampler, note_counts
from musegen.evaluate.config import EvalConfig
from musegen.evaluate.ngram import KneserNey
from musegen.model.loss import IGNORE, bits_per_note, token_nats

# --------------------------------------------------------------------------- 1. likelihood


def _model_nats(model, items, table: np.ndarray, device: str, batch: int = 8) -> dict:
    nats = tokens = notes = 0.0
    with torch.inference_mode():
        for i in range(0, len(items), batch):
            x = torch.from_numpy(np.stack([it[0] for it in items[i : i + batch]])).to(device)
            y = torch.from_numpy(np.stack([it[1] for it in items[i : i + batch]])).to(device)
            logits = model(x).float()  # (B, T, V)
            nats += float(token_nats(logits, y).sum())
            valid = (y != IGNORE).cpu().numpy()
            tokens += float(valid.sum())
            notes += float(table[y.clamp(min=0).cpu().numpy()][valid].sum())
    return _rates(nats, tokens, notes)


def _rates(nats: float, tokens: float, notes: float) -> dict:
    return {
        "nats_per_token": nats / max(tokens, 1),
        "bits_per_note": bits_per_note(nats, notes),
        "tokens": int(tokens),
        "notes": int(notes),
    }


def test_windows(shards: Shards, context: int, cfg: EvalConfig) -> list:
    """The fixed held-out windows every likelihood row is scored on."""
    sampler = WindowSampler(shards, "test", context, 0.0, seed=cfg.seed)
    return list(sampler.evaluation_windows(cfg.max_windows))


def any_condition_nats(ckpt, items: list, device: str) -> dict:
    """The checkpoint's rates on `items` with the conditions replaced by "any"."""
    anyc = ckpt.tokenizer.condition_ids(None, None)
    blind = [(np.concatenate([anyc, x[2:]]), y, i) for x, y, i in items]
    return _model_nats(ckpt.model, blind, note_counts(ckpt.tokenizer), device)


def likelihood(ckpt, shards: Shards, cfg: EvalConfig, tick) -> dict:
    """The model, the model told "any" style and mood, and n-gram baselines, on the same tokens."""
    tok, model = ckpt.tokenizer, ckpt.model
    items = test_windows(shards, ckpt.model_config.context, cfg)
    table = note_counts(tok)
    result = {"windows": len(items), "model": _model_nats(model, items, table, cfg.device)}
    tick()
    result["model_any_condition"] = any_condition_nats(ckpt, items, cfg.device)
    tick()
    train = shards.pieces("train")
    conds = WindowSampler(shards, "train", 8, 0.0).cond
    sequences = [
        np.concatenate([c, shards.piece_tokens(p), [tok.eos_id]])
        for p, c in zip(train, conds, strict=True)
    ]
    ngram = KneserNey.fit(sequences, tok.vocab_size, order=5)
    x = np.stack([it[0] for it in items])
    y = np.stack([it[1] for it in items])
    valid = y != IGNORE
    notes = float(table[y[valid]].sum())
    for order in (3, 4, 5):
        nats = -float(ngram.window_log_probs(x, y, order).sum())
        result[f"ngram_{order}"] = _rates(nats, float(valid.sum()), notes)
    best = min((3, 4, 5), key=lambda o: result[f"ngram_{o}"]["nats_per_token"])
    result["ngram_best"] = {"order": best, **result[f"ngram_{best}"]}
    result["ngram_training_tokens"] = int(sum(len(s) for s in sequences))
    m, b = result["model"], result["model_any_condition"]
    result["conditioning_gain_bits_per_note"] = b["bits_per_note"] - m["bits_per_note"]
    result["gain_over_ngram_bits_per_note"] = (
        result["ngram_best"]["bits_per_note"] - m["bits_per_note"]
    )
    tick()
    return result


def card_results(checkpoint_dir: str | Path, shards_dir: str | Path,
                 baseline_dir: str | Path | None = None,
                 max_windows: int = 400) -> dict:  # fmt: skip
    """Held-out (test split) likelihood of a checkpoint against its baselines, for its card.

    Rows: the model; the model told "any" style and mood; the same network trained without
    conditions (when `baseline_dir` is given: a checkpoint folder); the best n-gram.
    """
    shards = Shards.open(shards_dir)
    cfg = EvalConfig(out=Path(checkpoint_dir), max_windows=max_windows)
    ckpt = load(checkpoint_dir)
    main = likelihood(ckpt, shards, cfg, lambda: None)
    steps = ckpt.config.get("training", {}).get("steps", "?")
    rows = [
        {"model": f"this checkpoint, {steps} steps (with its style and mood)", **main["model"]},
        {"model": 'this checkpoint told "any" style and mood', **main["model_any_condition"]},
    ]
    if baseline_dir is not None:  # trained on "any" only: no n-gram to refit, no other row
        baseline = load(baseline_dir)
        items = test_windows(shards, baseline.model_config.context, cfg)
        steps = baseline.config.get("training", {}).get("steps", "?")
        rows.append({"model": f"same network trained without conditions ({steps} steps)",
                     **any_condition_nats(baseline, items, cfg.device)})  # fmt: skip
    best = main["ngram_best"]
    rows.append({"model": f"{best['order']}-gram, interpolated modified Kneser-Ney", **best})
    note = (f"Same {main['windows']} windows of the held-out test split for every row "
            f"({main['model']['tokens']:,} tokens, {main['model']['notes']:,} notes). "
            "Lower is better.")  # fmt: skip
    return {"results": rows, "results_note": note, "likelihood": main}
