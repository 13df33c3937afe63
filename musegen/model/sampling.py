"""Logits processors and a KV-cached generation loop.

The sampler is a list of small pure functions ``(logits (B, V), previous_ids (B, L)) -> logits``
built from a SamplingConfig; music masks (grammar, key, range) come in through ``mask_fn`` and
are applied before the filters, so top-k/top-p choose among allowed tokens only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from musegen.model.transformer import MuseTransformer

__all__ = [
    "Processor",
    "SamplingConfig",
    "apply_mask",
    "build_processors",
    "cfg_mix",
    "generate",
    "min_p",
    "repetition_penalty",
    "temperature",
    "top_k",
    "top_p",
]

Processor = Callable[[Tensor, Tensor], Tensor]
MaskFn = Callable[[int, Tensor], "Tensor | None"]
StopFn = Callable[[Tensor, int], Tensor]

_NEG_INF = float("-inf")


def temperature(logits: Tensor, t: float) -> Tensor:
    """Divide logits by t: t < 1 sharpens, t > 1 flattens."""
    if not t > 0 or math.isinf(t):
        raise ValueError(f"temperature={t!r}: must be a finite number > 0 (use top_k=1 for greedy)")
    return logits / t


def top_k(logits: Tensor, k: int) -> Tensor:
    """Keep exactly the k largest logits per row (ties broken by index), -inf elsewhere."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"top_k={k!r}: must be an integer >= 1")
    if k >= logits.shape[-1]:
        return logits
    values, indices = torch.topk(logits, k, dim=-1)  # (B, k)
    return torch.full_like(logits, _NEG_INF).scatter(-1, indices, values)


def top_p(logits: Tensor, p: float) -> Tensor:
    """Nucleus filter: keep the smallest set of most likely tokens whose probability reaches p."""
    if not 0 < p <= 1:
        raise ValueError(f"top_p={p!r}: must be in (0, 1]")
    if p == 1:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (B, V)
    probs = sorted_logits.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs  # mass of strictly more likely tokens
    drop_sorted = mass_before >= p  # the most likely token has mass_before 0, so it stays
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, _NEG_INF)


def min_p(logits: Tensor, p: float) -> Tensor:
    """Keep tokens whose probability is at least p times the row's highest probability."""
    if not 0 <= p < 1:
        raise ValueError(f"min_p={p!r}: must be in [0, 1)")
    if p == 0:
        return logits
    probs = logits.softmax(dim=-1)  # (B, V)
    threshold = p * probs.amax(dim=-1, keepdim=True)  # (B, 1)
    return logits.masked_fill(probs < threshold, _NEG_INF)


def repetition_penalty(logits: Tensor, previous_ids: Tensor, penalty: float) -> Tensor:
    """CTRL-style penalty on tokens seen in previous_ids (B, L).

    Positive logits are divided by the penalty and negative ones multiplied, so both fall.
    """
    if not penalty >= 1 or math.isinf(penalty):
        raise ValueError(f"repetition_penalty={penalty!r}: must be a finite number >= 1")
    if penalty == 1 or previous_ids.numel() == 0:
        return logits
    seen = logits.gather(-1, previous_ids)  # (B, L)
    seen = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter(-1, previous_ids, seen)


def apply_mask(logits: Tensor, allowed: Tensor) -> Tensor:
    """Set logits of tokens not in ``allowed`` (bool, (B, V) or (V,)) to -inf."""
    allowed = _as_row_mask(allowed, logits)  # (B, V)
    empty = ~allowed.any(dim=-1)
    if bool(empty.any()):
        rows = empty.nonzero().flatten().tolist()
        raise ValueError(f"the mask allows no token in rows {rows}; every row needs one")
    return logits.masked_fill(~allowed, _NEG_INF)


def _as_row_mask(allowed: Tensor, logits: Tensor) -> Tensor:
    """Check a bool mask (B, V) or (V,) against logits (B, V) and expand it to (B, V)."""
    if allowed.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor, got {allowed.dtype}")
    if (
        allowed.dim() not in (1, 2)
        or allowed.shape[-1] != logits.shape[-1]
        or (allowed.dim() == 2 and allowed.shape[0] not in (1, logits.shape[0]))
    ):
        raise ValueError(
            f"mask shape {tuple(allowed.shape)} does not fit logits {tuple(logits.shape)}; "
            "use (B, V) or (V,)"
        )
    return allowed.to(logits.device).expand_as(logits)


