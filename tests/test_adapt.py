"""Adapting to the seed (musegen.generate.adapt) on a small real network: the seed becomes
likelier, the network it was given does not change, ignored targets are not learned."""

from __future__ import annotations

import torch

from musegen.generate.adapt import adapted
from musegen.model.loss import token_nats
from musegen.model.transformer import ModelConfig, MuseTransformer


def network() -> MuseTransformer:
    torch.manual_seed(0)
    return MuseTransformer(ModelConfig(vocab_size=40, context=64, n_layer=2, n_head=2, n_embd=32))


def nats(model, seq: list[int]) -> float:
    x, y = torch.tensor([seq[:-1]]), torch.tensor([seq[1:]])
    with torch.inference_mode():
        return float(token_nats(model(x), y).mean())


SEED = [5, 6, 7, 8, 9, 10] * 5  # a riff the untrained network knows nothing of


def test_adapting_makes_the_seed_likelier_and_leaves_the_model_alone():
    model = network().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tuned = adapted(model, [1, 2], SEED, steps=10, lr=1e-2)
    assert tuned is not model and not tuned.training
    assert nats(tuned, [1, 2, *SEED]) < 0.7 * nats(model, [1, 2, *SEED])
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_no_steps_is_the_model_itself():
    model = network()
    assert adapted(model, [1, 2], SEED, steps=0) is model


def test_ignored_targets_are_not_learned():
    """A seed made only of ignored ids (plan tokens) gives nothing to learn: the model back."""
    model = network()
    assert adapted(model, [1, 2], [30, 31, 30, 31], steps=5, ignore={30, 31}) is model
