"""The grammar mask on a real BPE vocabulary: every allowed id keeps the sequence musical."""

from __future__ import annotations

import numpy as np
import pytest

from musegen.data.shards import Shards
from musegen.tokens.grammar import TYPES, Constraints, Grammar


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


def _notes_by_position(tok, ids: list[int]) -> list[list[tuple[int, int]]]:
    """(program, pitch) of the notes of each Position, in order, from generated ids."""
    groups: list[list[tuple[int, int]]] = [[]]
    program = None
    for base in tok.to_base(ids):
        kind, _, value = base.partition("_")
        if kind in ("Bar", "Position"):
            groups.append([])
        elif kind == "Program":
            program = int(value)
        elif kind == "Pitch":
            groups[-1].append((program, int(value)))
    return groups


def test_notes_on_one_position_rise_and_are_capped(small_shards):
    """A sampler that always prefers another note on the same position (the stacking failure)
    still gets strictly rising pitches per program and at most max_notes_here notes."""
    tok = Shards.open(small_shards).tokenizer
    grammar = Grammar(tok, Constraints(meter=(4, 4), programs={0, 52}), max_notes_here=5)
    opens = (grammar.lead_notes > 0) & (grammar.first_pos < 0)
    rng = np.random.default_rng(1)
    state, ids = grammar.start(1), []
    for _ in range(400):
        allowed = grammar.mask(state)[0].numpy()
        assert allowed.any()
        stacking = allowed & opens & (tok.bar_count == 0)
        choice = np.flatnonzero(stacking if stacking.any() else allowed)
        ids.append(int(rng.choice(choice)))
        grammar.advance(state, np.array(ids[-1:]))
    groups = _notes_by_position(tok, ids)
    assert max(len(g) for g in groups) == 5  # the walk did stack up to the cap
    for notes in groups:
        for program in {p for p, _ in notes}:
            pitches = [pitch for p, pitch in notes if p == program]
            assert pitches == sorted(set(pitches)), notes  # no duplicate, rising
    # the corpus itself obeys the rule the grammar enforces
    shards = Shards.open(small_shards)
    for piece in shards.index[:20]:
        for notes in _notes_by_position(tok, shards.piece_tokens(piece).tolist()):
            for program in {p for p, _ in notes}:
                pitches = [pitch for p, pitch in notes if p == program]
                assert pitches == sorted(set(pitches))


def test_every_bar_holds_a_note_even_for_a_sampler_that_wants_to_end(small_shards):
    """A model that reads the seed's end as the end of the piece prefers to close bars at once
    (empty bars); the grammar lets a Bar through only once the bar holds a note."""
    tok = Shards.open(small_shards).tokenizer
    grammar = Grammar(tok, Constraints(meter=(4, 4)))
    rng = np.random.default_rng(2)
    state, ids = grammar.start(1), []
    for _ in range(300):
        allowed = grammar.mask(state)[0].numpy()
        closing = allowed & (tok.bar_count > 0)
        ids.append(int(rng.choice(np.flatnonzero(closing if closing.any() else allowed))))
        grammar.advance(state, np.array(ids[-1:]))
    bars, pitches = [], None
    for base in tok.to_base(ids):
        if base.startswith("Bar"):
            if pitches is not None:
                bars.append(pitches)
            pitches = 0
        elif base.startswith("Pitch"):
            pitches += 1
    assert len(bars) >= 20 and min(bars) >= 1  # the walk closed many bars, none of them empty


@pytest.mark.parametrize(
    "constraints",
    [
        # no melodic pitch left (F# is not in C major) while drums are allowed: found by a
        # random walk that picked the piano's Program and then had no pitch to write
        Constraints(meter=(3, 4), programs={0, -1}, pitch_range=(54, 54), scale=frozenset(
            {0, 2, 4, 5, 7, 9, 11})),
        Constraints(meter=(7, 8), programs={40}, pitch_range=(60, 61), scale=frozenset({1, 6})),
        Constraints(meter=(4, 4), programs=None, pitch_range=(90, 90)),
    ],
)  # fmt: skip
def test_random_walks_under_narrow_constraints_never_dead_end(small_shards, constraints):
    tok = Shards.open(small_shards).tokenizer
    grammar = Grammar(tok, constraints, max_notes_here=2)
    assert grammar.writes_notes
    rng = np.random.default_rng(3)
    state = grammar.start(4)
    for _ in range(300):
        allowed = grammar.mask(state).numpy()
        assert allowed.any(1).all()  # every row can go on
        grammar.advance(state, np.array([rng.choice(np.flatnonzero(row)) for row in allowed]))


@pytest.mark.parametrize("meter", [(4, 4), (3, 4), (7, 8), (5, 8), (3, 2)])
def test_positions_stay_inside_the_bar_of_the_meter(small_shards, meter):
    """miditok counts numerator x max_num_pos_per_beat positions in a bar; a later Position
    decodes into the next bar, where placing the new bars dropped its notes."""
    tok = Shards.open(small_shards).tokenizer
    known = {b for base in tok.base_tokens for b in base if b.startswith("TimeSig_")}
    if f"TimeSig_{meter[0]}/{meter[1]}" not in known:
        pytest.skip(f"the test vocabulary has no {meter[0]}/{meter[1]}")
    grammar = Grammar(tok, Constraints(meter=meter))
    per_bar = meter[0] * tok.remi.config.max_num_pos_per_beat
    reachable = grammar.valid.any(0)
    positions = {int(b.split("_")[1]) for v in np.flatnonzero(reachable)
                 for b in tok.base_tokens[v] if b.startswith("Position_")}  # fmt: skip
    assert positions and max(positions) == per_bar - 1
    # the last allowed position decodes inside the bar
    meter_token, last = f"TimeSig_{meter[0]}/{meter[1]}", f"Position_{per_bar - 1}"
    note = ["Program_0", "Pitch_60", "Velocity_79", "Duration_0.1.12"]
    ids = tok.from_base(["Bar_None", meter_token, last, *note, "Bar_None"])
    score = tok.decode(ids)
    bar = round(meter[0] * score.ticks_per_quarter * 4 / meter[1])
    assert 0 < score.tracks[0].notes[0].time < bar


@pytest.mark.parametrize(
    "meter,written,last",
    [((3, 1), (12, 4), 143), ((10, 8), (5, 4), 59), ((7, 2), (7, 4), 83), ((11, 16), (6, 8), 65),
     ((1, 8), (2, 8), 11)],
)  # fmt: skip
def test_a_meter_missing_from_the_vocabulary_is_forced_to_fit(small_shards, meter, written,
                                                              last):  # fmt: skip
    """3/1 has no TimeSig token: forcing 12/4 (and its 144 positions) keeps every new note in
    the seed's bar (7/2: each half of it in 7/4; 11/16: the first 66 positions of 6/8); before,
    the model wrote any meter and notes past the seed's bar were dropped."""
    tok = Shards.open(small_shards).tokenizer
    grammar = Grammar(tok, Constraints(meter=meter))
    reachable = grammar.valid.any(0)
    base = {b for v in np.flatnonzero(reachable) for b in tok.base_tokens[v]}
    assert {b for b in base if b.startswith("TimeSig_")} == {"TimeSig_{}/{}".format(*written)}
    positions = {int(b.split("_")[1]) for b in base if b.startswith("Position_")}
    assert max(positions) == last
