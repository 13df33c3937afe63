"""How many tokens a bar costs at each BPE vocabulary size (the sequence-length side of the choice).

Trains BPE at several sizes on a style-stratified sample of the corpus MIDI and measures mean
tokens per bar on held-out files of the same sample. Writes benchmarks/results/vocab_size.json.
Usage: python benchmarks/vocab_size.py [--corpus data/corpus] [--per-style 150]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from symusic import Score

from musegen.music import timeline
from musegen.tokens.tokenizer import MuseTokenizer

SIZES = (0, 1000, 2000, 4000, 8000)  # 0 = no BPE (the base vocabulary)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default="data/corpus")
    parser.add_argument("--per-style", type=int, default=150)
    parser.add_argument("--out", default="benchmarks/results/vocab_size.json")
    args = parser.parse_args()
    rng = random.Random(0)
    train, held = [], []
    styles = sorted(p.name for p in (Path(args.corpus) / "midi").iterdir() if p.is_dir())
    for style in styles:
        files = sorted((Path(args.corpus) / "midi" / style).glob("*.mid"))
        rng.shuffle(files)
        files = files[: args.per_style]
        cut = int(len(files) * 0.7)
        train += files[:cut]
        held += files[cut:]
    scores = [Score(str(p)) for p in held]
    bars = sum(max(1, len(timeline.bar_lines(s, timeline.end_tick(s))) - 1) for s in scores)
    rows = []
    for size in SIZES:
        tok = MuseTokenizer.create(styles)
        started = time.perf_counter()
        if size:
            tok.train_bpe(train, size)
        trained = time.perf_counter() - started
        started = time.perf_counter()
        tokens = sum(len(tok.encode(s)) for s in scores)
        encode = time.perf_counter() - started
        rows.append({"vocab": tok.vocab_size, "tokens_per_bar": tokens / bars,
                     "train_seconds": trained,
                     "encode_ms_per_file": 1000 * encode / len(scores)})  # fmt: skip
        print(
            f"vocab {tok.vocab_size:5d}: {tokens / bars:6.2f} tokens/bar "
            f"(BPE training {trained:.1f} s, encoding {1000 * encode / len(scores):.1f} ms/file)"
        )
    result = {"styles": styles, "train_files": len(train), "held_out_files": len(held),
              "held_out_bars": bars, "rows": rows}  # fmt: skip
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
