"""How real do guided continuations sound? Continue the evaluation's held-out seeds in their own
style and mood at the given guidance, and compare the note statistics of the new bars with the
real bars that follow each seed: the realism section of `musegen evaluate` alone, for trying
guidance settings quickly (the same seeds and random draws as the evaluation).

    python examples/realism_probe.py [CHECKPOINT] [--guidance 5] [--seeds-per-style 8]
        [--guide-against any other-styles]
"""

from __future__ import annotations

import argparse

from musegen.evaluate import control, held_out, suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", default=None)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--seeds-per-style", type=int, default=8)
    parser.add_argument("--guide-against", nargs="+", default=["any"])
    parser.add_argument("--corpus", default="data/corpus")
    parser.add_argument("--shards", default="data/cache")
    args = parser.parse_args()
    mg, cfg, _, _, seeds = suite.probe_setup(args.checkpoint, args.corpus, args.shards,
                                          args.seeds_per_style)  # fmt: skip
    for against in args.guide_against:
        jobs = [held_out.Generation(i, s.style if s.style in mg.styles else None,
                              s.mood if s.mood in mg.moods else None, args.guidance, s.bars,
                              guide_against=against)
                for i, s in enumerate(seeds)]  # fmt: skip
        held_out.generate_all(mg, seeds, jobs, cfg, lambda: None)
        result = control.realism(seeds, jobs, cfg)
        name, stat = min(result["statistics"].items(), key=lambda kv: kv[1]["overlap"])
        print(f"guidance {args.guidance:g} away from {against}: overlap "
              f"{result['mean_overlap']:.3f} mean, lowest {stat['overlap']:.3f} ({name}), "
              f"{result['empty_continuations']} empty of {len(jobs)}")  # fmt: skip


if __name__ == "__main__":
    main()
