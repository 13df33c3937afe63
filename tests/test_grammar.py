"""The grammar mask on a real BPE vocabulary: every allowed id keeps the sequence musical."""

from __future__ import annotations

import numpy as np

from musegen.data import Shards
from musegen.grammar import TYPES, Constraints, Grammar


def test_first_token_opens_a_bar_and_overlong_bars_must_close(small_shards):
    tok = Shards.open(small_shards).tokenizer
    grammar = Grammar(tok, Constraints(meter=(4, 4)), max_bar_tokens=3)
    state = grammar.start(1)
    first = grammar.mask(state)[0].numpy()
    assert first.any() and all(tok.base_tokens[i][0] == "Bar_None" for i in np.flatnonzero(first))
    # walk grammatical steps avoiding Bars: past the limit, the first moment a Bar may come,
    # only Bar-holding ids remain; before that, every row keeps some allowed id
    rng = np.random.default_rng(0)
    closed = False
    for _ in range(60):
        allowed = grammar.mask(state)[0].numpy()
        assert allowed.any()
        if state.since_bar[0] >= 3 and (allowed & (tok.bar_count > 0)).any():
            assert all(tok.bar_count[i] > 0 for i in np.flatnonzero(allowed))
            closed = True
            break
        if state.since_bar[0] > 0 or state.bars[0] > 0:
            allowed &= tok.bar_count == 0
        grammar.advance(state, np.array([rng.choice(np.flatnonzero(allowed))]))
    assert closed


def test_constraints_exclude_tempo_specials_and_drums_on_melodic_programs(small_shards):
    tok = Shards.open(small_shards).tokenizer
    grammar = Grammar(tok, Constraints(meter=(3, 4), programs={52}, pitch_range=(60, 72)))
    # reachable states: a drum program is excluded, so the state after one never occurs
    reachable = [s for s in range(len(TYPES) + 1) if s != TYPES.index("ProgramDrum")]
    allowed_anywhere = grammar.valid[reachable].any(0)
    for i in np.flatnonzero(allowed_anywhere):
        for base in tok.base_tokens[i]:
            kind, _, value = base.partition("_")
            assert kind not in ("Tempo", "Style", "Mood", "PAD", "EOS", "PitchDrum")
            if kind == "Pitch":
                assert 60 <= int(value) <= 72
            if kind == "Program":
                assert int(value) == 52
            if kind == "TimeSig":
                assert value == "3/4"
