from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from musegen.train.config import TrainConfig
from musegen.train.fit import fit, lr_factor

MUSEGEN = [sys.executable, "-m", "musegen"]


def tiny(small_shards: Path, out: Path, **kw) -> TrainConfig:
    values = dict(data=str(small_shards), out=str(out), size="tiny", context=128, batch_size=8,
                  lr=3e-3, warmup_steps=5, max_steps=40, val_every=20, val_windows=16,
                  checkpoint_every=10, threads=1)  # fmt: skip
    values.update(kw)
    return TrainConfig(**values)


def losses(run: Path, name: str) -> list[tuple[int, float]]:
    rows = []
    for path in sorted((run / "logs").glob("version_*/metrics.csv")):  # one per session
        with path.open() as fh:
            rows += [(int(r["step"]), float(r[name])) for r in csv.DictReader(fh) if r.get(name)]
    return sorted(rows)


def test_lr_schedule_warms_up_then_decays():
    assert lr_factor(0, 10, 100, 0.1) < lr_factor(9, 10, 100, 0.1) <= 1.0
    assert lr_factor(100, 10, 100, 0.1) == pytest.approx(0.1)


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="strategy='mpi'"):
        TrainConfig(strategy="mpi")
    with pytest.raises(ValueError, match="unknown training option"):
        TrainConfig.from_dict({"learning_rate": 1})


@pytest.mark.slow
def test_loss_falls_and_checkpoints_exist(small_shards, tmp_path):
    run = fit(tiny(small_shards, tmp_path / "run"), progress=False)
    train = losses(run, "train_loss")
    import math

    # starts near ln(vocab) = uniform guessing, and has learned clearly by the end
    assert train[-1][1] < train[0][1] and train[-1][1] < 0.8 * math.log(800), train
    assert (run / "checkpoints" / "last.ckpt").exists()
    assert (run / "checkpoints" / "best.ckpt").exists()
    assert (run / "run.json").exists() and (run / "tokenizer.json").exists()
    assert losses(run, "val_loss") and losses(run, "val_bits_per_note")


def style_contrast_of(run: Path, shards: Path) -> float:
    """The style loss of a run's last weights on 8 fixed training windows, styles swapped
    with a fixed generator."""
    import numpy as np
    import torch

    from musegen import checkpoint
    from musegen.data.shards import Shards, WindowSampler
    from musegen.model.loss import IGNORE
    from musegen.train import contrast

    ckpt = checkpoint.export_run(run, run.parent / f"{run.name}-ckpt", name=run.name)
    model, tok = checkpoint.load(ckpt).model, Shards.open(shards).tokenizer
    sampler = WindowSampler(Shards.open(shards), "train", 128, 0.0, seed=1)
    windows = [sampler.window(k) for k in range(8)]
    x, y = (torch.from_numpy(np.stack(part)) for part in zip(*windows, strict=True))
    styles, starts = contrast.label_tokens(tok, "style")
    swapped = contrast.swap_labels(x, styles, torch.Generator().manual_seed(0))

    def nats(inputs):
        logits = model(inputs)
        return torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, ignore_index=IGNORE,
                                                 reduction="none")  # fmt: skip

    with torch.inference_mode():
        ratios = contrast.piece_log_ratios(nats(x), nats(swapped), x, y, styles, starts, IGNORE)
    return float(contrast.contrast_loss(ratios))


@pytest.mark.slow
def test_training_with_the_style_loss_teaches_the_model_its_styles(small_shards, tmp_path):
    import math

    plain = fit(tiny(small_shards, tmp_path / "plain", max_steps=30), progress=False)
    run = fit(tiny(small_shards, tmp_path / "contrast", max_steps=30, style_contrast=2.0,
                   mood_contrast=1.0), progress=False)  # fmt: skip
    for kind in ("style", "mood"):
        curve = [value for _, value in losses(run, f"{kind}_contrast")]
        assert len(curve) >= 2 and all(math.isfinite(v) for v in curve), kind
    assert losses(run, "train_loss")
    # the same steps from the same seed, with and without the style loss
    with_loss = style_contrast_of(run, small_shards)
    without = style_contrast_of(plain, small_shards)
    assert with_loss < 0.7 * without, (with_loss, without)


