"""Control tokens, bar plans and the fill-in-the-middle layout (musegen.tokens), no model.

Scores are built in code with symusic; the tokenizer is a real miditok REMI, untrained BPE
unless a test trains one on a few pieces of its own.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.tokens.controls import (
    ANY,
    HOLE,
    INFILL,
    PLAN_KINDS,
    control_tokens,
    key_value,
    parse_key,
    plan_tokens,
    plan_values,
)
from musegen.tokens.grammar import Constraints, Grammar
from musegen.tokens.layout import (
    NO_KEY,
    bar_plan_codes,
    infill_layout,
    plans_of_ids,
    split_bars,
    take_programs,
    with_plans,
)
from musegen.tokens.plan_grammar import PlanGrammar
from musegen.tokens.tokenizer import EXTRA_KEY, MuseTokenizer

TPQ = 480
BAR = 4 * TPQ
PIANO, BASS, FLUTE = 0, 33, 73


@pytest.fixture(scope="module")
def tok() -> MuseTokenizer:
    return MuseTokenizer.create(["chorale"])


def score(parts: dict[int, list[tuple[int, int, int, int]]], meter=(4, 4)) -> Score:
    """A score of one track per program (-1: drums) holding (time, duration, pitch, velocity)."""
    s = Score(TPQ)
    s.tempos.append(Tempo(0, 120.0))
    s.time_signatures.append(TimeSignature(0, *meter))
    for program, notes in parts.items():
        track = Track(name=f"p{program}", program=max(program, 0), is_drum=program == -1)
        track.notes.extend(Note(*n) for n in notes)
        s.tracks.append(track)
    return s


def band(bars: int = 2) -> Score:
    """Piano chords on every beat and a bass on beats 1 and 3, `bars` bars of 4/4."""
    piano, bass = [], []
    for b in range(bars):
        root = (60, 65, 67, 60)[b % 4]
        for q in range(4):
            piano += [(b * BAR + q * TPQ, TPQ, root + i, 80) for i in (0, 4, 7)]
        bass += [(b * BAR, 2 * TPQ, root - 24, 96), (b * BAR + 2 * TPQ, 2 * TPQ, root - 17, 96)]
    return score({PIANO: piano, BASS: bass})


def notes_of(s: Score) -> dict[int, list[tuple[int, int, int, int]]]:
    """program -> sorted (time, duration, pitch, velocity) of a decoded score."""
    out: dict[int, list] = {}
    for track in s.tracks:
        program = -1 if track.is_drum else track.program
        out.setdefault(program, []).extend(
            (n.time, n.duration, n.pitch, n.velocity) for n in track.notes
        )
    return {p: sorted(v) for p, v in out.items() if v}


@pytest.fixture(scope="module")
def bpe_tok(tmp_path_factory) -> MuseTokenizer:
    """A tokenizer with BPE trained on a few band pieces, so ids merge notes of both parts."""
    folder = tmp_path_factory.mktemp("bpe")
    paths = []
    for k in range(6):
        s = band(8).shift_pitch(k - 3)
        path = folder / f"band{k}.mid"
        s.dump_midi(str(path))
        paths.append(path)
    t = MuseTokenizer.create(["chorale"])
    before = t.token_id("Hole_None")  # looked up before training: the ids must follow
    t.train_bpe(paths, vocab_size=len(t.remi) + 60)
    assert t.remi.is_trained
    assert t.token_id("Hole_None") == before + 60 == len(t.remi) + t.extra.index("Hole_None")
    return t


# --------------------------------------------------------------------------- the tokens


def test_control_tokens_take_the_ids_after_miditoks(tok):
    names = control_tokens()
    assert len(names) == len(set(names)) == 25 + 8 + 8 + 7 + 2
    assert names[-2:] == [HOLE, INFILL]
    assert tok.extra == names
    base = len(tok.remi)
    assert tok.vocab_size == base + len(names)
    assert [tok.token_id(n) for n in names] == list(range(base, base + len(names)))
    assert all(tok.is_extra(tok.token_id(n)) for n in names)
    assert not tok.is_extra(tok.token_id("Style_chorale"))
    assert tok.has_controls
    assert not MuseTokenizer.create(["chorale"], controls=False).has_controls


def test_plan_values_and_keys_round_trip():
    values = plan_values()
    assert list(values) == list(PLAN_KINDS)
    assert all(v[-1] == ANY for v in values.values())
    assert values["Density"][:-1] == [str(i) for i in range(7)]
    assert values["Register"][:-1] == [str(i) for i in range(6)]
    keys = values["Key"][:-1]
    assert len(keys) == len(set(keys)) == 24
    assert [parse_key(k) for k in keys] == [(t, m) for m in ("major", "minor") for t in range(12)]
    assert key_value(9, "minor") == "A-minor"
    assert key_value(None, "major") == ANY and parse_key(ANY) is None
    assert plan_tokens({"Density": "3"}) == ["Key_any", "Density_3", "Polyphony_any",
                                             "Register_any"]  # fmt: skip


def test_save_load_keeps_the_extra_tokens_and_their_ids(tok, tmp_path):
    path = tok.save(tmp_path / "tokenizer.json")
    assert json.loads(path.read_text())[EXTRA_KEY] == tok.extra
    loaded = MuseTokenizer.load(path)
    assert loaded == tok
    assert loaded.vocab_size == tok.vocab_size
    for name in (HOLE, INFILL, "Key_A-minor", "Density_0", "Register_any"):
        assert loaded.token_id(name) == tok.token_id(name)
    assert loaded.has_controls
    plain = MuseTokenizer.create(["chorale"], controls=False)
    back = MuseTokenizer.load(plain.save(tmp_path / "plain.json"))
    assert back.extra == [] and back.vocab_size == len(back.remi) == len(plain.remi)


def test_save_load_keeps_trained_bpe_ids(bpe_tok, tmp_path):
    loaded = MuseTokenizer.load(bpe_tok.save(tmp_path / "tokenizer.json"))
    s = band(4)
    assert loaded.encode(s) == bpe_tok.encode(s)
    assert loaded.token_id(INFILL) == bpe_tok.token_id(INFILL) == bpe_tok.vocab_size - 1


def test_with_extra_adds_a_style_without_moving_any_id(tok, tmp_path):
    grown = tok.with_extra(["Style_jazz", "Style_jazz", HOLE])
    assert grown.vocab_size == tok.vocab_size + 1  # the repeat and the known token add nothing
    assert grown.token_id("Style_jazz") == tok.vocab_size
    for name in [*tok.extra, "Style_chorale", "Style_any", "Mood_happy", "EOS_None"]:
        assert grown.token_id(name) == tok.token_id(name)
    assert grown.styles == ["chorale", "jazz"] and tok.styles == ["chorale"]
    s = band(2)
    assert grown.encode(s) == tok.encode(s)
    loaded = MuseTokenizer.load(grown.save(tmp_path / "grown.json"))
    assert loaded.token_id("Style_jazz") == tok.vocab_size
    assert loaded.styles == ["chorale", "jazz"]
    assert grown.with_extra(["Style_jazz"]).vocab_size == grown.vocab_size


@pytest.mark.parametrize("which", ["plain", "bpe"])
def test_decode_ignores_control_ids(which, tok, bpe_tok):
    t = tok if which == "plain" else bpe_tok
    ids = t.encode(band(3))
    bars = split_bars(ids, t.starts_bar)
    plans = plans_of_ids(t, ids)
    stream = with_plans(t, bars, plans) + [t.token_id(HOLE), t.token_id(INFILL)]
    assert len(stream) == len(ids) + 4 * 3 + 2
    assert notes_of(t.decode(stream)) == notes_of(t.decode(ids))
    assert len(notes_of(t.decode(ids))[PIANO]) == 36


@pytest.mark.parametrize("which", ["plain", "bpe"])
def test_from_base_and_to_base_round_trip_with_control_tokens(which, tok, bpe_tok):
    t = tok if which == "plain" else bpe_tok
    ids = t.encode(band(2))
    bars = split_bars(ids, t.starts_bar)
    base = (plan_tokens({"Key": "C-major", "Density": "2"}) + t.to_base(bars[0])
            + [HOLE] + t.to_base(bars[1]) + [INFILL])  # fmt: skip
    back = t.from_base(base)
    assert t.to_base(back) == base
    # control tokens stand alone, at their own ids, never merged
    assert back[:4] == [t.token_id(n) for n in plan_tokens({"Key": "C-major", "Density": "2"})]
    assert back.count(t.token_id(HOLE)) == 1 and back[-1] == t.token_id(INFILL)
    assert back[4 : back.index(t.token_id(HOLE))] == bars[0]


# --------------------------------------------------------------------------- layouts


@pytest.mark.parametrize("which", ["plain", "bpe"])
def test_split_bars_cuts_at_every_bar(which, tok, bpe_tok):
    t = tok if which == "plain" else bpe_tok
    ids = t.encode(band(5))
    bars = split_bars(ids, t.starts_bar)
    assert len(bars) == 5 == int(t.bar_count[ids].sum())
    assert [i for bar in bars for i in bar] == ids
    assert all(t.starts_bar[bar[0]] for bar in bars)
    assert all(int(t.bar_count[bar].sum()) == 1 for bar in bars)
    lead = [t.token_id("Key_any")]  # ids before the first Bar join the first bar
    assert split_bars(lead + ids, t.starts_bar)[0] == lead + bars[0]
    assert split_bars([], t.starts_bar) == []


@pytest.mark.parametrize("which", ["plain", "bpe"])
def test_take_programs_splits_piano_from_bass(which, tok, bpe_tok):
    t = tok if which == "plain" else bpe_tok
    ids = t.encode(band(2))
    whole = notes_of(t.decode(ids))
    for b, bar in enumerate(split_bars(ids, t.starts_bar)):
        alone = notes_of(t.decode(bar))
        kept, taken = take_programs(t, bar, {BASS})
        kept_notes, taken_notes = notes_of(t.decode(kept)), notes_of(t.decode(taken))
        assert set(kept_notes) == {PIANO} and set(taken_notes) == {BASS}
        assert len(kept_notes[PIANO]) == 12 and len(taken_notes[BASS]) == 2
        assert kept_notes[PIANO] == alone[PIANO] and taken_notes[BASS] == alone[BASS]
        # both sides keep the bar line and the meter; only the first bar has the tempo
        for side in (t.to_base(kept), t.to_base(taken)):
            assert side[0] == "Bar_None" and side[1] == "TimeSig_4/4"
            assert sum(x.startswith("Tempo_") for x in side) == (b == 0)
        # no Position is written on a side that has nothing on it
        taken_base = t.to_base(taken)
        assert [x for x in taken_base if x.startswith("Position_")] == ["Position_0",
                                                                        "Position_24"]  # fmt: skip
    assert len(whole[PIANO]) == 24 and len(whole[BASS]) == 4
    if which == "bpe":  # some ids merge the end of one note with the next note's Program
        assert any("Program_33" in t.base_tokens[i] and len(t.base_tokens[i]) > 1 for i in ids)


def test_take_programs_of_all_leaves_an_empty_bar(tok):
    bar = split_bars(tok.encode(band(1)), tok.starts_bar)[0]
    kept, taken = take_programs(tok, bar, None)
    assert notes_of(tok.decode(kept)) == {}
    assert notes_of(tok.decode(taken)) == notes_of(tok.decode(bar))
    assert tok.to_base(kept) == ["Bar_None", "TimeSig_4/4", "Position_0", "Tempo_122.04"]
    kept, taken = take_programs(tok, bar, {FLUTE})  # a program the bar does not play
    assert kept == bar and notes_of(tok.decode(taken)) == {}


def _plan(k: int) -> dict[str, str]:
    return {"Key": key_value(k, "major"), "Density": str(k % 7), "Polyphony": "1",
            "Register": "3"}  # fmt: skip


@pytest.mark.parametrize("which", ["plain", "bpe"])
def test_with_plans_puts_four_plan_tokens_before_every_bar(which, tok, bpe_tok):
    t = tok if which == "plain" else bpe_tok
    bars = split_bars(t.encode(band(4)), t.starts_bar)
    plans = [_plan(0), None, _plan(5), {"Density": "6"}]
    stream = with_plans(t, bars, plans)
    assert len(stream) == sum(map(len, bars)) + 16
    opens = [k for k, i in enumerate(stream) if t.starts_bar[i]]
    assert len(opens) == 4
    expected = [plan_tokens(p or {}) for p in plans]
    for k, at in enumerate(opens):
        names = t.to_base(stream[at - 4 : at])
        assert [n.split("_", 1)[0] for n in names] == list(PLAN_KINDS)
        assert names == expected[k]
    assert t.to_base(stream[opens[1] - 4 : opens[1]]) == [f"{k}_any" for k in PLAN_KINDS]
    with pytest.raises(ValueError):
        with_plans(t, bars, plans[:3])  # one plan per bar


@pytest.mark.parametrize("which", ["plain", "bpe"])
def test_infill_layout_holes_the_region_and_moves_it_to_the_end(which, tok, bpe_tok):
    t = tok if which == "plain" else bpe_tok
    ids = t.encode(band(6))
    bars = split_bars(ids, t.starts_bar)
    plans = [_plan(k) for k in range(6)]
    context, middle = infill_layout(t, bars, plans, (2, 4), {BASS})
    hole, infill = t.token_id(HOLE), t.token_id(INFILL)
    assert context.count(infill) == 1 and context[-1] == infill
    assert infill not in middle and hole not in middle
    holes = [k for k, i in enumerate(context) if i == hole]
    assert len(holes) == 2
    assert all(t.starts_bar[context[k + 1]] for k in holes)  # a Hole, then its bar
    # the bars around the region stay whole, each with its own plan
    assert context[: holes[0]] == with_plans(t, bars[:2], plans[:2])
    after = context[holes[1] :]
    rest = next(k for k in range(1, len(after)) if t.is_extra(after[k]))
    assert after[rest:-1] == with_plans(t, bars[4:], plans[4:])
    # holed bars keep the piano only; the middle holds the region's bass only, with plans
    held = notes_of(t.decode(context))
    assert sorted(held) == [PIANO, BASS]
    assert len(held[PIANO]) == 6 * 12 and len(held[BASS]) == 4 * 2
    mid = notes_of(t.decode(middle))
    assert set(mid) == {BASS} and len(mid[BASS]) == 4
    whole = notes_of(t.decode(ids))[BASS]
    bar = 4 * t.remi.time_division  # the middle decodes from its own first bar
    assert [(n[0] + 2 * bar, *n[1:]) for n in mid[BASS]] == [
        n for n in whole if 2 * bar <= n[0] < 4 * bar
    ]
    opens = [k for k, i in enumerate(middle) if t.starts_bar[i]]
    assert len(opens) == 2
    assert [t.to_base(middle[k - 4 : k]) for k in opens] == [plan_tokens(plans[2]),
                                                             plan_tokens(plans[3])]  # fmt: skip


def test_infill_layout_of_all_tracks_leaves_bare_holes(tok):
    ids = tok.encode(band(3))
    bars = split_bars(ids, tok.starts_bar)
    context, middle = infill_layout(tok, bars, [None] * 3, (1, 2), None)
    assert context.count(tok.token_id(HOLE)) == 1
    kept = notes_of(tok.decode(context))
    assert len(kept[PIANO]) == 24 and len(kept[BASS]) == 4  # bar 2's notes all went
    assert notes_of(tok.decode(middle)) == notes_of(tok.decode(bars[1]))


# --------------------------------------------------------------------------- plans of music


def test_bar_plan_codes_read_key_density_and_polyphony(tok):
    scale = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60, 67]
    run = [(i * TPQ // 4, TPQ // 4, p, 80) for i, p in enumerate(scale)]  # 16 onsets, one voice
    chords = [(BAR + q * TPQ, TPQ, p, 80) for q in range(4) for p in (60, 64, 67)]  # 4 onsets
    ids = tok.encode(score({PIANO: run + chords}))
    codes = bar_plan_codes(tok, ids)
    assert codes.shape == (2, 4) and codes.dtype == np.uint8
    assert codes[:, 0].tolist() == [0, 0]  # C major (tonic 0, major)
    assert codes[0, 1] > codes[1, 1]  # 16 onsets denser than 4
    assert codes[:, 1].tolist() == [5, 2]
    assert codes[:, 2].tolist() == [1, 3]  # a melody, then three-note chords
    assert codes[:, 3].tolist() == [3, 3]  # C4-B4
    assert plans_of_ids(tok, ids)[1] == {"Key": "C-major", "Density": "2", "Polyphony": "3",
                                         "Register": "3"}  # fmt: skip


def test_bar_plan_codes_read_a_minor_bar_and_an_empty_piece(tok):
    chords = [(q * TPQ, TPQ, p, 80) for q in range(4) for p in (33, 36, 40)]
    tune = [(BAR + i * TPQ // 2, TPQ // 2, p, 80) for i, p in
            enumerate([69, 71, 72, 74, 76, 72, 68, 69])]  # fmt: skip
    ids = tok.encode(score({PIANO: chords + tune}))
    plans = plans_of_ids(tok, ids)
    assert [p["Key"] for p in plans] == ["A-minor", "A-minor"]
    assert [p["Register"] for p in plans] == ["1", "3"]  # below C3, then C4-B4
    assert [p["Density"] for p in plans] == ["2", "3"]
    assert bar_plan_codes(tok, []).shape == (0, 4)
    only_bar = tok.from_base(["Bar_None", "TimeSig_4/4"])
    empty = bar_plan_codes(tok, only_bar)
    assert empty.tolist() == [[NO_KEY, 0, 0, 0]]
    assert plans_of_ids(tok, only_bar) == [{"Key": ANY, "Density": "0", "Polyphony": "0",
                                            "Register": "0"}]  # fmt: skip


# --------------------------------------------------------------------------- PlanGrammar


@pytest.fixture(scope="module")
def grammar(tok) -> Grammar:
    return Grammar(tok, Constraints(meter=(4, 4), allow_tempo=True))


def _allowed(tok: MuseTokenizer, mask) -> set[str]:
    return {tok.to_base([i])[0] if len(tok.base_tokens[i]) == 1 else f"#{i}"
            for i in mask.nonzero().flatten().tolist()}  # fmt: skip


def _kind_only(tok, mask, kind: str) -> set[str]:
    names = _allowed(tok, mask)
    assert names and all(n.startswith(kind + "_") for n in names), sorted(names)[:5]
    return {n.split("_", 1)[1] for n in names}


def _write(pg: PlanGrammar, state, tok, name: str) -> None:
    i = tok.token_id(name) if name in tok.extra else tok.from_base([name])[0]
    assert bool(pg.mask(state)[0, i]), f"{name} not allowed"
    pg.advance(state, np.array([i]))


def test_plan_grammar_asks_a_whole_plan_before_every_bar(tok, grammar):
    pg = PlanGrammar(grammar)
    state = pg.start(1)
    assert _kind_only(tok, pg.mask(state)[0], "Key") == set(plan_values()["Key"])
    _write(pg, state, tok, "Key_G-major")
    assert _kind_only(tok, pg.mask(state)[0], "Density") == set(plan_values()["Density"])
    _write(pg, state, tok, "Density_3")
    assert _kind_only(tok, pg.mask(state)[0], "Polyphony") == set(plan_values()["Polyphony"])
    _write(pg, state, tok, "Polyphony_any")
    assert _kind_only(tok, pg.mask(state)[0], "Register") == set(plan_values()["Register"])
    _write(pg, state, tok, "Register_2")
    mask = pg.mask(state)[0]
    allowed = mask.nonzero().flatten().tolist()
    assert allowed and all(tok.starts_bar[i] for i in allowed)
    # exactly what the REMI grammar allows at the start of a piece
    assert mask.tolist() == grammar.mask(grammar.start(1))[0].tolist()
    assert not pg.is_plan[allowed].any()


def test_plan_tokens_leave_the_remi_state_as_it_was(tok, grammar):
    pg = PlanGrammar(grammar)
    state = pg.start(1)
    for name in plan_tokens({}):
        _write(pg, state, tok, name)
    assert state.bars.tolist() == [0] and state.plan_step.tolist() == [4]
    for name in ("Bar_None", "TimeSig_4/4", "Position_0", "Program_0", "Pitch_60",
                 "Velocity_79", "Duration_1.0.12"):  # fmt: skip
        _write(pg, state, tok, name)
    assert state.bars.tolist() == [1] and state.plan_step.tolist() == [0]
    before = {f: getattr(state, f).copy() for f in ("last_type", "position", "bars",
              "since_bar", "program", "last_pitch", "notes_here", "bar_notes")}  # fmt: skip
    # mid-bar, a Bar id is not allowed: the next plan's Key comes instead
    mask = pg.mask(state)[0]
    assert not (mask.numpy() & tok.starts_bar).any()
    assert mask[tok.token_id("Key_C-major")] and not mask[tok.token_id("Density_1")]
    assert mask[tok.from_base(["Position_12"])[0]]  # the bar may still go on
    for name in plan_tokens({"Key": "D-minor"}):
        _write(pg, state, tok, name)
    for field_name, old in before.items():
        assert getattr(state, field_name).tolist() == old.tolist(), field_name
    assert state.plan_step.tolist() == [4]
    _write(pg, state, tok, "Bar_None")
    assert state.bars.tolist() == [2] and state.plan_step.tolist() == [0]


def test_plan_grammar_restricts_plans_to_what_is_asked(tok, grammar):
    asked = {(0, "Key"): {"A-minor", "E-minor"}, (1, "Density"): {"4"}}
    pg = PlanGrammar(grammar, lambda bar, kind: asked.get((bar, kind)))
    state = pg.start(1)
    assert _kind_only(tok, pg.mask(state)[0], "Key") == {"A-minor", "E-minor"}
    for name in ("Key_A-minor", "Density_2", "Polyphony_1", "Register_3", "Bar_None",
                 "TimeSig_4/4", "Position_0", "Program_0", "Pitch_57", "Velocity_79",
                 "Duration_1.0.12"):  # fmt: skip
        _write(pg, state, tok, name)
    # the second new bar: any key, but only the asked density
    mask = pg.mask(state)[0].numpy()
    plans = {tok.base_tokens[i][0] for i in np.flatnonzero(mask & pg.is_plan)}
    assert plans == {f"Key_{v}" for v in plan_values()["Key"]}
    _write(pg, state, tok, "Key_C-major")
    assert _kind_only(tok, pg.mask(state)[0], "Density") == {"4"}


def test_plan_grammar_accepts_a_real_stream_with_plans(tok, grammar):
    ids = tok.encode(band(3))
    stream = with_plans(tok, split_bars(ids, tok.starts_bar), plans_of_ids(tok, ids))
    pg = PlanGrammar(grammar)
    state = pg.start(1)
    for k, i in enumerate(stream):
        assert bool(pg.mask(state)[0, i]), (k, tok.to_base([i]))
        pg.advance(state, np.array([i]))
    assert state.bars.tolist() == [3]
    # the same ids without their plans are refused at the second Bar
    state = pg.start(1)
    bare = ids
    refused = []
    for i in bare:
        if not bool(pg.mask(state)[0, i]):
            refused.append(i)
            break
        pg.advance(state, np.array([i]))
    assert refused and tok.starts_bar[refused[0]]
