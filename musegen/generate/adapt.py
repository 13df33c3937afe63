"""Adapting the model to the seed before sampling (dynamic evaluation, Krause et al. 2018).

A few gradient steps on the seed's own tokens, on a copy of the network: a seed far from the
corpus (a game soundtrack, an unusual groove) then weighs more than what the corpus taught.
The checkpoint itself is never changed, and a compiled model is adapted as its eager copy. Off
by default: it costs about 0.3 s a step on a 1,000-token prompt on 2 cores; what it does to
continuations and infills is measured in docs/experiments/2026-12-04-plan-contrast.md.
"""

from __future__ import annotations

import copy

import torch

from musegen.model.loss import IGNORE, token_nats
from musegen.model.transformer import MuseTransformer

ADAPT_LR = 3e-4  # the fine-tuning peak of the default; higher lets a few steps overfit the seed


def adapted(model: MuseTransformer, cond: list[int], ids: list[int], steps: int,
            ignore: set[int] | None = None, lr: float = ADAPT_LR) -> MuseTransformer:  # fmt: skip
    """A copy of `model` after `steps` Adam steps on next-token prediction of `ids` read after
    the labels `cond`; targets in `ignore` (plan tokens) carry no loss. steps 0: the model."""
    if steps <= 0 or len(ids) < 2:
        return model
    tuned = copy.deepcopy(getattr(model, "_orig_mod", model)).float().train()  # not compiled
    seq = torch.tensor([cond + list(ids)])
    x, y = seq[:, :-1], seq[:, 1:].clone()
    y[:, : len(cond) - 1] = IGNORE  # the labels are inputs only
    if ignore:
        y[torch.isin(y, torch.tensor(sorted(ignore)))] = IGNORE
    if not (y != IGNORE).any():
        return model
    optimizer = torch.optim.Adam(tuned.parameters(), lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            loss = token_nats(tuned(x), y).sum() / (y != IGNORE).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return tuned.eval()


__all__ = ["ADAPT_LR", "adapted"]