@pytest.mark.slow
def test_sigkill_then_resume_finishes(small_shards, tmp_path):
    out = tmp_path / "run"
    args = [*MUSEGEN, "train", "--data", str(small_shards), "--out", str(out), "--size", "tiny",
            "--context", "128", "--batch-size", "8", "--max-steps", "60", "--val-every", "20",
            "--val-windows", "8", "--checkpoint-every", "10", "--warmup-steps", "5",
            "--threads", "1"]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    last = out / "checkpoints" / "last.ckpt"
    deadline = time.time() + 120
    while time.time() < deadline and not (last.exists() and _step(out) >= 20):
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = _step(out)
    assert 10 <= killed_at < 60
    resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, env=env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    steps = [s for s, _ in losses(out, "train_loss")]
    assert max(steps) >= 49 and min(steps) < killed_at  # both sessions' metrics are kept
    import torch

    state = torch.load(last, map_location="cpu", weights_only=True)
    assert state["global_step"] == 60
    # the loss carries on from where it was rather than starting over
    train = losses(out, "train_loss")
    assert train[-1][1] < train[0][1]


def _step(out: Path) -> int:
    path = out / "checkpoints" / "last.ckpt"
    if not path.exists():
        return 0
    import torch

    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])
    except Exception:  # being written
        return 0


@pytest.mark.slow
def test_two_process_ddp_on_cpu(small_shards, tmp_path):
    out = tmp_path / "ddp"
    args = [*MUSEGEN, "train", "--data", str(small_shards), "--out", str(out), "--size", "tiny",
            "--context", "64", "--batch-size", "4", "--max-steps", "6", "--val-every", "3",
            "--val-windows", "4", "--checkpoint-every", "3", "--accelerator", "cpu",
            "--devices", "2", "--strategy", "ddp", "--threads", "1"]  # fmt: skip
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    summary = json.loads((out / "run.json").read_text())
    assert summary["steps"] == 6 and summary["hardware"].startswith("2 x")


def fine_tune(small_shards: Path, run: Path, init_from: Path, lr: str = "1e-9", steps: str = "2",
              *extra: str) -> int:  # fmt: skip
    """`musegen train --init-from` on the tiny shards: batch 2, one validation at the end."""
    from musegen.cli.app import main

    return main(["train", "--data", str(small_shards), "--out", str(run), "--init-from",
                 str(init_from), "--lr", lr, "--warmup-steps", "0", "--max-steps", steps,
                 "--val-every", steps, "--val-windows", "2", "--checkpoint-every", steps,
                 "--batch-size", "2", "--threads", "1", "--accelerator", "cpu",
                 *extra])  # fmt: skip


def test_fine_tune_starts_from_the_checkpoint_and_the_card_says_so(tiny_checkpoint, small_shards,
                                                                   tmp_path):  # fmt: skip
    import shutil

    import torch

    from musegen import checkpoint
    from musegen.cli.app import main

    stage1 = tmp_path / "stage1"
    shutil.copytree(tiny_checkpoint, stage1)
    before = checkpoint.load(stage1).model.state_dict()
    run = tmp_path / "run"
    assert fine_tune(small_shards, run, stage1) == 0
    # exported over the folder it started from, as a second training stage is
    code = main(["export", str(run), "--name", "stage2", "--out", str(stage1),
                 "--dtype", "float32"])  # fmt: skip
    assert code == 0
    after = checkpoint.load(stage1)
    for name, value in after.model.state_dict().items():  # lr 1e-9: the start is the checkpoint
        assert torch.allclose(value, before[name].float(), atol=1e-5), name
    stages = after.config["training"]["initialised_from"]
    assert stages["name"] == "tiny-test" and len(stages["sha256"]) == 64
    assert "started from checkpoint `tiny-test`" in after.card


def test_fine_tune_adds_the_condition_path_to_an_older_checkpoint(tiny_checkpoint, small_shards,
                                                                   tmp_path, capsys):  # fmt: skip
    """Checkpoints from before in-attention conditioning fine-tune into it, starting at zero."""
    import json

    import torch

    from musegen import checkpoint
    from musegen.cli.app import main
    from musegen.model.transformer import ModelConfig, MuseTransformer

    tiny = checkpoint.load(tiny_checkpoint)
    plain = MuseTransformer(ModelConfig(**{**tiny.model_config.to_dict(), "condition_groups": []}))
    plain.load_state_dict(tiny.model.state_dict(), strict=False)  # all but condition_proj
    old = checkpoint.save(tmp_path / "old", plain, tiny.tokenizer, name="old", dtype="float32")
    run = tmp_path / "run"
    assert fine_tune(small_shards, run, old) == 0
    assert main(["export", str(run), "--name", "new", "--which", "newest"]) == 2
    code = main(["export", str(run), "--name", "new", "--out", str(tmp_path / "new"),
                 "--dtype", "float32", "--which", "last"])  # fmt: skip
    assert code == 0
    new = checkpoint.load(tmp_path / "new")
    assert new.config["training"]["exported_from"] == "last.ckpt"
    assert new.config["programs"]  # from the run's shards: stand-ins work
    summary = json.loads((run / "run.json").read_text())
    summary["train"]["data"] = str(tmp_path / "gone")  # the shards were deleted since
    (run / "run.json").write_text(json.dumps(summary))
    capsys.readouterr()
    assert main(["export", str(run), "--name", "bare", "--out", str(tmp_path / "bare")]) == 0
    assert "no token shards" in capsys.readouterr().err
    assert "programs" not in checkpoint.load(tmp_path / "bare").config
    assert new.model_config.condition_groups == tiny.tokenizer.condition_groups()
    for name, value in new.model.state_dict().items():
        start = torch.zeros_like(value) if name.startswith("condition_proj.") else \
            plain.state_dict()[name]  # fmt: skip
        assert torch.allclose(value, start, atol=1e-5), name


