"""Bits per note of two checkpoints on the same held-out notes of one source.

    .venv/bin/python tools/compare_likelihood.py OLD NEW [--shards data/cache-all]
        [--prefix ""] [--exclude pop909-,groove-] [--windows 300]

The test pieces of the shards (those whose id starts with --prefix and with none of
--exclude: by default the music21 pieces) are cut into the same chunks of 510 piece tokens;
each checkpoint reads a chunk after its [Style, Mood] labels, a checkpoint with bar plans with
an "any" plan before every bar (not scored), so both are scored on exactly the same notes with
the same music before them. A no-regression check when a checkpoint is retrained with a new
token format and more data.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from musegen.checkpoint import load
from musegen.data.shards import Shards, note_counts
from musegen.model.loss import IGNORE, bits_per_note, token_nats
from musegen.tokens.layout import plan_ids

CHUNK = 510


def windows(ckpt, pieces: list[dict], shards: Shards) -> list[tuple[np.ndarray, np.ndarray]]:
    tok = ckpt.tokenizer
    plan = plan_ids(tok, None) if tok.has_controls else []
    starts = tok.starts_bar
    out = []
    for piece in pieces:
        ids = shards.piece_tokens(piece).astype(np.int64)
        cond = tok.condition_ids(piece["style"] if piece["style"] in tok.styles else None, None)
        for a in range(0, len(ids), CHUNK):
            body = [
                j for i in ids[a : a + CHUNK] for j in ([*plan, int(i)] if starts[i] else [int(i)])
            ]
            seq = np.asarray([*cond, *body, tok.eos_id], dtype=np.int64)
            x, y = seq[:-1], seq[1:].copy()
            y[0] = IGNORE  # the mood after the style is not music
            y[np.isin(y, plan)] = IGNORE
            out.append((x, y))
    return out


def score(ckpt, items) -> dict:
    table = note_counts(ckpt.tokenizer)
    nats = notes = tokens = 0.0
    with torch.inference_mode():
        for x, y in items:
            xt, yt = torch.from_numpy(x)[None], torch.from_numpy(y)[None]
            nats += float(token_nats(ckpt.model(xt).float(), yt).sum())
            valid = y != IGNORE
            tokens += float(valid.sum())
            notes += float(table[np.clip(y, 0, None)][valid].sum())
    return {"bits_per_note": bits_per_note(nats, notes), "notes": int(notes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--shards", type=Path, default=Path("data/cache-all"))
    parser.add_argument("--prefix", default="")
    parser.add_argument("--exclude", default="pop909-,groove-")
    parser.add_argument("--windows", type=int, default=300, help="at most this many pieces")
    args = parser.parse_args()
    torch.set_num_threads(2)
    shards = Shards.open(args.shards)
    skip = tuple(p for p in args.exclude.split(",") if p)
    pieces = [
        p
        for p in shards.pieces("test")
        if p["id"].startswith(args.prefix) and not (skip and p["id"].startswith(skip))
    ]
    step = max(1, len(pieces) // args.windows)
    pieces = pieces[::step][: args.windows]
    for name in (args.old, args.new):
        ckpt = load(name)
        result = score(ckpt, windows(ckpt, pieces, shards))
        print(
            f"{name}: {result['bits_per_note']:.3f} bits/note on {result['notes']:,} notes "
            f"of {len(pieces)} test pieces"
        )


if __name__ == "__main__":
    main()
