"""Write the demo seeds in examples/seeds/ (run once; the .mid files are committed).

Two openings come from public-domain works in the music21 corpus, converted with musegen's
own corpus converter; the 7/8 groove, the pop piano part and the drum groove with bass are
written here, note by note, for this repository. Velocities are "humanised" with a fixed
random seed, so the files come out the same every run.
"""

from __future__ import annotations

import random
from pathlib import Path

import music21
from symusic import KeySignature, Note, Score, Tempo, TimeSignature, Track

from musegen.data import corpus
from musegen.io.midi import write_midi
from musegen.music import timeline

OUT = Path(__file__).parent / "seeds"
MARKER = "musegen demo seed"


def opening(rel: str, repertory: str, bars: int) -> Score:
    """The first `bars` bars of a music21 corpus piece."""
    parsed = music21.corpus.parse(rel)
    score = corpus._m21_to_symusic(parsed, corpus.REPERTORIES[repertory])
    cut = timeline.bar_lines(score, timeline.end_tick(score))[bars]
    for track in score.tracks:
        kept = [n for n in track.notes if n.time < cut]
        track.notes.clear()
        for n in kept:
            track.notes.append(Note(n.time, min(n.duration, cut - n.time), n.pitch, n.velocity))
    return score


def groove_7_8() -> Score:
    """Four bars of 7/8 (2+2+3) for bass, electric piano and drums, at 132 BPM."""
    tpq, eighth = 480, 240
    score = Score(tpq)
    score.tempos.append(Tempo(0, 132.0))
    score.time_signatures.append(TimeSignature(0, 7, 8))
    score.key_signatures.append(KeySignature(0, -1, 1))  # D minor
    bass = Track(name="Bass", program=33)
    keys = Track(name="Electric Piano", program=4)
    drums = Track(name="Drums", program=0, is_drum=True)
    roots = [38, 38, 41, 36]  # D D F C
    chords = [(62, 65, 69), (62, 65, 69), (65, 69, 72), (60, 64, 67)]
    for bar in range(4):
        start = bar * 7 * eighth
        for beat, length in ((0, 2), (2, 2), (4, 3)):  # 2+2+3 grouping
            bass.notes.append(Note(start + beat * eighth, length * eighth - 20, roots[bar], 96))
        for pitch in chords[bar]:
            keys.notes.append(Note(start + 2 * eighth, 2 * eighth, pitch, 70))
            keys.notes.append(Note(start + 4 * eighth, 3 * eighth, pitch, 64))
        for beat in range(7):
            drums.notes.append(Note(start + beat * eighth, 60, 42, 70))  # closed hi-hat
        drums.notes.append(Note(start, 120, 36, 110))  # kick
        drums.notes.append(Note(start + 4 * eighth, 120, 36, 100))
        drums.notes.append(Note(start + 2 * eighth, 120, 38, 100))  # snare
        drums.notes.append(Note(start + 6 * eighth, 120, 38, 90))
    score.tracks.extend([bass, keys, drums])
    return score


def pop_piano() -> Score:
    """Eight bars of pop piano in C major at 92 BPM, I-V-vi-IV twice: left-hand broken chords
    (root held for two beats under fifth and tenth in eighths), right-hand melody."""
    tpq, eighth = 480, 240
    rng = random.Random(92)
    score = Score(tpq)
    score.tempos.append(Tempo(0, 92.0))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    score.key_signatures.append(KeySignature(0, 0, 0))  # C major
    piano = Track(name="Piano", program=0)
    # (root, tenth above it): C, G, Am, F, with the bass kept in the left hand's range
    chords = [(48, 16), (43, 16), (45, 15), (41, 16)] * 2
    # Melody per bar: (start, length) in eighths and pitch; an original tune for this repository.
    melody = [
        [(1, 1, 67), (2, 2, 72), (4, 1, 74), (5, 3, 76)],
        [(0, 1, 74), (1, 1, 72), (2, 2, 71), (4, 1, 67), (5, 3, 74)],
        [(0, 2, 72), (2, 1, 71), (3, 1, 72), (4, 4, 76)],
        [(0, 1, 77), (1, 1, 76), (2, 2, 74), (4, 2, 72), (6, 2, 69)],
        [(1, 1, 67), (2, 2, 72), (4, 1, 74), (5, 3, 79)],
        [(0, 1, 77), (1, 1, 76), (2, 2, 74), (4, 1, 71), (5, 1, 74), (6, 2, 79)],
        [(0, 3, 81), (3, 1, 79), (4, 2, 76), (6, 2, 72)],
        [(0, 2, 77), (2, 2, 76), (4, 4, 72)],
    ]
    for bar, ((root, tenth), tune) in enumerate(zip(chords, melody, strict=True)):
        start = bar * 8 * eighth
        for half in (0, 4):  # root held two beats, then fifth, tenth, fifth in eighths
            accent = 72 if half == 0 else 64
            piano.notes.append(Note(start + half * eighth, 4 * eighth - 10, root,
                                    accent + rng.randint(-4, 4)))  # fmt: skip
            for step, interval in ((1, 7), (2, tenth), (3, 7)):
                velocity = 52 + rng.randint(-5, 5) + (4 if step == 2 else 0)
                piano.notes.append(Note(start + (half + step) * eighth, eighth - 10,
                                        root + interval, velocity))  # fmt: skip
        for at, length, pitch in tune:
            strong = 8 if at in (0, 4) else 0  # downbeats a little louder
            piano.notes.append(Note(start + at * eighth, length * eighth - 20, pitch,
                                    80 + strong + rng.randint(-6, 6)))  # fmt: skip
    score.tracks.append(piano)
    return score


