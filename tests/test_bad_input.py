"""Bad input to the real `musegen` CLI as one table, the odd but valid input it must take, and
mutation fuzzing of seeds.

Each row of BAD_INPUT is (case name, how to build the bad input, command, expected fragment of
the error line). Every one must exit with status 2 and print exactly one line
`musegen: error: ...` matching the fragment, with no traceback, and leave its folder exactly as
it was: nothing half-written, the seed unchanged, and no marker file from a hostile pickle's
payload (the payloads really run code: `test_the_payloads_really_run_code`). Every row of
ODD_BUT_VALID must succeed, with outputs that mido (clip off) and symusic read back.

Starting Python and importing torch costs about 3 s per process on a 2-core machine, so the
table runs in ONE child process that calls `musegen.cli.main(argv)` per case (exactly what
`python -m musegen` does) with stdout and stderr captured at the file-descriptor level and a
fresh warnings state; a few cases also run through `python -m musegen` itself to show the two
agree. MUSEGEN_TEST_EACH_SUBPROCESS=1 runs every case as its own process (slow: 8 minutes on a
busy 2-core box). Rows that need the tiny trained checkpoint or shards are in the slow tier;
the others (pickles given as checkpoints, `render` errors, ...) run in the fast tier too.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import random
import re
import shlex
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mido
import pytest
import torch
from symusic import Score

from musegen import checkpoint
from musegen.errors import InputError, MuseGenError
from musegen.generate.request import ContinueRequest
from musegen.generate.to_folder import write_continuations
from musegen.io.midi import midi_bytes
from musegen.io.seed import read_seed

ROOT = Path(__file__).resolve().parents[1]
MUSEGEN = [sys.executable, "-m", "musegen"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MUSEGEN_NO_PROGRESS": "1", "PYTHONUNBUFFERED": "1"}
EACH_SUBPROCESS = os.environ.get("MUSEGEN_TEST_EACH_SUBPROCESS") == "1"
M, MM = mido.Message, mido.MetaMessage

# ----------------------------------------------------------------------------- MIDI builders


def smf(tracks: list[list], *, tpq: int = 480, type_: int = 1) -> bytes:
    """A Standard MIDI File written by mido from lists of messages (delta times)."""
    midi = mido.MidiFile(type=type_, ticks_per_beat=tpq)
    midi.tracks.extend(mido.MidiTrack(messages) for messages in tracks)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def notes(pitches, length: int = 480, channel: int = 0, velocity: int = 80) -> list:
    out = []
    for p in pitches:
        out += [
            M("note_on", channel=channel, note=p, velocity=velocity, time=0),
            M("note_off", channel=channel, note=p, time=length),
        ]
    return out


def vlq(n: int) -> bytes:
    """MIDI variable-length quantity."""
    out = [n & 0x7F]
    while n := n >> 7:
        out.append(0x80 | (n & 0x7F))
    return bytes(reversed(out))


def header(fmt: int = 1, ntracks: int = 1, division: int = 480) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, fmt, ntracks, division)


def mtrk(body: bytes, length: int | None = None) -> bytes:
    return b"MTrk" + struct.pack(">I", len(body) if length is None else length) + body


def meta(kind: int, data: bytes, delta: int = 0) -> bytes:
    return vlq(delta) + bytes([0xFF, kind]) + vlq(len(data)) + data


EOT = b"\x00\xff\x2f\x00"
MELODY = [60, 62, 64, 65, 67, 65, 64, 62]
BASE = smf([notes(MELODY)])  # 8 quarter notes, 4/4 at 120 BPM (MIDI's defaults)


def tempo(mspq: int, pitches=MELODY) -> bytes:
    """Raw bytes, so any 24-bit value (0 included) can be written."""
    body = meta(0x51, mspq.to_bytes(3, "big"))
    for p in pitches:
        body += bytes([0x00, 0x90, p, 80]) + vlq(480) + bytes([0x80, p, 0])
    return header() + mtrk(body + EOT)


def patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """`data` with one big-endian header/length field overwritten."""
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def running_status() -> bytes:
    body = bytes([0x00, 0x90, 60, 80])  # note-on with status, then data bytes only
    for p in (60, 62, 64, 65, 67):
        if p != 60:
            body += bytes([0x00, p, 80])
        body += vlq(480) + bytes([p, 0])  # velocity 0 = note-off, still running status
    body += bytes([0x00, 0xB0, 7, 100, 0x00, 10, 64])  # running status on control changes
    return header() + mtrk(body + EOT)


def odd_metas() -> bytes:
    """Tempo, meter and key inside note tracks and mid-note, unknown and proprietary metas,
    sysex, lyrics, a second track name, and events after end-of-track."""
    t1 = meta(0x03, b"Piano") + bytes([0x00, 0x90, 60, 80])
    t1 += meta(0x01, b"text between note-on and note-off") + bytes([0x60, 0x80, 60, 0])
    t1 += meta(0x51, (600_000).to_bytes(3, "big")) + meta(0x58, bytes([3, 2, 24, 8]), 7)
    t1 += meta(0x7F, b"\x00\x00\x41\x01") + meta(0x60, b"\xab\xcd") + meta(0x21, b"\x00")
    t1 += b"\x00\xf0\x05\x7e\x7f\x09\x01\xf7"  # sysex: GM on
    t1 += meta(0x05, b"la") + bytes([0x00, 0x90, 62, 80]) + meta(0x06, b"cue", 100)
    t1 += meta(0x59, bytes([0xFD, 1])) + bytes([0x83, 0x60, 0x80, 62, 0]) + meta(0x03, b"Late")
    t1 += EOT + bytes([0x00, 0x90, 64, 80, 0x60, 0x80, 64, 0])  # ignored after end-of-track
    t2 = meta(0x03, b"Metas only") + meta(0x06, b"A", 240) + meta(0x59, bytes([2, 0]), 240) + EOT
    t3 = meta(0x51, (400_000).to_bytes(3, "big"), 1000) + bytes([0x00, 0x91, 48, 70])
    t3 += meta(0x54, bytes([0x60, 0, 0, 0, 0]), 0) + bytes([0x87, 0x40, 0x81, 48, 0]) + EOT
    return header(1, 3) + mtrk(t1) + mtrk(t2) + mtrk(t3)


def foreign_text() -> bytes:
    """A UTF-8 Japanese track name, a latin-1 marker (not UTF-8) and lyrics in both."""
    body = meta(0x03, "ピアノ".encode()) + meta(0x06, b"Caf\xe9", 0) + meta(0x05, "ド".encode())
    body += bytes([0x00, 0x90, 60, 80, 0x83, 0x60, 0x80, 60, 0]) + meta(0x05, b"l\xe0")
    body += bytes([0x00, 0x90, 62, 80, 0x83, 0x60, 0x80, 62, 0])
    return header() + mtrk(body + EOT)


def many_tracks(count: int) -> bytes:
    bodies = (
        bytes([0x00, 0x90 | (i % 16), 40 + i % 50, 80, 0x83, 0x60, 0x80 | (i % 16), 40 + i % 50, 0])
        for i in range(count)
    )
    return header(1, count) + b"".join(mtrk(b + EOT) for b in bodies)


def meters(*sigs: tuple[int, int], every_bar: bool = False) -> bytes:
    """Notes filling two bars of each meter; with every_bar, the meter changes each bar."""
    msgs, tpq = [], 480
    for num, den in sigs:
        msgs.append(MM("time_signature", numerator=num, denominator=den, time=0))
        bar = num * tpq * 4 // den
        for _ in range(1 if every_bar else 2):
            msgs += notes([60, 64], length=bar // 2)
    return smf([msgs])


def key_changes() -> bytes:
    msgs = []
    for key in ("C", "A", "C#", "Cb", "Ebm", "G#m", "F", "Abm"):
        msgs += [MM("key_signature", key=key, time=0), *notes([60, 62, 64, 65], length=480)]
    return smf([msgs])


def edge_values() -> bytes:
    msgs = [
        M("note_on", note=0, velocity=1, time=0),
        M("note_off", note=0, time=480),
        M("note_on", note=127, velocity=127, time=0),
        M("note_off", note=127, time=480),
        M("note_on", note=0, velocity=127, time=0),
        M("note_on", note=127, velocity=1),
        M("note_off", note=0, time=960),
        M("note_off", note=127),
    ]
    return smf([msgs])


def zero_length(only: bool = False) -> bytes:
    msgs = [] if only else notes([60, 64, 67])
    for p in (72, 74, 76):
        msgs += [M("note_on", note=p, velocity=90, time=240), M("note_off", note=p, time=0)]
    return smf([msgs])


def absurd_deltas() -> bytes:
    """Notes, then a text and end-of-track each 2**28 - 1 ticks later (the largest delta)."""
    far = [MM("text", text="far", time=2**28 - 1), MM("end_of_track", time=2**28 - 1)]
    return smf([notes(MELODY) + far])


def far_apart_notes() -> bytes:
    """Two notes 2**22 ticks apart: 73 minutes at 120 BPM, over the default 60-minute limit.

    (A 2**28-tick gap works too once allowed, but takes ~10 s: 140,000 empty bars to tokenize
    and draw.)"""
    late = [M("note_on", note=62, velocity=80, time=2**22), M("note_off", note=62, time=480)]
    return smf([notes([60]) + late])


def past_int32() -> bytes:
    gap = [M("note_on", note=62, velocity=80, time=2**28 - 1), M("note_off", note=62, time=1)]
    return smf([notes([60]) + gap * 9])


def thousands_of_notes(n: int = 4000) -> bytes:
    msgs = []
    for i in range(n // 2):  # two-note chords, 16ths
        msgs += [
            M("note_on", note=48 + i % 24, velocity=60 + i % 60, time=0),
            M("note_on", note=72 + i % 12, velocity=70, time=0),
            M("note_off", note=48 + i % 24, time=120),
            M("note_off", note=72 + i % 12),
        ]
    return smf([msgs])


def drums_only() -> bytes:
    return smf([notes([36, 42, 38, 42] * 4, length=240, channel=9, velocity=100)])


def scaled(tpq: int) -> bytes:
    return smf([notes(MELODY, length=tpq)], tpq=tpq)


def riff_wav() -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 2, 44100, 44100 * 4, 4, 16)
    data = b"\x00" * 64
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data"
    body += struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


TWO_TRACKS = smf([[MM("track_name", name="Conductor")], notes(MELODY)])
SEEDED = meters((3, 4), (5, 8))
NOTES_FIRST = smf([notes(MELODY), [MM("track_name", name="Ignored")]])

# ----------------------------------------------------------------------------- hostile pickles


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


# ----------------------------------------------------------------------------- how to build

Build = Callable[[Path, dict], object]  # prepares the case's folder; gets the shared fields


def pickles(*names: str, kind: str = "torch", under: str = "") -> Build:
    """Hostile files in the case's folder (or a subfolder); their payloads write {dir}/ran."""
    return lambda d, _: [hostile(d / under / name, d / "ran", kind) for name in names]


