"""Tests for musegen.sampling: the logits processors and the generate loop."""

from __future__ import annotations

import math

import pytest
import torch

from musegen.model.sampling import (
    SamplingConfig,
    apply_mask,
    build_processors,
    cfg_mix,
    generate,
    min_p,
    repetition_penalty,
    temperature,
    top_k,
    top_p,
)
from musegen.model.transformer import ModelConfig, MuseTransformer

torch.set_num_threads(1)

V = 40
# Probabilities 0.05, 0.5, 0.15, 0.3 in a shuffled order, so filters must map back correctly.
PROBS = torch.tensor([[0.05, 0.5, 0.15, 0.3]])
LOGITS = PROBS.log()


def kept(logits: torch.Tensor) -> list[int]:
    return torch.isfinite(logits[0]).nonzero().flatten().tolist()


@pytest.fixture(scope="module")
def model() -> MuseTransformer:
    torch.manual_seed(0)
    return MuseTransformer(ModelConfig(vocab_size=V, context=48, n_layer=2, n_head=2, n_embd=32))


def run(model: MuseTransformer, prompt: torch.Tensor, seed: int = 0, **kw) -> torch.Tensor:
    kw.setdefault("sampling", SamplingConfig())
    kw.setdefault("max_new_tokens", 12)
    return generate(model, prompt, generator=torch.Generator().manual_seed(seed), **kw)


@pytest.fixture
def prompt() -> torch.Tensor:
    return torch.randint(0, V, (3, 5), generator=torch.Generator().manual_seed(1))


# --- processors ---------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, 7])
def test_top_k_keeps_exactly_k(k: int) -> None:
    logits = torch.randn(4, 20)
    out = top_k(logits, k)
    assert (torch.isfinite(out).sum(-1) == k).all()
    top = logits.topk(k).indices
    torch.testing.assert_close(out.gather(-1, top), logits.gather(-1, top))
    assert top_k(logits, 20) is logits


@pytest.mark.parametrize(("p", "expected"), [(0.4, [1]), (0.75, [1, 3]), (0.85, [1, 2, 3])])
def test_top_p_keeps_smallest_set_reaching_p(p: float, expected: list[int]) -> None:
    assert kept(top_p(LOGITS, p)) == expected
    assert kept(top_p(LOGITS, 1.0)) == [0, 1, 2, 3]


@pytest.mark.parametrize(("p", "expected"), [(0.5, [1, 3]), (0.2, [1, 2, 3]), (0.9, [1])])
def test_min_p_keeps_tokens_near_the_top(p: float, expected: list[int]) -> None:
    assert kept(min_p(LOGITS, p)) == expected


def test_repetition_penalty_lowers_seen_tokens_only() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5, 3.0]])
    out = repetition_penalty(logits, torch.tensor([[0, 1, 1]]), 2.0)
    torch.testing.assert_close(out, torch.tensor([[1.0, -2.0, 0.5, 3.0]]))


