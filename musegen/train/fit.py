"""Lightning training: the LightningModule, the data module over token shards, and fit().

Scaling out is Lightning's job: `--devices`, `--num-nodes` and `--strategy ddp|fsdp` go
straight to the Trainer, so torchrun or SLURM launch the same command on a cluster.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, WeightAveraging
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch.optim.swa_utils import get_ema_multi_avg_fn

from musegen.checkpoint.folder import lightning_state, load
from musegen.data.shards import EvalWindows, Shards, WindowSampler, WindowStream, note_counts
from musegen.model.loss import IGNORE, bits_per_note, token_nats
from musegen.model.transformer import ModelConfig, MuseTransformer
from musegen.tokens.tokenizer import MuseTokenizer
from musegen.train import contrast
from musegen.train.config import TrainConfig


def model_config_for(train: TrainConfig, tokenizer: MuseTokenizer) -> ModelConfig:
    """The named size with the recipe's overrides."""
    overrides = {
        k: getattr(train, k) for k in ("context", "n_layer", "n_head", "n_embd")
        if getattr(train, k) is not None
    }  # fmt: skip
    return ModelConfig.from_name(
        train.size, tokenizer.vocab_size, dropout=train.dropout,
        condition_groups=condition_groups_for(train, tokenizer), **overrides,
    )  # fmt: skip


def condition_groups_for(train: TrainConfig, tokenizer: MuseTokenizer) -> list[list[int]]:
    """The tokenizer's condition ids when they should reach every layer, else none."""
    if train.condition_every_layer and not train.unconditioned:
        return tokenizer.condition_groups()
    return []


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warm-up, then cosine decay to `min_ratio` of the peak."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class MuseLM(L.LightningModule):
    """Next-token prediction over condition-prefixed windows."""

    def __init__(self, model_config: dict, train_config: dict):
        super().__init__()
        self.save_hyperparameters()  # plain dicts: checkpoints load with weights_only=True
        self.model_config = ModelConfig.from_dict(model_config)
        self.train_config = TrainConfig.from_dict(train_config)
        self.model = MuseTransformer(self.model_config)
        self._val: list[torch.Tensor] = []

    def setup(self, stage: str) -> None:
        # In place, so state-dict names match the moving average's (uncompiled) copy; here, not
        # in configure_model, which WeightAveraging would also call, with a warning.
        if self.train_config.compile:
            self.model.compile()

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.model(idx)

    def _loss(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = batch[0], batch[1]  # training batches also hold loss weights
        logits = self.model(x)  # (B, T, V)
        return token_nats(logits, y), y  # (B, T)

    def training_step(self, batch, batch_idx):
        nats, y = self._loss(batch)
        weights = batch[2] * (y != IGNORE)  # (B, T)
        loss = (nats * weights).sum() / weights.sum().clamp(min=1e-6)
        self.log("train_loss", loss, prog_bar=True)
        cfg = self.train_config
        for kind, weight in (("style", cfg.style_contrast), ("mood", cfg.mood_contrast)):
            if weight > 0:
                label_loss = self._label_contrast(kind, batch[0], y, nats)
                self.log(f"{kind}_contrast", label_loss, prog_bar=True)
                loss = loss + weight * label_loss
        return loss

    def _label_contrast(self, kind: str, x: torch.Tensor, y: torch.Tensor, nats: torch.Tensor):
        """The discriminative loss of musegen.contrast for the style or mood labels of a batch."""
        tok = self.trainer.datamodule.shards.tokenizer
        labels, starts = (t.to(x.device) for t in contrast.label_tokens(tok, kind))
        swapped, _ = self._loss((contrast.swap_labels(x, labels), y))
        ratios = contrast.piece_log_ratios(nats, swapped, x, y, labels, starts, IGNORE)
        return contrast.contrast_loss(ratios)

    def validation_step(self, batch, batch_idx):
        nats, y = self._loss(batch)
        table = self.trainer.datamodule.notes_per_id.to(y.device)
        notes = table[y.clamp(min=0)] * (y != IGNORE)
        self._val.append(torch.stack([nats.sum(), (y != IGNORE).sum(), notes.sum()]).double())

    def on_validation_epoch_end(self):
        if not self._val:
            return
        total = torch.stack(self._val).sum(0)
        self._val.clear()
        total = self.trainer.strategy.reduce(total, reduce_op="sum")
        self.log("val_loss", total[0] / total[1].clamp(min=1), prog_bar=True, sync_dist=False)
        self.log("val_bits_per_note", bits_per_note(float(total[0]), float(total[2])),
                 sync_dist=False)  # fmt: skip

    def configure_optimizers(self):
        cfg = self.train_config
        params = list(self.model.parameters())
        decay = [p for p in params if p.requires_grad and p.dim() >= 2]
        no_decay = [p for p in params if p.requires_grad and p.dim() < 2]
        groups = [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        fused = torch.cuda.is_available() and self.device.type == "cuda"
        optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95), fused=fused)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda step: lr_factor(step, cfg.warmup_steps, cfg.max_steps, cfg.min_lr_ratio),
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class ShardData(L.LightningDataModule):
    """Training windows streamed from the shards; fixed validation windows."""

    def __init__(self, train_config: TrainConfig, context: int):
        super().__init__()
        self.cfg, self.context = train_config, context

    def setup(self, stage: str | None = None) -> None:
        cfg = self.cfg
        self.shards = Shards.open(cfg.data)
        dropout = 1.0 if cfg.unconditioned else cfg.condition_dropout
        self.train_sampler = WindowSampler(
            self.shards, "train", self.context, dropout, cfg.style_power, cfg.seed,
            opening_weight=cfg.opening_weight, opening_tokens=cfg.opening_tokens,
            mode_switch=cfg.mode_switch, piano_share=cfg.piano_share,
            transpose_share=cfg.transpose_share, transpose_range=cfg.transpose_range,
            plan_dropout=cfg.plan_dropout, plan_bar_dropout=cfg.plan_bar_dropout,
            plan_contrast=cfg.plan_contrast,
            infill_share=cfg.infill_share, infill_max_bars=cfg.infill_max_bars,
        )  # fmt: skip
        val_sampler = WindowSampler(self.shards, "validation", self.context, 0.0, seed=cfg.seed)
        if cfg.unconditioned:
            any_ids = self.shards.tokenizer.condition_ids(None, None)
            val_sampler.cond = [any_ids for _ in val_sampler.cond]
        self.val = EvalWindows(val_sampler, cfg.val_windows)
        self.notes_per_id = torch.from_numpy(note_counts(self.shards.tokenizer))

    def train_dataloader(self):
        # Resuming: global_step is restored before the loader is built, so the stream picks
        # up at the sample where the interrupted run stopped.
        trainer = self.trainer
        start = trainer.global_step * self.cfg.batch_size * self.cfg.accumulate
        stream = WindowStream(self.train_sampler, start, trainer.global_rank, trainer.world_size)
        return torch.utils.data.DataLoader(
            stream, batch_size=self.cfg.batch_size, num_workers=self.cfg.num_workers,
            worker_init_fn=_one_thread, persistent_workers=self.cfg.num_workers > 0,
        )  # fmt: skip

    def val_dataloader(self):
        return torch.utils.data.DataLoader(self.val, batch_size=self.cfg.batch_size)


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)


