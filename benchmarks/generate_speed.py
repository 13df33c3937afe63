"""Decoding speed: musegen generate() against a Hugging Face GPT2LMHeadModel, side by side.

One process, one prompt (a four-voice chorale seed, tokenized as a continuation prompt), the
same number of new tokens for every contender, greedy decoding, taking turns round by round
(the order rotates each round) so that machine noise hits all alike; one untimed warm-up
round, then --repeats timed rounds, medians reported:

  musegen cache     musegen.sampling.generate(..., use_cache=True), the checkpoint's model
  musegen no cache  the same with use_cache=False (the whole sequence recomputed each step)
  HF GPT2 cache     GPT2LMHeadModel.generate(use_cache=True, do_sample=False,
                    min_new_tokens=max_new_tokens=N): same n_embd, n_layer, heads, context
                    and vocabulary, random weights (speed does not depend on the weights)
  musegen cache, compiled    the first row with the model compiled by torch.compile
                    (musegen.model.compiled_for_decoding, MuseGen(compile=True)); its
                    warm-up round holds the one-time compile, reported as compile_seconds;
                    skipped with --no-compile
  musegen cache, 2 threads   with --thread-check: the first row on two threads

Then the weight-layout check: one step's matrix products (the 25 weights, one row each),
nn.Linear's (out, in) layout through F.linear against (in, out) copies through x @ W', the
layout musegen.model.Linear decodes with. Then the end-to-end number:
MuseGen.continue_midi(seed, bars=8) with its default sampling,
median wall seconds over --repeats runs, and seconds per bar.

Threads: torch.set_num_threads(1) by default. Decoding a small model is one token at a time:
every step is a few dozen tiny matmuls (one row times a weight matrix) and elementwise ops,
too small to split across threads, so a second thread only adds hand-off cost; on a 2-core
machine shared with another job it waits for a busy core at every op (measured with
--thread-check on such a machine: 2 threads decoded 30x slower than 1).

    python benchmarks/generate_speed.py [--checkpoint checkpoints/default] [--new-tokens 256]
        [--repeats 5] [--threads 1] [--thread-check] [--no-compile] [--seed-midi PATH]
        [--out benchmarks/results/generate_speed.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.checkpoint.folder import Checkpoint, load
from musegen.generate.api import MuseGen
from musegen.model.sampling import SamplingConfig, generate
from musegen.model.transformer import Linear, compiled_for_decoding

sys.path.insert(0, str(Path(__file__).parent))
from train_throughput import hf_model  # noqa: E402  (a sibling script, not a package)

RESULTS = Path(__file__).parent / "results" / "generate_speed.json"
TPQ = 480
CHOIR = 52  # GM "Choir Aahs"


def satb_seed(bars: int = 4) -> Score:
    """A 4-bar four-voice chorale in C major, quarter notes, 4/4 at 80 qpm, one track a voice."""
    chords = [  # (soprano, alto, tenor, bass) per beat: I IV V I | vi ii V I | ...
        (72, 67, 64, 48), (72, 69, 65, 53), (71, 67, 62, 55), (72, 67, 64, 48),
        (72, 69, 64, 57), (74, 69, 65, 50), (74, 67, 62, 55), (72, 67, 64, 48),
        (76, 72, 67, 48), (77, 72, 69, 53), (74, 71, 67, 55), (76, 72, 67, 60),
        (74, 69, 65, 50), (72, 67, 64, 55), (71, 67, 62, 55), (72, 67, 64, 48),
    ]  # fmt: skip
    score = Score(TPQ)
    score.tempos.append(Tempo(0, 80.0))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    tracks = [Track(name, CHOIR, False) for name in ("Soprano", "Alto", "Tenor", "Bass")]
    for beat in range(bars * 4):
        for track, pitch in zip(tracks, chords[beat % len(chords)], strict=True):
            track.notes.append(Note(beat * TPQ, TPQ, pitch, 80))
    score.tracks.extend(tracks)
    return score


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    began = time.perf_counter()
    out = fn()
    return time.perf_counter() - began, out


def decoding(args, ckpt: Checkpoint, seed: Score) -> dict:
    """Rows (a) musegen cache, (b) no cache, (c) HF GPT2, (a2) musegen cache on 2 threads."""
    tok, model, cfg = ckpt.tokenizer, ckpt.model, ckpt.model_config
    n = args.new_tokens
    if n >= cfg.context:
        raise SystemExit(f"--new-tokens {n} must be below the model context {cfg.context}")
    ids = tok.condition_ids(None, None) + tok.encode(seed)
    ids = ids[-(cfg.context - n) :]  # the prompt and the new tokens fit the context
    prompt = torch.tensor([ids])
    greedy = SamplingConfig(top_k=1)
    torch.manual_seed(0)
    hf = hf_model(cfg, eos_id=tok.eos_id).eval()

    def ours(use_cache: bool, net=model) -> Callable[[], torch.Tensor]:
        gen = torch.Generator().manual_seed(0)
        return lambda: generate(
            net,
            prompt,
            max_new_tokens=n,
            sampling=greedy,
            generator=gen,
            use_cache=use_cache,
            pad_id=tok.pad_id,
        )

    def theirs() -> torch.Tensor:
        with torch.inference_mode():
            return hf.generate(
                prompt,
                attention_mask=torch.ones_like(prompt),
                use_cache=True,
                do_sample=False,
                max_new_tokens=n,
                min_new_tokens=n,
                pad_token_id=tok.pad_id,
                eos_token_id=tok.eos_id,
            )

    contenders = {
        "musegen_cache": (ours(True), args.threads),
        "musegen_no_cache": (ours(False), args.threads),
        "hf_gpt2_cache": (theirs, args.threads),
    }
    if args.compile:
        contenders["musegen_cache_compiled"] = (ours(True, compiled_for_decoding(model)),
                                                args.threads)  # fmt: skip
    if args.thread_check and (os.cpu_count() or 1) >= 2 and args.threads != 2:
        contenders["musegen_cache_2_threads"] = (ours(True), 2)
    times: dict[str, list[float]] = {k: [] for k in contenders}
    outputs: dict[str, torch.Tensor] = {}
    warm_up: dict[str, float] = {}
    names = list(contenders)
    for r in range(args.repeats + 1):  # round 0 warms up and is not counted
        for name in names[r % len(names) :] + names[: r % len(names)]:
            if r == 0 and name == "musegen_no_cache":
                continue  # the slow one: the same model is already warm
            fn, threads = contenders[name]
            torch.set_num_threads(threads)
            seconds, out = timed(fn)
            outputs[name] = out
            if r > 0:
                times[name].append(seconds)
            else:
                warm_up[name] = seconds
    torch.set_num_threads(args.threads)
    for name, out in outputs.items():
        if out.shape[1] != prompt.shape[1] + n:
            raise RuntimeError(f"{name} made {out.shape[1] - prompt.shape[1]} tokens, not {n}")
    rows = {}
    for name, ts in times.items():
        med = statistics.median(ts)
        rows[name] = {
            "threads": contenders[name][1],
            "median_seconds": med,
            "tokens_per_second": n / med,
            "seconds": ts,
        }
    tps = {k: v["tokens_per_second"] for k, v in rows.items()}

    def paired(slow: str, fast: str) -> float:
        """Median over rounds of the ratio within a round: steadier than a ratio of medians."""
        return statistics.median(s / f for s, f in zip(times[slow], times[fast], strict=True))

    compiled = {}
    if "musegen_cache_compiled" in rows:
        compiled = {
            "compile_seconds": warm_up["musegen_cache_compiled"],
            "compiled_matches_eager": bool(
                torch.equal(outputs["musegen_cache_compiled"], outputs["musegen_cache"])
            ),
            "ratio_compiled_over_hf": tps["musegen_cache_compiled"] / tps["hf_gpt2_cache"],
            "paired_ratio_compiled_over_hf": paired("hf_gpt2_cache", "musegen_cache_compiled"),
        }
    return {
        "prompt_tokens": prompt.shape[1],
        "new_tokens": n,
        "decoding": "greedy (musegen: top_k=1; HF: do_sample=False)",
        "cache_matches_no_cache": bool(
            torch.equal(outputs["musegen_cache"], outputs["musegen_no_cache"])
        ),
        "rows": rows,
        "ratio_musegen_over_hf": tps["musegen_cache"] / tps["hf_gpt2_cache"],
        "ratio_cache_over_no_cache": tps["musegen_cache"] / tps["musegen_no_cache"],
        "paired_ratio_musegen_over_hf": paired("hf_gpt2_cache", "musegen_cache"),
        "paired_ratio_cache_over_no_cache": paired("musegen_no_cache", "musegen_cache"),
        **compiled,
    }


def layout_check(model: torch.nn.Module, repeats: int, steps: int = 200) -> dict:
    """One decoding step's matrix products (every musegen.model.Linear, in order, one row),
    with nn.Linear's (out, in) weights through F.linear against (in, out) copies through
    x @ W', as musegen.model.Linear decodes: seconds per step, median over rounds."""
    weights = [m.weight.detach() for m in model.modules() if isinstance(m, Linear)]
    copies = [w.t().contiguous() for w in weights]
    rows = [torch.randn(1, 1, w.shape[1]) for w in weights]

    def step_time(fn) -> float:
        began = time.perf_counter()
        for _ in range(steps):
            for x, w, c in zip(rows, weights, copies, strict=True):
                fn(x, w, c)
        return (time.perf_counter() - began) / steps

    times: dict[str, list[float]] = {"out_in_F_linear": [], "in_out_matmul": []}
    with torch.inference_mode():
        for _ in range(repeats + 1):  # the first round warms up
            for name, fn in (("out_in_F_linear", lambda x, w, c: F.linear(x, w)),
                             ("in_out_matmul", lambda x, w, c: x @ c)):  # fmt: skip
                times[name].append(step_time(fn))
    med = {k: statistics.median(v[1:]) for k, v in times.items()}
    return {"matrices": len(weights), "median_step_seconds": med,
            "ratio": med["out_in_F_linear"] / med["in_out_matmul"]}  # fmt: skip


