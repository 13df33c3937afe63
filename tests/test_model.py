"""Tests for musegen.model: shapes, config, KV-cache equivalence, and that it learns."""

from __future__ import annotations

import pytest
import torch

from musegen.model import SIZES, ModelConfig, MuseTransformer, lm_loss

torch.set_num_threads(1)

V = 50


@pytest.fixture
def model() -> MuseTransformer:
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=V, context=32, n_layer=2, n_head=2, n_embd=32)
    return MuseTransformer(cfg).eval()


def test_forward_shape_and_dtype(model: MuseTransformer) -> None:
    idx = torch.randint(0, V, (3, 7))
    logits = model(idx)
    assert logits.shape == (3, 7, V)
    assert logits.dtype == torch.float32
    assert torch.isfinite(logits).all()


def test_embedding_is_tied_and_counted_once(model: MuseTransformer) -> None:
    assert model.lm_head.weight is model.wte.weight
    unique = {id(p): p.numel() for p in model.parameters()}
    assert model.num_parameters() == sum(unique.values())
    all_named = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    assert model.num_parameters() == all_named - model.wte.weight.numel()
    assert model.num_parameters(exclude_embedding=True) == all_named - 2 * V * 32


def test_rope_buffers_are_not_saved(model: MuseTransformer) -> None:
    assert not any("rope" in k for k in model.state_dict())


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [("tiny", 0, 1e6), ("small", 1e6, 1e7), ("base", 1e7, 1e8), ("large", 1e8, 1e9)],
)
def test_named_sizes(name: str, low: float, high: float) -> None:
    for vocab in (1000, 4000):
        cfg = ModelConfig.from_name(name, vocab)
        assert cfg.n_layer == SIZES[name]["n_layer"]
        with torch.device("meta"):  # count without allocating
            n = MuseTransformer(cfg).num_parameters()
        assert low < n < high, (name, vocab, n)


def test_from_name_overrides_and_unknown_name() -> None:
    cfg = ModelConfig.from_name("tiny", 100, context=64, dropout=0.1)
    assert (cfg.context, cfg.dropout, cfg.n_embd) == (64, 0.1, SIZES["tiny"]["n_embd"])
    with pytest.raises(ValueError, match="tiny.*small.*base.*large"):
        ModelConfig.from_name("huge", 100)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"vocab_size": 0}, "vocab_size"),
        ({"vocab_size": 10, "context": -1}, "context"),
        ({"vocab_size": 10, "n_layer": 0}, "n_layer"),
        ({"vocab_size": 10, "n_embd": 30, "n_head": 4}, "divisible"),
        ({"vocab_size": 10, "n_embd": 24, "n_head": 8}, "even"),
        ({"vocab_size": 10, "dropout": 1.0}, r"dropout.*\[0, 1\)"),
        ({"vocab_size": 10, "dropout": -0.1}, "dropout"),
        ({"vocab_size": 10, "rope_base": 0.0}, "rope_base"),
        ({"vocab_size": 10.5}, "integer"),
    ],
)
def test_config_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ModelConfig(**kwargs)


def test_config_dict_round_trip() -> None:
    cfg = ModelConfig.from_name("small", 321, dropout=0.1)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown ModelConfig keys.*'bogus'"):
        ModelConfig.from_dict({**cfg.to_dict(), "bogus": 1})
    with pytest.raises(ValueError, match="vocab_size"):
        ModelConfig.from_dict({"n_layer": 2})


def test_causal(model: MuseTransformer) -> None:
    idx = torch.randint(0, V, (2, 12))
    changed = idx.clone()
    changed[:, 8:] = (changed[:, 8:] + 1) % V
    with torch.no_grad():
        a, b = model(idx), model(changed)
    torch.testing.assert_close(a[:, :8], b[:, :8])
    assert not torch.allclose(a[:, 8:], b[:, 8:])


def test_kv_cache_one_by_one_equals_full(model: MuseTransformer) -> None:
    idx = torch.randint(0, V, (2, 20))
    with torch.no_grad():
        full = model(idx)
        cache = model.new_cache(2, max_len=20)
        parts = [model(idx[:, :6], cache)]  # prefill into an empty cache
        for t in range(6, 20):
            parts.append(model(idx[:, t : t + 1], cache))
    assert cache.length == 20
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-5)


def test_kv_cache_chunks_after_nonempty_cache(model: MuseTransformer) -> None:
    idx = torch.randint(0, V, (2, 20))
    with torch.no_grad():
        full = model(idx)
        cache = model.new_cache(2)
        parts = [model(idx[:, :4], cache), model(idx[:, 4:11], cache), model(idx[:, 11:12], cache)]
        parts.append(model(idx[:, 12:20], cache))
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-5)


def test_kv_cache_crop_rolls_back(model: MuseTransformer) -> None:
    idx = torch.randint(0, V, (1, 10))
    other = (idx[:, 6:] + 3) % V
    with torch.no_grad():
        cache = model.new_cache(1)
        model(idx[:, :6], cache)
        model(other, cache)  # a continuation we throw away
        cache.crop(6)
        rolled = model(idx[:, 6:], cache)
        full = model(idx)
    torch.testing.assert_close(rolled, full[:, 6:], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="crop length"):
        cache.crop(11)


def test_context_and_cache_limits(model: MuseTransformer) -> None:
    with pytest.raises(ValueError, match="context 32"):
        model(torch.zeros(1, 33, dtype=torch.long))
    cache = model.new_cache(1, max_len=8)
    model(torch.zeros(1, 8, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="max_len"):
        model(torch.zeros(1, 1, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="rows"):
        model(torch.zeros(2, 1, dtype=torch.long), model.new_cache(1))
    with pytest.raises(ValueError, match=r"max_len=64 must be in \[1, 32\]"):
        model.new_cache(1, max_len=64)


def test_loss_falls_on_a_repeating_sequence() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig.from_name("tiny", 16, context=64)
    model = MuseTransformer(cfg).train()
    pattern = torch.tensor([1, 5, 3, 8, 2, 9, 4, 7])
    seq = pattern.repeat(9)[:65]
    x, y = seq[:-1].repeat(4, 1), seq[1:].repeat(4, 1)  # (4, 64)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = lm_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_lm_loss_ignores_index() -> None:
    logits = torch.randn(2, 3, 5)
    targets = torch.tensor([[1, 2, -100], [0, -100, 4]])
    expected = torch.nn.functional.cross_entropy(logits[targets != -100], targets[targets != -100])
    torch.testing.assert_close(lm_loss(logits, targets), expected)
