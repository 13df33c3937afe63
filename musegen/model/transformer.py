"""A decoder-only transformer for token sequences, with a key/value cache for fast decoding.

Pure torch: this module imports nothing else from musegen and does no file I/O, so training,
checkpointing and sampling all wrap it. Architecture: tied token embedding, rotary positions
(RoPE), pre-norm blocks with RMSNorm, causal self-attention through
``F.scaled_dot_product_attention``, a SwiGLU MLP, and a final RMSNorm. No biases.

Condition tokens (``ModelConfig.condition_groups``, e.g. every Style_* id and every Mood_* id)
also condition every later position directly: the embedding of the latest token of each group
is projected and added before every block ("in-attention" conditioning, as in MuseMorphose,
Wu & Yang 2021, which controls attributes far better than a prefix alone). A prefix token is
one piece of evidence among hundreds for attention to find; the added vector is always there.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SIZES", "KVCache", "ModelConfig", "MuseTransformer"]

# Named sizes; parameter counts depend on the vocabulary (see README / the model card).
SIZES: dict[str, dict[str, int]] = {
    "tiny": {"n_layer": 2, "n_head": 2, "n_embd": 64, "context": 256},
    "small": {"n_layer": 6, "n_head": 6, "n_embd": 192, "context": 512},
    "base": {"n_layer": 12, "n_head": 8, "n_embd": 512, "context": 1024},
    "large": {"n_layer": 24, "n_head": 16, "n_embd": 1024, "context": 2048},
}


@dataclass
class ModelConfig:
    """Shape of a MuseTransformer; saved beside the weights as JSON."""

    vocab_size: int
    context: int = 1024
    n_layer: int = 6
    n_head: int = 8
    n_embd: int = 256
    dropout: float = 0.0
    rope_base: float = 10000.0
    norm_eps: float = 1e-5
    # Token ids that condition the rest of their sequence, one list per kind (style, mood);
    # empty: conditions are an ordinary prefix only.
    condition_groups: list[list[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ModelConfig.{name}={value!r}: must be an integer >= 1")
        if self.n_embd % self.n_head:
            raise ValueError(
                f"ModelConfig.n_embd={self.n_embd} must be divisible by n_head={self.n_head}"
            )
        if (self.n_embd // self.n_head) % 2:
            raise ValueError(
                f"head dimension n_embd/n_head={self.n_embd // self.n_head} must be even "
                "for rotary embeddings; change n_embd or n_head"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ModelConfig.dropout={self.dropout!r}: must be in [0, 1)")
        if not self.rope_base > 0:
            raise ValueError(f"ModelConfig.rope_base={self.rope_base!r}: must be > 0")
        if not self.norm_eps > 0:
            raise ValueError(f"ModelConfig.norm_eps={self.norm_eps!r}: must be > 0")
        ids = [i for group in self.condition_groups for i in group]
        if any(not 0 <= i < self.vocab_size for i in ids) or len(ids) != len(set(ids)):
            raise ValueError(
                "ModelConfig.condition_groups must hold distinct token ids below vocab_size"
            )

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """Build from a dict (e.g. config.json); unknown or missing keys raise ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig keys {unknown}; valid keys: {sorted(known)}")
        if "vocab_size" not in d:
            raise ValueError("ModelConfig needs 'vocab_size'")
        return cls(**d)

    @classmethod
    def from_name(cls, name: str, vocab_size: int, **overrides: Any) -> ModelConfig:
        """A named size from SIZES (tiny, small, base, large), with optional field overrides."""
        if name not in SIZES:
            raise ValueError(f"unknown model size {name!r}; valid sizes: {list(SIZES)}")
        return cls.from_dict({**SIZES[name], "vocab_size": vocab_size, **overrides})