def copy_of_tiny_checkpoint(then: Build) -> Build:
    def build(d: Path, fields: dict) -> None:
        shutil.copytree(fields["ckpt"], d / "ckpt")
        then(d, fields)

    return build


def hostile_run(kind: str) -> Build:
    """A training run folder whose last.ckpt is hostile (or, for "zip", not a zip at all)."""

    def build(d: Path, _: dict) -> None:
        last = d / "run" / "checkpoints" / "last.ckpt"
        if kind == "zip":
            last.parent.mkdir(parents=True)
            last.write_bytes(b"PK\x03\x04 not really a zip")
        else:
            hostile(last, d / "ran", kind)
        shutil.copy(ROOT / "checkpoints" / "default" / "tokenizer.json", d / "run")

    return build


def existing_outputs(d: Path, _: dict) -> None:
    (d / "out").mkdir()
    (d / "out" / "full.mid").write_bytes(b"precious work")
    (d / "out" / "notes.txt").write_text("not ours")


def fill_disk(d: Path, _: dict) -> None:
    """Leave about 8 KiB free: the seed fits, the picture does not."""
    free = shutil.disk_usage(d).free
    with (d / "filler").open("wb") as fh:
        fh.write(b"\0" * max(0, free - 8192))


# ----------------------------------------------------------------------------- the tables

TRAINED = ("{ckpt}", "{ck_", "{shards}")  # placeholders filled from the slow fixtures
OK = "<succeeds>"


