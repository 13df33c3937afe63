"""write_continuations: a failure part-way keeps nothing, and the user's limits are used."""

from __future__ import annotations

import errno
import io
import shutil
import subprocess
from pathlib import Path

import mido
import pytest

from musegen.errors import InputError
from musegen.generate.request import ContinueRequest
from musegen.generate.to_folder import write_continuations
from musegen.io.seed import Limits
from musegen.io.soundfont import find_soundfont
from musegen.io.synth import fluidsynth_available

M = mido.Message


def seed_file(folder: Path, gap: int = 0, tracks: int = 2) -> Path:
    """`tracks` tracks of four quarter notes; with `gap`, one more note `gap` ticks later."""
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    for t in range(tracks):
        msgs = []
        for p in (60, 64, 67, 72):
            msgs += [M("note_on", channel=t, note=p - 12 * t, velocity=80),
                     M("note_off", channel=t, note=p - 12 * t, time=480)]  # fmt: skip
        midi.tracks.append(mido.MidiTrack(msgs))
    if gap:
        midi.tracks[0] += [M("note_on", note=62, velocity=80, time=gap), M("note_off", note=62)]
    buffer = io.BytesIO()
    midi.save(file=buffer)
    path = folder / "seed.mid"
    path.write_bytes(buffer.getvalue())
    return path


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def run(seed: Path, out: Path, ckpt: Path, **kw) -> list[Path]:
    kw = {"audio": False, **kw}
    return write_continuations(seed, out, ContinueRequest(bars=1), checkpoint=str(ckpt),
                               progress=False, say=lambda _: None, **kw)  # fmt: skip


def test_raised_limits_reach_generation(tiny_checkpoint, tmp_path) -> None:
    """Regression: --max-seconds / --max-tracks were checked, then the seed was read again
    with the default limits, so raising a limit above its default had no effect."""
    seed = seed_file(tmp_path, gap=2**22)  # a note 73 minutes in: over the 60-minute default
    with pytest.raises(InputError, match="seed.mid: lasts .* `max_seconds` 4372"):
        run(seed, tmp_path / "a", tiny_checkpoint)
    written = run(seed, tmp_path / "b", tiny_checkpoint, limits=Limits(max_seconds=4372))
    assert (tmp_path / "b" / "full.mid") in written


@pytest.mark.parametrize(
    "error",
    [OSError(errno.EIO, "Input/output error"), RuntimeError("a bug"), KeyboardInterrupt()],
    ids=["io-error", "bug", "ctrl-c"],
)
def test_a_failure_part_way_keeps_nothing(tiny_checkpoint, tmp_path, monkeypatch, error):
    """The MIDI files are written, then the picture fails: no half-finished set is left."""
    from musegen.generate.api import Continuation

    def broken_plot(self, path, *args, **kwargs):
        raise error

    monkeypatch.setattr(Continuation, "plot", broken_plot)
    seed = seed_file(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("the user's own file")
    expected = InputError if isinstance(error, OSError) else type(error)
    with pytest.raises(expected):
        run(seed, out, tiny_checkpoint)
    assert files(out) == ["mine.txt"]


def _mount_tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True)  # fmt: skip
    return done.returncode == 0


def test_disk_full_while_writing_audio_keeps_nothing(tiny_checkpoint, tmp_path) -> None:
    """The first stem fits on the disk and the second does not: every file goes, stems too."""
    if not fluidsynth_available():
        pytest.skip("no FluidSynth library")
    try:
        find_soundfont()
    except Exception:
        pytest.skip("no soundfont")
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "2m"):
        pytest.skip("cannot mount a tmpfs here")
    try:
        # 2 tracks: each stem (about 4 s of 16-bit stereo) is ~700 KB; leave room for one.
        with (disk / "filler").open("wb") as fh:
            fh.write(b"\0" * (shutil.disk_usage(disk).free - 1_100_000))
        seed = seed_file(tmp_path, tracks=2)
        with pytest.raises(InputError, match="is full"):
            run(seed, disk / "out", tiny_checkpoint, audio=True)
        assert files(disk) == ["filler"]
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_disk_full_while_writing_the_record_keeps_nothing(tiny_checkpoint, tmp_path, monkeypatch):
    """The MIDI files and the picture fit; generation.json does not (no .tmp is left)."""
    from types import SimpleNamespace

    from musegen.generate import to_folder as workflow

    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "256k"):
        pytest.skip("cannot mount a tmpfs here")
    try:
        big = SimpleNamespace(dumps=lambda *args, **kwargs: "x" * 400_000)
        monkeypatch.setattr(workflow, "json", big)  # a record larger than the disk
        with pytest.raises(InputError, match="is full"):
            run(seed_file(tmp_path), disk / "out", tiny_checkpoint)
        assert files(disk) == []
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_force_does_not_list_stale_outputs_as_this_runs(tiny_checkpoint, tmp_path) -> None:
    """A full.wav from an earlier run survives `--force --no-audio`, and generation.json lists
    it among this run's outputs, though it is another generation's audio."""
    import json

    out = tmp_path / "out"
    out.mkdir()
    (out / "full.wav").write_bytes(b"RIFF from an earlier run")
    run(seed_file(tmp_path), out, tiny_checkpoint, force=True)
    record = json.loads((out / "generation.json").read_text())
    assert "wav" not in record["outputs"]
