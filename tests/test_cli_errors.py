"""The real `musegen` CLI on hostile, broken and odd-but-valid input: a table of cases.

Every failing case must exit with status 2, print exactly one line `musegen: error: ...` that
names the problem, show no traceback, and leave no file behind (nor change any). Every odd but
valid seed must succeed and give outputs that mido (clip off) and symusic read back.

Each case is one `musegen ...` command line. Starting Python and importing torch costs about 3 s
per process on a 2-core machine, so by default the table runs in ONE child process that calls
`musegen.cli.main(argv)` per case (exactly what `python -m musegen` does) with stdout and stderr
captured at the file-descriptor level and a fresh warnings state; a few cases are also run
through `python -m musegen` itself to show the two agree. MUSEGEN_TEST_EACH_SUBPROCESS=1 runs
every case as its own `python -m musegen` process instead (slow: 8 minutes on a busy 2-core box).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mido
import pytest

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
    return smf(
        [
            notes(MELODY)
            + [MM("text", text="far", time=2**28 - 1), MM("end_of_track", time=2**28 - 1)]
        ]
    )


def far_apart_notes() -> bytes:
    """Two notes 2**22 ticks apart: 73 minutes at 120 BPM, over the default 60-minute limit.

    (A 2**28-tick gap works too once allowed, but takes ~10 s: 140,000 empty bars to tokenize
    and draw.)"""
    return smf(
        [
            notes([60])
            + [M("note_on", note=62, velocity=80, time=2**22), M("note_off", note=62, time=480)]
        ]
    )


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

# ----------------------------------------------------------------------------- the table

OK = "<succeeds>"
OK_OR_CLEAN = "<succeeds or fails cleanly>"


def argv(seed="{seed}", out="{out}", ckpt="{ckpt}", *extra: str, audio=False) -> tuple:
    """`musegen continue` with one new bar; placeholders are filled per case."""
    quiet = () if audio else ("--no-audio",)
    return ("continue", seed, "-o", out, "--checkpoint", ckpt, *quiet, "--bars", "1", *extra)


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    expect: str  # OK, OK_OR_CLEAN, or a regex the error line must match (case-insensitive)
    seed: bytes | None = None  # written to {dir}/seed.mid
    setup: Callable[[Path, dict], None] | None = None  # prepares {dir} before the run
    mount: bool = False  # {dir} becomes a tiny tmpfs ("full disk"); skipped where mount fails


def cont(id: str, seed: bytes | None, *extra: str, expect: str = OK, **kw) -> Case:
    """A `musegen continue` case on `seed` with extra options."""
    return Case(id, argv("{seed}", "{out}", "{ckpt}", *extra), expect, seed, **kw)


def cmd(id: str, expect: str, *args: str, seed: bytes | None = BASE, **kw) -> Case:
    """Any command line."""
    return Case(id, args, expect, seed, **kw)


RENDER = ("render", "{seed}", "-o", "{out}/x.wav")


def existing_outputs(d: Path, _: dict) -> None:
    (d / "out").mkdir()
    (d / "out" / "full.mid").write_bytes(b"precious work")
    (d / "out" / "notes.txt").write_text("not ours")


def fill_disk(d: Path, _: dict) -> None:
    """Leave about 8 KiB free: the seed fits, the picture does not."""
    free = shutil.disk_usage(d).free
    with (d / "filler").open("wb") as fh:
        fh.write(b"\0" * max(0, free - 8192))


SEED_CASES = [
    # --- not a (usable) MIDI file
    cmd("missing-file", "no such file", *argv("{dir}/nope.mid"), seed=None),
    cmd("folder", "is a folder, not a MIDI file", *argv("{dir}"), seed=None),
    cont("text", b"X: 1\nT: a tune in ABC\nK: G\nGABc|", expect="not a MIDI file.*text"),
    cont("wav-riff", riff_wav(), expect="not a MIDI file.*WAV"),
    cont("random-bytes", bytes(range(7, 256, 3)) * 5, expect="not a MIDI file"),
    cont("empty", b"", expect="empty"),
    cont("truncated-in-header", BASE[:10], expect="header is cut short"),
    cont("truncated-after-header", BASE[:14], expect="track 1 of 1 is missing"),
    cont("truncated-in-track-header", BASE[:19], expect="track 1 of 1 is missing"),
    cont("truncated-in-events", BASE[:40], expect=r"declares \d+ bytes but only \d+ remain"),
    cont("truncated-before-end-of-track", BASE[:-3], expect="declares"),
    cont("header-says-3-tracks", patched(BASE, 10, ">H", 3), expect="track 2 of 3 is missing"),
    cont("header-says-0-tracks", patched(BASE, 10, ">H", 0), expect="no tracks"),
    cont("header-size-2", patched(BASE, 4, ">I", 2), expect="declares 2 bytes"),
    cont("track-length-too-long", patched(BASE, 18, ">I", 10_000), expect="declares 10000 bytes"),
    cont("track-length-too-short", patched(TWO_TRACKS, 18, ">I", 2), expect="where track 2 of 2"),
    cont("track-length-cuts-event", patched(BASE, 18, ">I", 7), expect="damaged MIDI data"),
    cont("smf-type-2", patched(BASE, 8, ">H", 2), expect="type 2"),
    cont("smf-type-7", patched(BASE, 8, ">H", 7), expect="unknown MIDI file type 7"),
    cont("smpte-division", patched(BASE, 12, ">H", 0xE728), expect="SMPTE.*25 frames"),
    cont("ppq-0", patched(BASE, 12, ">H", 0), expect="ticks per quarter note is 0"),
    cont("no-notes", smf([[MM("track_name", name="empty")]]), expect="no notes"),
    cont("events-past-int32", past_int32(), expect="beyond the last possible"),
    cont("only-zero-length-notes", zero_length(only=True)),
    # --- odd but valid: must succeed
    cont("baseline", BASE),
    cont("running-status", running_status()),
    cont("metas-in-odd-places", odd_metas()),
    cont("header-says-fewer-tracks", patched(NOTES_FIRST, 10, ">H", 1)),  # the rest is ignored
    *(cont(f"ppq-{tpq}", scaled(tpq)) for tpq in (24, 96, 1920, 3840)),
    cont("ppq-32767", scaled(32767)),
    cont("drums-only", drums_only()),
    cont("single-note", smf([notes([60])])),
    cont("zero-length-notes", zero_length()),
    cont("thousands-of-notes", thousands_of_notes()),
    cont("absurd-delta-times", absurd_deltas()),
    cont("far-apart-notes", far_apart_notes(), expect="lasts 4370.1 s.*--max-seconds 4371"),
    cont("far-apart-notes-allowed", far_apart_notes(), "--max-seconds", "4371"),
    cont("2000-tracks", many_tracks(2000), expect="--max-tracks 2000"),
    cont("2000-tracks-allowed", many_tracks(2000), "--max-tracks", "3000"),
    cont("seeded", SEEDED, "--bars", "2", "--seed", "1234", "--temperature", "1.3"),
    cont("tempo-slowest-3.6bpm", tempo(0xFFFFFF)),
    cont("tempo-30bpm", tempo(2_000_000)),
    cont("tempo-1000bpm", tempo(60_000)),
    cont("tempo-0us-clamped", tempo(0)),
    cont("tempo-1us-clamped", tempo(1)),
    cont("meter-5-4", meters((5, 4))),
    cont("meter-7-8", meters((7, 8))),
    cont("meter-13-16", meters((13, 16))),
    cont(
        "meter-change-every-bar",
        meters((3, 4), (5, 8), (7, 16), (4, 4), (13, 16), (2, 2), every_bar=True),
    ),
    cont("key-signature-changes", key_changes()),
    cont("pitch-velocity-edges", edge_values()),
    cont("foreign-text", foreign_text()),
    # --- input limits (item 6): over a lowered limit fails naming the flag, raised passes
    cont("max-notes-low", BASE, "--max-notes", "4", expect="--max-notes 8"),
    cont("max-notes-raised", BASE, "--max-notes", "8"),
    cont("max-tracks-low", TWO_TRACKS, "--max-tracks", "1", expect="--max-tracks 2"),
    cont("max-tracks-raised", TWO_TRACKS, "--max-tracks", "2"),
    cont("max-bytes-low", BASE, "--max-bytes", "50", expect=f"--max-bytes {len(BASE)}"),
    cont("max-bytes-raised", BASE, "--max-bytes", str(len(BASE))),
    cont("max-seconds-low", BASE, "--max-seconds", "2", expect="--max-seconds 5"),
    cont("max-seconds-raised", BASE, "--max-seconds", "4.5"),
]

OUTPUT_CASES = [
    cmd(
        "out-under-a-file",
        "cannot write to .*afile.txt.*Not a directory",
        *argv(out="{dir}/afile.txt/out"),
        setup=lambda d, _: (d / "afile.txt").write_text("x"),
    ),
    cmd("out-in-proc", "cannot write to /proc", *argv(out="/proc/musegen-test-out")),
    cont("disk-full", BASE, expect="disk .* is full", setup=fill_disk, mount=True),
    cont(
        "existing-outputs",
        BASE,
        expect="full.mid already exists; pass --force",
        setup=existing_outputs,
    ),
    cont("existing-outputs-force", BASE, "--force", setup=existing_outputs),
]

CHECKPOINT_CASES = [
    cmd("checkpoint-missing-file", "missing tokenizer.json", *argv(ckpt="{ck_missing}")),
    cmd(
        "checkpoint-corrupt-safetensors", "model.safetensors is corrupt", *argv(ckpt="{ck_weights}")
    ),
    cmd("checkpoint-corrupt-config", "config.json is corrupt", *argv(ckpt="{ck_config}")),
    cmd("checkpoint-pickle-file", "pickle-based files are never loaded", *argv(ckpt="{ck_pickle}")),
    cmd("checkpoint-not-found", "not found", *argv(ckpt="{dir}/no-such-ckpt")),
    cmd("info-corrupt-safetensors", "safetensors is corrupt", "info", "{ck_weights}"),
    cmd("info-corrupt-config", "config.json is corrupt", "info", "{ck_config}"),
    cmd("info-pickle-file", "pickle", "info", "{ck_pickle}"),
]

OPTION_CASES = [
    cmd(
        "soundfont-not-sf2",
        "not an SF2 soundfont",
        *argv("{seed}", "{out}", "{ckpt}", "--soundfont", "{not_sf2}", audio=True),
    ),
    cmd(
        "soundfont-missing",
        "does not exist",
        *argv("{seed}", "{out}", "{ckpt}", "--soundfont", "{dir}/none.sf2", audio=True),
    ),
    cont("temperature-0", BASE, "--temperature", "0", expect="temperature=0.0"),
    cont("temperature-negative", BASE, "--temperature", "-1", expect="temperature=-1.0"),
    cont("temperature-not-a-number", BASE, "--temperature", "warm", expect="temperature"),
    cont("top-p-above-1", BASE, "--top-p", "1.5", expect="top_p=1.5"),
    cont("top-p-0", BASE, "--top-p", "0", expect="top_p=0.0"),
    cont("top-k-0", BASE, "--top-k", "0", expect="top_k=0"),
    cont("bars-0", BASE, "--bars", "0", expect="--bars 0 is out of range"),
    cont("bars-1000000", BASE, "--bars", "1000000", expect="--bars 1000000 is out of range"),
    cont("variations-0", BASE, "--variations", "0", expect="--variations 0 is out of range"),
    cont(
        "mood-candidates-0",
        BASE,
        "--mood",
        "sad",
        "--mood-candidates",
        "0",
        expect="--mood-candidates 0 is out of range",
    ),  # fmt: skip
    cont("guide-against-x", BASE, "--guide-against", "x", expect="--guide-against 'x' is invalid"),
    cont("unknown-style", BASE, "--style", "vaporwave", expect="unknown style 'vaporwave'"),
    cont("unknown-mood", BASE, "--mood", "ecstatic", expect="unknown mood 'ecstatic'"),
    cont("key-H-major", BASE, "--key", "H:major", expect="unknown key 'H:major'"),
    cont("pitch-range-reversed", BASE, "--pitch-range", "90-10", expect="--pitch-range 90-10"),
    cont(
        "key-and-range-leave-no-note",
        BASE,
        "--pitch-range",
        "127-127",
        "--key",
        "C:major",
        expect="no note this checkpoint can write fits --key C:major and --pitch-range 127",
    ),
    cont(
        "range-below-the-vocabulary",
        BASE,
        "--pitch-range",
        "0-10",
        expect="no note this checkpoint can write fits --pitch-range 0-10",
    ),
    cont("pitch-range-text", BASE, "--pitch-range", "low-high", expect="--pitch-range"),
    cont("programs-x", BASE, "--programs", "x", expect="--programs 'x'"),
    cont("programs-200", BASE, "--programs", "200", expect="200 is not a GM program"),
    cont("unknown-flag", BASE, "--frobnicate", expect="no such option.*frobnicate"),
    cmd("render-bad-soundfont", "not an SF2", *RENDER, "--soundfont", "{not_sf2}"),
    cmd("render-bad-sample-rate", "sample_rate 22050 is not", *RENDER, "--sample-rate", "22050"),
    cmd("render-bad-bit-depth", "bit_depth 12 is not supported", *RENDER, "--bit-depth", "12"),
    cmd("render-damaged-midi", "track 1 of 1 declares", *RENDER, seed=BASE[:30]),
    cmd(
        "render-existing-output",
        "exists; pass --force",
        "render",
        "{seed}",
        "-o",
        "{dir}/out/full.mid",
        setup=existing_outputs,
    ),
]

CASES = SEED_CASES + OUTPUT_CASES + CHECKPOINT_CASES + OPTION_CASES
assert len({c.id for c in CASES}) == len(CASES)

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
    """Every case's argv through `musegen.cli.main` in one child process."""
    if EACH_SUBPROCESS:
        return {c["id"]: run_cli(c["argv"]) for c in cases}
    (work / "cases.json").write_text(json.dumps(cases))
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, str(work / "cases.json"), str(work / "results.json")],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((work / "results.json").read_text())


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
    """Copies of the tiny checkpoint, each broken in one way, and other bad inputs."""
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
    import pickle

    (root / "model.ckpt").write_bytes(pickle.dumps({"state_dict": {}}))  # harmless, still refused
    paths["ck_pickle"] = str(root / "model.ckpt")
    (root / "fake.sf2").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt not a soundfont")
    paths["not_sf2"] = str(root / "fake.sf2")
    return paths


