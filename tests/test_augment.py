from __future__ import annotations

import numpy as np
from symusic import Note, Score, Track

from musegen.augment import MODE_OF_MOOD, OTHER_VALENCE, base_key, switch_mode
from musegen.data import Shards, WindowSampler
from musegen.labels import find_key, pitch_class_histogram

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
        _, cond = switched._switch_mode(i, ids, [0, 0], np.random.default_rng(0))
        key_mode = base_key(tok.to_base(ids))[1]
        expected = OTHER_VALENCE[mood] if key_mode == MODE_OF_MOOD[mood] else None
        assert (mood_of.get(cond[1]) if cond[1] else None) == expected
