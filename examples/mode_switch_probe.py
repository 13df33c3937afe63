"""Does the mood label steer the mode? Held-out pieces are switched to the parallel mode from
bar 4 on (musegen.augment.switch_mode); the probe prints how many nats more likely the switched
bars are under the label of their new mode than under the piece's own label (0: the label is
ignored), and the same for pieces switched from the start.

    python examples/mode_switch_probe.py [CHECKPOINT ...] [--shards data/cache] [--pieces 60]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from musegen.checkpoint.folder import load
from musegen.data.augment import OTHER_VALENCE, base_key, switch_mode
from musegen.data.shards import Shards
from musegen.music.labels import MODE_OF_MOOD


def label_gain(model, tok, piece: dict, ids: list[int], from_bar: int) -> float:
    """Log-likelihood of the tokens after bar `from_bar`: new mode's label minus own label."""
    bars = np.cumsum(tok.bar_count[np.array(ids)])
    after = bars > from_bar
    scores = []
    for mood in (piece["mood"], OTHER_VALENCE[piece["mood"]]):
        x = torch.tensor([tok.condition_ids(piece["style"], mood) + ids])
        with torch.inference_mode():
            log_probs = F.log_softmax(model(x)[0, :-1].float(), -1)
        scored = log_probs.gather(1, x[0, 1:, None])[1:, 0].numpy()  # the piece's own tokens
        scores.append(scored[after[: len(scored)]].sum())
    return float(scores[1] - scores[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="*", default=["checkpoints/default"])
    parser.add_argument("--shards", default="data/cache")
    parser.add_argument("--pieces", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(1)
    shards = Shards.open(args.shards)
    tok = shards.tokenizer
    pieces = [p for p in shards.pieces("test") if p["mood"] in MODE_OF_MOOD][::3][: args.pieces]
    for path in args.checkpoints:
        model = load(path).model.eval()
        gains = {4: [], 0: []}
        for piece in pieces:
            base = tok.to_base(shards.piece_tokens(piece)[:400])
            tonic, mode = base_key(base)
            if mode != MODE_OF_MOOD[piece["mood"]]:
                continue  # label and notes disagree: not switched in training either
            for from_bar, found in gains.items():
                switched = tok.from_base(switch_mode(base, tonic, mode, from_bar))
                found.append(label_gain(model, tok, piece, switched, from_bar))
        print(f"{path}: switched at bar 4: {np.mean(gains[4]):.2f} nats/piece "
              f"(median {np.median(gains[4]):.2f}); switched from the start: "
              f"{np.mean(gains[0]):.2f} (median {np.median(gains[0]):.2f}); "
              f"{len(gains[4])} pieces")  # fmt: skip


if __name__ == "__main__":
    main()
