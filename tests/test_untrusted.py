"""Untrusted files never run code: hostile pickles given as checkpoints, as a fake
model.safetensors, as a training run's last.ckpt, are refused, and their payload never runs.

Each payload creates a marker file when unpickled; the first test shows it really does.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from musegen import checkpoint
from musegen.errors import CheckpointError

MUSEGEN = [sys.executable, "-m", "musegen"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MUSEGEN_NO_PROGRESS": "1"}


class OpenPayload:
    """Unpickling calls open(marker, "w"): the file appears."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class ShellPayload:
    """Unpickling runs a shell command through os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def hostile(path: Path, marker: Path, kind: str) -> Path:
    """Write a file whose unpickling creates `marker`: a plain pickle or a torch.save zip
    (the format of .ckpt/.pt/.bin files), with either payload."""
    payload = {"state_dict": {"w": OpenPayload(marker)}, "x": ShellPayload(marker)}
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "pickle":
        path.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, path)
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*MUSEGEN, *args], capture_output=True, text=True, env=ENV, timeout=300)


def assert_clean_refusal(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("musegen: error: "), lines
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize("kind", ["pickle", "torch"])
def test_the_payloads_really_run_code(tmp_path: Path, kind: str) -> None:
    """Without this, the refusals below would prove nothing."""
    marker = tmp_path / "ran"
    path = hostile(tmp_path / "probe.bin", marker, kind)
    if kind == "pickle":
        pickle.loads(path.read_bytes())
    else:
        torch.load(path, weights_only=False)  # the unsafe call musegen must never make
    assert marker.exists()


@pytest.mark.parametrize("name", ["model.ckpt", "model.pt", "model.bin", "model.pth", "x.pkl"])
@pytest.mark.parametrize("kind", ["pickle", "torch"])
def test_load_refuses_a_pickle_file_path(tmp_path: Path, name: str, kind: str) -> None:
    marker = tmp_path / "ran"
    path = hostile(tmp_path / name, marker, kind)
    with pytest.raises(CheckpointError, match="pickle-based files are never loaded"):
        checkpoint.load(path)
    assert not marker.exists()


def test_load_refuses_a_folder_of_pickles(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    for name in ("model.ckpt", "model.pt", "model.bin"):
        hostile(tmp_path / "ckpt" / name, marker, "torch")
    with pytest.raises(CheckpointError, match="missing model.safetensors.*never loaded"):
        checkpoint.load(tmp_path / "ckpt")
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["pickle", "torch"])
def test_load_refuses_pickle_disguised_as_safetensors(tiny_checkpoint, tmp_path, kind) -> None:
    marker = tmp_path / "ran"
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    hostile(folder / "model.safetensors", marker, kind)
    with pytest.raises(CheckpointError, match="model.safetensors is corrupt"):
        checkpoint.load(folder)
    assert not marker.exists()


def test_pickles_beside_a_good_checkpoint_are_never_opened(tiny_checkpoint, tmp_path) -> None:
    """A folder with real safetensors and a hostile pytorch_model.bin loads from safetensors."""
    marker = tmp_path / "ran"
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    for name in ("pytorch_model.bin", "model.ckpt", "last.ckpt"):
        hostile(folder / name, marker, "torch")
    assert checkpoint.load(folder).model.num_parameters() > 0
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("kind", ["pickle", "torch"])
def test_export_refuses_a_hostile_run_checkpoint(tiny_checkpoint, tmp_path, kind) -> None:
    """`musegen export` reads Lightning's last.ckpt: torch.load(weights_only=True) refuses the
    payload, and the refusal is a CheckpointError (it was an UnpicklingError traceback)."""
    marker = tmp_path / "ran"
    run = tmp_path / "run"
    hostile(run / "checkpoints" / "last.ckpt", marker, kind)
    shutil.copy(tiny_checkpoint / "tokenizer.json", run / "tokenizer.json")
    with pytest.raises(CheckpointError, match="was not read"):
        checkpoint.export_run(run, tmp_path / "out", name="x")
    assert not marker.exists() and not (tmp_path / "out").exists()
    (run / "checkpoints" / "last.ckpt").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError, match="last.ckpt"):
        checkpoint.export_run(run, tmp_path / "out", name="x")


@pytest.mark.slow
def test_cli_info_refuses_hostile_checkpoints(tiny_checkpoint, tmp_path, capsys) -> None:
    """`musegen info` on a folder of pickles (a real process), a pickle file and a fake
    model.safetensors (through `musegen.cli.main` in this process, to save start-up time)."""
    from musegen.cli.app import main

    marker = tmp_path / "ran"
    for name in ("model.ckpt", "model.pt", "model.bin"):
        hostile(tmp_path / "pickles" / name, marker, "torch")
    fake = tmp_path / "fake"
    shutil.copytree(tiny_checkpoint, fake)
    hostile(fake / "model.safetensors", marker, "pickle")
    proc = run_cli("info", str(tmp_path / "pickles"))
    assert_clean_refusal(proc, "missing model.safetensors", "never loaded")
    for path, words in [
        (tmp_path / "pickles" / "model.pt", ["pickle-based files are never loaded"]),
        (fake, ["model.safetensors is corrupt"]),
    ]:
        rc = main(["info", str(path)])
        out, err = capsys.readouterr()
        assert_clean_refusal(subprocess.CompletedProcess([], rc, out, err), *words)
    assert not marker.exists()


@pytest.mark.slow
def test_train_resume_never_runs_a_hostile_last_ckpt(small_shards, tmp_path) -> None:
    """`musegen train --resume` hands last.ckpt to Lightning with weights_only=True."""
    marker = tmp_path / "ran"
    run = tmp_path / "run"
    hostile(run / "checkpoints" / "last.ckpt", marker, "torch")
    proc = run_cli("train", "--data", str(small_shards), "--out", str(run), "--size", "tiny",
                   "--context", "64", "--batch-size", "2", "--max-steps", "1", "--threads", "1",
                   "--val-every", "1", "--val-windows", "1", "--resume")  # fmt: skip
    assert not marker.exists(), "the hostile checkpoint's code ran"
    assert proc.returncode != 0, "training resumed from a hostile checkpoint"
    assert "weights_only" in proc.stderr or "was not read" in proc.stderr, proc.stderr[-3000:]
    if proc.returncode != 2 or "Traceback" in proc.stderr:
        # Safe, but not yet a clean one-line error: training.py passes Lightning's
        # UnpicklingError through (reported; training.py is not this test's to fix).
        pytest.xfail("train --resume refuses the payload with a traceback, not one line")
    last = proc.stderr.strip().splitlines()[-1]  # Lightning prints its device lines first
    assert last.startswith("musegen: error: ") and "last.ckpt" in last, last