def resolve_precision(cfg: TrainConfig) -> str:
    if cfg.precision != "auto":
        return cfg.precision
    on_gpu = torch.cuda.is_available() and cfg.accelerator in ("auto", "gpu", "cuda")
    return "bf16-mixed" if on_gpu else "32-true"


def moving_average(decay: float) -> WeightAveraging:
    """Exponential moving average of the weights, updated after every optimiser step.

    Checkpoints hold the average as their weights (so export ships it) and the trained ones
    beside it (so --resume carries on from both); validation runs on the average.
    """
    return WeightAveraging(use_buffers=False, multi_avg_fn=get_ema_multi_avg_fn(decay))


def grown_state(state: dict[str, torch.Tensor], vocab_size: int) -> dict[str, torch.Tensor]:
    """A state dict whose embedding has `vocab_size` rows: the old rows as they were, new ones
    at the mean of the old (a token the model has not seen starts as an average token)."""
    state = dict(state)
    old = state["wte.weight"]
    if len(old) < vocab_size:
        extra = old.mean(0, keepdim=True).expand(vocab_size - len(old), -1)
        state["wte.weight"] = torch.cat([old, extra.clone()])
        if "lm_head.weight" in state:  # tied to wte
            state["lm_head.weight"] = state["wte.weight"]
    return state


