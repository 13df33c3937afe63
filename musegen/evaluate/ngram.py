"""An interpolated modified Kneser-Ney n-gram model over token ids: the baseline to beat.

N-grams are packed into uint64 keys (`bits` per token), counted with np.unique and looked up
with np.searchsorted, so millions of training tokens fit in seconds and a few hundred MB.
Every sequence is left-padded with order - 1 copies of an extra symbol (id = vocab_size), so
the first tokens of a piece have a history of the same length as any other.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from musegen.model.loss import IGNORE


@dataclass
class _Counts:
    """Raw or continuation counts of the n-grams of one order, with per-context sums."""

    counts: np.ndarray  # (G,) int64, aligned with the order's sorted keys
    context_keys: np.ndarray  # (H,) uint64, sorted
    total: np.ndarray  # (H,) sum of counts per context
    gamma: np.ndarray  # (H,) D1 N1 + D2 N2 + D3 N3+ per context: the mass given to lower orders
    discounts: np.ndarray  # (4,) discount for a count of 0, 1, 2, 3+


def _discounts(counts: np.ndarray) -> np.ndarray:
    """Chen & Goodman's modified Kneser-Ney discounts from the counts of counts."""
    n1, n2, n3, n4 = (int((counts == k).sum()) for k in (1, 2, 3, 4))
    y = n1 / (n1 + 2 * n2) if n1 + 2 * n2 else 0.5
    estimates = [1 - 2 * y * n2 / n1 if n1 else 0.5, 2 - 3 * y * n3 / n2 if n2 else 1.0,
                 3 - 4 * y * n4 / n3 if n3 else 1.5]  # fmt: skip
    # Tiny corpora can give estimates outside (0, k]: keep each discount a real discount.
    return np.array([0.0] + [min(max(d, 0.05), k) for k, d in enumerate(estimates, 1)])


def _table(keys: np.ndarray, counts: np.ndarray, bits: int) -> _Counts:
    discounts = _discounts(counts)
    context = keys >> np.uint64(bits)
    starts = np.flatnonzero(np.concatenate([[True], context[1:] != context[:-1]]))
    per_gram = discounts[np.minimum(counts, 3)]
    return _Counts(
        counts=counts,
        context_keys=context[starts],
        total=np.add.reduceat(counts, starts).astype(np.float64),
        gamma=np.add.reduceat(per_gram, starts),
        discounts=discounts,
    )


class KneserNey:
    """N-gram language model of orders 1..`order`; `log_probs` can use any lower order too."""

    def __init__(self, vocab_size: int, order: int = 5):
        self.vocab_size, self.order = vocab_size, order
        self.pad = vocab_size
        self.bits = max(1, math.ceil(math.log2(vocab_size + 1)))
        if self.bits * order > 64:
            raise ValueError(
                f"a {order}-gram over {vocab_size} tokens does not fit 64-bit keys; "
                f"use order <= {64 // self.bits}"
            )
        self.keys: dict[int, np.ndarray] = {}
        self.raw: dict[int, _Counts] = {}
        self.continuation: dict[int, _Counts] = {}

    @classmethod
    def fit(cls, sequences: Iterable[np.ndarray], vocab_size: int, order: int = 5) -> KneserNey:
        """Count every n-gram (n <= order) of the sequences (each one a whole piece)."""
        model = cls(vocab_size, order)
        head = np.full(order - 1, model.pad, dtype=np.uint64)
        tokens = np.concatenate(
            [np.concatenate([head, np.asarray(s, dtype=np.uint64)]) for s in sequences] or [head]
        )
        real = tokens != model.pad  # n-grams end on real tokens only: none crosses a piece
        if not real.any():
            raise ValueError("no training tokens: the n-gram model needs at least one sequence")
        shift = np.uint64(model.bits)
        grams = tokens.copy()  # grams[p] = the n-gram ending at p, packed
        previous_unique = None
        for n in range(1, order + 1):
            if n > 1:
                grams = np.concatenate([[np.uint64(0)], grams[:-1]]) << shift | tokens
            unique, counts = np.unique(grams[real], return_counts=True)
            model.keys[n] = unique
            model.raw[n] = _table(unique, counts.astype(np.int64), model.bits)
            if previous_unique is not None:  # continuation counts of order n - 1
                model._continuation(n - 1, unique, previous_unique)
            previous_unique = unique
        return model

    def _continuation(self, n: int, longer: np.ndarray, keys: np.ndarray) -> None:
        """N1+(. g): distinct left neighbours of each n-gram g, from the (n+1)-grams."""
        suffix = longer & np.uint64((1 << (self.bits * n)) - 1)
        values, counts = np.unique(suffix, return_counts=True)
        index = np.searchsorted(values, keys)
        index = np.minimum(index, len(values) - 1)
        found = values[index] == keys
        cont = np.where(found, counts[index], 0).astype(np.int64)
        self.continuation[n] = _table(keys, np.maximum(cont, 1), self.bits)

    # ----------------------------------------------------------------- scoring
    def log_probs(
        self, histories: np.ndarray, targets: np.ndarray, order: int | None = None
    ) -> np.ndarray:
        """Natural-log probabilities of `targets` (Q,) after `histories` (Q, >= order - 1).

        The last order - 1 ids of each history row are used; pad them with `self.pad`.
        """
        order = order or self.order
        if not 1 <= order <= self.order:
            raise ValueError(f"order {order} is outside 1..{self.order} that this model counted")
        histories = np.asarray(histories, dtype=np.uint64)
        targets = np.asarray(targets, dtype=np.uint64)
        shift = np.uint64(self.bits)
        p = np.full(len(targets), 1.0 / self.vocab_size)
        for n in range(1, order + 1):
            table = self.raw[n] if n == order else self.continuation[n]
            context = np.zeros(len(targets), dtype=np.uint64)
            for j in range(n - 1):
                context = context << shift | histories[:, histories.shape[1] - (n - 1) + j]
            h = np.minimum(
                np.searchsorted(table.context_keys, context), len(table.context_keys) - 1
            )
            seen = table.context_keys[h] == context
            keys = self.keys[n]
            gram = context << shift | targets
            g = np.minimum(np.searchsorted(keys, gram), len(keys) - 1)
            count = np.where(keys[g] == gram, table.counts[g], 0)
            lower = (np.maximum(count - table.discounts[np.minimum(count, 3)], 0)
                     + table.gamma[h] * p) / table.total[h]  # fmt: skip
            p = np.where(seen, lower, p)
        return np.log(p)

    def window_log_probs(
        self, inputs: np.ndarray, targets: np.ndarray, order: int | None = None
    ) -> np.ndarray:
        """Log-probabilities of every target != IGNORE of fixed windows, in row-major order.

        `inputs` and `targets` are (W, T) as the model sees them: targets[w, t] follows
        inputs[w, : t + 1], so both models are scored on exactly the same tokens.
        """
        order = order or self.order
        inputs = np.asarray(inputs, dtype=np.int64)
        padded = np.concatenate(
            [np.full((len(inputs), max(order - 1, 1)), self.pad), inputs], axis=1
        )  # (W, T + order - 1)
        width = max(order - 1, 1)
        # history of position t: padded[t + 1 : t + width + 1] = the last order - 1 inputs.
        windows = np.lib.stride_tricks.sliding_window_view(padded[:, 1:], width, axis=1)
        valid = np.asarray(targets) != IGNORE  # (W, T)
        hist = windows[:, : inputs.shape[1]][valid]  # (Q, width)
        return self.log_probs(hist, np.asarray(targets)[valid], order)