def test_moving_average_of_the_weights_is_what_export_ships(tiny_checkpoint, small_shards,
                                                          tmp_path):  # fmt: skip
    import torch

    from musegen import checkpoint
    from musegen.checkpoint.folder import lightning_state
    from musegen.cli.app import main

    run = tmp_path / "run"
    assert fine_tune(small_shards, run, tiny_checkpoint, "3e-3", "4", "--ema-decay", "0.5") == 0
    last = run / "checkpoints" / "last.ckpt"
    raw = torch.load(last, map_location="cpu", weights_only=True)
    # Lightning's WeightAveraging: the average is the state_dict, the trained weights beside it
    average, current = raw["state_dict"], raw["current_model_state"]
    assert int(raw["averaging_state"]["n_averaged"]) == 4  # one update per optimiser step
    start = checkpoint.load(tiny_checkpoint).model.state_dict()
    name = "blocks.0.attn.qkv.weight"
    # the average lags the weights: with decay 0.5 over 4 steps it is between start and end
    assert not torch.allclose(average[f"model.{name}"], current[f"model.{name}"])
    assert not torch.allclose(average[f"model.{name}"], start[name].float())
    state, _ = lightning_state(last)
    assert torch.equal(state[name], average[f"model.{name}"])
    assert main(["export", str(run), "--name", "ema", "--out", str(tmp_path / "ema"),
                 "--which", "last", "--dtype", "float32"]) == 0  # fmt: skip
    shipped = checkpoint.load(tmp_path / "ema").model.state_dict()[name]
    assert torch.equal(shipped, average[f"model.{name}"])
    # --resume carries on with both: the average counts on from 4, the weights from theirs
    assert fine_tune(small_shards, run, tiny_checkpoint, "3e-3", "6", "--ema-decay", "0.5",
                     "--resume") == 0  # fmt: skip
    resumed = torch.load(last, map_location="cpu", weights_only=True)
    assert resumed["global_step"] == 6 and int(resumed["averaging_state"]["n_averaged"]) == 6
    assert not torch.equal(resumed["state_dict"][f"model.{name}"], average[f"model.{name}"])


def test_export_can_average_the_run_with_the_checkpoint_it_started_from(
    tiny_checkpoint, small_shards, tmp_path
):
    import torch

    from musegen import checkpoint
    from musegen.cli.app import main

    run = tmp_path / "run"
    assert fine_tune(small_shards, run, tiny_checkpoint, "3e-3", "3") == 0
    common = [str(run), "--which", "last", "--dtype", "float32"]
    assert main(["export", *common, "--name", "end", "--out", str(tmp_path / "end")]) == 0
    assert main(["export", *common, "--name", "soup", "--out", str(tmp_path / "soup"),
                 "--average-with", str(tiny_checkpoint)]) == 0  # fmt: skip
    start = checkpoint.load(tiny_checkpoint)
    end, soup = checkpoint.load(tmp_path / "end"), checkpoint.load(tmp_path / "soup")
    for name, value in soup.model.state_dict().items():  # the tied embedding included
        half = (end.model.state_dict()[name] + start.model.state_dict()[name]) / 2
        assert torch.allclose(value, half, atol=1e-6), name
    assert not torch.allclose(end.model.wte.weight, start.model.wte.weight)
    assert soup.config["training"]["averaged_with"]["sha256"] == start.sha256
    assert "the average of this run's last ones" in (tmp_path / "soup" / "card.md").read_text()
    other = tmp_path / "other"
    assert main(["export", *common, "--name", "x", "--out", str(other),
                 "--average-with", str(tmp_path / "missing")]) == 2  # fmt: skip
    assert not other.exists()