class KVCache:
    """Preallocated keys and values for every layer, each (B, n_head, max_len, head_dim).

    ``length`` is the number of positions already written; the model appends at ``length``.
    """

    def __init__(
        self,
        n_layer: int,
        batch_size: int,
        n_head: int,
        max_len: int,
        head_dim: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        shape = (batch_size, n_head, max_len, head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(n_layer)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(n_layer)]
        self.batch_size = batch_size
        self.max_len = max_len
        self.length = 0
        self.conditions: Tensor | None = None  # (B, groups): latest condition id so far, or -1
        self.condition_terms: list[Tensor] | None = None  # per layer (B, 1, C), for reuse

    def write(self, layer: int, start: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store k, v (B, H, T, D) at positions start..start+T-1; return all keys/values so far."""
        end = start + k.shape[2]
        self.k[layer][:, :, start:end] = k
        self.v[layer][:, :, start:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]  # (B, H, end, D)


def latest_conditions(
    idx: Tensor, group_of: Tensor, groups: int, before: Tensor | None = None
) -> Tensor:
    """For every position, the latest condition id of each group at or before it: (B, T, G).

    group_of maps a token id to its group, or -1; ``before`` (B, G) holds the ids in force
    before idx starts (from a cache); -1 where no condition of a group has been seen.
    """
    B, T = idx.shape
    group = group_of[idx]  # (B, T)
    positions = torch.arange(T, device=idx.device).expand(B, T)
    out = []
    for g in range(groups):
        last = torch.where(group == g, positions, -1).cummax(dim=1).values  # (B, T)
        ids = torch.where(last >= 0, idx.gather(1, last.clamp(min=0)), -1)
        if before is not None:
            ids = torch.where(last >= 0, ids, before[:, g : g + 1])
        out.append(ids)
    return torch.stack(out, dim=-1)  # (B, T, G)


def rope_tables(head_dim: int, context: int, base: float) -> tuple[Tensor, Tensor]:
    """cos and sin tables, each (context, head_dim), computed in float64 then float32.

    Full width (each frequency twice, rotate-half layout) so that rotating is elementwise.
    """
    inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.outer(torch.arange(context, dtype=torch.float64), inv_freq)  # (T, D/2)
    angles = torch.cat([angles, angles], dim=-1)  # (T, D)
    return angles.cos().float(), angles.sin().float()


def rotate_half_matrix(head_dim: int) -> Tensor:
    """(D, D) matrix R with x @ R == cat(-x2, x1): a fixed signed permutation, so exact."""
    half = head_dim // 2
    rotate = torch.zeros(head_dim, head_dim)
    rotate[half:, :half] = -torch.eye(half)  # output j < half takes -x[j + half]
    rotate[:half, half:] = torch.eye(half)  # output j >= half takes x[j - half]
    return rotate


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor, rotate: Tensor) -> Tensor:
    """Rotate x (..., T, D) by position: x * cos + rotate_half(x) * sin, in float32.

    rotate_half as one matmul by a fixed signed permutation: decoding a token is a few hundred
    tiny ops, and per-op overhead (not arithmetic) sets the speed.
    """
    rotated = torch.addcmul(x * cos, x @ rotate.to(x.dtype), sin)  # float32 (tables are)
    return rotated if rotated.dtype == x.dtype else rotated.to(x.dtype)


class Linear(nn.Linear):
    """nn.Linear that multiplies a few rows on a CPU by a cached (in, out) copy of its weight.

    Decoding multiplies one row per sequence by every weight. For so few rows, CPU BLAS can
    run x @ W' with W' stored (in, out) much faster than with nn.Linear's (out, in) layout
    (this model's matrices on a 2-vCPU EPYC: 1.5-2.2x in benchmarks/generate_speed.py's layout
    check); GPT-2's Conv1D stores its weights that way. The copy costs the weights' memory once
    more (12 MB for the default checkpoint) and is remade whenever the weight changes (its
    version counter), so training, loading and moving the model stay correct. Training, long
    inputs, GPUs and torch.compile (which picks its own layout) use F.linear.
    """

    FEW_ROWS = 16  # above this the two layouts run about alike: not worth the memory

    def __init__(self, in_features: int, out_features: int, bias: bool = False) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self._rows_weight: Tensor | None = None  # the (in, out) copy
        self._rows_key: tuple[int, int, torch.dtype] | None = None  # what it was copied from

    def forward(self, x: Tensor) -> Tensor:
        if (x.device.type != "cpu" or torch.is_grad_enabled() or torch.compiler.is_compiling()
                or x.numel() > self.FEW_ROWS * self.in_features):  # fmt: skip
            return F.linear(x, self.weight, self.bias)
        w = self.weight
        key = (0 if w.is_inference() else w._version, w.data_ptr(), w.dtype)  # fmt: skip
        if self._rows_key != key:
            self._rows_weight, self._rows_key = w.detach().t().contiguous(), key
        y = x @ self._rows_weight
        return y if self.bias is None else y + self.bias


class Attention(nn.Module):
    """Multi-head causal self-attention with rotary positions and an optional KV cache."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head, self.head_dim = cfg.n_head, cfg.head_dim
        self.qkv = Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(
        self, x: Tensor, rope: tuple[Tensor, Tensor, Tensor], cache: KVCache | None, layer: int,
        start: int,
    ) -> Tensor:  # fmt: skip
        B, T, C = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k = apply_rope(qkv[:2], *rope).unbind(0)  # (B, H, T, D) each, rotated together
        v = qkv[2]  # (B, H, T, D)

        mask, causal = None, True
        if cache is not None:
            k, v = cache.write(layer, start, k, v)  # (B, H, start+T, D)
            if k.dtype != q.dtype:
                k, v = k.to(q.dtype), v.to(q.dtype)
            if start > 0:
                causal = False
                if T > 1:  # query i sits at start+i and sees keys 0..start+i
                    mask = torch.ones(T, start + T, dtype=torch.bool, device=x.device)
                    mask = mask.tril(diagonal=start)
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            is_causal=causal,
            dropout_p=self.dropout if self.training else 0.0,
        )  # (B, H, T, D)
        y = self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)
        return self.resid_drop(y) if self.dropout else y


