"""Write the demo seeds in examples/seeds/ (run once; the .mid files are committed).

Two openings come from public-domain works in the music21 corpus, converted with musegen's
own corpus converter; the 7/8 groove is written here, note by note.
"""

from __future__ import annotations

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


def main() -> None:
    OUT.mkdir(exist_ok=True)
    seeds = {
        "chorale_opening.mid": opening("bach/bwv269", "bach", 4),
        "fiddle_jig.mid": opening("ryansMammoth/BanishMisfortune", "ryansMammoth", 4),
        "groove_7_8.mid": groove_7_8(),
    }
    for name, score in seeds.items():
        write_midi(score, OUT / name, marker=MARKER, overwrite=True)
        print(OUT / name)


if __name__ == "__main__":
    main()