@dataclass(frozen=True)
class Case:
    id: str
    seed: bytes | None  # written to {dir}/seed.mid
    build: Build | None  # prepares {dir} further
    argv: tuple[str, ...]  # placeholders in braces are filled per case
    expect: str  # a regex the error line must match (case-insensitive), or OK
    trained: bool  # needs the tiny trained checkpoint or shards: slow tier
    mount: bool = False  # {dir} becomes a tiny tmpfs ("full disk"); skipped where mount fails
    own_process: bool = False  # run as `python -m musegen`, apart from the batch
    known_bug: str = ""  # why this row is not clean today (an xfail; a pass then fails)


def case(id: str, build, command: str, expect: str = OK, *, trained: bool = False, **kw) -> Case:
    """A row: `build` is the seed's bytes, a Build, a (bytes, Build) pair, or None."""
    if isinstance(build, tuple):
        seed, setup = build
    elif callable(build):
        seed, setup = None, build
    else:
        seed, setup = build, None
    argv = tuple(shlex.split(command))
    trained = trained or any(p in command for p in TRAINED)
    return Case(id, seed, setup, argv, expect, trained, **kw)


Q = "continue {seed} -o {out} --checkpoint {ckpt} --no-audio --bars 1"  # one new bar, no WAV
C = "continue {seed} -o {out} --checkpoint {ckpt} --bars 1"  # the same, with audio
RENDER = "render {seed} -o {out}/x.wav"
PICKLE_NAMES = ("model.ckpt", "model.pt", "model.bin", "model.pth", "x.pkl")