def end_to_end(args, seed: Score, **options) -> dict:
    """MuseGen.continue_midi(seed, bars, **options) with default sampling: wall seconds, median.

    A style is guided away from "any": 2 rows a step (1 + 6 for the default's 7 styles with
    guide_against="other-styles"). A mood adds the mood check's 4 candidates, each with its
    rows: 8 a step with both.
    """
    musegen = MuseGen.from_pretrained(args.checkpoint)
    runs = []
    for r in range(args.repeats + 1):  # run 0 warms up
        seconds, result = timed(
            lambda: musegen.continue_midi(seed, bars=args.bars, seed=0, **options)
        )
        if r > 0:
            p = result.provenance
            runs.append(
                {
                    "wall_seconds": seconds,
                    "generation_seconds": p["seconds"],
                    "generated_tokens": p["generated_tokens"],
                    "new_notes": p["new_notes"],
                    "complete": p["complete"],
                }
            )
    wall = statistics.median(r["wall_seconds"] for r in runs)
    tokens = statistics.median(r["generated_tokens"] for r in runs)
    return {
        "bars": args.bars,
        "options": options,
        "median_wall_seconds": wall,
        "seconds_per_bar": wall / args.bars,
        "median_generated_tokens": tokens,
        "tokens_per_second": tokens / statistics.median(r["generation_seconds"] for r in runs),
        "all_complete": all(r["complete"] for r in runs),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="checkpoints/default")
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--bars", type=int, default=8, help="bars for the end-to-end run")
    parser.add_argument(
        "--thread-check",
        action="store_true",
        help="add a row: musegen with cache on 2 threads (slow on a busy 2-core machine)",
    )
    parser.add_argument(
        "--no-compile", dest="compile", action="store_false",
        help="skip the compiled row (its warm-up compiles for tens of seconds)",
    )  # fmt: skip
    parser.add_argument("--seed-midi", default=None, help="seed file (default: built-in chorale)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not Path(args.checkpoint).exists():
        raise SystemExit(
            f"checkpoint {args.checkpoint} not found: train and export one, or pass "
            "--checkpoint PATH (any checkpoint folder; a random-weight one measures speed too)"
        )
    ckpt = load(args.checkpoint)
    cfg = ckpt.model_config
    seed = Score(args.seed_midi) if args.seed_midi else satb_seed()
    seed_name = args.seed_midi or "built-in 4-bar SATB chorale (program 52, quarter notes)"

    print(
        f"torch {torch.__version__}, threads {args.threads}; checkpoint {ckpt.path} "
        f"({ckpt.name}): n_layer {cfg.n_layer}, n_head {cfg.n_head}, n_embd {cfg.n_embd}, "
        f"context {cfg.context}, vocab {cfg.vocab_size}; seed: {seed_name}"
    )
    dec = decoding(args, ckpt, seed)
    layout = layout_check(ckpt.model, args.repeats)
    e2e = end_to_end(args, seed)
    e2e_style = end_to_end(args, seed, style="chorale")
    e2e_style_others = end_to_end(args, seed, style="chorale", guide_against="other-styles")
    e2e_asked = end_to_end(args, seed, style="chorale", mood="calm")

    header = f"{'decoding':26} {'threads':>7} {'median s':>9} {'tokens/s':>9}"
    print(
        f"prompt {dec['prompt_tokens']} tokens, {dec['new_tokens']} new tokens, greedy, "
        f"{args.repeats} rounds (medians)"
    )
    print(header)
    print("-" * len(header))
    for name, r in dec["rows"].items():
        print(
            f"{name:26} {r['threads']:7d} {r['median_seconds']:9.3f} {r['tokens_per_second']:9.0f}"
        )
    print(
        f"musegen / HF (tokens/s): {dec['ratio_musegen_over_hf']:.2f} of medians, "
        f"{dec['paired_ratio_musegen_over_hf']:.2f} median per round   "
        f"cache / no cache: {dec['ratio_cache_over_no_cache']:.2f}, "
        f"{dec['paired_ratio_cache_over_no_cache']:.2f}\n"
        f"cache and no-cache outputs identical: {dec['cache_matches_no_cache']}"
    )
    if "compile_seconds" in dec:
        print(
            f"compiled / HF: {dec['ratio_compiled_over_hf']:.2f} of medians, "
            f"{dec['paired_ratio_compiled_over_hf']:.2f} median per round; compiling took "
            f"{dec['compile_seconds']:.1f} s once; compiled output identical to eager: "
            f"{dec['compiled_matches_eager']}"
        )
    med = layout["median_step_seconds"]
    print(
        f"matrix products of one step ({layout['matrices']} weights, one row): (out, in) "
        f"through F.linear {med['out_in_F_linear'] * 1e3:.3f} ms, (in, out) copies "
        f"{med['in_out_matmul'] * 1e3:.3f} ms: {layout['ratio']:.2f}x"
    )
    print(
        f"continue_midi, {e2e['bars']} bars: {e2e['median_wall_seconds']:.3f} s "
        f"({e2e['seconds_per_bar']:.3f} s/bar), {e2e['median_generated_tokens']:.0f} tokens "
        f"at {e2e['tokens_per_second']:.0f} tokens/s, all complete: {e2e['all_complete']}"
    )
    for what, r in (
        ('style chorale (guided away from "any")', e2e_style),
        ("style chorale, guided away from the other styles", e2e_style_others),
        ("style chorale and mood calm (guided, 4 candidates)", e2e_asked),
    ):
        print(
            f"continue_midi, {r['bars']} bars, {what}: {r['median_wall_seconds']:.3f} s, "
            f"all complete: {r['all_complete']}"
        )

    import transformers

    result = {
        "benchmark": "generate_speed",
        "checkpoint": {
            "path": str(ckpt.path),
            "name": ckpt.name,
            "sha256": ckpt.sha256,
            "model": cfg.to_dict(),
        },
        "threads": args.threads,
        "repeats": args.repeats,
        "seed": seed_name,
        "decoding": dec,
        "weight_layout": layout,
        "continue_midi": e2e,
        "continue_midi_style": e2e_style,
        "continue_midi_style_against_other_styles": e2e_style_others,
        "continue_midi_style_and_mood": e2e_asked,
        "machine": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "note": "one run on a shared machine: compare ratios, not absolute times; goals: "
        "musegen/HF >= 2, continue_midi of 8 chorale bars < 1 s on a 2-core laptop CPU",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