@pytest.fixture(scope="module")
def results(tiny_checkpoint, tmp_path_factory):
    """Prepare every case's folder, run the whole table once, yield (case -> result, dirs)."""
    root = tmp_path_factory.mktemp("cli-errors")
    shared = broken_checkpoints(tiny_checkpoint, root / "shared")
    dirs, before, batch, mounted, skipped = {}, {}, [], [], set()
    for case in CASES:
        d = root / case.id
        d.mkdir()
        if case.mount:
            mount = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)]
            if subprocess.run(mount, capture_output=True).returncode != 0:
                skipped.add(case.id)
                continue
            mounted.append(d)
        if case.seed is not None:
            (d / "seed.mid").write_bytes(case.seed)
        if case.setup:
            case.setup(d, shared)
        dirs[case.id] = d
        before[case.id] = snapshot(d)
        fields = {
            **shared,
            "dir": str(d),
            "seed": str(d / "seed.mid"),
            "out": str(d / "out"),
            "ckpt": str(tiny_checkpoint),
        }
        batch.append({"id": case.id, "argv": [a.format(**fields) for a in case.argv]})
    try:
        found = run_batch(batch, root)
        found.update({k: {"skipped": True} for k in skipped})
        yield found, dirs, before
    finally:
        for d in mounted:
            subprocess.run(["umount", str(d)], capture_output=True)