BAD_INPUT = [
    # --- not a (usable) MIDI file
    case("missing-file", None, Q.replace("{seed}", "{dir}/nope.mid"), "no such file"),
    case("folder", None, Q.replace("{seed}", "{dir}"), "is a folder, not a MIDI file"),
    case("text", b"X: 1\nT: a tune in ABC\nK: G\nGABc|", Q, "not a MIDI file.*text"),
    case("wav-riff", riff_wav(), Q, "not a MIDI file.*WAV"),
    case("random-bytes", bytes(range(7, 256, 3)) * 5, Q, "not a MIDI file"),
    case("empty", b"", Q, "empty"),
    case("truncated-in-header", BASE[:10], Q, "header is cut short"),
    case("truncated-after-header", BASE[:14], Q, "track 1 of 1 is missing"),
    case("truncated-in-track-header", BASE[:19], Q, "track 1 of 1 is missing"),
    case("truncated-in-events", BASE[:40], Q, r"declares \d+ bytes but only \d+ remain"),
    case("truncated-before-end-of-track", BASE[:-3], Q, "declares"),
    case("header-says-3-tracks", patched(BASE, 10, ">H", 3), Q, "track 2 of 3 is missing"),
    case("header-says-0-tracks", patched(BASE, 10, ">H", 0), Q, "no tracks"),
    case("header-size-2", patched(BASE, 4, ">I", 2), Q, "declares 2 bytes"),
    case("track-length-too-long", patched(BASE, 18, ">I", 10_000), Q, "declares 10000 bytes"),
    case("track-length-too-short", patched(TWO_TRACKS, 18, ">I", 2), Q, "where track 2 of 2"),
    case("track-length-cuts-event", patched(BASE, 18, ">I", 7), Q, "damaged MIDI data"),
    case("smf-type-2", patched(BASE, 8, ">H", 2), Q, "type 2"),
    case("smf-type-7", patched(BASE, 8, ">H", 7), Q, "unknown MIDI file type 7"),
    case("smpte-division", patched(BASE, 12, ">H", 0xE728), Q, "SMPTE.*25 frames"),
    case("ppq-0", patched(BASE, 12, ">H", 0), Q, "ticks per quarter note is 0"),
    case("no-notes", smf([[MM("track_name", name="empty")]]), Q, "no notes"),
    case("events-past-int32", past_int32(), Q, "beyond the last possible"),
    # --- over a limit: the error names the flag and the value that would pass
    case("far-apart-notes", far_apart_notes(), Q, "lasts 4370.1 s.*--max-seconds 4371"),
    case("2000-tracks", many_tracks(2000), Q, "--max-tracks 2000"),
    case("max-notes-low", BASE, f"{Q} --max-notes 4", "--max-notes 8"),
    case("max-tracks-low", TWO_TRACKS, f"{Q} --max-tracks 1", "--max-tracks 2"),
    case("max-bytes-low", BASE, f"{Q} --max-bytes 50", f"--max-bytes {len(BASE)}"),
    case("max-seconds-low", BASE, f"{Q} --max-seconds 2", "--max-seconds 5"),
    # --- where the outputs go
    case(
        "out-under-a-file",
        (BASE, lambda d, _: (d / "afile.txt").write_text("x")),
        Q.replace("{out}", "{dir}/afile.txt/out"),
        "cannot write to .*afile.txt.*Not a directory",
    ),
    case(
        "out-in-proc", BASE, Q.replace("{out}", "/proc/musegen-test-out"), "cannot write to /proc"
    ),
    case("disk-full", (BASE, fill_disk), Q, "disk .* is full", mount=True),
    case(
        "existing-outputs",
        (BASE, existing_outputs),
        Q,
        "full.mid already exists; pass --force",
    ),
    # --- checkpoints: broken, missing, or pickles that would run code
    case(
        "checkpoint-missing-file",
        BASE,
        Q.replace("{ckpt}", "{ck_missing}"),
        "missing tokenizer.json",
    ),
    case(
        "checkpoint-corrupt-safetensors",
        BASE,
        Q.replace("{ckpt}", "{ck_weights}"),
        "model.safetensors is corrupt",
    ),
    case(
        "checkpoint-corrupt-config",
        BASE,
        Q.replace("{ckpt}", "{ck_config}"),
        "config.json is corrupt",
    ),
    case(
        "checkpoint-pickle-file",
        (BASE, pickles("model.ckpt", kind="pickle")),
        Q.replace("{ckpt}", "{dir}/model.ckpt"),
        "pickle-based files are never loaded",
    ),
    case("checkpoint-not-found", BASE, Q.replace("{ckpt}", "{dir}/no-such-ckpt"), "not found"),
    case("info-corrupt-safetensors", None, "info {ck_weights}", "safetensors is corrupt"),
    case("info-corrupt-config", None, "info {ck_config}", "config.json is corrupt"),
    *(
        case(
            f"info-{kind}-{name}",
            pickles(name, kind=kind),
            f"info {{dir}}/{name}",
            "pickle-based files are never loaded",
        )  # fmt: skip
        for kind in ("pickle", "torch")
        for name in PICKLE_NAMES
    ),
    case(
        "info-folder-of-pickles",
        pickles("model.ckpt", "model.pt", "model.bin", under="ckpt"),
        "info {dir}/ckpt",
        "missing model.safetensors.*never loaded",
    ),
    *(
        case(
            f"info-{kind}-as-safetensors",
            copy_of_tiny_checkpoint(pickles("model.safetensors", kind=kind, under="ckpt")),
            "info {dir}/ckpt",
            "model.safetensors is corrupt",
            trained=True,
        )  # fmt: skip
        for kind in ("pickle", "torch")
    ),
    case(
        "export-pickle-last-ckpt",
        hostile_run("pickle"),
        "export {dir}/run --name x --out {dir}/out",
        "last.ckpt was not read",
    ),
    case(
        "export-torch-last-ckpt",
        hostile_run("torch"),
        "export {dir}/run --name x --out {dir}/out",
        "last.ckpt was not read",
    ),
    case(
        "export-not-a-zip-last-ckpt",
        hostile_run("zip"),
        "export {dir}/run --name x --out {dir}/out",
        "last.ckpt is not a readable Lightning checkpoint",
    ),
    case(
        "train-resume-hostile-last-ckpt",
        pickles("last.ckpt", under="run/checkpoints"),
        "train --data {shards} --out {dir}/run --size tiny --context 64 --batch-size 2"
        " --max-steps 1 --threads 1 --val-every 1 --val-windows 1 --resume",
        "last.ckpt",
        own_process=True,  # Lightning's global set-up would carry over into later cases
    ),
    # --- options
    case("soundfont-not-sf2", BASE, f"{C} --soundfont {{not_sf2}}", "not an SF2 soundfont"),
    case("soundfont-missing", BASE, f"{C} --soundfont {{dir}}/none.sf2", "does not exist"),
    case("temperature-0", BASE, f"{Q} --temperature 0", "temperature=0.0"),
    case("temperature-negative", BASE, f"{Q} --temperature -1", "temperature=-1.0"),
    case("temperature-not-a-number", BASE, f"{Q} --temperature warm", "temperature"),
    case("top-p-above-1", BASE, f"{Q} --top-p 1.5", "top_p=1.5"),
    case("top-p-0", BASE, f"{Q} --top-p 0", "top_p=0.0"),
    case("top-k-0", BASE, f"{Q} --top-k 0", "top_k=0"),
    case("bars-0", BASE, f"{Q} --bars 0", "--bars 0 is out of range"),
    case("bars-1000000", BASE, f"{Q} --bars 1000000", "--bars 1000000 is out of range"),
    case("variations-0", BASE, f"{Q} --variations 0", "--variations 0 is out of range"),
    case(
        "mood-candidates-0",
        BASE,
        f"{Q} --mood sad --mood-candidates 0",
        "--mood-candidates 0 is out of range",
    ),
    case("adapt-steps-negative", BASE, f"{Q} --adapt-steps -1", "--adapt-steps -1 is out of range"),
    case("adapt-steps-99", BASE, f"{Q} --adapt-steps 99", "--adapt-steps 99 is out of range"),
    case("guide-against-x", BASE, f"{Q} --guide-against x", "--guide-against 'x' is invalid"),
    case("unknown-style", BASE, f"{Q} --style vaporwave", "unknown style 'vaporwave'"),
    case("unknown-mood", BASE, f"{Q} --mood ecstatic", "unknown mood 'ecstatic'"),
    case("key-H-major", BASE, f"{Q} --key H:major", "unknown key 'H:major'"),
    case("pitch-range-reversed", BASE, f"{Q} --pitch-range 90-10", "--pitch-range 90-10"),
    case(
        "key-and-range-leave-no-note",
        BASE,
        f"{Q} --pitch-range 127-127 --key C:major",
        "no note this checkpoint can write fits --key C:major and --pitch-range 127",
    ),
    case(
        "range-below-the-vocabulary",
        BASE,
        f"{Q} --pitch-range 0-10",
        "no note this checkpoint can write fits --pitch-range 0-10",
    ),
    case("pitch-range-text", BASE, f"{Q} --pitch-range low-high", "--pitch-range"),
    case("programs-x", BASE, f"{Q} --programs x", "--programs 'x'"),
    case("programs-200", BASE, f"{Q} --programs 200", "200 is not a GM program"),
    case("unknown-flag", BASE, f"{Q} --frobnicate", "no such option.*frobnicate"),
    case("render-bad-soundfont", BASE, f"{RENDER} --soundfont {{not_sf2}}", "not an SF2"),
    case(
        "render-bad-sample-rate",
        BASE,
        f"{RENDER} --sample-rate 22050",
        "sample_rate 22050 is not",
    ),
    case("render-bad-bit-depth", BASE, f"{RENDER} --bit-depth 12", "bit_depth 12 is not supported"),
    case("render-damaged-midi", BASE[:30], RENDER, "track 1 of 1 declares"),
    case(
        "render-existing-output",
        (BASE, existing_outputs),
        "render {seed} -o {dir}/out/full.mid",
        "exists; pass --force",
    ),
]