def fit(cfg: TrainConfig, resume: bool = False, progress: bool = True) -> Path:
    """Train (or resume) a run in `cfg.out`; returns the run folder."""
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    shards = Shards.open(cfg.data)
    last = out / "checkpoints" / "last.ckpt"
    if resume and last.exists():
        lightning_state(last)  # refuses a file that is not our own, in one line, first
    out.mkdir(parents=True, exist_ok=True)
    shards.tokenizer.save(out / "tokenizer.json")  # the run folder exports on its own
    if cfg.init_from:
        base = load(cfg.init_from)
        tok = shards.tokenizer
        if base.tokenizer.remi != tok.remi or tok.extra[: len(base.tokenizer.extra)] != (
            base.tokenizer.extra
        ):
            raise ValueError(
                f"{cfg.data} was tokenized with another vocabulary than {cfg.init_from}; "
                f"re-run: musegen tokenize --tokenizer {cfg.init_from}/tokenizer.json"
            )
        # The base's ids keep their rows; tokens it lacks (controls, new styles) get new ones,
        # and a longer context only lengthens the rotary tables.
        model_config = ModelConfig.from_dict({
            **base.model_config.to_dict(), "vocab_size": tok.vocab_size,
            "context": cfg.context or base.model_config.context,
            "condition_groups": condition_groups_for(cfg, tok),
        })  # fmt: skip
    else:
        model_config = model_config_for(cfg, shards.tokenizer)
    module = MuseLM(model_config.to_dict(), cfg.to_dict())
    if cfg.init_from:
        grown = grown_state(base.model.state_dict(), model_config.vocab_size)
        missing, unexpected = module.model.load_state_dict(grown, strict=False)
        if unexpected or any(not k.startswith("condition_proj.") for k in missing):
            raise ValueError(f"{cfg.init_from} does not fit this run's model "
                             f"(missing {missing[:3]}, unexpected {unexpected[:3]})")  # fmt: skip
    data = ShardData(cfg, model_config.context)
    ckpt_path = str(last) if resume and last.exists() else None
    if resume and ckpt_path is None:
        print(f"no checkpoint at {last}; starting a new run")
    callbacks = [
        # best.ckpt is written right after each validation, so it always matches its val_loss
        # (a step-triggered save runs before that step's validation and would keep a stale one).
        ModelCheckpoint(
            dirpath=out / "checkpoints", filename="best", monitor="val_loss", mode="min",
            save_top_k=1, save_on_train_epoch_end=False, enable_version_counter=False,
        ),
        # last.ckpt every N steps: what --resume continues from after a crash or SIGKILL.
        ModelCheckpoint(
            dirpath=out / "checkpoints", save_top_k=0, save_last=True,
            every_n_train_steps=cfg.checkpoint_every, enable_version_counter=False,
        ),
        LearningRateMonitor(logging_interval="step"),
    ]  # fmt: skip
    if cfg.ema_decay > 0:
        callbacks.append(moving_average(cfg.ema_decay))
    trainer = L.Trainer(
        default_root_dir=out,
        max_steps=cfg.max_steps,
        accelerator=cfg.accelerator,
        devices=cfg.devices if cfg.devices == "auto" else int(cfg.devices),
        num_nodes=cfg.num_nodes,
        strategy=cfg.strategy,
        precision=resolve_precision(cfg),
        gradient_clip_val=cfg.grad_clip or None,
        accumulate_grad_batches=cfg.accumulate,
        val_check_interval=cfg.val_every * cfg.accumulate,
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        callbacks=callbacks,
        logger=[
            # One folder per session (logs/version_N): a resumed run keeps the earlier metrics.
            CSVLogger(out, name="logs"),
            TensorBoardLogger(out, name="tb", version=""),
        ],
        log_every_n_steps=10,
        enable_progress_bar=progress,
        enable_model_summary=False,
    )
    started = time.time()
    trainer.fit(module, datamodule=data, ckpt_path=ckpt_path, weights_only=True)
    if trainer.is_global_zero:
        summary = {
            "model": model_config.to_dict(),
            "train": cfg.to_dict(),
            "steps": trainer.global_step,
            "seconds_this_session": round(time.time() - started, 1),
            "tokens_seen": trainer.global_step
            * cfg.batch_size
            * cfg.accumulate
            * model_config.context
            * trainer.world_size,
            "val_loss": _metric(trainer, "val_loss"),
            "val_bits_per_note": _metric(trainer, "val_bits_per_note"),
            "best_checkpoint": callbacks[0].best_model_path,
            "hardware": _hardware(trainer),
        }
        (out / "run.json").write_text(json.dumps(summary, indent=2))
    return out


def _metric(trainer: L.Trainer, name: str) -> float | None:
    value = trainer.callback_metrics.get(name)
    return None if value is None else float(value)


def _hardware(trainer: L.Trainer) -> str:
    if torch.cuda.is_available() and trainer.accelerator.__class__.__name__.startswith("CUDA"):
        return f"{trainer.world_size} x {torch.cuda.get_device_name(0)}"
    threads = torch.get_num_threads()
    return f"{trainer.world_size} x CPU process ({os.cpu_count()} cores, {threads} threads)"
