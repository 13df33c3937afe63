"""The command line end to end, as a user runs it: corpus, tokenize, train, export, continue."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest
from symusic import Note, Score, Tempo, TimeSignature, Track

MUSEGEN = [sys.executable, "-m", "musegen"]


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([*MUSEGEN, *args], capture_output=True, text=True, timeout=600)
    if ok:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_help_is_fast_and_lists_commands():
    started = time.perf_counter()
    result = run("--help")
    assert time.perf_counter() - started < 10
    for command in ("continue", "render", "styles", "moods", "train", "tokenize", "corpus",
                    "export", "info"):  # fmt: skip
        assert command in result.stdout
    # heavy libraries are imported inside commands only
    probe = subprocess.run([sys.executable, "-c", "import sys, musegen.cli; "
                            "print('torch' in sys.modules, 'music21' in sys.modules)"],
                           capture_output=True, text=True)  # fmt: skip
    assert probe.stdout.split() == ["False", "False"]


def test_train_help_names_every_recipe_field():
    from dataclasses import fields

    from musegen.train.config import TrainConfig

    words = " ".join(run("train", "--help").stdout.split()).replace("│", " ").split()
    missing = [f.name for f in fields(TrainConfig) if f.name not in words]
    assert not missing, f"`musegen train --help` does not name {missing}"


def _folder(root: Path) -> Path:
    for style, base in (("waltz", 60), ("march", 55)):
        (root / style).mkdir(parents=True)
        for k in range(3):
            score = Score(480)
            score.tempos.append(Tempo(0, 120.0 + 10 * k))
            score.time_signatures.append(TimeSignature(0, 3 if style == "waltz" else 4, 4))
            track = Track(name="Piano", program=0)
            for i in range(48):
                track.notes.append(Note(i * 240, 240, base + (i * (k + 2)) % 12, 80))
            score.tracks.append(track)
            score.dump_midi(str(root / style / f"{style}{k}.mid"))
    return root


@pytest.mark.slow
def test_own_midi_to_checkpoint_to_continuation(tmp_path):
    src = _folder(tmp_path / "midi")
    corpus, cache, runs = tmp_path / "corpus", tmp_path / "cache", tmp_path / "run"
    out = run("corpus", "build", str(src), "--out", str(corpus), "--jobs", "1")
    assert "6 pieces" in out.stdout
    assert "waltz" in run("corpus", "stats", "--corpus", str(corpus)).stdout
    tok = run("tokenize", "--corpus", str(corpus), "--out", str(cache), "--vocab-size", "700",
              "--jobs", "1")  # fmt: skip
    assert "tokens/bar" in tok.stdout
    run("train", "--data", str(cache), "--out", str(runs), "--size", "tiny", "--context", "128",
        "--batch-size", "4", "--max-steps", "6", "--val-every", "3", "--val-windows", "2",
        "--checkpoint-every", "3", "--threads", "1")  # fmt: skip
    ckpt = tmp_path / "ckpt"
    run("export", str(runs), "--name", "mine", "--out", str(ckpt))
    assert {"model.safetensors", "config.json", "tokenizer.json", "card.md"} <= {
        p.name for p in ckpt.iterdir()}  # fmt: skip
    info = run("info", str(ckpt)).stdout
    assert "march" in info and "waltz" in info and "# musegen checkpoint" in info
    assert run("styles", "--checkpoint", str(ckpt)).stdout.split() == ["march", "waltz"]
    assert run("moods", "--checkpoint", str(ckpt)).stdout.split() == [
        "happy",
        "tense",
        "sad",
        "calm",
    ]
    seed = src / "waltz" / "waltz0.mid"
    before = seed.read_bytes()
    outdir = tmp_path / "out"
    run("continue", str(seed), "-o", str(outdir), "--bars", "2", "--checkpoint", str(ckpt),
        "--style", "waltz", "--seed", "3")  # fmt: skip
    assert seed.read_bytes() == before
    names = {p.name for p in outdir.iterdir()}
    assert {"full.mid", "continuation.mid", "full.wav", "pianoroll.png", "generation.json",
            "stems"} <= names  # fmt: skip
    record = json.loads((outdir / "generation.json").read_text())
    assert "machine-generated" in record["statement"] or "generated" in record["statement"]
    assert record["checkpoint"]["sha256"] and record["request"]["seed"] == 3
    with wave.open(str(outdir / "full.wav")) as w:
        assert w.getframerate() == 44100 and w.getnframes() > 44100
    wav = tmp_path / "render.wav"
    run("render", str(outdir / "full.mid"), "-o", str(wav), "--sample-rate", "48000",
        "--bit-depth", "24", "--stems")  # fmt: skip
    with wave.open(str(wav)) as w:
        assert w.getframerate() == 48000 and w.getsampwidth() == 3
    assert list((tmp_path / "render_stems").glob("*.wav"))