ODD_BUT_VALID = [
    case("baseline", BASE, Q),
    case("running-status", running_status(), Q),
    case("metas-in-odd-places", odd_metas(), Q),
    case("header-says-fewer-tracks", patched(NOTES_FIRST, 10, ">H", 1), Q),  # the rest ignored
    *(case(f"ppq-{tpq}", scaled(tpq), Q) for tpq in (24, 96, 1920, 3840, 32767)),
    case("drums-only", drums_only(), Q),
    case("single-note", smf([notes([60])]), Q),
    case("zero-length-notes", zero_length(), Q),
    case("only-zero-length-notes", zero_length(only=True), Q),
    case("thousands-of-notes", thousands_of_notes(), Q),
    case("absurd-delta-times", absurd_deltas(), Q),
    case("far-apart-notes-allowed", far_apart_notes(), f"{Q} --max-seconds 4371"),
    case("2000-tracks-allowed", many_tracks(2000), f"{Q} --max-tracks 3000"),
    case("seeded", SEEDED, f"{Q} --bars 2 --seed 1234 --temperature 1.3"),
    case("tempo-slowest-3.6bpm", tempo(0xFFFFFF), Q),
    case("tempo-30bpm", tempo(2_000_000), Q),
    case("tempo-1000bpm", tempo(60_000), Q),
    case("tempo-0us-clamped", tempo(0), Q),
    case("tempo-1us-clamped", tempo(1), Q),
    case("meter-5-4", meters((5, 4)), Q),
    case("meter-7-8", meters((7, 8)), Q),
    case("meter-13-16", meters((13, 16)), Q),
    case(
        "meter-change-every-bar",
        meters((3, 4), (5, 8), (7, 16), (4, 4), (13, 16), (2, 2), every_bar=True),
        Q,
    ),
    case("key-signature-changes", key_changes(), Q),
    case("pitch-velocity-edges", edge_values(), Q),
    case("foreign-text", foreign_text(), Q),
    case("max-notes-raised", BASE, f"{Q} --max-notes 8"),
    case("max-tracks-raised", TWO_TRACKS, f"{Q} --max-tracks 2"),
    case("max-bytes-raised", BASE, f"{Q} --max-bytes {len(BASE)}"),
    case("max-seconds-raised", BASE, f"{Q} --max-seconds 4.5"),
    case("existing-outputs-force", (BASE, existing_outputs), f"{Q} --force"),
]

CASES = BAD_INPUT + ODD_BUT_VALID
assert len({c.id for c in CASES}) == len(CASES)
assert all(c.expect != OK for c in BAD_INPUT) and all(c.expect == OK for c in ODD_BUT_VALID)

# ----------------------------------------------------------------------------- running

WORKER = r"""
import json, os, sys, tempfile, time, traceback, warnings
from musegen.cli.app import main

cases = json.load(open(sys.argv[1]))
filters = warnings.filters[:]
real_out, real_err = os.dup(1), os.dup(2)
results = {}
for case in cases:
    warnings.filters[:] = filters
    getattr(warnings, "_filters_mutated", lambda: None)()  # "once" warnings print again
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush(); sys.stderr.flush()
        os.dup2(out.fileno(), 1); os.dup2(err.fileno(), 2)
        began = time.perf_counter()
        try:
            rc = main(case["argv"])  # python -m musegen is sys.exit(main())
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except BaseException:
            traceback.print_exc()  # what the interpreter prints for an uncaught error
            rc = 1
        finally:
            sys.stdout.flush(); sys.stderr.flush()
            os.dup2(real_out, 1); os.dup2(real_err, 2)
        out.seek(0); err.seek(0)
        results[case["id"]] = {"rc": rc, "stdout": out.read().decode("utf-8", "replace"),
                               "stderr": err.read().decode("utf-8", "replace"),
                               "seconds": round(time.perf_counter() - began, 2)}
json.dump(results, open(sys.argv[2], "w"))
"""


def run_cli(argv: list[str], timeout: float = 300) -> dict:
    """One `python -m musegen ARGV` process: rc, stdout, stderr."""
    proc = subprocess.run(
        [*MUSEGEN, *argv], capture_output=True, text=True, env=ENV, timeout=timeout
    )
    return {"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}


def run_batch(cases: list[dict], work: Path) -> dict[str, dict]:
    """Every case's argv through `musegen.cli.main` in one child process (those that ask for
    it, and all with MUSEGEN_TEST_EACH_SUBPROCESS=1, as processes of their own)."""
    alone = {c["id"]: run_cli(c["argv"]) for c in cases if EACH_SUBPROCESS or c["own_process"]}
    batch = [c for c in cases if c["id"] not in alone]
    (work / "cases.json").write_text(json.dumps(batch))
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, str(work / "cases.json"), str(work / "results.json")],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {**json.loads((work / "results.json").read_text()), **alone}


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def broken_checkpoints(good: Path, root: Path) -> dict[str, str]:
    """Copies of the tiny checkpoint, each broken in one way."""
    paths = {}
    for name, breaks in {
        "ck_missing": lambda d: (d / "tokenizer.json").unlink(),
        "ck_weights": lambda d: (d / "model.safetensors").write_bytes(b"\x08\x00\x00\x00" * 64),
        "ck_config": lambda d: (d / "config.json").write_text('{"model": {"n_layer": '),
    }.items():
        target = root / name
        shutil.copytree(good, target)
        breaks(target)
        paths[name] = str(target)
    return paths


def prepare(c: Case, d: Path, fields: dict) -> list[str]:
    """Build the case in folder `d`; return its command line with the placeholders filled."""
    if c.seed is not None:
        (d / "seed.mid").write_bytes(c.seed)
    if c.build:
        c.build(d, fields)
    mine = {**fields, "dir": str(d), "seed": str(d / "seed.mid"), "out": str(d / "out")}
    return [a.format(**mine) for a in c.argv]


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory):
    """Prepare every case's folder and run the cases once: yield (results, folders, snapshots).

    The slow fixtures (a corpus, shards, a trained tiny checkpoint) are built only when a test
    that needs them was selected; otherwise only the cases that need none run."""
    here = [i for i in request.session.items if getattr(i, "module", None) is request.module]
    trained = any(i.get_closest_marker("slow") for i in here)
    root = tmp_path_factory.mktemp("bad-input")
    (root / "shared").mkdir()
    fake = root / "shared" / "fake.sf2"
    fake.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt not a soundfont")
    fields = {"not_sf2": str(fake)}
    if trained:
        ckpt = request.getfixturevalue("tiny_checkpoint")
        fields.update(ckpt=str(ckpt), shards=str(request.getfixturevalue("small_shards")))
        fields.update(broken_checkpoints(ckpt, root / "shared"))
    dirs, before, batch, mounted, skipped = {}, {}, [], [], set()
    for c in CASES:
        if c.trained and not trained:
            continue
        d = root / c.id
        d.mkdir()
        if c.mount:
            mount = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)]
            if subprocess.run(mount, capture_output=True).returncode != 0:
                skipped.add(c.id)
                continue
            mounted.append(d)
        argv = prepare(c, d, fields)
        dirs[c.id], before[c.id] = d, snapshot(d)
        batch.append({"id": c.id, "argv": argv, "own_process": c.own_process})
    try:
        found = run_batch(batch, root)
        found.update({k: {"skipped": True} for k in skipped})
        yield found, dirs, before
    finally:
        for d in mounted:
            subprocess.run(["umount", str(d)], capture_output=True)


