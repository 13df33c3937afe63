"""Does the asked mood move the mode? Continue one neutral seed (a bar of 4/4 at 100 qpm with
a single middle C on a piano) by "happy" and by "sad", at several guidance values, and count
the continuations whose key-finding mode is major.

    python examples/mood_probe.py [CHECKPOINT] [--samples 10] [--style NAME] [--guidance 1 3 6]
        [--mood-candidates 1]   (1: the model alone; the default 4 keeps a candidate in the mode)
"""

from __future__ import annotations

import argparse

from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen import MuseGen
from musegen.evaluate import metrics
from musegen.music import labels


def neutral_seed() -> Score:
    score = Score(480)
    score.tempos.append(Tempo(0, 100.0))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    piano = Track("Piano", 0, False)
    piano.notes.append(Note(0, 1920, 60, 80))
    score.tracks.append(piano)
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", default=None)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--style", default=None)
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--guidance", type=float, nargs="+", default=[1.0, 3.0, 6.0])
    parser.add_argument("--mood-candidates", type=int, default=4)
    args = parser.parse_args()
    mg = MuseGen.from_pretrained(args.checkpoint)
    seed = neutral_seed()
    for guidance in args.guidance:
        counts = []
        for mood in ("happy", "sad"):
            major = 0
            for k in range(args.samples):
                result = mg.continue_midi(seed, args.bars, mood=mood, style=args.style,
                                          guidance=guidance, seed=k,
                                          mood_candidates=args.mood_candidates)  # fmt: skip
                notes = metrics.notes_of(result.continuation.score, args.bars)
                if len(notes.pitch):
                    hist = labels.pitch_class_histogram(notes.pitch, notes.duration)
                    major += labels.find_key(hist)[1] == "major"
            counts.append(f"{mood}: {major}/{args.samples} major")
        print(f"guidance {guidance:g}: " + ", ".join(counts))


if __name__ == "__main__":
    main()
