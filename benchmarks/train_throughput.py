"""Training throughput: MuseTransformer against a Hugging Face GPT2LMHeadModel, side by side.

Both models have the same width (n_embd), depth (n_layer), heads, context and vocabulary and
train in fp32 on the CPU with the same AdamW settings (lr 1e-3, betas 0.9/0.95, weight decay
0.1 on matrices, gradient clipping at 1.0) on the same batches, in one process. The two take
turns step by step (which one goes first alternates), so machine noise hits both alike; the
first --warmup steps are left out of the timing. Reported: median step time, tokens/s, the
ratio musegen/HF, and the loss of each after the same steps on the same batches (the mean
training loss of the last 5 steps and the loss on held-out batches).

The architectures differ by design: GPT-2 has learned positions, biases, LayerNorm and a GELU
MLP of 4x width; musegen has RoPE, no biases, RMSNorm and a SwiGLU MLP of about 8/3x width
(so both MLPs hold about 8 n_embd^2 weights). Parameter counts of both are printed.

Batches are real training windows (musegen.data.WindowSampler) from --shards, or from
data/cache when it holds shards; otherwise random tokens, on which the loss compares nothing.

On a machine with a CUDA GPU it also measures model FLOPs utilisation (MFU) for the `base`
size with bf16 autocast and torch.compile: model FLOPs (6 N per token plus the attention
term 12 n_layer n_embd context) per second over the bf16 matmul peak measured in the same run.

Threads: --threads (default 1) is fixed with torch.set_num_threads and printed. On a 2-core
machine shared with another job, two threads make each of the hundreds of small elementwise
ops per step wait for the busy core, which then dominates the time; see benchmarks/README.md.

    python benchmarks/train_throughput.py [--size small] [--batch 8] [--steps 20]
        [--threads 1] [--shards DIR] [--compile] [--profile 2]
        [--out benchmarks/results/train_throughput.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from musegen.model.loss import token_nats
from musegen.model.transformer import ModelConfig, MuseTransformer

RESULTS = Path(__file__).parent / "results" / "train_throughput.json"
DEFAULT_SHARDS = Path("data/cache")
RANDOM_VOCAB = 2000  # the vocabulary size `musegen tokenize` builds by default
LAST = 5  # training loss reported as the mean of the last LAST steps


# --------------------------------------------------------------------------- models


def hf_model(cfg: ModelConfig, eos_id: int | None = None) -> nn.Module:
    """GPT2LMHeadModel of the same width, depth, heads, context and vocabulary; no dropout.

    Attention goes through torch's scaled_dot_product_attention ("sdpa"), as ours does.
    """
    from transformers import GPT2Config, GPT2LMHeadModel

    hf_cfg = GPT2Config(
        vocab_size=cfg.vocab_size,
        n_positions=cfg.context,
        n_embd=cfg.n_embd,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        layer_norm_epsilon=cfg.norm_eps,
        tie_word_embeddings=True,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        attn_implementation="sdpa",
    )
    return GPT2LMHeadModel(hf_cfg)


def counts(model: nn.Module) -> dict[str, int]:
    """Parameters (tied counted once), embedding tables, and the weights of matmuls.

    ``matmul`` counts every weight matrix that is multiplied per token, including the tied
    output projection, and leaves out lookup-only tables (GPT-2's learned positions); it is
    the N of the 6 N FLOPs-per-token estimate.
    """
    total = sum(p.numel() for p in model.parameters())
    embeddings = [m.weight for m in model.modules() if isinstance(m, nn.Embedding)]
    position = [m.weight for name, m in model.named_modules() if name.endswith("wpe")]
    matrices = sum(p.numel() for p in model.parameters() if p.dim() >= 2)
    return {
        "total": total,
        "non_embedding": total - sum(w.numel() for w in embeddings),
        "matmul": matrices - sum(w.numel() for w in position),
    }


def logits_fn(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    if isinstance(model, MuseTransformer):
        return model
    return lambda idx: model(input_ids=idx).logits


def optimizer(model: nn.Module, fused: bool = False) -> torch.optim.Optimizer:
    """AdamW as musegen.training sets it up: decay on matrices only."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.95), fused=fused)


class Trainer:
    """One model, its optimizer and a step that returns the loss."""

    def __init__(self, name: str, model: nn.Module, device: str = "cpu", bf16: bool = False):
        self.name, self.model, self.device, self.bf16 = name, model.to(device), device, bf16
        self.forward = logits_fn(self.model)
        self.opt = optimizer(self.model, fused=device == "cuda")
        self.times: list[float] = []
        self.losses: list[float] = []

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.bf16):
            return token_nats(self.forward(x), y).mean()

    def step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """forward + backward + clip + AdamW; returns the loss (synchronises on the device)."""
        self.model.train()
        loss = self.loss(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return float(loss.detach())  # .item() waits for the device, so timing around it is honest

    @torch.no_grad()
    def evaluate(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
        self.model.eval()
        return statistics.fmean(float(self.loss(x, y)) for x, y in batches)


# --------------------------------------------------------------------------- batches


def batch_source(args, context: int) -> tuple[int, str, Callable, Callable]:
    """(vocab size, description, train batch k, held-out batch k)."""
    shards = Path(args.shards) if args.shards else DEFAULT_SHARDS
    if (shards / "index.json").exists():
        from musegen.data.shards import Shards, WindowSampler

        data = Shards.open(shards)
        train = WindowSampler(data, "train", context, seed=args.seed)
        held = "validation" if data.pieces("validation") else "train"
        val = WindowSampler(data, held, context, condition_dropout=0.0, seed=args.seed + 1)

        def windows(sampler, k):
            pairs = [sampler.window(k * args.batch + i) for i in range(args.batch)]
            x = torch.stack([torch.from_numpy(p[0]) for p in pairs])
            y = torch.stack([torch.from_numpy(p[1]) for p in pairs])
            return x, y

        description = f"real windows from {shards} (train; held-out: {held})"
        return (
            data.tokenizer.vocab_size,
            description,
            lambda k: windows(train, k),
            lambda k: windows(val, k),
        )
    if args.shards:
        raise SystemExit(f"--shards {args.shards}: no index.json there (run `musegen tokenize`)")

    def random_batch(seed: int, k: int):
        g = torch.Generator().manual_seed(seed * 1_000_003 + k)
        seq = torch.randint(0, RANDOM_VOCAB, (args.batch, context + 1), generator=g)
        return seq[:, :-1].contiguous(), seq[:, 1:].contiguous()

    description = f"random tokens (vocab {RANDOM_VOCAB}; no shards: the losses compare nothing)"
    return RANDOM_VOCAB, description, lambda k: random_batch(1, k), lambda k: random_batch(2, k)


# --------------------------------------------------------------------------- CPU run


def run_cpu(args) -> dict:
    base = ModelConfig.from_name(args.size, 1)  # vocabulary comes from the data
    vocab, data_note, train_batch, held_batch = batch_source(args, base.context)
    cfg = ModelConfig.from_name(args.size, vocab)
    torch.manual_seed(args.seed)
    ours = Trainer("musegen", MuseTransformer(cfg))
    torch.manual_seed(args.seed)
    theirs = Trainer("hf_gpt2", hf_model(cfg))
    trainers = [ours, theirs]
    if args.compile:
        for t in trainers:
            t.forward = torch.compile(t.forward)  # compiled during the untimed warm-up steps
    tokens = args.batch * cfg.context
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, fp32 CPU"
        + (", torch.compile" if args.compile else "")
    )
    print(
        f"size {args.size}: n_layer {cfg.n_layer}, n_head {cfg.n_head}, n_embd {cfg.n_embd}, "
        f"context {cfg.context}, vocab {vocab}; batch {args.batch} x {cfg.context} = "
        f"{tokens} tokens/step; {args.steps} steps ({args.warmup} warm-up steps untimed)"
    )
    print(f"data: {data_note}")
    params = {t.name: counts(t.model) for t in trainers}
    for name, c in params.items():
        print(
            f"  {name:8} parameters {c['total']:>10,}  non-embedding {c['non_embedding']:>10,}"
            f"  matmul weights {c['matmul']:>10,}"
        )

    for k in range(args.steps):
        x, y = train_batch(k)
        order = trainers if k % 2 == 0 else trainers[::-1]  # alternate who goes first
        for t in order:
            began = time.perf_counter()
            t.losses.append(t.step(x, y))
            if k >= args.warmup:
                t.times.append(time.perf_counter() - began)
        if args.verbose:
            print(f"  step {k:3d}  " + "  ".join(f"{t.name} {t.losses[-1]:.3f}" for t in trainers))
    held = [held_batch(k) for k in range(args.eval_batches)]
    rows = {}
    for t in trainers:
        step_s = statistics.median(t.times)
        rows[t.name] = {
            "median_step_seconds": step_s,
            "tokens_per_second": tokens / step_s,
            "train_loss_last": statistics.fmean(t.losses[-LAST:]),
            "heldout_loss": t.evaluate(held),
            "parameters": params[t.name],
            "step_seconds": t.times,
            "losses": t.losses,
        }
    ratio = rows["musegen"]["tokens_per_second"] / rows["hf_gpt2"]["tokens_per_second"]
    paired = statistics.median(h / m for m, h in zip(ours.times, theirs.times, strict=True))
    header = f"{'model':9} {'median step s':>13} {'tokens/s':>9} {'train loss':>10} {'held-out':>9}"
    print(header)
    print("-" * len(header))
    for name, r in rows.items():
        print(
            f"{name:9} {r['median_step_seconds']:13.3f} {r['tokens_per_second']:9.0f} "
            f"{r['train_loss_last']:10.3f} {r['heldout_loss']:9.3f}"
        )
    print(
        f"throughput ratio musegen/HF: {ratio:.2f} (of medians), {paired:.2f} (median of "
        f"per-step ratios)  (> 1: musegen faster)\nloss: mean of the "
        f"last {LAST} training steps, and on {args.eval_batches} held-out batches"
    )
    result = {
        "size": args.size,
        "model_config": cfg.to_dict(),
        "batch": args.batch,
        "tokens_per_step": tokens,
        "steps": args.steps,
        "warmup_steps": args.warmup,
        "threads": torch.get_num_threads(),
        "compile": args.compile,
        "data": data_note,
        "ratio_tokens_per_second_musegen_over_hf": ratio,
        "ratio_median_of_per_step_ratios": paired,
        "models": rows,
    }
    if args.profile:
        result["profile"] = {t.name: profile(t, train_batch, args.profile) for t in trainers}
    return result


def profile(trainer: Trainer, train_batch: Callable, steps: int, top: int = 12) -> list[dict]:
    """torch.profiler over a few more steps; prints and returns the top ops by self CPU time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for k in range(steps):
            trainer.step(*train_batch(10_000 + k))
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1
    print(f"\nprofile {trainer.name}: {steps} steps, top ops by self CPU time")
    table = []
    for e in events[:top]:
        share = e.self_cpu_time_total / total
        ms = e.self_cpu_time_total / 1000 / steps
        print(f"  {e.key:45} {ms:9.1f} ms/step {share:6.1%}  calls/step {e.count / steps:6.0f}")
        table.append({"op": e.key, "ms_per_step": ms, "share": share, "calls": e.count / steps})
    return table


# --------------------------------------------------------------------------- GPU MFU


def bf16_peak(device: str, n: int = 8192, iters: int = 20) -> float:
    """Measured bf16 matmul FLOP/s: an n x n by n x n product, timed with CUDA events."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for _ in range(iters):
        a @ b
    end.record()
    torch.cuda.synchronize()
    return 2 * n**3 * iters / (start.elapsed_time(end) / 1000)


def run_gpu_mfu(args, vocab: int) -> dict:
    """MFU of both models at size `base`, bf16 autocast, torch.compile, interleaved steps."""
    device = "cuda"
    cfg = ModelConfig.from_name("base", vocab)
    B, T = args.gpu_batch, cfg.context
    peak = bf16_peak(device)
    trainers = []
    for name, build in (("musegen", MuseTransformer), ("hf_gpt2", hf_model)):
        torch.manual_seed(args.seed)
        t = Trainer(name, build(cfg), device=device, bf16=True)
        t.forward = torch.compile(t.forward)
        trainers.append(t)
    g = torch.Generator(device=device).manual_seed(args.seed)
    steps, warmup = max(args.steps, 10), 5  # compilation happens in the warm-up steps
    for k in range(steps):
        seq = torch.randint(0, vocab, (B, T + 1), device=device, generator=g)
        x, y = seq[:, :-1], seq[:, 1:]
        for t in trainers if k % 2 == 0 else trainers[::-1]:
            torch.cuda.synchronize()
            began = time.perf_counter()
            t.step(x, y)  # ends with .item(): the device is done when it returns
            if k >= warmup:
                t.times.append(time.perf_counter() - began)
    attention = 12 * cfg.n_layer * cfg.n_embd * T  # per token, forward + backward
    rows = {}
    for t in trainers:
        n = counts(t.model)["matmul"]
        step_s = statistics.median(t.times)
        achieved = (6 * n + attention) * B * T / step_s
        rows[t.name] = {
            "median_step_seconds": step_s,
            "tokens_per_second": B * T / step_s,
            "model_flops_per_second": achieved,
            "mfu": achieved / peak,
            "matmul_parameters": n,
            "step_seconds": t.times,
        }
    print(
        f"\nGPU {torch.cuda.get_device_name()}: size base, batch {B} x {T}, bf16 autocast, "
        f"torch.compile; measured bf16 matmul peak {peak / 1e12:.0f} TFLOP/s"
    )
    for name, r in rows.items():
        print(
            f"  {name:8} step {r['median_step_seconds'] * 1000:7.1f} ms  "
            f"{r['tokens_per_second']:10.0f} tokens/s  MFU {r['mfu']:6.1%}"
        )
    return {
        "device": torch.cuda.get_device_name(),
        "batch": B,
        "context": T,
        "bf16_matmul_peak_flops": peak,
        "flops_per_token_attention": attention,
        "models": rows,
    }


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", choices=["tiny", "small", "base", "large"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2, help="first steps left out of timing")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compile", action="store_true", help="torch.compile both models")
    parser.add_argument("--shards", default=None, help=f"token shards (default {DEFAULT_SHARDS})")
    parser.add_argument("--eval-batches", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", type=int, default=0, help="profile N extra steps of each")
    parser.add_argument("--gpu-batch", type=int, default=16)
    parser.add_argument("--no-gpu", action="store_true", help="skip the CUDA MFU measurement")
    parser.add_argument("--verbose", action="store_true", help="print every step's losses")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.steps <= args.warmup:
        parser.error(f"--steps {args.steps} must exceed --warmup {args.warmup}")
    torch.set_num_threads(args.threads)

    result = {"benchmark": "train_throughput", **run_cpu(args)}
    if torch.cuda.is_available() and not args.no_gpu:
        result["gpu_mfu_base"] = run_gpu_mfu(args, result["model_config"]["vocab_size"])
    import transformers

    result["machine"] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cpu_count": os.cpu_count(),
    }
    result["note"] = (
        "one run on a shared machine: compare the ratio, not absolute times; "
        "ratio = musegen tokens/s / HF tokens/s (> 1: musegen faster)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
