"""A discriminative label loss: the model itself should tell a piece's style (or mood) from
the others.

Trained on next-token prediction alone, a conditioned model can lean on the notes so far and
barely use its label; classifier-free guidance then has little to amplify. As in GeDi (Krause
et al. 2021), each labelled piece of a training window is also scored with its label swapped
for another one of the same kind at random, and a logistic loss asks that the true label
explain the piece better than the swapped one:

    d = mean over the piece's tokens of [log p(token | true label) - log p(token | other label)]
    loss = mean over pieces of softplus(-SCALE * d)

Guidance (musegen.continuation) moves each step along exactly this difference, so the loss
trains the direction that guidance follows. Pieces whose label was dropped to "any" are skipped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# Per-token log-ratios are a few hundredths to tenths of a nat; this makes the logistic loss
# sensitive in that range (d = 0.1 gives a probability of 0.73 to the true label).
SCALE = 10.0


def label_tokens(tokenizer, kind: str) -> tuple[Tensor, Tensor]:
    """One kind's ("style" or "mood") label ids, "any" left out, and all its ids with "any"
    (where pieces start), from the tokenizer's condition groups, which end with "any"."""
    group = tokenizer.condition_groups()[("style", "mood").index(kind)]
    return torch.tensor(group[:-1]), torch.tensor(group)


def swap_labels(x: Tensor, labels: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """x (B, T) with every label token in `labels` (S,) replaced by another one at random."""
    is_label = torch.isin(x, labels)
    index = (x.unsqueeze(-1) == labels).long().argmax(-1)  # (B, T): 0 where not a label
    offset = torch.randint(1, len(labels), x.shape, generator=generator, device=x.device)
    return torch.where(is_label, labels[(index + offset) % len(labels)], x)


def piece_log_ratios(nats: Tensor, nats_swapped: Tensor, x: Tensor, y: Tensor, labels: Tensor,
                     starts: Tensor, ignore: int) -> Tensor:  # fmt: skip
    """Each labelled piece's mean per-token log-ratio, true label over swapped one: (P,).

    Args:
        nats, nats_swapped: (B, T) next-token losses with the true and the swapped labels.
        x, y: (B, T) inputs and targets; a piece starts at its label token in x (one of
            `starts`, every token of the kind including "any") and runs to the next one.
        labels: (S,) the label tokens that count ("any" left out).
    """
    opens = torch.isin(x, starts)  # (B, T)
    piece = opens.long().cumsum(dim=1) - 1  # (B, T): index of the piece in its row, -1 before
    first = torch.where(opens, x, 0)
    label = first.gather(1, (opens.long() * torch.arange(x.shape[1], device=x.device))
                         .cummax(dim=1).values)  # (B, T): the label in force  # fmt: skip
    keep = (piece >= 0) & (y != ignore) & torch.isin(label, labels)
    width = int(piece.max()) + 1 if piece.numel() else 1
    ids = (torch.arange(x.shape[0], device=x.device)[:, None] * width + piece.clamp(min=0))[keep]
    total = torch.zeros(x.shape[0] * width, device=x.device).index_add(
        0, ids, (nats_swapped - nats)[keep].float()
    )
    count = torch.zeros_like(total).index_add(0, ids, torch.ones_like(ids, dtype=total.dtype))
    return total[count > 0] / count[count > 0]


def contrast_loss(ratios: Tensor) -> Tensor:
    """-log sigmoid(SCALE * d), averaged over pieces; 0 when there is none."""
    if ratios.numel() == 0:
        return ratios.new_zeros(())
    return F.softplus(-SCALE * ratios).mean()