def test_temperature_scales() -> None:
    torch.testing.assert_close(temperature(LOGITS, 0.5), LOGITS * 2)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: temperature(LOGITS, 0.0), "temperature.*> 0"),
        (lambda: temperature(LOGITS, -1.0), "temperature"),
        (lambda: top_k(LOGITS, 0), "top_k.*>= 1"),
        (lambda: top_p(LOGITS, 0.0), r"top_p.*\(0, 1\]"),
        (lambda: top_p(LOGITS, 1.5), "top_p"),
        (lambda: min_p(LOGITS, 1.0), r"min_p.*\[0, 1\)"),
        (lambda: repetition_penalty(LOGITS, torch.zeros(1, 1, dtype=torch.long), 0.5), ">= 1"),
        (lambda: SamplingConfig(temperature=0), "temperature"),
        (lambda: SamplingConfig(top_k=0), "top_k"),
        (lambda: SamplingConfig(top_p=2), "top_p"),
        (lambda: SamplingConfig(min_p=-0.1), "min_p"),
        (lambda: SamplingConfig(repetition_window=0), "repetition_window"),
        (lambda: SamplingConfig(guidance=-1), "guidance"),
        (lambda: SamplingConfig(guidance=math.nan), "guidance"),
    ],
)
def test_argument_validation(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_apply_mask() -> None:
    allowed = torch.tensor([True, False, False, True])
    assert kept(apply_mask(LOGITS, allowed)) == [0, 3]
    with pytest.raises(ValueError, match="allows no token in rows \\[0\\]"):
        apply_mask(LOGITS, torch.zeros(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="does not fit"):
        apply_mask(LOGITS, torch.ones(5, dtype=torch.bool))


def test_cfg_mix() -> None:
    cond, uncond = torch.randn(2, 10), torch.randn(2, 10)
    torch.testing.assert_close(cfg_mix(cond, uncond, 1.0).softmax(-1), cond.softmax(-1))
    torch.testing.assert_close(cfg_mix(cond, uncond, 0.0).softmax(-1), uncond.softmax(-1))
    lc, lu = cond.log_softmax(-1), uncond.log_softmax(-1)
    torch.testing.assert_close(cfg_mix(cond, uncond, 3.0), lu + 3 * (lc - lu))


def test_cfg_mix_against_several_negatives_uses_their_mixture() -> None:
    cond, negatives = torch.randn(2, 10), torch.randn(3, 2, 10)  # 3 negatives for 2 rows
    mixture = negatives.softmax(-1).mean(0).log()  # (2, 10)
    torch.testing.assert_close(cfg_mix(cond, negatives, 0.0).softmax(-1), mixture.exp())
    torch.testing.assert_close(cfg_mix(cond, negatives, 2.0),
                               mixture + 2 * (cond.log_softmax(-1) - mixture))  # fmt: skip
    one = negatives[:1].expand(4, 2, 10)  # one negative repeated is that negative
    torch.testing.assert_close(cfg_mix(cond, one, 2.0), cfg_mix(cond, negatives[0], 2.0))


def test_build_processors_order_and_window() -> None:
    assert build_processors(SamplingConfig()) == []
    cfg = SamplingConfig(temperature=0.5, top_k=2, repetition_penalty=2.0, repetition_window=1)
    procs = build_processors(cfg)
    assert len(procs) == 3
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0]])
    out = logits
    for proc in procs:
        out = proc(out, torch.tensor([[1, 0]]))  # only the last id (0) is inside the window
    # penalty first (4 -> 2), then temperature (x2), then top-2 among [4, 6, 4, 2]
    assert out[0, 1].item() == 6.0 and kept(out) in ([0, 1], [1, 2])


# --- generate -------------------------------------------------------------------------------


def test_same_seed_same_output_and_different_seeds_differ(model, prompt) -> None:
    a, b, c = run(model, prompt, seed=3), run(model, prompt, seed=3), run(model, prompt, seed=4)
    assert a.shape == (3, 17)
    assert torch.equal(a[:, :5], prompt)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("guided", [False, True])
def test_cache_equals_recompute(model, prompt, guided: bool) -> None:
    kw = {"sampling": SamplingConfig(top_k=1, guidance=2.0 if guided else 1.0)}
    if guided:
        kw["uncond_prompt"] = torch.zeros_like(prompt)
    cached = run(model, prompt, use_cache=True, **kw)
    recomputed = run(model, prompt, use_cache=False, **kw)
    assert torch.equal(cached, recomputed)


def test_sampled_cache_equals_recompute(model, prompt) -> None:
    # Float noise between the two paths is far below the gaps between sampling boundaries.
    assert torch.equal(run(model, prompt, use_cache=True), run(model, prompt, use_cache=False))


def test_guidance_scale_one_equals_no_guidance(model, prompt) -> None:
    plain = run(model, prompt)
    uncond = torch.zeros_like(prompt)
    assert torch.equal(run(model, prompt, uncond_prompt=uncond), plain)
    # Guidance toward a condition identical to the unconditioned prompt changes nothing ...
    same = run(model, prompt, uncond_prompt=prompt, sampling=SamplingConfig(guidance=3.0))
    assert torch.equal(same, plain)
    # ... while a real difference between the two prompts does.
    guided = run(model, prompt, uncond_prompt=uncond, sampling=SamplingConfig(guidance=3.0))
    assert not torch.equal(guided, plain)


