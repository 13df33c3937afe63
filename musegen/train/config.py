"""Training configuration: one dataclass, validated; `musegen train` reads it from YAML/JSON
recipes and `--name value` overrides with jsonargparse (musegen.cli.train).

The model's own config lives in `musegen.model.ModelConfig` (the network imports nothing else)
and the sampler's in `musegen.sampling.SamplingConfig`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

STRATEGIES = ("auto", "ddp", "ddp_spawn", "fsdp")
PRECISIONS = ("auto", "32-true", "bf16-mixed", "16-mixed", "bf16-true")


@dataclass
class TrainConfig:
    """Everything `musegen train` needs; every field is a `--name value` CLI override."""

    data: str = "data/cache"  # token shards written by `musegen tokenize`
    out: str = "runs/default"  # run folder: logs, Lightning checkpoints
    size: str = "small"  # tiny | small | base | large
    context: int | None = None  # overrides of the named size
    n_layer: int | None = None
    n_head: int | None = None
    n_embd: int | None = None
    dropout: float = 0.0
    batch_size: int = 16
    accumulate: int = 1
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    warmup_steps: int = 200
    max_steps: int = 5000
    grad_clip: float = 1.0
    condition_dropout: float = 0.15  # chance each condition becomes its "any" token
    style_power: float = 0.5  # 1 = corpus proportions, 0 = every style equally often
    val_every: int = 250
    val_windows: int = 256
    checkpoint_every: int = 250
    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "auto"  # bf16-mixed on GPU, 32-true on CPU
    compile: bool = False
    num_workers: int = 0
    threads: int | None = None  # torch CPU threads; None = all cores
    seed: int = 0
    init_from: str | None = None  # checkpoint folder to fine-tune from
    unconditioned: bool = False  # ablation: always the "any" tokens
    # Style and mood also added before every block, not only a prefix (see musegen.model).
    condition_every_layer: bool = True
    # Loss weight of the first opening_tokens of every piece, where its labels decide most.
    opening_weight: float = 1.0
    opening_tokens: int = 48
    # > 0: also keep an exponential moving average of the weights (decay per step), which
    # validation and export then use; averaging along the trajectory tends to generalise better.
    ema_decay: float = 0.0
    # Share of training pieces switched to the parallel mode at an early bar line and labelled
    # with the other valence (musegen.augment): examples of following the mood over the seed.
    mode_switch: float = 0.0
    # Share of training pieces reduced to one piano (musegen.augment): seeds are often piano.
    piano_share: float = 0.0
    # Share of training pieces transposed by 1 to transpose_range semitones up or down.
    transpose_share: float = 0.0
    transpose_range: int = 3
    # Bar plans (musegen.tokens.controls), when the tokenizer has them: share of pieces whose
    # plans of one kind are all "any", and of the other bars whose plan of a kind is.
    plan_dropout: float = 0.25
    plan_bar_dropout: float = 0.1
    # Share of training pieces whose bars are edited against their context (thinned, one
    # voice, an octave away, a new key from a bar on) with plans measured again on the edit
    # (musegen.data.plan_contrast): examples of a plan the context does not predict.
    plan_contrast: float = 0.0
    # Share of training pieces laid out fill-in-the-middle around up to infill_max_bars bars
    # (all tracks, or one): what `infill` and `add_part` ask of the model.
    infill_share: float = 0.0
    infill_max_bars: int = 8
    # > 0: weight of the discriminative label loss (musegen.contrast): each piece should be
    # likelier under its own style (mood) than under another one; one more forward pass each.
    style_contrast: float = 0.0
    mood_contrast: float = 0.0

    def __post_init__(self) -> None:
        checks = [
            ("batch_size", self.batch_size >= 1, ">= 1"),
            ("accumulate", self.accumulate >= 1, ">= 1"),
            ("lr", self.lr > 0, "> 0"),
            ("min_lr_ratio", 0 <= self.min_lr_ratio <= 1, "in [0, 1]"),
            ("warmup_steps", self.warmup_steps >= 0, ">= 0"),
            ("max_steps", self.max_steps >= 1, ">= 1"),
            ("grad_clip", self.grad_clip >= 0, ">= 0"),
            ("condition_dropout", 0 <= self.condition_dropout <= 1, "in [0, 1]"),
            ("style_power", 0 <= self.style_power <= 1, "in [0, 1]"),
            ("opening_weight", self.opening_weight > 0, "> 0"),
            ("opening_tokens", self.opening_tokens >= 0, ">= 0"),
            ("ema_decay", 0 <= self.ema_decay < 1, "in [0, 1)"),
            ("mode_switch", 0 <= self.mode_switch <= 1, "in [0, 1]"),
            ("plan_dropout", 0 <= self.plan_dropout <= 1, "in [0, 1]"),
            ("plan_bar_dropout", 0 <= self.plan_bar_dropout <= 1, "in [0, 1]"),
            ("plan_contrast", 0 <= self.plan_contrast <= 1, "in [0, 1]"),
            ("infill_share", 0 <= self.infill_share <= 1, "in [0, 1]"),
            ("infill_max_bars", self.infill_max_bars >= 1, ">= 1"),
            ("piano_share", 0 <= self.piano_share <= 1, "in [0, 1]"),
            ("transpose_share", 0 <= self.transpose_share <= 1, "in [0, 1]"),
            ("transpose_range", 1 <= self.transpose_range <= 12, "in [1, 12]"),
            ("ema_decay", not (self.ema_decay and self.strategy == "fsdp"), "0 with fsdp"),
            ("val_every", self.val_every >= 1, ">= 1"),
            ("checkpoint_every", self.checkpoint_every >= 1, ">= 1"),
            ("num_nodes", self.num_nodes >= 1, ">= 1"),
            ("strategy", self.strategy in STRATEGIES, f"one of {', '.join(STRATEGIES)}"),
            ("precision", self.precision in PRECISIONS, f"one of {', '.join(PRECISIONS)}"),
            ("dropout", 0 <= self.dropout < 1, "in [0, 1)"),
            ("style_contrast", self.style_contrast >= 0, ">= 0"),
            ("mood_contrast", self.mood_contrast >= 0, ">= 0"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r} is invalid: must be {allowed}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training option(s) {unknown}; valid: {sorted(known)}")
        return cls(**values)
