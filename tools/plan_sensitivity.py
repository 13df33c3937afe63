"""How much a checkpoint reads its bar plans: held-out music scored under true and wrong plans.

    .venv/bin/python tools/plan_sensitivity.py CHECKPOINT [--shards data/cache-all]
        [--pieces 40] [--tokens 400]

Each test piece (its first --tokens ids) is scored teacher-forced with every bar's true plan,
with every plan "any", and with one kind of plan turned upside down (level L -> top + 1 - L;
the key moved a tritone). Only the music is scored, never the plan tokens. A model that obeys
its plans loses much when they are wrong; one that reads the music around a bar instead loses
little. No sampling, so the numbers are exact for the pieces chosen.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from musegen.checkpoint import load
from musegen.data.shards import Shards
from musegen.model.loss import IGNORE, token_nats
from musegen.tokens.controls import (
    ANY,
    DENSITY,
    KEY,
    PLAN_KINDS,
    POLYPHONY,
    REGISTER,
    key_value,
    parse_key,
)
from musegen.tokens.layout import plan_from_codes, split_bars, with_plans

TOP = {DENSITY: 6, POLYPHONY: 6, REGISTER: 5}


def wrong(plan: dict[str, str], how: str) -> dict[str, str]:
    plan = dict(plan)
    if how == "any":
        return {k: ANY for k in PLAN_KINDS}
    if how == KEY:
        key = parse_key(plan[KEY])
        plan[KEY] = ANY if key is None else key_value(key[0] + 6, key[1])
    elif how in TOP and int(plan[how]) > 0:  # 0 (silent) stays: nothing to turn
        plan[how] = str(TOP[how] + 1 - int(plan[how]))
    return plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--shards", type=Path, default=Path("data/cache-all"))
    parser.add_argument("--pieces", type=int, default=40)
    parser.add_argument("--tokens", type=int, default=400)
    args = parser.parse_args()
    torch.set_num_threads(2)
    ckpt = load(args.checkpoint)
    tok = ckpt.tokenizer
    shards = Shards.open(args.shards)
    pieces = shards.pieces("test")
    chosen = np.random.default_rng(0).choice(len(pieces), min(args.pieces, len(pieces)), False)
    variants = ("true", "any", KEY, DENSITY, POLYPHONY, REGISTER)
    totals = {v: [0.0, 0] for v in variants}
    for p in chosen:
        ids = shards.piece_tokens(pieces[p]).astype(np.int64)[: args.tokens]
        bars = split_bars(ids, tok.starts_bar)
        codes = shards.piece_plans(pieces[p])[: len(bars)]
        bars = bars[: len(codes)]
        true = [plan_from_codes(row) for row in codes]
        for how in variants:
            plans = true if how == "true" else [wrong(plan, how) for plan in true]
            seq = np.asarray([*tok.condition_ids(None, None), *with_plans(tok, bars, plans),
                              tok.eos_id])  # fmt: skip
            x, y = seq[:-1], seq[1:].copy()
            y[[tok.is_extra(int(i)) for i in y]] = IGNORE  # plans and labels are not music
            y[0] = IGNORE
            with torch.inference_mode():
                logits = ckpt.model(torch.from_numpy(x)[None]).float()
                nats = token_nats(logits, torch.from_numpy(y)[None]).sum().item()
            totals[how][0] += nats
            totals[how][1] += int((y != IGNORE).sum())
    base = totals["true"][0] / totals["true"][1]
    print(f"{ckpt.name}: {len(chosen)} test pieces, {totals['true'][1]} music tokens")
    print("| plans | nats per music token | vs true plans |")
    print("| --- | --- | --- |")
    for how, (nats, count) in totals.items():
        name = how if how in ("true", "any") else f"{how} turned"
        print(f"| {name} | {nats / count:.4f} | {100 * (nats / count / base - 1):+.1f}% |")


if __name__ == "__main__":
    main()
