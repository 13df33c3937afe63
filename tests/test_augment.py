from __future__ import annotations

import numpy as np
from symusic import Note, Score, Track

from musegen.data.augment import (
    OTHER_VALENCE,
    base_key,
    in_note_order,
    switch_mode,
    to_piano,
    transpose,
)
from musegen.data.shards import Shards, WindowSampler
from musegen.music.labels import MODE_OF_MOOD, find_key, pitch_class_histogram

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def _scale_with_drums(tpq: int) -> Score:
    """Four 4/4 bars of C-major scale quarter notes on a piano, and a kick on every beat."""
    score = Score(tpq)
    piano, drums = Track("piano", 0, False), Track("drums", 0, True)
    for beat in range(16):
        pitch = C_MAJOR[beat % len(C_MAJOR)]
        piano.notes.append(Note(beat * tpq, tpq, pitch, 80))
        drums.notes.append(Note(beat * tpq, tpq // 2, 36, 100))
    score.tracks.extend([piano, drums])
    return score


def test_switch_moves_pitched_notes_after_the_bar_to_the_parallel_mode(small_shards):
    tok = Shards.open(small_shards).tokenizer
    base = tok.to_base(tok.encode(_scale_with_drums(tok.remi.time_division)))
    assert base_key(base) == (0, "major")
    switched = tok.from_base(switch_mode(base, 0, "major", from_bar=2))
    assert tok.from_base(base) == tok.encode(_scale_with_drums(tok.remi.time_division))
    back = tok.decode(switched)
    piano = next(t for t in back.tracks if not t.is_drum)
    drums = next(t for t in back.tracks if t.is_drum)
    bar = 4 * back.ticks_per_quarter
    before = [n.pitch for n in piano.notes if n.time < 2 * bar]
    after = [n.pitch for n in piano.notes if n.time >= 2 * bar]
    assert before == (C_MAJOR * 2)[:8]  # the first two bars untouched
    lowered = {64: 63, 69: 68}  # E -> Eb, A -> Ab; the leading tone B stays (harmonic minor)
    assert after == [lowered.get(p, p) for p in (C_MAJOR * 2)[8:]]
    assert [n.pitch for n in drums.notes] == [36] * 16
    assert [(n.time, n.duration) for n in piano.notes] == [
        (b * back.ticks_per_quarter, back.ticks_per_quarter) for b in range(16)
    ]
    # and back: minor -> major raises the third, sixth and seventh
    minor = switch_mode(base, 0, "major", 0)
    assert [t for t in switch_mode(minor, 0, "minor", 0) if t.startswith("Pitch_")] == [
        t for t in base if t.startswith("Pitch_")
    ]
    hist = pitch_class_histogram(after, [1] * len(after))
    assert find_key(hist)[:2] == (0, "minor")


def test_switched_windows_carry_the_other_valence_even_when_labels_drop(small_shards):
    shards = Shards.open(small_shards)
    tok = shards.tokenizer
    mood_of = {tok.token_id(f"Mood_{m}"): m for m in [*tok.moods, "any"]}
    plain = WindowSampler(shards, "train", 256, condition_dropout=1.0, seed=2)
    switched = WindowSampler(shards, "train", 256, condition_dropout=1.0, seed=2, mode_switch=1.0)
    labelled, changed = 0, 0
    for k in range(12):
        assert {mood_of[i] for i in plain.window(k)[0] if i in mood_of} == {"any"}
        x = switched.window(k)[0]
        moods = [mood_of[i] for i in x if i in mood_of]
        labelled += sum(m != "any" for m in moods)
        changed += not (x == plain.window(k)[0]).all()
    assert labelled > 0 and changed > 0
    # a piece is switched only when its label and its notes agree on the mode
    for i, piece in enumerate(switched.pieces[:20]):
        ids, mood = shards.piece_tokens(piece), piece["mood"]
        _, cond, _, _ = switched._augment(i, ids, [0, 0], np.random.default_rng(0))
        key_mode = base_key(tok.to_base(ids))[1]
        expected = OTHER_VALENCE[mood] if key_mode == MODE_OF_MOOD[mood] else None
        assert (mood_of.get(cond[1]) if cond[1] else None) == expected


def _ensemble(tpq: int) -> Score:
    """A bar of 4/4: strings (program 48) and a flute (73) in unison on beat 1, the flute a third
    above on beat 2, with a kick."""
    score = Score(tpq)
    strings, flute, drums = (
        Track("strings", 48, False),
        Track("flute", 73, False),
        Track("d", 0, True),
    )
    strings.notes.extend([Note(0, tpq, 67, 80), Note(tpq, tpq, 64, 80)])
    flute.notes.extend([Note(0, tpq, 67, 80), Note(tpq, tpq, 60, 80)])
    drums.notes.append(Note(0, tpq, 36, 100))
    score.tracks.extend([strings, flute, drums])
    return score


def test_piano_reduction_keeps_drums_and_the_tokenizers_note_order(small_shards):
    tok = Shards.open(small_shards).tokenizer
    base = tok.to_base(tok.encode(_ensemble(tok.remi.time_division)))
    assert in_note_order(base) == base  # what the tokenizer writes is already in order
    piano = to_piano(base)
    assert {t for t in piano if t.startswith("Program_")} == {"Program_0", "Program_-1"}
    reduced = tok.decode(tok.from_base(piano))
    pitched = [t for t in reduced.tracks if not t.is_drum]
    assert [t.program for t in pitched] == [0]
    assert [(n.time, n.pitch) for n in pitched[0].notes] == [
        (0, 67),
        (tok.remi.time_division, 60),
        (tok.remi.time_division, 64),
    ]  # the unison G is played once; beat 2 in rising pitch, as a piano score encodes it
    assert [n.pitch for t in reduced.tracks if t.is_drum for n in t.notes] == [36]
    direct = _ensemble(tok.remi.time_division)
    for track in direct.tracks:
        track.program = 0 if not track.is_drum else track.program
    assert piano == tok.to_base(tok.encode(direct))  # the same tokens as encoding a piano score


def test_reduced_windows_are_piano_only(small_shards):
    shards = Shards.open(small_shards)
    tok = shards.tokenizer
    sampler = WindowSampler(shards, "train", 256, condition_dropout=0.0, seed=4, piano_share=1.0)
    programs = {b for k in range(8) for b in tok.to_base(sampler.window(k)[0])
                if b.startswith("Program_")}  # fmt: skip
    assert programs and programs <= {"Program_0", "Program_-1"}


def test_transposition_moves_pitched_notes_only_and_stays_in_range(small_shards):
    shards = Shards.open(small_shards)
    tok = shards.tokenizer
    base = tok.to_base(tok.encode(_scale_with_drums(tok.remi.time_division)))
    up = transpose(base, 2)
    pitched = [int(t[6:]) for t in base if t.startswith("Pitch_")]
    assert [int(t[6:]) for t in up if t.startswith("Pitch_")] == [p + 2 for p in pitched]
    assert [t for t in up if not t.startswith("Pitch_")] == [
        t for t in base if not t.startswith("Pitch_")
    ]  # drums (PitchDrum), timing and programs untouched
    assert transpose(["Pitch_107"], 2) is None and transpose(["Pitch_22"], -2) is None
    plain = WindowSampler(shards, "train", 256, condition_dropout=0.0, seed=5)
    moved = WindowSampler(shards, "train", 256, condition_dropout=0.0, seed=5, transpose_share=1.0)
    shifts = set()
    for k in range(6):
        a = [int(t[6:]) for t in tok.to_base(plain.window(k)[0]) if t.startswith("Pitch_")]
        b = [int(t[6:]) for t in tok.to_base(moved.window(k)[0]) if t.startswith("Pitch_")]
        n = min(len(a), len(b), 8)  # the first piece's first notes; BPE may shift the cut
        shifts |= {y - x for x, y in zip(a[:n], b[:n], strict=True)}
    assert shifts and shifts <= {-3, -2, -1, 1, 2, 3} and len(shifts) > 1