@pytest.mark.parametrize("use_cache", [True, False])
def test_guidance_against_several_negatives(model, prompt, use_cache: bool) -> None:
    zeros, ones = torch.zeros_like(prompt), torch.ones_like(prompt)
    guided = SamplingConfig(guidance=20.0)  # sampled, and strong: a random model is nearly flat
    # Two identical negatives are one negative; two different ones are neither of them.
    alone = run(model, prompt, uncond_prompt=zeros, sampling=guided, use_cache=use_cache)
    twice = run(model, prompt, uncond_prompt=torch.cat([zeros, zeros]), sampling=guided,
                use_cache=use_cache)  # fmt: skip
    assert torch.equal(twice, alone)
    both = run(model, prompt, uncond_prompt=torch.cat([zeros, ones]), sampling=guided,
               use_cache=use_cache)  # fmt: skip
    other = run(model, prompt, uncond_prompt=ones, sampling=guided, use_cache=use_cache)
    assert not torch.equal(both, alone) and not torch.equal(both, other)
    if use_cache:  # and the cached loop decodes the negatives as the recomputing one does
        assert torch.equal(both, run(model, prompt, uncond_prompt=torch.cat([zeros, ones]),
                                     sampling=guided, use_cache=False))  # fmt: skip


def test_mask_fn_is_respected(model, prompt) -> None:
    seen_steps = []

    def mask_fn(step: int, tokens: torch.Tensor) -> torch.Tensor:
        seen_steps.append((step, tokens.shape[1]))
        allowed = torch.zeros(tokens.shape[0], V, dtype=torch.bool)
        allowed[:, step % 2 :: 2] = True  # even tokens on even steps, odd on odd steps
        if step == 0:
            allowed[0] = True  # row 0 is unrestricted at step 0
        return allowed

    # top-k must choose among allowed tokens: filtering first would often leave none.
    out = run(model, prompt, mask_fn=mask_fn, sampling=SamplingConfig(top_k=2))
    assert seen_steps == [(s, 5 + s) for s in range(12)]
    new = out[:, 5:]
    for step in range(12):
        rows = new[1:, step] if step == 0 else new[:, step]
        assert (rows % 2 == step % 2).all()


def test_stop_fn_pads_stopped_rows_and_ends_loop(model, prompt) -> None:
    def stop_fn(new: torch.Tensor, step: int) -> torch.Tensor:
        return torch.tensor([step >= 2, step >= 4, step >= 4])

    calls: list[int] = []
    out = run(model, prompt, stop_fn=stop_fn, pad_id=V - 1, progress=calls.append)
    assert out.shape == (3, 5 + 5)  # every row stopped after step 4
    assert calls == [1, 2, 3, 4, 5]
    assert (out[0, 5 + 3 :] == V - 1).all()
    with pytest.raises(ValueError, match=r"pad_id=-1: must be a token id in \[0, 40\)"):
        run(model, prompt, pad_id=-1)


def test_generate_limits_and_modes(model, prompt) -> None:
    with pytest.raises(ValueError, match="crop the prompt to its last 4 tokens"):
        run(model, prompt, max_new_tokens=44)
    for wrong in (prompt[:, 1:], prompt[:2], prompt[:0]):
        with pytest.raises(ValueError, match=r"must be \(K \* 3, 5\)"):
            run(model, prompt, uncond_prompt=wrong)
    assert torch.equal(run(model, prompt, max_new_tokens=0), prompt)
    model.train()
    out = run(model, prompt, max_new_tokens=43)
    assert model.training  # mode restored
    assert out.shape == (3, 48)
    out[0, 0] = 1  # a normal tensor, editable outside inference mode
    model.eval()