class MLP(nn.Module):
    """SwiGLU feed-forward; hidden width about 8/3 * n_embd, rounded up to a multiple of 64."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        hidden = 64 * math.ceil(8 * cfg.n_embd / 3 / 64)
        self.gate_up = Linear(cfg.n_embd, 2 * hidden)
        self.down = Linear(hidden, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)  # (B, T, hidden) each
        y = self.down(F.silu(gate) * up)
        return self.drop(y) if self.drop.p else y  # skipping a no-op module call is faster


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.norm1 = nn.RMSNorm(cfg.n_embd, eps=cfg.norm_eps)
        self.attn = Attention(cfg)
        self.norm2 = nn.RMSNorm(cfg.n_embd, eps=cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(
        self, x: Tensor, rope: tuple[Tensor, Tensor, Tensor], cache: KVCache | None, layer: int,
        start: int,
    ) -> Tensor:  # fmt: skip
        x = x + self.attn(self.norm1(x), rope, cache, layer, start)
        return x + self.mlp(self.norm2(x))


class MuseTransformer(nn.Module):
    """Decoder-only transformer: token ids (B, T) -> next-token logits (B, T, vocab_size)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.norm = nn.RMSNorm(config.n_embd, eps=config.norm_eps)
        self.lm_head = Linear(config.n_embd, config.vocab_size)
        self.lm_head.weight = self.wte.weight  # tied: one matrix, counted once
        cos, sin = rope_tables(config.head_dim, config.context, config.rope_base)
        self.register_buffer("rope_cos", cos, persistent=False)  # (context, D)
        self.register_buffer("rope_sin", sin, persistent=False)  # (context, D)
        rotate = rotate_half_matrix(config.head_dim)
        self.register_buffer("rope_rotate", rotate, persistent=False)  # (D, D)
        self.condition_proj = None
        if config.condition_groups:
            group_of = torch.full((config.vocab_size,), -1, dtype=torch.long)
            for g, ids in enumerate(config.condition_groups):
                group_of[ids] = g
            self.register_buffer("condition_group_of", group_of, persistent=False)  # (V,)
            self.condition_proj = nn.ModuleList(
                nn.Linear(config.n_embd, config.n_embd, bias=False) for _ in range(config.n_layer)
            )

        self.apply(self._init_weights)
        resid_std = 0.02 / math.sqrt(2 * config.n_layer)  # GPT-2: residual writes scaled down
        for name, p in self.named_parameters():
            if name.endswith(("attn.proj.weight", "mlp.down.weight")):
                nn.init.normal_(p, mean=0.0, std=resid_std)
            if name.startswith("condition_proj."):
                # Zero: a checkpoint without this path fine-tunes from exactly its own function.
                nn.init.zeros_(p)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self, exclude_embedding: bool = False) -> int:
        """Number of parameters, the tied embedding counted once (or not at all)."""
        n = sum(p.numel() for p in self.parameters())  # parameters() dedupes tied weights
        return n - self.wte.weight.numel() if exclude_embedding else n

    def new_cache(
        self,
        batch_size: int,
        max_len: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> KVCache:
        """An empty KV cache for ``batch_size`` rows and ``max_len`` (<= context) positions."""
        max_len = self.config.context if max_len is None else max_len
        if not 1 <= max_len <= self.config.context:
            raise ValueError(f"cache max_len={max_len} must be in [1, {self.config.context}]")
        if batch_size < 1:
            raise ValueError(f"cache batch_size={batch_size} must be >= 1")
        weight = self.wte.weight
        return KVCache(
            self.config.n_layer,
            batch_size,
            self.config.n_head,
            max_len,
            self.config.head_dim,
            device=weight.device if device is None else device,
            dtype=weight.dtype if dtype is None else dtype,
        )

    def forward(self, idx: Tensor, cache: KVCache | None = None) -> Tensor:
        """Logits (B, T, V) for token ids idx (B, T).

        Without a cache the tokens sit at positions 0..T-1. With one, they sit at
        cache.length..cache.length+T-1, their keys/values are appended, attention covers every
        cached position, and cache.length advances by T.
        """
        if idx.dim() != 2 or idx.shape[1] == 0:
            raise ValueError(f"idx must have shape (B, T) with T >= 1, got {tuple(idx.shape)}")
        B, T = idx.shape
        start = 0 if cache is None else cache.length
        if start + T > self.config.context:
            raise ValueError(
                f"positions {start}..{start + T - 1} exceed the model context "
                f"{self.config.context}; crop the sequence to its last {self.config.context} tokens"
            )
        if cache is not None:
            if cache.batch_size != B:
                raise ValueError(f"cache holds {cache.batch_size} rows but idx has {B}")
            if start + T > cache.max_len:
                raise ValueError(f"cache max_len={cache.max_len} too short for {start + T} tokens")
        rope = (self.rope_cos[start : start + T], self.rope_sin[start : start + T],
                self.rope_rotate)  # (T, D), (T, D), (D, D)  # fmt: skip
        x = self.wte(idx)  # (B, T, C)
        x = self.drop(x) if self.drop.p else x
        terms = self._condition_terms(idx, cache)  # per layer (B, T or 1, C), or None
        for layer, block in enumerate(self.blocks):
            if terms is not None:
                x = x + terms[layer]
            x = block(x, rope, cache, layer, start)
        if cache is not None:
            cache.length = start + T
        return self.lm_head(self.norm(x))  # (B, T, V)

    def _condition_terms(self, idx: Tensor, cache: KVCache | None) -> list[Tensor] | None:
        """What each layer adds: the projected sum of the embeddings of the conditions in force.

        While decoding (one new token that is not a condition) the terms of the previous step
        are reused: conditions change only at condition tokens.
        """
        if self.condition_proj is None:
            return None
        group_of = self.condition_group_of
        # Compiled (see compiled_for_decoding), recomputing is fused and cheap, while the test
        # below would be a data-dependent branch that splits the graph.
        if (cache is not None and cache.condition_terms is not None and idx.shape[1] == 1
                and not torch.compiler.is_compiling()
                and not bool((group_of[idx] >= 0).any())):  # fmt: skip
            return cache.condition_terms
        groups = len(self.config.condition_groups)
        before = None if cache is None else cache.conditions
        ids = latest_conditions(idx, group_of, groups, before)  # (B, T, G)
        vector = (self.wte(ids.clamp(min=0)) * (ids >= 0).unsqueeze(-1)).sum(dim=2)  # (B, T, C)
        terms = [proj(vector) for proj in self.condition_proj]
        if cache is not None:
            cache.conditions = ids[:, -1]  # (B, G)
            cache.condition_terms = [t[:, -1:] for t in terms]  # (B, 1, C) each
        return terms


def compiled_for_decoding(model: MuseTransformer) -> MuseTransformer:
    """The model compiled by torch.compile for many decoding steps (opt-in: `compile=True`).

    Decoding a small model on a CPU is bound by per-op overhead, not arithmetic; compiled, each
    step is a few fused kernels. Compiling costs tens of seconds once per process (less when
    torch's on-disk cache holds it), so it pays off for batch work, not for one continuation.
    Positions are dynamic, so one compiled graph serves every step. Needs a C++ compiler.
    """
    return torch.compile(model, dynamic=True)  # delegates .config, .new_cache, ... to model