def drums_bass_groove() -> Score:
    """Eight bars of a rock/funk groove in E minor at 100 BPM: GM drums (kick, snare with
    ghost notes, sixteenth closed hats, an open hat closing bar 4, a tom fill in bar 8) and an
    electric bass (finger) whose notes fall on the kicks."""
    tpq, sixteenth = 480, 120
    rng = random.Random(100)
    score = Score(tpq)
    score.tempos.append(Tempo(0, 100.0))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    score.key_signatures.append(KeySignature(0, 1, 1))  # E minor
    bass = Track(name="Bass", program=33)
    drums = Track(name="Drums", program=0, is_drum=True)
    kick, snare, closed, open_hat, crash = 36, 38, 42, 46, 49
    roots = [28, 28, 31, 33, 28, 28, 36, 38]  # E E G A E E C D (E1 = 28)
    # Kick positions in sixteenths and the bass note on each: root (R), octave (O), fifth (F).
    pattern_a = [(0, "R"), (6, "O"), (10, "F")]
    pattern_b = [(0, "R"), (3, "R"), (6, "O"), (10, "F"), (11, "O")]
    interval = {"R": 0, "O": 12, "F": 7}

    def hit(bar: int, pos: int, pitch: int, velocity: int) -> None:
        drums.notes.append(Note((bar * 16 + pos) * sixteenth, 60, pitch,
                                max(1, min(127, velocity + rng.randint(-5, 5)))))  # fmt: skip

    for bar in range(8):
        fill = bar == 7
        kicks = [(0, "R"), (6, "O"), (8, "R")] if fill else (pattern_b if bar % 2 else pattern_a)
        hats = range(8) if fill else range(16)
        for pos in hats:
            if bar == 3 and pos >= 14:
                continue  # the open hat rings there
            hit(bar, pos, closed, 92 if pos % 4 == 0 else 72 if pos % 2 == 0 else 48)
        if bar == 3:
            hit(bar, 14, open_hat, 88)
        if bar == 0:
            hit(bar, 0, crash, 100)
        for pos, _ in kicks:
            hit(bar, pos, kick, 108 if pos == 0 else 96)
        hit(bar, 4, snare, 104)
        if fill:  # snare sixteenths rising, then high, mid and floor toms
            for k, pos in enumerate(range(8, 12)):
                hit(bar, pos, snare, 70 + 10 * k)
            for pos, tom in ((12, 50), (13, 50), (14, 47), (15, 43)):
                hit(bar, pos, tom, 100)
        else:
            hit(bar, 12, snare, 106)
            for pos in (7, 15) if bar % 2 == 0 else (9,):
                hit(bar, pos, snare, 32)  # ghost notes
        # Bass on the kicks; each note rests a little before the next one (funk staccato).
        onsets = [(pos, roots[bar] + interval[kind]) for pos, kind in kicks]
        nxt = roots[(bar + 1) % 8]
        onsets.append((14, nxt + 2))  # a step down into the next bar's root
        for i, (pos, pitch) in enumerate(onsets):
            until = onsets[i + 1][0] if i + 1 < len(onsets) else 16
            length = min(until - pos, 3) * sixteenth - 30
            velocity = (100 if pos == 0 else 88) + rng.randint(-6, 6)
            bass.notes.append(Note((bar * 16 + pos) * sixteenth, length, pitch, velocity))
    score.tracks.extend([bass, drums])
    return score


def main() -> None:
    OUT.mkdir(exist_ok=True)
    seeds = {
        "chorale_opening.mid": opening("bach/bwv269", "bach", 4),
        "fiddle_jig.mid": opening("ryansMammoth/BanishMisfortune", "ryansMammoth", 4),
        "groove_7_8.mid": groove_7_8(),
        "pop_piano.mid": pop_piano(),
        "drums_bass_groove.mid": drums_bass_groove(),
    }
    for name, score in seeds.items():
        write_midi(score, OUT / name, marker=MARKER, overwrite=True)
        print(OUT / name)


if __name__ == "__main__":
    main()
