"""Checkpoint folders: model.safetensors + config.json + tokenizer.json + card.md.

Loading reads safetensors and JSON only; a pickle-based file is never unpickled from a user's
path (Lightning's own resume files are read with weights_only=True by the trainer).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model

from musegen.errors import CheckpointError
from musegen.model.transformer import ModelConfig, MuseTransformer
from musegen.tokens.tokenizer import MuseTokenizer

REQUIRED = ("model.safetensors", "config.json", "tokenizer.json")
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle")
REPO_ROOT = Path(__file__).resolve().parents[2]
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class Checkpoint:
    """A loaded checkpoint folder."""

    path: Path
    name: str
    model: MuseTransformer
    model_config: ModelConfig
    tokenizer: MuseTokenizer
    config: dict  # the whole config.json
    sha256: str  # of model.safetensors: names the exact weights in provenance records

    @property
    def programs(self) -> dict[str, dict]:
        """Training statistics per GM program (see musegen.programs); {} in older folders."""
        return self.config.get("programs") or {}

    @property
    def card(self) -> str:
        card = self.path / "card.md"
        return card.read_text() if card.exists() else "(this checkpoint has no card.md)"


def resolve(path_or_name: str | Path | None = None) -> Path:
    """A checkpoint folder from a path or a name under checkpoints/ (None = the default)."""
    if path_or_name is None:
        path_or_name = os.environ.get("MUSEGEN_CHECKPOINT", "default")
    candidate = Path(path_or_name).expanduser()
    if candidate.exists():
        return candidate
    for root in (Path.cwd() / "checkpoints", REPO_ROOT / "checkpoints"):
        if (root / str(path_or_name)).is_dir():
            return root / str(path_or_name)
    raise CheckpointError(
        f"checkpoint {str(path_or_name)!r} not found: give a checkpoint folder "
        f"(with {', '.join(REQUIRED)}) or a name under checkpoints/"
    )


def load(path_or_name: str | Path | None = None, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint folder; every problem is a CheckpointError saying what to do."""
    path = resolve(path_or_name)
    if path.is_file():
        if path.suffix.lower() in PICKLE_SUFFIXES:
            raise CheckpointError(
                f"{path}: pickle-based files are never loaded (they can run code); give a "
                "checkpoint folder, or turn a training run into one with: musegen export RUN_DIR"
            )
        raise CheckpointError(f"{path} is a file; give the checkpoint folder that holds it")
    missing = [f for f in REQUIRED if not (path / f).is_file()]
    if missing:
        hint = ""
        if any(p.suffix in PICKLE_SUFFIXES for p in path.iterdir()):
            hint = " (pickle files here are never loaded; run: musegen export RUN_DIR)"
        raise CheckpointError(
            f"{path} is not a complete checkpoint: missing {', '.join(missing)}{hint}; "
            "re-export it with musegen export or use checkpoints/default"
        )
    try:
        config = json.loads((path / "config.json").read_text())
        model_config = ModelConfig.from_dict(config["model"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(
            f"{path}/config.json is corrupt ({exc}); re-export the checkpoint"
        ) from None
    try:
        tokenizer = MuseTokenizer.load(path / "tokenizer.json")
    except Exception as exc:
        raise CheckpointError(
            f"{path}/tokenizer.json is corrupt ({type(exc).__name__}: {exc})"
        ) from None
    if tokenizer.vocab_size != model_config.vocab_size:
        raise CheckpointError(
            f"{path}: tokenizer has {tokenizer.vocab_size} tokens but the model "
            f"{model_config.vocab_size}; the folder mixes two checkpoints"
        )
    weights_file = path / "model.safetensors"
    model = MuseTransformer(model_config)
    try:  # half-precision weights load as float32; a tied tensor is stored under one name
        load_model(model, weights_file, device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{weights_file} is corrupt ({exc}); re-export the checkpoint"
        ) from None
    except RuntimeError as exc:
        raise _mismatch(weights_file, exc) from None
    model.to(device).eval()
    return Checkpoint(
        path=path,
        name=config.get("name", path.name),
        model=model,
        model_config=model_config,
        tokenizer=tokenizer,
        config=config,
        sha256=file_sha256(weights_file),
    )


def _mismatch(source: Path, exc: RuntimeError) -> CheckpointError:
    """torch's missing / unexpected / wrongly shaped tensors, on one line."""
    detail = "; ".join(line.strip() for line in str(exc).splitlines()[1:4])
    return CheckpointError(
        f"{source} does not match its config ({detail}); re-export the checkpoint"
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(
    out: str | Path,
    model: MuseTransformer,
    tokenizer: MuseTokenizer,
    *,
    name: str,
    dtype: str = "bfloat16",
    extra: dict | None = None,
    card: str | None = None,
) -> Path:
    """Write a checkpoint folder (atomically: to a temporary folder, then renamed)."""
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    weights = copy.deepcopy(model).to("cpu", DTYPES[dtype])  # a copy keeps the tie
    metadata = {"format": "pt", "dtype": dtype}  # save_model adds the name a tie drops
    save_model(weights, str(tmp / "model.safetensors"), metadata=metadata)
    os.chmod(tmp / "model.safetensors", 0o644)  # safetensors writes 0600; a checkpoint is shared
    tokenizer.save(tmp / "tokenizer.json")
    config = {
        "name": name,
        "musegen_version": _version(),
        "dtype": dtype,
        "model": model.config.to_dict(),
        "parameters": model.num_parameters(),
        "styles": tokenizer.styles,
        "moods": tokenizer.moods,
        **(extra or {}),
    }
    (tmp / "config.json").write_text(json.dumps(config, indent=2))
    if card:
        (tmp / "card.md").write_text(card)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


def _version() -> str:
    from musegen import __version__

    return __version__


def lightning_state(ckpt_file: Path) -> tuple[dict, dict]:
    """(model state dict, hyper-parameters) from a Lightning checkpoint of our own run.

    Read with weights_only=True: only tensors and plain containers are accepted.
    """
    import pickle

    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol: one line only
            warnings.simplefilter("ignore")
            raw = torch.load(ckpt_file, map_location="cpu", weights_only=True)
        # A run with --ema-decay holds the moving average of the weights as its state_dict;
        # runs from before the weight-averaging callback kept it under ema.module.
        ema = any(k.startswith("ema.module.") for k in raw["state_dict"])
        prefix = "ema.module." if ema else "model."
        state = {
            k[len(prefix) :].replace("_orig_mod.", ""): v
            for k, v in raw["state_dict"].items()
            if k.startswith(prefix)
        }
        hparams = raw.get("hyper_parameters", {})
    except pickle.UnpicklingError as exc:  # torch's weights_only guard: code, or not a pickle
        lines = [line for line in str(exc).splitlines() if "nsupported" in line]
        reason = (lines or [type(exc).__name__])[0].strip()[:160]
        what = "holds objects other than tensors" if "GLOBAL" in reason else "is damaged"
        raise CheckpointError(
            f"{ckpt_file} was not read: it {what} ({reason}); only checkpoints written by "
            "musegen train are read, and never in a way that could run code"
        ) from None
    except (RuntimeError, OSError, EOFError, KeyError, TypeError, AttributeError) as exc:
        reason = (str(exc).strip() or type(exc).__name__).splitlines()[0][:160]
        raise CheckpointError(
            f"{ckpt_file} is not a readable Lightning checkpoint ({reason}); "
            "train again or export another run"
        ) from None
    if "model_config" not in hparams:
        raise CheckpointError(f"{ckpt_file} has no model_config: not written by musegen train")
    return state, hparams


def export_run(run_dir: str | Path, out: str | Path, *, name: str, dtype: str = "bfloat16",
               which: str = "best", extra: dict | None = None, card: str | None = None,
               average_with: str | Path | None = None) -> Path:  # fmt: skip
    """Turn a training run folder into a checkpoint folder.

    average_with: a checkpoint folder of the same network (typically the one the run started
    from) whose weights are averaged with the run's, half and half ("model soup"): averaging
    two points of one fine-tuning trajectory keeps much of what each learned (see README).
    """
    run_dir = Path(run_dir)
    ckpt = run_dir / "checkpoints" / f"{which}.ckpt"
    if not ckpt.exists():
        ckpt = run_dir / "checkpoints" / "last.ckpt"
    if not ckpt.exists():
        raise CheckpointError(f"{run_dir} holds no checkpoints/best.ckpt or last.ckpt to export")
    state, hparams = lightning_state(ckpt)
    model = MuseTransformer(ModelConfig.from_dict(hparams["model_config"]))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise _mismatch(ckpt, exc) from None
    tokenizer = MuseTokenizer.load(run_dir / "tokenizer.json")
    averaged = None
    if average_with is not None:
        # Read now: the export may be about to replace that very folder.
        partner = load(average_with)
        if partner.model_config != model.config or partner.tokenizer != tokenizer:
            raise CheckpointError(
                f"{average_with} is not the same network and vocabulary as {run_dir}; "
                "average only checkpoints of one training lineage"
            )
        theirs = partner.model.state_dict()
        with torch.no_grad():
            for key, value in model.named_parameters():  # a tied tensor once, not once per name
                value.copy_((value.float() + theirs[key].float()) / 2)
        averaged = {"name": partner.name, "path": str(average_with), "sha256": partner.sha256}
    run = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    info = {"training": {**run, "exported_from": ckpt.name}, **(extra or {})}
    if averaged is not None:
        info["training"]["averaged_with"] = averaged
    init_from = run.get("train", {}).get("init_from")
    init = Path(init_from) if init_from else None
    if init is not None and (init / "config.json").exists():
        # Read now: the export may be about to replace that very folder (a second stage).
        previous = json.loads((init / "config.json").read_text())
        info["training"]["initialised_from"] = {
            "name": previous.get("name"), "path": str(init),
            "sha256": file_sha256(init / "model.safetensors"),
            "training": previous.get("training", {}),
        }  # fmt: skip
    return save(out, model, tokenizer, name=name, dtype=dtype, extra=info, card=card)