def check_clean_failure(result: dict, pattern: str) -> str:
    """Exit 2, one line `musegen: error: ...` matching `pattern`, no traceback anywhere."""
    import re

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
    from symusic import Score

    for name in ("full.mid", "continuation.mid", "pianoroll.png", "generation.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    for name in ("full.mid", "continuation.mid"):
        data = (out / name).read_bytes()
        midi = mido.MidiFile(file=io.BytesIO(data), clip=False)
        assert midi.type == 1 and len(midi.tracks) >= 2
        assert Score.from_midi(data).ticks_per_quarter == midi.ticks_per_beat
    json.loads((out / "generation.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_case(case: Case, results) -> None:
    found, dirs, before = results
    result = found[case.id]
    if result.get("skipped"):
        pytest.skip("cannot mount a tmpfs here to fill a disk")
    d = dirs[case.id]
    after = snapshot(d)
    leftovers = [p for p in after if p.endswith(".tmp") or "/." in f"/{p}"]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    if "seed.mid" in before:  # item 4: the seed is never modified
        assert after["seed.mid"] == before["seed.mid"]
    failed = result["rc"] != 0
    if case.expect == OK or (case.expect == OK_OR_CLEAN and not failed):
        everything = result["stdout"] + result["stderr"]
        assert result["rc"] == 0 and "Traceback" not in everything, everything[-3000:]
        assert not result["stderr"].strip() or "error" not in result["stderr"].lower()
        check_outputs(d / "out")
        kept = {p: h for p, h in before[case.id].items() if p != "out/full.mid"}
        assert kept.items() <= after.items()  # nothing else of the user's was changed
        return
    pattern = r"." if case.expect == OK_OR_CLEAN else case.expect
    check_clean_failure(result, pattern)
    assert after == before[case.id], "a failing run added, changed or removed files"


@pytest.mark.slow
def test_force_replaces_existing_outputs(results) -> None:
    found, dirs, _ = results
    assert found["existing-outputs"]["rc"] == 2
    assert (dirs["existing-outputs"] / "out" / "full.mid").read_bytes() == b"precious work"
    replaced = dirs["existing-outputs-force"] / "out"
    assert (replaced / "full.mid").read_bytes().startswith(b"MThd")
    assert (replaced / "notes.txt").read_text() == "not ours"


@pytest.mark.slow
def test_foreign_text_is_written_back(results) -> None:
    """Regression: a non-latin-1 track name crashed the MIDI writer with UnicodeEncodeError."""
    from symusic import Score

    found, dirs, _ = results
    assert found["foreign-text"]["rc"] == 0, found["foreign-text"]["stderr"][-3000:]
    full = Score(str(dirs["foreign-text"] / "out" / "full.mid"))
    assert "ピアノ" in [t.name for t in full.tracks]
    assert "ド" in [lyric.text for t in full.tracks for lyric in t.lyrics]


# ----------------------------------------------------------------------------- real processes


@pytest.mark.slow
@pytest.mark.parametrize("case_id", ["truncated-in-events", "unknown-flag"])
def test_real_entry_point_agrees_with_the_table(case_id, results, tmp_path) -> None:
    """`python -m musegen` itself gives the same exit status and message as the table."""
    found, dirs, _ = results
    case = next(c for c in CASES if c.id == case_id)
    (tmp_path / "seed.mid").write_bytes(case.seed)
    argv = [
        a.format(seed=tmp_path / "seed.mid", out=tmp_path / "out", ckpt="unused") for a in case.argv
    ]
    real, table = run_cli(argv), found[case_id]
    assert (real["rc"], real["stdout"]) == (table["rc"], table["stdout"])
    assert real["stderr"].replace(str(tmp_path), "") == table["stderr"].replace(
        str(dirs[case_id]), ""
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_same_seed_gives_identical_files(results, tiny_checkpoint, tmp_path) -> None:
    """Item 3: the same seed file, options and --seed in another process: the same bytes."""
    found, dirs, _ = results
    assert found["seeded"]["rc"] == 0, found["seeded"]["stderr"]
    seed = dirs["seeded"] / "seed.mid"
    case = next(c for c in CASES if c.id == "seeded")
    argv = [a.format(seed=seed, out=tmp_path / "again", ckpt=tiny_checkpoint) for a in case.argv]
    real = run_cli(argv)
    assert real["rc"] == 0, real["stderr"][-3000:]
    for name in ("full.mid", "continuation.mid"):
        first, second = (
            (dirs["seeded"] / "out" / name).read_bytes(),
            (tmp_path / "again" / name).read_bytes(),
        )
        assert first == second, name
    assert len((tmp_path / "again" / "full.mid").read_bytes()) > len(SEEDED)
    assert seed.read_bytes() == SEEDED  # item 4: the seed is never modified
