"""Tests for musegen.model: shapes, config, KV-cache equivalence, and that it learns."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from musegen.model.loss import token_nats
from musegen.model.transformer import (
    SIZES,
    Linear,
    ModelConfig,
    MuseTransformer,
    latest_conditions,
)

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
        ({"vocab_size": 10, "condition_groups": [[1, 2], [12]]}, "condition_groups"),
        ({"vocab_size": 10, "condition_groups": [[1, 2], [2]]}, "condition_groups"),
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


def test_linear_decodes_few_rows_with_a_copy_that_follows_the_weight() -> None:
    torch.manual_seed(0)
    lin = Linear(8, 5)
    one_row, many = torch.randn(1, 1, 8), torch.randn(2, 40, 8)
    with torch.inference_mode():
        torch.testing.assert_close(lin(one_row), F.linear(one_row, lin.weight))
        assert lin._rows_weight is not None  # the copy path ran
        with torch.no_grad():  # an optimizer step or a weight edit: the copy must follow
            lin.weight.mul_(-2.0)
        torch.testing.assert_close(lin(one_row), F.linear(one_row, lin.weight))
        lin.load_state_dict({"weight": torch.randn(5, 8)})
        torch.testing.assert_close(lin(one_row), F.linear(one_row, lin.weight))
        torch.testing.assert_close(lin(many), F.linear(many, lin.weight))
    y = lin(one_row)  # with gradients: the parameter itself, so training works
    y.sum().backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def test_decoding_steps_use_the_copied_weights(model: MuseTransformer) -> None:
    idx = torch.randint(0, V, (1, 5))
    with torch.inference_mode():
        cache = model.new_cache(1)
        model(idx[:, :4], cache)
        model(idx[:, 4:], cache)
    linears = [m for m in model.modules() if isinstance(m, Linear)]
    assert linears and all(m._rows_weight is not None for m in linears)


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
        loss = token_nats(model(x), y).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_token_nats_ignores_index() -> None:
    logits = torch.randn(2, 3, 5)
    targets = torch.tensor([[1, 2, -100], [0, -100, 4]])
    expected = torch.nn.functional.cross_entropy(logits[targets != -100], targets[targets != -100])
    nats = token_nats(logits, targets)
    assert nats.shape == (2, 3) and float(nats[0, 2]) == 0.0
    torch.testing.assert_close(nats.sum() / (targets != -100).sum(), expected)


STYLES, MOODS = [1, 2, 3], [4, 5]


def conditioned_model(seed: int = 0) -> MuseTransformer:
    """A model whose style/mood path is switched on with random (not zero) projections."""
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=V, context=32, n_layer=2, n_head=2, n_embd=32,
                      condition_groups=[STYLES, MOODS])  # fmt: skip
    model = MuseTransformer(cfg).eval()
    for p in model.condition_proj.parameters():
        torch.nn.init.normal_(p, std=0.3)
    return model


def test_latest_conditions_follow_packed_pieces() -> None:
    # piece one: style 1, mood 4; piece two (packed after it): style 2, mood 5
    idx = torch.tensor([[1, 4, 10, 11, 2, 5, 12], [9, 9, 3, 9, 9, 9, 9]])
    group_of = torch.full((V,), -1)
    group_of[STYLES], group_of[MOODS] = 0, 1
    got = latest_conditions(idx, group_of, 2)
    assert got[0].tolist() == [[1, -1], [1, 4], [1, 4], [1, 4], [2, 4], [2, 5], [2, 5]]
    assert got[1, :, 0].tolist() == [-1, -1, 3, 3, 3, 3, 3] and (got[1, :, 1] == -1).all()
    before = torch.tensor([[3, 5], [2, 4]])  # in force from earlier chunks (a cache)
    got = latest_conditions(idx[:, 2:], group_of, 2, before)
    assert got[0, 0].tolist() == [3, 5] and got[0, -1].tolist() == [2, 5]
    assert got[1, 0].tolist() == [3, 4]


def test_condition_path_decodes_with_the_cache_as_without() -> None:
    model = conditioned_model()
    idx = torch.randint(6, V, (2, 20))
    idx[:, 0], idx[:, 1], idx[0, 9], idx[1, 12] = 2, 5, 3, 4  # a second piece in each row
    with torch.no_grad():
        full = model(idx)
        cache = model.new_cache(2)
        parts = [model(idx[:, :5], cache)] + [model(idx[:, t : t + 1], cache) for t in range(5, 20)]
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-5)


def test_condition_path_reaches_every_later_position() -> None:
    """With attention and MLPs silenced, a position still depends on the style in force."""
    model = conditioned_model()
    for block in model.blocks:
        torch.nn.init.zeros_(block.attn.proj.weight)
        torch.nn.init.zeros_(block.mlp.down.weight)
    idx = torch.randint(6, V, (1, 12))
    idx[0, 0] = 1
    other = idx.clone()
    other[0, 0] = 2
    with torch.no_grad():
        a, b = model(idx), model(other)
    assert not torch.allclose(a[:, 1:], b[:, 1:])  # only the in-attention path carries it
    no_condition = idx.clone()
    no_condition[0, 0] = 7
    with torch.no_grad():
        plain = model(no_condition)
    bare = model.lm_head(model.norm(model.wte(no_condition)))  # blocks are identities now
    torch.testing.assert_close(plain[:, 1:], bare[:, 1:])


def test_condition_path_starts_at_zero_so_old_weights_give_the_same_function() -> None:
    torch.manual_seed(0)
    old = MuseTransformer(ModelConfig(vocab_size=V, context=32, n_layer=2, n_head=2,
                                      n_embd=32)).eval()  # fmt: skip
    new = MuseTransformer(ModelConfig(**{**old.config.to_dict(),
                                         "condition_groups": [STYLES, MOODS]})).eval()  # fmt: skip
    missing, unexpected = new.load_state_dict(old.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("condition_proj.") for k in missing)
    idx = torch.tensor([[1, 4, 10, 11, 12, 13]])
    with torch.no_grad():
        torch.testing.assert_close(new(idx), old(idx))