def check_clean_failure(result: dict, pattern: str) -> str:
    """Exit 2, one line `musegen: error: ...` matching `pattern`, no traceback anywhere."""
    everything = result["stdout"] + result["stderr"]
    assert "Traceback" not in everything, everything[-3000:]
    assert result["rc"] == 2, everything[-3000:]
    lines = result["stderr"].splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"want one line on stderr, got {lines!r}"
    line = lines[0]
    assert line.startswith("musegen: error: "), line
    assert len(line) > len("musegen: error: ") + 10, line
    assert re.search(pattern, line, re.IGNORECASE), f"{pattern!r} not in {line!r}"
    return line


def check_outputs(out: Path) -> None:
    """The four outputs exist and read back with two independent parsers."""
    for name in ("full.mid", "continuation.mid", "pianoroll.png", "generation.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    for name in ("full.mid", "continuation.mid"):
        data = (out / name).read_bytes()
        midi = mido.MidiFile(file=io.BytesIO(data), clip=False)
        assert midi.type == 1 and len(midi.tracks) >= 2
        assert Score.from_midi(data).ticks_per_quarter == midi.ticks_per_beat
    json.loads((out / "generation.json").read_text())


def result_of(c: Case, outcomes) -> tuple[dict, Path, dict[str, str]]:
    found, dirs, before = outcomes
    if found[c.id].get("skipped"):
        pytest.skip("cannot mount a tmpfs here to fill a disk")
    return found[c.id], dirs[c.id], before[c.id]


def params(cases: list[Case]) -> list:
    return [pytest.param(c, id=c.id, marks=[pytest.mark.slow] * c.trained) for c in cases]


# ----------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("case", params(BAD_INPUT))
def test_bad_input_fails_cleanly(case: Case, outcomes) -> None:
    result, d, before = result_of(case, outcomes)
    # never excused, not even for a known bug: the input was refused, and no payload ran
    assert result["rc"] != 0, "the bad input was accepted"
    assert not (d / "ran").exists(), "a hostile pickle's payload ran"
    try:
        check_clean_failure(result, case.expect)
        assert snapshot(d) == before, "a failing run added, changed or removed files"
    except AssertionError:
        if case.known_bug:
            pytest.xfail(case.known_bug)
        raise
    assert not case.known_bug, f"fixed: remove known_bug from the row ({case.known_bug})"


@pytest.mark.parametrize("case", params(ODD_BUT_VALID))
def test_odd_but_valid_input_continues(case: Case, outcomes) -> None:
    result, d, before = result_of(case, outcomes)
    after = snapshot(d)
    leftovers = [p for p in after if p.endswith(".tmp") or "/." in f"/{p}"]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    assert after["seed.mid"] == before["seed.mid"]  # the seed is never modified
    everything = result["stdout"] + result["stderr"]
    assert result["rc"] == 0 and "Traceback" not in everything, everything[-3000:]
    assert not result["stderr"].strip() or "error" not in result["stderr"].lower()
    check_outputs(d / "out")
    kept = {p: h for p, h in before.items() if p != "out/full.mid"}
    assert kept.items() <= after.items()  # nothing else of the user's was changed


@pytest.mark.slow
def test_force_replaces_existing_outputs(outcomes) -> None:
    found, dirs, _ = outcomes
    assert found["existing-outputs"]["rc"] == 2
    assert (dirs["existing-outputs"] / "out" / "full.mid").read_bytes() == b"precious work"
    replaced = dirs["existing-outputs-force"] / "out"
    assert (replaced / "full.mid").read_bytes().startswith(b"MThd")
    assert (replaced / "notes.txt").read_text() == "not ours"


@pytest.mark.slow
def test_foreign_text_is_written_back(outcomes) -> None:
    """Regression: a non-latin-1 track name crashed the MIDI writer with UnicodeEncodeError."""
    found, dirs, _ = outcomes
    assert found["foreign-text"]["rc"] == 0, found["foreign-text"]["stderr"][-3000:]
    full = Score(str(dirs["foreign-text"] / "out" / "full.mid"))
    assert "ピアノ" in [t.name for t in full.tracks]
    assert "ド" in [lyric.text for t in full.tracks for lyric in t.lyrics]


REAL = ("truncated-in-events", "unknown-flag", "info-folder-of-pickles")


@pytest.mark.parametrize("c", params([c for c in CASES if c.id in REAL]))
def test_real_entry_point_agrees_with_the_table(c: Case, outcomes, tmp_path) -> None:
    """`python -m musegen` itself gives the same exit status and message as the table."""
    found, dirs, _ = outcomes
    case_id = c.id
    argv = prepare(c, tmp_path, {"ckpt": "unused"})
    before = snapshot(tmp_path)
    real, table = run_cli(argv), found[case_id]
    assert (real["rc"], real["stdout"]) == (table["rc"], table["stdout"])
    assert real["stderr"].replace(str(tmp_path), "") == table["stderr"].replace(
        str(dirs[case_id]), ""
    )
    assert snapshot(tmp_path) == before


@pytest.mark.slow
def test_same_seed_gives_identical_files(outcomes, tiny_checkpoint, tmp_path) -> None:
    """The same seed file, options and --seed in another process: the same bytes."""
    found, dirs, _ = outcomes
    assert found["seeded"]["rc"] == 0, found["seeded"]["stderr"]
    seed = dirs["seeded"] / "seed.mid"
    c = next(c for c in CASES if c.id == "seeded")
    argv = [a.format(seed=seed, out=tmp_path / "again", ckpt=tiny_checkpoint) for a in c.argv]
    real = run_cli(argv)
    assert real["rc"] == 0, real["stderr"][-3000:]
    for name in ("full.mid", "continuation.mid"):
        first = (dirs["seeded"] / "out" / name).read_bytes()
        assert first == (tmp_path / "again" / name).read_bytes(), name
    assert len((tmp_path / "again" / "full.mid").read_bytes()) > len(SEEDED)
    assert seed.read_bytes() == SEEDED  # the seed is never modified


@pytest.mark.parametrize("kind", ["pickle", "torch"])
def test_the_payloads_really_run_code(tmp_path: Path, kind: str) -> None:
    """Without this, the pickle rows of the table would prove nothing."""
    marker = tmp_path / "ran"
    path = hostile(tmp_path / "probe.bin", marker, kind)
    if kind == "pickle":
        pickle.loads(path.read_bytes())
    else:
        torch.load(path, weights_only=False)  # the unsafe call musegen must never make
    assert marker.exists()


def test_pickles_beside_a_good_checkpoint_are_never_opened(tiny_checkpoint, tmp_path) -> None:
    """A folder with real safetensors and a hostile pytorch_model.bin loads from safetensors."""
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    pickles("pytorch_model.bin", "model.ckpt", "last.ckpt", under="ckpt")(tmp_path, {})
    assert checkpoint.load(folder).model.num_parameters() > 0
    assert not (tmp_path / "ran").exists()


# ----------------------------------------------------------------------------- fuzzing
# Thousands of damaged MIDI files through `read_seed`, and a sample of the ones it accepts
# through the whole `musegen continue` path (`write_continuations`). Allowed outcomes: a clean
# one-line InputError / MuseGenError, or outputs that mido (clip off) and symusic read back.
# Mutants come from a fixed random seed, so a failure is reproducible from its base name and
# mutant number.

MUTANTS_PER_BASE = 700  # x 6 bases = 4,200 files through read_seed
CONTINUED = 50  # accepted mutants taken through the whole continuation path


def band() -> bytes:
    """Conductor (two tempos, 7/8 then 6/8, keys, marker), piano with pedal and bend, bass,
    drums."""
    conductor = [
        MM("track_name", name="Conductor"), MM("set_tempo", tempo=600_000),
        MM("time_signature", numerator=7, denominator=8), MM("key_signature", key="Eb"),
        MM("marker", text="A", time=1680), MM("set_tempo", tempo=428_571),
        MM("time_signature", numerator=6, denominator=8), MM("key_signature", key="Em"),
    ]  # fmt: skip
    piano = [MM("track_name", name="Piano"), M("program_change", program=0),
             M("control_change", control=64, value=127)]  # fmt: skip
    for i in range(12):
        piano += [M("note_on", note=60 + i % 7, velocity=50 + i, time=0),
                  M("pitchwheel", pitch=(i - 6) * 600, time=60),
                  M("note_off", note=60 + i % 7, time=180)]  # fmt: skip
    piano.append(M("control_change", control=64, value=0))
    bass = [MM("track_name", name="Bass"), M("program_change", channel=1, program=33)]
    for i in range(6):
        bass += [M("note_on", channel=1, note=36 + i, velocity=90, time=0),
                 M("note_off", channel=1, note=36 + i, time=480)]  # fmt: skip
    drums = [MM("track_name", name="Kit")]
    for i in range(12):
        drums += [M("note_on", channel=9, note=(36, 42, 38)[i % 3], velocity=100, time=0),
                  M("note_off", channel=9, note=(36, 42, 38)[i % 3], time=240)]  # fmt: skip
    return smf([conductor, piano, bass, drums])


def type0_channels() -> bytes:
    """One track, three channels, a program change mid-track, sysex, lyrics."""
    msgs = [M("sysex", data=[0x7E, 0x7F, 0x09, 0x01]), M("program_change", channel=2, program=40)]
    for i in range(8):
        ons = [(2, 72 + i, 70), (0, 48 + i, 60), (9, 42, 90)]
        msgs.append(MM("lyrics", text=f"la{i}"))
        msgs += [M("note_on", channel=c, note=n, velocity=v) for c, n, v in ons]
        msgs += [M("note_off", channel=c, note=n, time=240 if c == 2 else 0) for c, n, _ in ons]
        if i == 3:
            msgs.append(M("program_change", channel=2, program=41))
    return smf([msgs], type_=0)


def ppq96_triplets() -> bytes:
    msgs = [MM("time_signature", numerator=3, denominator=4), MM("set_tempo", tempo=750_000)]
    for i in range(9):
        msgs += [
            M("note_on", note=67 + i % 5, velocity=80),
            M("note_off", note=67 + i % 5, time=32),
        ]
    return smf([[MM("track_name", name="c")], msgs], tpq=96)


def own_output() -> bytes:
    """A file written by musegen itself (conductor track, marker, named tracks)."""
    return midi_bytes(Score.from_midi(band()), marker="generated by musegen (fuzz base)")


BASES = {
    "band": band(),
    "running-status": running_status(),
    "type0-channels": type0_channels(),
    "ppq96-triplets": ppq96_triplets(),
    "own-output": own_output(),
    "odd-metas": odd_metas(),
}


def _chunks(data: bytes) -> tuple[bytes, list[bytes]]:
    """(header chunk, track bodies) of a valid file."""
    size = struct.unpack(">I", data[4:8])[0]
    head, pos, bodies = data[: 8 + size], 8 + size, []
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        bodies.append(data[pos + 8 : pos + 8 + length])
        pos += 8 + length
    return head, bodies


INTERESTING = [0, 1, 2, 0x7F, 0x80, 0xFF]
INTERESTING32 = [0, 1, 6, 7, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


def _deep(body: bytes, rng: random.Random) -> bytes:
    """Damage inside one track; the caller fixes the chunk length so the parser reaches it."""
    b = bytearray(body)
    op = rng.randrange(7)
    if op == 0 and b:  # bit flips
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif op == 1 and b:  # cut the tail (end-of-track and more)
        del b[rng.randrange(len(b)) :]
    elif op == 2:  # random bytes
        at = rng.randrange(len(b) + 1)
        b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
    elif op == 3:  # a huge delta time before a note or a meta
        event = rng.choice(
            [bytes([0x90, 64, 90]), bytes([0xFF, 0x01, 1, 0x41]), bytes([0x80, 64, 0])]
        )
        at = rng.randrange(len(b) + 1)
        b[at:at] = vlq(rng.choice([0x0FFFFFFF, rng.randrange(2**28), 2**21])) + event
    elif op == 4:  # extreme values in tempo / meter / key metas
        for kind, size in ((0x51, 3), (0x58, 4), (0x59, 2)):
            at = b.find(bytes([0xFF, kind, size]))
            if at >= 0:
                for i in range(size):
                    b[at + 3 + i] = rng.choice([*INTERESTING, rng.randrange(256)])
    elif op == 5 and len(b) > 4:  # duplicate a stretch of events
        i = rng.randrange(len(b) - 2)
        j = min(len(b), i + rng.randint(2, 24))
        at = rng.randrange(len(b))
        b[at:at] = b[i:j] * rng.randint(1, 3)
    else:  # a meta/sysex length byte lies
        at = next((i for i in range(len(b) - 2) if b[i] in (0xFF, 0xF0)), None)
        if at is not None:
            k = at + (2 if b[at] == 0xFF else 1)
            b[k] = rng.choice([0, 0x7F, 0x81, rng.randrange(256)])
    return bytes(b)


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One mutant of a valid file and the name of the operator that made it."""
    b = bytearray(data)
    op = rng.choice(["truncate", "flip", "bytes", "header", "length", "splice", "deep", "deep"])
    if op == "truncate":
        del b[rng.randrange(len(b)) :]
    elif op == "flip":
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif op == "bytes":
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.choice([*INTERESTING, rng.randrange(256)])
    elif op == "header":  # format, track count or division
        at = rng.choice([8, 10, 12])
        value = rng.choice([0, 1, 2, 3, 0x7FFF, 0x8000, 0xE728, 0xFFFF, rng.randrange(65536)])
        struct.pack_into(">H", b, at, value)
    elif op == "length":  # a chunk's length field
        fields = [i + 4 for i in range(len(b) - 7) if b[i : i + 4] in (b"MThd", b"MTrk")]
        at = rng.choice(fields)
        old = struct.unpack(">I", b[at : at + 4])[0]
        value = rng.choice([*INTERESTING32, old - 1, old + 1, old * 2, rng.randrange(2**32)])
        struct.pack_into(">I", b, at, value % 2**32)
    elif op == "splice":
        other = rng.choice(list(BASES.values()))
        b = b[: rng.randrange(len(b))] + other[rng.randrange(len(other)) :]
    else:
        head, bodies = _chunks(data)
        k = rng.randrange(len(bodies))
        bodies[k] = _deep(bodies[k], rng)
        b = bytearray(head + b"".join(b"MTrk" + struct.pack(">I", len(x)) + x for x in bodies))
    return op, bytes(b)


def mutants() -> list[tuple[str, str, bytes]]:
    """(id, operator, bytes) for every mutant, the same list on every run."""
    rng = random.Random(20240611)
    out = []
    for name, data in BASES.items():
        for k in range(MUTANTS_PER_BASE):
            op, mutant = mutate(data, rng)
            out.append((f"{name}#{k}", op, mutant))
    return out


def readable(data: bytes) -> None:
    """mido (clip off) and symusic both parse `data`."""
    midi = mido.MidiFile(file=io.BytesIO(data), clip=False)
    assert midi.type == 1 and midi.tracks
    assert Score.from_midi(data).ticks_per_quarter == midi.ticks_per_beat


def one_line(err: Exception) -> None:
    message = str(err)
    assert message.strip() and "\n" not in message and "Traceback" not in message, message


@pytest.fixture(scope="module")
def fuzzed() -> dict:
    """Every mutant through read_seed; the accepted ones also written back with midi_bytes."""
    accepted, refused, failures, slow = [], 0, [], []
    for case_id, op, data in mutants():
        began = time.perf_counter()
        try:
            seed = read_seed(data)
            assert seed.score.note_num() > 0
            readable(midi_bytes(seed.score, channels=seed.channels, marker="fuzz"))
            accepted.append((case_id, op, data))
        except InputError as err:
            one_line(err)
            refused += 1
        except Exception as err:  # noqa: BLE001 (any other error is the finding)
            failures.append(f"{case_id} ({op}): {type(err).__name__}: {err}"[:300])
        if time.perf_counter() - began > 2:
            slow.append(case_id)
    return {"accepted": accepted, "refused": refused, "failures": failures, "slow": slow}


@pytest.mark.slow
def test_read_seed_refuses_cleanly_or_gives_a_writable_seed(fuzzed) -> None:
    assert not fuzzed["failures"], "\n".join(fuzzed["failures"][:20])
    total = len(fuzzed["accepted"]) + fuzzed["refused"]
    assert total == MUTANTS_PER_BASE * len(BASES) >= 4000
    # both outcomes are common, or the mutations are too mild or too wild to test anything
    assert fuzzed["refused"] > 1000 and len(fuzzed["accepted"]) > 500
    assert not fuzzed["slow"], f"mutants that took over 2 s to read: {fuzzed['slow']}"


@pytest.mark.slow
def test_accepted_mutants_continue_or_fail_cleanly(fuzzed, tiny_checkpoint, tmp_path) -> None:
    """A sample of accepted mutants, each through the whole continuation path (1 new bar)."""
    by_op: dict[str, list] = {}
    for item in fuzzed["accepted"]:
        by_op.setdefault(item[1], []).append(item)
    rng = random.Random(7)
    sample = []  # round-robin over operators, so deep and shallow damage are both represented
    while len(sample) < CONTINUED and any(by_op.values()):
        for items in by_op.values():
            if items and len(sample) < CONTINUED:
                sample.append(items.pop(rng.randrange(len(items))))
    failures, written, refused = [], 0, 0
    for case_id, op, data in sample:
        folder = tmp_path / case_id.replace("#", "-")
        folder.mkdir()
        seed = folder / "seed.mid"
        seed.write_bytes(data)
        try:
            paths = write_continuations(seed, folder / "out", ContinueRequest(bars=1),
                                        checkpoint=str(tiny_checkpoint), audio=False,
                                        progress=False, say=lambda _: None)  # fmt: skip
            for path in paths:
                if path.suffix == ".mid":
                    readable(path.read_bytes())
            written += 1
        except MuseGenError as err:
            one_line(err)
            refused += 1
            leftovers = list((folder / "out").rglob("*")) if (folder / "out").exists() else []
            assert not leftovers, f"{case_id}: a refused run left {leftovers}"
        except Exception as err:  # noqa: BLE001 (any other error is the finding)
            failures.append(f"{case_id} ({op}): {type(err).__name__}: {err}"[:300])
        assert seed.read_bytes() == data, f"{case_id}: the seed file was changed"
    assert not failures, "\n".join(failures)
    assert len(sample) == CONTINUED and written > CONTINUED // 2, (written, refused)
