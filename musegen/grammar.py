"""Masks that keep sampled token sequences musical: REMI grammar and user constraints.

With BPE one id stands for several base tokens, so every id is checked once, up front, by
running its base tokens through miditok's token-type graph. Each step then only combines a
few precomputed tables: sampling stays fast and every sampled id decodes to valid notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from musegen.tokenizer import MuseTokenizer

TYPES = ("Bar", "TimeSig", "Position", "Tempo", "Program", "ProgramDrum", "Pitch", "PitchDrum",
         "Velocity", "Duration")  # fmt: skip
START = len(TYPES)  # state before the first generated token: a bar must come first
DRUMS = -1  # miditok's Program value for drums


@dataclass
class Constraints:
    """What the user allows in the new material."""

    meter: tuple[int, int] | None = None  # forced TimeSig after every Bar
    programs: set[int] | None = None  # allowed programs (-1 = drums); None = any
    pitch_range: tuple[int, int] = (0, 127)
    scale: frozenset[int] | None = None  # allowed pitch classes of melodic notes
    allow_tempo: bool = False  # new material keeps the seed's tempo by default


@dataclass
class GrammarState:
    """Per row: last base-token type and last Position in the current bar."""

    last_type: np.ndarray  # (B,) int
    position: np.ndarray  # (B,) int, -1 right after a Bar
    bars: np.ndarray = field(default=None)  # (B,) Bar tokens generated so far
    since_bar: np.ndarray = field(default=None)  # (B,) ids sampled since the last Bar


def _type(base_token: str) -> str:
    """Base token type, with drums' Program told apart: only drum pitches may follow it."""
    return "ProgramDrum" if base_token == f"Program_{DRUMS}" else base_token.split("_", 1)[0]


def _graph(tokenizer: MuseTokenizer) -> dict[str, set[str]]:
    """miditok's token-type graph, refined so pitches match their program's kind."""
    graph = {k: set(v) for k, v in tokenizer.remi.tokens_types_graph.items()}
    for successors in graph.values():
        if "Program" in successors:
            successors.add("ProgramDrum")
    graph["ProgramDrum"] = {"PitchDrum"}
    graph["Program"] = graph.get("Program", set()) - {"PitchDrum"}
    return graph


class Grammar:
    """Precomputed per-id tables over a tokenizer's vocabulary for one set of constraints."""

    def __init__(
        self, tokenizer: MuseTokenizer, constraints: Constraints, max_bar_tokens: int = 256
    ):
        self.tokenizer = tokenizer
        # A bar longer than this must close: a model stuck at the end of a bar (notes piling
        # up on its last position) could otherwise generate forever.
        self.max_bar_tokens = max_bar_tokens
        graph = _graph(tokenizer)
        index = {t: i for i, t in enumerate(TYPES)}
        vocab = len(tokenizer.base_tokens)
        # valid[s, v]: id v may follow a token of type s (START: first token of a bar).
        self.valid = np.zeros((len(TYPES) + 1, vocab), dtype=bool)
        self.end_type = np.zeros(vocab, dtype=np.int64)
        self.first_pos = np.full(vocab, -1, dtype=np.int64)  # before any Bar inside the id
        self.last_pos = np.full(vocab, -2, dtype=np.int64)  # -2: id sets no position
        self.bar_count = tokenizer.bar_count.astype(np.int64)
        allowed = self._static_allowed(constraints)
        for v, base in enumerate(tokenizer.base_tokens):
            types = [_type(b) for b in base]
            if not base or any(t not in index for t in types) or not allowed[v]:
                continue
            ok, pos, first, bar_seen, last = True, -1, -1, False, -2
            if any(b not in graph.get(a, ()) for a, b in zip(types, types[1:], strict=False)):
                ok = False
            for t, tok in zip(types, base, strict=True):
                if t == "Bar":
                    bar_seen, pos, last = True, -1, -1
                elif t == "Position":
                    value = int(tok.split("_")[1])
                    if value <= pos:
                        ok = False
                    pos, last = value, value
                    if not bar_seen and first < 0:
                        first = value
            if not ok:
                continue
            self.end_type[v] = index[types[-1]]
            self.first_pos[v], self.last_pos[v] = first, last
            for s, prev in enumerate(TYPES):
                self.valid[s, v] = types[0] in graph.get(prev, ())
            self.valid[START, v] = types[0] == "Bar"
        self._table = torch.from_numpy(self.valid)

    def _static_allowed(self, c: Constraints) -> np.ndarray:
        """Ids whose every base token satisfies the user's constraints."""
        meter = f"{c.meter[0]}/{c.meter[1]}" if c.meter else None
        known_meters = {
            b for ts in self.tokenizer.base_tokens for b in ts if b.startswith("TimeSig_")
        }
        force_meter = meter is not None and f"TimeSig_{meter}" in known_meters
        out = np.ones(len(self.tokenizer.base_tokens), dtype=bool)
        for v, base in enumerate(self.tokenizer.base_tokens):
            for tok in base:
                kind, _, value = tok.partition("_")
                if kind == "Pitch":
                    p = int(value)
                    bad = not (c.pitch_range[0] <= p <= c.pitch_range[1]) or (
                        c.scale is not None and p % 12 not in c.scale
                    )
                elif kind == "Program":
                    bad = c.programs is not None and int(value) not in c.programs
                elif kind == "Tempo":
                    bad = not c.allow_tempo
                elif kind == "TimeSig":
                    bad = force_meter and value != meter
                else:
                    bad = kind not in TYPES  # specials (Style, Mood, PAD, EOS) never sampled
                if bad:
                    out[v] = False
                    break
        return out

    def start(self, batch: int) -> GrammarState:
        return GrammarState(
            last_type=np.full(batch, START, dtype=np.int64),
            position=np.full(batch, -1, dtype=np.int64),
            bars=np.zeros(batch, dtype=np.int64),
            since_bar=np.zeros(batch, dtype=np.int64),
        )

    def mask(self, state: GrammarState) -> torch.Tensor:
        """(B, V) bool: ids allowed next for each row."""
        allowed = self.valid[state.last_type]  # (B, V)
        # A new Position inside the current bar must come after the last one.
        later = (self.first_pos[None, :] < 0) | (self.first_pos[None, :] > state.position[:, None])
        allowed = allowed & later
        overlong = state.since_bar >= self.max_bar_tokens
        if overlong.any():  # close the bar as soon as the grammar lets a Bar come next
            closing = allowed & (self.bar_count[None, :] > 0)
            rows = overlong & closing.any(1)
            allowed[rows] = closing[rows]
        return torch.from_numpy(allowed)

    def advance(self, state: GrammarState, ids: np.ndarray) -> None:
        """Update the state with the ids just sampled: (B,)."""
        ids = np.asarray(ids, dtype=np.int64)
        state.last_type = self.end_type[ids]
        state.bars = state.bars + self.bar_count[ids]
        state.since_bar = np.where(self.bar_count[ids] > 0, 0, state.since_bar + 1)
        sets = self.last_pos[ids]
        state.position = np.where(sets >= -1, sets, state.position)
