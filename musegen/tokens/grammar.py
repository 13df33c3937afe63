"""Masks that keep sampled token sequences musical: REMI grammar and user constraints.

With BPE one id stands for several base tokens, so every id is checked once, up front, by
running its base tokens through miditok's token-type graph. Each step then only combines a
few precomputed tables: sampling stays fast and every sampled id decodes to valid notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from musegen.music.instruments import DRUMS
from musegen.tokens.tokenizer import MuseTokenizer

TYPES = ("Bar", "TimeSig", "Position", "Tempo", "Program", "ProgramDrum", "Pitch", "PitchDrum",
         "Velocity", "Duration")  # fmt: skip
START = len(TYPES)  # state before the first generated token: a bar must come first


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
    """Per row: last base-token type, last Position in the bar, and the last note there."""

    last_type: np.ndarray  # (B,) int
    position: np.ndarray  # (B,) int, -1 right after a Bar
    bars: np.ndarray = field(default=None)  # (B,) Bar tokens generated so far
    since_bar: np.ndarray = field(default=None)  # (B,) ids sampled since the last Bar
    program: np.ndarray = field(default=None)  # (B,) last Program value (NONE: none yet)
    last_pitch: np.ndarray = field(default=None)  # (B, SLOTS) per program at this Position
    notes_here: np.ndarray = field(default=None)  # (B,) notes at the current Position
    bar_notes: np.ndarray = field(default=None)  # (B,) notes since the last Bar
    plan_step: np.ndarray = field(default=None)  # (B,) plan tokens written before the next Bar


NONE = -9  # no program yet; also "the id leaves this value as it was"
INHERIT = -8  # the id's first note plays the program already in force
SLOTS = 130  # last_pitch columns: drums, programs 0-127, NONE


def _slot(program: np.ndarray | int) -> np.ndarray | int:
    return np.where(program == NONE, SLOTS - 1, program - DRUMS)


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
        self,
        tokenizer: MuseTokenizer,
        constraints: Constraints,
        max_bar_tokens: int = 256,
        max_notes_here: int = 12,
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
        # Notes at one Position with one program come in strictly rising pitch (miditok's
        # order; checked on the corpus). Enforcing it stops a known failure: a model piling
        # the same pitch onto one position again and again (stacked duplicate notes).
        self.lead: list[list[tuple[int, int]]] = [[] for _ in range(vocab)]  # before a Position
        self.end_program = np.full(vocab, NONE, dtype=np.int64)  # NONE: unchanged
        self.resets = np.zeros(vocab, dtype=bool)  # holds a Bar or Position
        self.notes_after: list[list[tuple[int, int]]] = [[] for _ in range(vocab)]
        # At most max_notes_here notes start on one Position (the corpus has at most 10).
        self.max_notes_here = max_notes_here
        # Every note has its own Program token, so Programs count notes, a note committed to
        # by a trailing Program included.
        self.lead_notes = np.zeros(vocab, dtype=np.int64)  # Programs before a Position
        self.tail_notes = np.full(vocab, -1, dtype=np.int64)  # after the last one; -1: none
        # Every new bar holds a note. A model that reads the seed's end as the end of a piece
        # otherwise writes empty bars (all 4 new bars of a whole folk song as seed; 6% of new
        # bars after whole pieces against 1% after cut ones), though the user asked for music.
        # Here Pitches count notes: the bar holds one once its first Pitch is written.
        self.opens_empty = np.zeros(vocab, dtype=bool)  # a Bar before any Pitch in the id
        self.bar_pitches = np.zeros(vocab, dtype=np.int64)  # Pitches after its last Bar, or all
        self.forced_meter = (
            tokenizer.generation_meter(*constraints.meter) if constraints.meter else None
        )  # see _static_allowed
        allowed = self._static_allowed(constraints)
        for v, base in enumerate(tokenizer.base_tokens):
            types = [_type(b) for b in base]
            if not base or any(t not in index for t in types) or not allowed[v]:
                continue
            ok, pos, first, bar_seen, last = True, -1, -1, False, -2
            if any(b not in graph.get(a, ()) for a, b in zip(types, types[1:], strict=False)):
                ok = False
            ok = ok and self._note_order(v, base) and self._bar_pitches(v, types)
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
        # An id ending on a Program commits to one more note of it: only while a higher
        # allowed pitch is left for that program at this Position.
        pitches = [int(b[0][6:]) for v, b in enumerate(tokenizer.base_tokens)
                   if len(b) == 1 and b[0].startswith("Pitch_") and allowed[v]]  # fmt: skip
        self.top_pitch = max(pitches, default=127)
        # Whether the constraints leave a note to write at all (a melodic pitch for a melodic
        # program, or a drum for drums); without one every row dead-ends at its first Program.
        single = [(b[0].partition("_"), allowed[v]) for v, b in enumerate(tokenizer.base_tokens)
                  if len(b) == 1]  # fmt: skip
        programs = {int(value) for (kind, _, value), ok in single if kind == "Program" and ok}
        drums = any(kind == "PitchDrum" and ok for (kind, _, _), ok in single)
        # (melodic Programs are allowed only while a melodic pitch is: see _static_allowed)
        self.writes_notes = bool(programs - {DRUMS}) or (drums and DRUMS in programs)
        known = [int(value) for (kind, _, value), _ in single if kind == "Pitch"]
        self.known_pitches = (min(known, default=0), max(known, default=127))
        self.dangling = np.array([
            int(b[-1].split("_")[1]) if b and b[-1].startswith("Program_")
            and not self.resets[v] else NONE for v, b in enumerate(tokenizer.base_tokens)
        ])  # fmt: skip
        self.dangling_slot = _slot(self.dangling)
        # (V, K) pitch and program of each id's notes before its first Position; -1: none
        k = max(1, max(len(notes) for notes in self.lead))
        self.lead_pitch = np.full((vocab, k), -1, dtype=np.int64)
        self.lead_program = np.full((vocab, k), INHERIT, dtype=np.int64)
        for v, notes in enumerate(self.lead):
            for j, (program, pitch) in enumerate(notes):
                self.lead_program[v, j], self.lead_pitch[v, j] = program, pitch

    def _note_order(self, v: int, base: list[str]) -> bool:
        """Record id v's notes before and after its last Position; False if out of order."""
        program, opened = INHERIT, False
        last: dict[int, int] = {}  # program -> last pitch at this position, inside the id
        for tok in base:
            kind, _, value = tok.partition("_")
            if kind in ("Bar", "Position"):
                opened, last = True, {}
                self.resets[v], self.notes_after[v], self.tail_notes[v] = True, [], 0
            elif kind == "Program":
                program = int(value)
                self.end_program[v] = program
                if opened:
                    self.tail_notes[v] += 1
                else:
                    self.lead_notes[v] += 1
            elif kind == "Pitch":
                pitch = int(value)
                if pitch <= last.get(program, -1):
                    return False
                if not opened:
                    self.lead[v].append((program, pitch))
                last[program] = pitch
                self.notes_after[v].append((program, pitch))
        return True

    def _bar_pitches(self, v: int, types: list[str]) -> bool:
        """Record id v's Pitches in its last bar; False if a whole bar inside it is empty."""
        pitches, bars = 0, 0
        for t in types:
            if t == "Bar":
                if bars and not pitches:
                    return False
                self.opens_empty[v] |= bars == 0 and pitches == 0
                pitches, bars = 0, bars + 1
            elif t in ("Pitch", "PitchDrum"):
                pitches += 1
        self.bar_pitches[v] = pitches
        return True

    def _static_allowed(self, c: Constraints) -> np.ndarray:
        """Ids whose every base token satisfies the user's constraints."""
        # The meter forced after every Bar: the seed's, or the one its bars are written in (3/1
        # as 12/4, 7/2 as two bars of 7/4), or a longer one holding it (1/8 in 2/8). miditok
        # counts numerator x max_num_pos_per_beat positions in a bar, and the vocabulary holds
        # those of its longest meter; a Position past the seed's bar decodes into the next
        # bar, and such notes were dropped when placed (23% of the notes decoded in 5/8, 14% in
        # 5/4, 10% in 3/4, 2% in 4/4), so only positions inside the seed's bar are allowed.
        forced = self.forced_meter
        meter = f"{forced.numerator}/{forced.denominator}" if forced else None
        positions = forced.positions if forced else None

        def pitch_ok(p: int) -> bool:
            in_scale = c.scale is None or p % 12 in c.scale
            return c.pitch_range[0] <= p <= c.pitch_range[1] and in_scale

        # A melodic Program with no melodic pitch left to follow it would be a dead end (the
        # range and key bind melodic notes only; drums keep theirs).
        melodic = any(pitch_ok(int(b[0][6:])) for b in self.tokenizer.base_tokens
                      if len(b) == 1 and b[0].startswith("Pitch_"))  # fmt: skip
        out = np.ones(len(self.tokenizer.base_tokens), dtype=bool)
        for v, base in enumerate(self.tokenizer.base_tokens):
            for tok in base:
                kind, _, value = tok.partition("_")
                if kind == "Pitch":
                    bad = not pitch_ok(int(value))
                elif kind == "Program":
                    program = int(value)
                    bad = (c.programs is not None and program not in c.programs) or (
                        program != DRUMS and not melodic
                    )
                elif kind == "Position":
                    bad = positions is not None and int(value) >= positions
                elif kind == "Tempo":
                    bad = not c.allow_tempo
                elif kind == "TimeSig":
                    bad = meter is not None and value != meter
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
            program=np.full(batch, NONE, dtype=np.int64),
            last_pitch=np.full((batch, SLOTS), -1, dtype=np.int64),
            notes_here=np.zeros(batch, dtype=np.int64),
            bar_notes=np.ones(batch, dtype=np.int64),  # the opening Bar closes no new bar
            plan_step=np.zeros(batch, dtype=np.int64),
        )

    def mask(self, state: GrammarState) -> torch.Tensor:
        """(B, V) bool: ids allowed next for each row."""
        allowed = self.valid[state.last_type]  # (B, V)
        # A new Position inside the current bar must come after the last one.
        later = (self.first_pos[None, :] < 0) | (self.first_pos[None, :] > state.position[:, None])
        allowed = allowed & later
        # The rules below only ever remove ids, so they look at the ids some row still allows
        # (a few dozen after most tokens, of 2000): a decoding step's mask costs less.
        cols = np.flatnonzero(allowed.any(0))
        allowed[:, cols] = self._rules(state, allowed[:, cols], cols)
        return torch.from_numpy(allowed)

    def _rules(self, state: GrammarState, allowed: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The state-dependent rules on the columns ``cols`` of the mask: allowed is (B, C)."""
        # Each note of an id before its first Position must be higher than the last note of
        # its program at the current Position.
        repeat = np.zeros_like(allowed)
        for j in range(self.lead_pitch.shape[1]):
            pitch, program = self.lead_pitch[None, cols, j], self.lead_program[None, cols, j]
            program = np.where(program == INHERIT, state.program[:, None], program)  # (B, C)
            last = np.take_along_axis(state.last_pitch, _slot(program), axis=1)  # (B, C)
            repeat |= (pitch >= 0) & (pitch <= last)
        last = state.last_pitch[:, self.dangling_slot[cols]]  # (B, C)
        repeat |= (self.dangling[None, cols] != NONE) & (last >= self.top_pitch)
        crowded = state.notes_here[:, None] + self.lead_notes[None, cols] > self.max_notes_here
        empty = (state.bar_notes[:, None] == 0) & self.opens_empty[None, cols]  # closes a bare bar
        # A row a rule would shut completely (its last note already at the top of the allowed
        # pitches, say) drops it, the order first: a duplicate beats a dead end.
        for rule in (repeat | crowded, crowded, empty):
            kept = allowed & ~rule
            allowed = np.where(kept.any(1, keepdims=True), kept, allowed)
        overlong = state.since_bar >= self.max_bar_tokens
        if overlong.any():  # close the bar as soon as the grammar lets a Bar come next
            closing = allowed & (self.bar_count[None, cols] > 0)
            rows = overlong & closing.any(1)
            allowed[rows] = closing[rows]
        return allowed

    def advance(self, state: GrammarState, ids: np.ndarray) -> None:
        """Update the state with the ids just sampled: (B,)."""
        ids = np.asarray(ids, dtype=np.int64)
        state.last_type = self.end_type[ids]
        state.bars = state.bars + self.bar_count[ids]
        state.since_bar = np.where(self.bar_count[ids] > 0, 0, state.since_bar + 1)
        pitches = self.bar_pitches[ids]
        state.bar_notes = np.where(self.bar_count[ids] > 0, pitches, state.bar_notes + pitches)
        sets = self.last_pos[ids]
        state.position = np.where(sets >= -1, sets, state.position)
        for row, v in enumerate(ids):
            if self.resets[v]:
                state.last_pitch[row] = -1
            for program, pitch in self.notes_after[v]:
                program = state.program[row] if program == INHERIT else program
                state.last_pitch[row, _slot(program)] = pitch
        tail = self.tail_notes[ids]
        state.notes_here = np.where(tail >= 0, tail, state.notes_here + self.lead_notes[ids])
        ends = self.end_program[ids]
        state.program = np.where(ends == NONE, state.program, ends)
