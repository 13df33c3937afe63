"""Seconds to continue a seed by 8 bars through the public API, on one CPU thread.

    .venv/bin/python benchmarks/continue_speed.py [--checkpoint checkpoints/default] [--repeats 3]

Two seeds, the targets of the real-songs issue: the 4-voice chorale (examples/seeds, under 1 s)
and the first 8 bars of a held-out band song, its drums and three busiest pitched tracks (a
4-track pop seed with drums: data/dev/band-test, under 3 s; built by tools/dev_set.py). With
--peer CHECKPOINT each seed is also continued by that checkpoint in the same run (e.g. the
previous default), and the ratio printed. Prints the median and minimum.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from musegen import MuseGen
from musegen.io.seed import read_seed
from musegen.music import timeline


def four_track_opening(path: Path, bars: int):
    """The first `bars` bars of a song, its drums and its three busiest pitched tracks."""
    score = read_seed(path).score
    lines = timeline.bar_lines(score, timeline.end_tick(score))
    cut = timeline.cut(score, 0, lines[min(bars, len(lines) - 1)], truncate=True)
    pitched = sorted((t for t in cut.tracks if not t.is_drum), key=lambda t: -len(t.notes))
    cut.tracks = [t for t in cut.tracks if t.is_drum][:1] + pitched[:3]
    return cut


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="checkpoints/default")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--band", type=Path, default=Path("data/dev/band-test"))
    parser.add_argument("--peer", default=None, help="a second checkpoint, timed alongside")
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = {args.checkpoint: MuseGen.from_pretrained(args.checkpoint)}
    if args.peer:
        models[args.peer] = MuseGen.from_pretrained(args.peer)
    seeds = {"chorale, 4 voices": read_seed("examples/seeds/chorale_opening.mid").score}
    band = sorted(args.band.glob("*.mid"))
    if band:
        seeds[f"pop song, 4 tracks with drums ({band[0].name}, 8 bars)"] = four_track_opening(
            band[0], 8
        )
    print("| seed | checkpoint | tracks | median s | min s | new notes | / first checkpoint |")
    print("|---|---|---|---|---|---|---|")
    for name, seed in seeds.items():
        first = None
        for label, mg in models.items():
            times, notes = [], 0
            for r in range(args.repeats + 1):  # the two checkpoints in the same minutes
                started = time.perf_counter()
                result = mg.continue_midi(seed, 8, seed=r)
                if r:  # the first round warms up
                    times.append(time.perf_counter() - started)
                notes = result.provenance["new_notes"]
            median = statistics.median(times)
            first = first or median
            print(
                f"| {name} | {label} | {len(seed.tracks)} | {median:.2f} | {min(times):.2f} "
                f"| {notes} | {median / first:.2f} |"
            )


if __name__ == "__main__":
    main()