def cfg_mix(cond_logits: Tensor, uncond_logits: Tensor, scale: float) -> Tensor:
    """Classifier-free guidance in log-prob space: uncond + scale * (cond - uncond).

    scale 1 gives the conditioned distribution, 0 the unconditioned one, > 1 pushes further
    toward the condition. ``uncond_logits`` (B, V), or (K, B, V) for K negative prompts: then
    "uncond" is their equal mixture, log(mean_k p_k), so guidance pushes away from all of them.
    """
    cond = F.log_softmax(cond_logits.float(), dim=-1)
    uncond = F.log_softmax(uncond_logits.float(), dim=-1)
    if uncond.dim() == 3:
        uncond = torch.logsumexp(uncond, dim=0) - math.log(uncond.shape[0])
    return uncond + scale * (cond - uncond)


@dataclass
class SamplingConfig:
    """How to pick each next token. Defaults sample plainly from the model."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    repetition_window: int = 64
    guidance: float = 1.0

    def __post_init__(self) -> None:
        # Each filter validates its own argument; run them once on a dummy row to share the rules.
        dummy = torch.zeros(1, 2)
        temperature(dummy, self.temperature)
        if self.top_k is not None:
            top_k(dummy, self.top_k)
        top_p(dummy, self.top_p)
        min_p(dummy, self.min_p)
        repetition_penalty(dummy, torch.zeros(1, 1, dtype=torch.long), self.repetition_penalty)
        w = self.repetition_window
        if not isinstance(w, int) or isinstance(w, bool) or w < 1:
            raise ValueError(f"repetition_window={w!r}: must be an integer >= 1")
        if not 0 <= self.guidance < math.inf:
            raise ValueError(f"guidance={self.guidance!r}: must be a finite number >= 0")


def build_processors(cfg: SamplingConfig) -> list[Processor]:
    """The filters cfg asks for, in order: repetition penalty, temperature, top-k, top-p, min-p."""
    procs: list[Processor] = []
    if cfg.repetition_penalty != 1:
        window, penalty = cfg.repetition_window, cfg.repetition_penalty
        procs.append(lambda x, prev: repetition_penalty(x, prev[:, -window:], penalty))
    t, k, p, m = cfg.temperature, cfg.top_k, cfg.top_p, cfg.min_p  # captured now, not later
    if t != 1:
        procs.append(lambda x, _prev: temperature(x, t))
    if k is not None:
        procs.append(lambda x, _prev: top_k(x, k))
    if p < 1:
        procs.append(lambda x, _prev: top_p(x, p))
    if m > 0:
        procs.append(lambda x, _prev: min_p(x, m))
    return procs


def generate(
    model: MuseTransformer,
    prompt: Tensor,
    *,
    max_new_tokens: int,
    sampling: SamplingConfig,
    generator: torch.Generator,
    uncond_prompt: Tensor | None = None,
    mask_fn: MaskFn | None = None,
    stop_fn: StopFn | None = None,
    use_cache: bool = True,
    progress: Callable[[int], None] | None = None,
    pad_id: int = 0,
) -> Tensor:
    """Continue ``prompt`` (B, T0) by up to ``max_new_tokens``; returns (B, T0 + n) token ids.

    Args:
        uncond_prompt: the prompt with its condition tokens swapped for "any" (B, T0), or K
            such swaps stacked (K * B, T0) whose mixture guidance moves away from (e.g. every
            other style); used for classifier-free guidance when sampling.guidance != 1, as
            extra batch rows of the same forward pass.
        mask_fn: (step, tokens so far (B, T)) -> allowed tokens, bool (B, V) or (V,), or None.
        stop_fn: (new token (B,), step) -> bool (B,); a stopped row emits pad_id from then on,
            and the loop ends once every row has stopped.
        use_cache: False recomputes the whole sequence each step (for tests and benchmarks).
        progress: called with the number of tokens generated so far after each step.

    Sampling uses torch.multinomial with ``generator``, on the generator's device, so one seed
    gives one output even when the model runs on a GPU with a CPU generator.
    """
    if prompt.dim() != 2 or prompt.shape[1] == 0:
        raise ValueError(f"prompt must have shape (B, T0) with T0 >= 1, got {tuple(prompt.shape)}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens={max_new_tokens}: must be >= 0")
    B, T0 = prompt.shape
    context = model.config.context
    if T0 + max_new_tokens > context:
        raise ValueError(
            f"prompt ({T0}) + max_new_tokens ({max_new_tokens}) exceeds the model context "
            f"{context}; crop the prompt to its last {max(context - max_new_tokens, 0)} tokens"
        )
    if not 0 <= pad_id < model.config.vocab_size:
        raise ValueError(
            f"pad_id={pad_id}: must be a token id in [0, {model.config.vocab_size}), since "
            "stopped rows keep feeding it to the model"
        )
    guided = uncond_prompt is not None and sampling.guidance != 1
    if uncond_prompt is not None and (
        uncond_prompt.dim() != 2 or uncond_prompt.shape[1] != T0 or uncond_prompt.shape[0] % B
        or uncond_prompt.shape[0] == 0
    ):  # fmt: skip
        raise ValueError(
            f"uncond_prompt shape {tuple(uncond_prompt.shape)} must be (K * {B}, {T0}) for the "
            f"prompt's {tuple(prompt.shape)}: swap condition tokens for 'any' tokens in place"
        )
    device = next(model.parameters()).device
    procs = build_processors(sampling)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            tokens = _decode(
                model, prompt.to(device), uncond_prompt.to(device) if guided else None,
                max_new_tokens, sampling.guidance, procs, generator, mask_fn, stop_fn,
                use_cache, progress, pad_id,
            )  # fmt: skip
    finally:
        model.train(was_training)
    return tokens.clone()  # a normal tensor: callers may edit it outside inference mode


def _decode(
    model: MuseTransformer,
    prompt: Tensor,
    uncond: Tensor | None,
    max_new_tokens: int,
    guidance: float,
    procs: list[Processor],
    generator: torch.Generator,
    mask_fn: MaskFn | None,
    stop_fn: StopFn | None,
    use_cache: bool,
    progress: Callable[[int], None] | None,
    pad_id: int,
) -> Tensor:
    """The loop of generate(), already in inference mode; ``uncond`` set means guided."""
    B, T0 = prompt.shape
    tokens = prompt  # (B, T)
    if max_new_tokens == 0:
        return tokens
    rows = torch.cat([prompt, uncond]) if uncond is not None else prompt  # (R, T0), R = (1+K)B
    cache = model.new_cache(rows.shape[0], max_len=T0 + max_new_tokens) if use_cache else None
    logits = model(rows, cache)[:, -1]  # (R, V)
    stopped = torch.zeros(B, dtype=torch.bool, device=prompt.device)
    for step in range(max_new_tokens):
        if uncond is not None:  # the K negative rows of each prompt row, (K, B, V)
            logits = cfg_mix(logits[:B], logits[B:].view(-1, B, logits.shape[-1]), guidance)
        logits = logits.float()
        if mask_fn is not None:
            allowed = mask_fn(step, tokens)
            if allowed is not None:  # stopped rows may be masked shut; they emit pad anyway
                allowed = _as_row_mask(allowed, logits) | stopped[:, None]
                logits = apply_mask(logits, allowed)
        for proc in procs:
            logits = proc(logits, tokens)
        probs = logits.softmax(dim=-1).to(generator.device)  # (B, V)
        new = torch.multinomial(probs, 1, generator=generator).to(prompt.device).squeeze(1)  # (B,)
        new = new.masked_fill(stopped, pad_id)
        tokens = torch.cat([tokens, new[:, None]], dim=1)  # (B, T + 1)
        if stop_fn is not None:
            stopped = stopped | stop_fn(new, step).to(stopped.device)
        if progress is not None:
            progress(step + 1)
        if bool(stopped.all()) or step == max_new_tokens - 1:
            break
        if use_cache:
            feed = new.repeat(rows.shape[0] // B)[:, None]  # (R, 1): row r continues r mod B
            logits = model(feed, cache)[:, -1]
        else:
            full = tokens
            if uncond is not None:
                new_part = tokens[:, T0:].repeat(uncond.shape[0] // B, 1)
                full = torch.cat([tokens, torch.cat([uncond, new_part], dim=1)])
            logits = model(full)[:, -1]  # (R, V)
    return tokens
