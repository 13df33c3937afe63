"""The network and its decoding: pure torch, importing nothing else from musegen.

`transformer` is the decoder-only model with a KV cache; `sampling` the logits processors and
the generation loop that wrap it.
"""

from musegen.model.transformer import ModelConfig, MuseTransformer

__all__ = ["ModelConfig", "MuseTransformer", "sampling", "transformer"]
