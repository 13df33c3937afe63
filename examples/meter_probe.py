"""Do new notes fill the seed's bar in every meter? Continue a one-track seed built in code in
several meters and count, per meter, the notes decoded, the notes placed in the seed's bars
(the rest did not fit and were dropped) and how far into the bar the latest new note starts.

    python examples/meter_probe.py [CHECKPOINT] [--seeds 8] [--bars 4]
        [--meters 3/1 4/1 2/1 10/8 6/16 12/16 7/2 10/4 11/16 1/8 4/4]
"""

from __future__ import annotations

import argparse

import numpy as np
from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.generate import continuation
from musegen.generate.api import MuseGen

# With a token (4/4), of a length some meter with a token has (3/1 ...), divisible into equal
# bars with a token (7/2, 10/4), and neither (11/16, 1/8).
METERS = "3/1 4/1 2/1 10/8 6/16 12/16 7/2 10/4 11/16 1/8 4/4".split()


def seed_in(meter: tuple[int, int], tpq: int = 480) -> Score:
    """Two bars of a rising five-note figure on a piano: eighths in x/8 and x/16, else quarters."""
    score = Score(tpq)
    score.tempos.append(Tempo(0, 100.0))
    score.time_signatures.append(TimeSignature(0, *meter))
    bar = round(meter[0] * tpq * 4 / meter[1])
    step = tpq // 2 if meter[1] >= 8 else tpq
    track = Track(name="Piano", program=0)
    for b in range(2):
        for i, tick in enumerate(range(0, bar, step)):
            track.notes.append(Note(b * bar + tick, step, (60, 62, 64, 65, 67)[i % 5], 80))
    score.tracks.append(track)
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", default=None)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--bars", type=int, default=4)
    parser.add_argument("--meters", nargs="+", default=METERS)
    args = parser.parse_args()
    mg = MuseGen.from_pretrained(args.checkpoint)
    counts = {"decoded": 0, "placed": 0}
    place = continuation._place

    def counting_place(decoded, *rest):
        placed = place(decoded, *rest)
        counts["decoded"] += sum(len(t.notes) for t in decoded.tracks)
        counts["placed"] += len(placed)
        return placed

    continuation._place = counting_place
    print("meter  decoded  placed  dropped  latest onset (fraction of the bar, mean)")
    for text in args.meters:
        meter = tuple(int(x) for x in text.split("/"))
        counts.update(decoded=0, placed=0)
        bar = round(meter[0] * 480 * 4 / meter[1])
        latest = []
        for k in range(args.seeds):
            result = mg.continue_midi(seed_in(meter), bars=args.bars, seed=k)
            onsets = [n.time % bar for t in result.continuation.score.tracks for n in t.notes]
            latest.append(max(onsets) / bar if onsets else 0.0)
        d, p = counts["decoded"], counts["placed"]
        print(
            f"{text:>5}  {d:7d}  {p:6d}  {100 * (d - p) / max(d, 1):6.1f}%  {np.mean(latest):.2f}"
        )


if __name__ == "__main__":
    main()
