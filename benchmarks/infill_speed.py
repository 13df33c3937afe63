"""Infill speed: regenerating bars and adding a part, next to a continuation, side by side.

One process, one 12-bar 4-track pop piece built in code (piano, bass, melody, drums; 4/4 at
100 qpm), the same sampling seed every round so each contender writes the same tokens every
time; taking turns round by round (the order rotates each round) so that machine noise hits all
alike; one untimed warm-up round, then --repeats timed rounds, medians reported:

  infill 4 bars     MuseGen.infill(piece, bars=(5, 8)): all four tracks of bars 5-8
  add bass 8 bars   MuseGen.add_part(piece without its bass, "bass", bars=(1, 8))
  continue 4 bars   the peer: MuseGen.continue_midi(the piece's first 8 bars, bars=4)

Each is the whole API call (reading the piece, tokenizing, decoding, placing the notes).
Ratios against the peer are given two ways: the ratio of the medians and the median of the
per-round ratios. Issue #22's target: under 3 s each on 2 cores.

    python benchmarks/infill_speed.py [--checkpoint checkpoints/default] [--repeats 5] [--threads 1]
        [--seed 0] [--out benchmarks/results/infill_speed.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.generate.api import MuseGen
from musegen.music.timeline import cut

RESULTS = Path(__file__).parent / "results" / "infill_speed.json"
TPQ = 480
BAR = 4 * TPQ
TARGET_S = 3.0
PROGRESSION = ((60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62))  # C Am F G


def pop_piece(bars: int = 12) -> Score:
    """Piano chords on each beat, a bass in eighths on the root, a melody in eighths and
    quarters, drums: kick on 1 and 3, snare on 2 and 4, hi-hat eighths."""
    score = Score(TPQ)
    score.tempos.append(Tempo(0, 100.0))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    piano, bass = Track(name="Piano", program=0), Track(name="Bass", program=33)
    melody, kit = Track(name="Lead", program=80), Track(name="Drums", program=0, is_drum=True)
    eighth = TPQ // 2
    for b in range(bars):
        t, chord = b * BAR, PROGRESSION[b % 4]
        for beat in range(4):
            piano.notes.extend(Note(t + beat * TPQ, TPQ, p, 64) for p in chord)
            kit.notes.append(Note(t + beat * TPQ, eighth, 36 if beat % 2 == 0 else 38, 100))
        for e in range(8):
            bass.notes.append(
                Note(t + e * eighth, eighth, chord[0] - 24 + (7 if e == 6 else 0), 90)
            )
            kit.notes.append(Note(t + e * eighth, eighth // 2, 42, 70))
            if e % 3 != 2:  # a rhythm of eighths and quarters over the chord
                melody.notes.append(Note(t + e * eighth, eighth, chord[e % 3] + 12, 80))
    score.tracks.extend([piano, bass, melody, kit])
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--checkpoint", default="checkpoints/default", help="a checkpoint with plans"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed, every round")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    mg = MuseGen.from_pretrained(args.checkpoint)
    piece = pop_piece()
    without_bass = piece.copy()
    without_bass.tracks = [t.copy() for t in piece.tracks if t.name != "Bass"]
    seed_bars = cut(piece, 0, 8 * BAR, truncate=True)
    contenders = {
        "infill 4 bars": lambda: mg.infill(piece, bars=(5, 8), seed=args.seed),
        "add bass 8 bars": lambda: mg.add_part(without_bass, "bass", bars=(1, 8), seed=args.seed),
        "continue 4 bars": lambda: mg.continue_midi(
            seed_bars, 4, seed=args.seed, mood_candidates=1
        ),  # fmt: skip
    }
    peer = "continue 4 bars"
    names = list(contenders)
    times: dict[str, list[float]] = {n: [] for n in names}
    info: dict[str, dict] = {}
    for round_ in range(args.repeats + 1):  # round 0 is the warm-up
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            began = time.perf_counter()
            result = contenders[name]()
            elapsed = time.perf_counter() - began
            if round_:
                times[name].append(elapsed)
            info[name] = {"generated_tokens": result.provenance.get("generated_tokens"),
                          "new_notes": result.provenance.get("new_notes")}  # fmt: skip

    rows = {}
    for name in names:
        median = statistics.median(times[name])
        per_round = [a / b for a, b in zip(times[name], times[peer], strict=True)]
        rows[name] = {
            "median_s": round(median, 3),
            "min_s": round(min(times[name]), 3),
            "ratio_of_medians": round(median / statistics.median(times[peer]), 2),
            "median_of_ratios": round(statistics.median(per_round), 2),
            "under_target": median < TARGET_S,
            "times_s": [round(t, 4) for t in times[name]],
            **info[name],
        }
    header = (f"{'contender':18} {'median s':>9} {'min s':>7} {'tokens':>7} {'notes':>6} "
              f"{'/ peer':>7} {'per-round':>9} {'< 3 s':>6}")  # fmt: skip
    print(f"checkpoint {mg.checkpoint.name}, {args.repeats} rounds, {args.threads} thread(s), "
          f"peer: {peer}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for name, r in rows.items():
        met = "yes" if r["under_target"] else "no"
        print(f"{name:18} {r['median_s']:9.3f} {r['min_s']:7.3f} {r['generated_tokens'] or 0:7d} "
              f"{r['new_notes'] or 0:6d} {r['ratio_of_medians']:7.2f} "
              f"{r['median_of_ratios']:9.2f} {met:>6}")  # fmt: skip
    result = {
        "benchmark": "infill_speed",
        "checkpoint": {"name": mg.checkpoint.name, "sha256": mg.checkpoint.sha256},
        "repeats": args.repeats,
        "threads": args.threads,
        "seed": args.seed,
        "peer": peer,
        "target_s": TARGET_S,
        "rows": rows,
        "environment": {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        },  # fmt: skip
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
