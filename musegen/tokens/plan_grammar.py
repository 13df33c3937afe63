"""The grammar of a stream with bar plans: four plan tokens, in order, before every Bar.

Wraps the REMI grammar (musegen.tokens.grammar) without changing it: where the REMI grammar
would let a Bar come next, the plan's first token comes instead; then each kind in its order
(musegen.tokens.controls.PLAN_KINDS); then only a Bar. Plan tokens leave the REMI state as it
was. What a plan may say for each new bar is the user's to restrict: `allowed(bar, kind)`
gives the plan values allowed for new bar number `bar` (0 = the first new bar), or None for
any value the model likes (it then plans the bar itself).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from musegen.tokens.controls import PLAN_KINDS, plan_values
from musegen.tokens.grammar import Grammar, GrammarState

AllowedPlan = Callable[[int, str], "set[str] | None"]


class PlanGrammar:
    """Grammar with plans: the same start / mask / advance as Grammar, over a plan-aware state."""

    def __init__(self, grammar: Grammar, allowed: AllowedPlan | None = None):
        self.grammar = grammar
        self.allowed = allowed or (lambda bar, kind: None)
        tok = grammar.tokenizer
        self.vocab = tok.vocab_size
        self.opens_bar = torch.from_numpy(tok.starts_bar)  # ids that begin with a Bar
        values = plan_values()
        self.kind_ids = {k: {v: tok.token_id(f"{k}_{v}") for v in values[k]} for k in PLAN_KINDS}
        self.is_plan = np.zeros(self.vocab, dtype=bool)
        for ids in self.kind_ids.values():
            self.is_plan[list(ids.values())] = True

    # the REMI grammar's own attributes, read through
    def __getattr__(self, name: str):
        return getattr(self.grammar, name)

    def start(self, batch: int) -> GrammarState:
        return self.grammar.start(batch)

    def _plan_mask(self, bar: int, kind: str) -> torch.Tensor:
        ids = self.kind_ids[kind]
        asked = self.allowed(bar, kind)
        mask = torch.zeros(self.vocab, dtype=torch.bool)
        mask[[i for v, i in ids.items() if asked is None or v in asked]] = True
        return mask

    def mask(self, state: GrammarState) -> torch.Tensor:
        """(B, V) bool: a plan token, a Bar after a whole plan, or what REMI allows."""
        remi = self.grammar.mask(state)  # plan ids are never allowed by REMI's own tables
        out = remi.clone()
        for row, step in enumerate(state.plan_step.tolist()):
            bar = int(state.bars[row])  # new bars opened so far: the plan is for the next
            if step == len(PLAN_KINDS):
                out[row] = remi[row] & self.opens_bar
            elif step > 0:
                out[row] = self._plan_mask(bar, PLAN_KINDS[step])
            elif (remi[row] & self.opens_bar).any():
                out[row] = remi[row] & ~self.opens_bar
                out[row] |= self._plan_mask(bar, PLAN_KINDS[0])
        return out

    def advance(self, state: GrammarState, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        plan = self.is_plan[ids]
        if plan.all():
            state.plan_step = state.plan_step + 1
            return
        before = {f: getattr(state, f).copy() for f in ("last_type", "position", "bars",
                  "since_bar", "program", "last_pitch", "notes_here", "bar_notes")}  # fmt: skip
        safe = np.where(plan, ids[~plan][0] if (~plan).any() else 0, ids)
        self.grammar.advance(state, safe)
        for name, old in before.items():  # rows that wrote a plan token keep their REMI state
            getattr(state, name)[plan] = old[plan]
        state.plan_step = np.where(plan, state.plan_step + 1, 0)
