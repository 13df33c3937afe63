"""Next-token loss and its two readings: nats per token and bits per note."""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor

IGNORE = -100  # target id of positions that carry no loss (padding, conditions)


def token_nats(logits: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy in nats of logits (B, T, V) against targets (B, T), per position (B, T).

    Computed in float32 whatever the logits' dtype; IGNORE positions give 0.
    """
    nats = F.cross_entropy(
        logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE, reduction="none"
    )  # (B*T,)
    return nats.view_as(targets)


def bits_per_note(nats: float, notes: float) -> float:
    """Total nats over the notes they encode, in bits: comparable across vocabularies."""
    return nats / math.log(2) / max(notes, 1)


__all__ = ["IGNORE", "bits_per_note", "token_nats"]
