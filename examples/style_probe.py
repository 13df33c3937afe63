"""How often is the asked style recognised? Continue the evaluation's neutral seeds (each
held-out seed's meter and tempo, one middle C) in every style at the given guidance values, and
score them with the evaluation's style classifier: the style section of `musegen evaluate`
alone, for trying sampling settings quickly.

    python examples/style_probe.py [CHECKPOINT] [--guidance 5 7] [--seeds-per-style 4]
        [--temperature 0.95] [--guide-against any|other-styles]
"""

from __future__ import annotations

import argparse

from musegen.evaluate import control, held_out, suite
from musegen.evaluate.report import guidance_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", default=None)
    parser.add_argument("--guidance", type=float, nargs="+", default=[5.0])
    parser.add_argument("--seeds-per-style", type=int, default=4)
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--guide-against", default=None, help="any (default) or other-styles")
    parser.add_argument("--corpus", default="data/corpus")
    parser.add_argument("--shards", default="data/cache")
    args = parser.parse_args()
    mg, cfg, pieces, shards, seeds = suite.probe_setup(args.checkpoint, args.corpus, args.shards,
                                                    args.seeds_per_style)  # fmt: skip
    train = [p["id"] for p in shards.pieces("train")]
    test = [p["id"] for p in shards.pieces("test")]
    if args.temperature is not None:
        continue_midi = mg.continue_midi
        mg.continue_midi = lambda *a, **k: continue_midi(*a, temperature=args.temperature, **k)
    jobs = [held_out.Generation(i, style, None, g, cfg.max_bars, neutral=True,
                          guide_against=args.guide_against)
            for g in args.guidance for i in range(len(seeds)) for style in mg.styles]  # fmt: skip
    held_out.generate_all(mg, seeds, jobs, cfg, lambda: None)
    classifier = control.train_style_classifier(pieces, train, mg.styles, cfg, lambda d, t: None)
    result = control.style_control(classifier, pieces, test, mg.styles, jobs, cfg)
    real = result["real"]
    print(f"real held-out: {real['accuracy']:.3f} pooled, {real['balanced_accuracy']:.3f} "
          "balanced (the generated sets are balanced; the target is 70% of real)")  # fmt: skip
    for key in sorted({control.style_key(job) for job in jobs}):
        print(f"{guidance_name(key)}: {result[key]['accuracy']:.3f} "
              f"of {result[key]['n']} continuations")  # fmt: skip


if __name__ == "__main__":
    main()
