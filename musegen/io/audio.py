"""Offline FluidSynth rendering of a score to WAV, with optional stems.

Events are placed on exact sample indices from the score's tempo map (float64), and FluidSynth
writes float audio straight into one preallocated buffer between events: no audio driver, no
real-time clock, no per-sample Python work. FluidSynth applies an event at the start of its next
64-frame block, so onsets land at most 63 frames (1.4 ms at 44.1 kHz) after their exact sample.
A synth uses one core, so longer pieces render as time slices, one synth each, side by side.
"""

from __future__ import annotations

import ctypes
import importlib.util
import math
import os
import re
import threading
import time
import wave
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from symusic import Score

from musegen.errors import InputError, RenderError
from musegen.io.files import atomic_open
from musegen.io.midi import as_score
from musegen.music import timeline
from musegen.music.instruments import DRUM_CHANNEL

SAMPLE_RATES = (44100, 48000)
BIT_DEPTHS = (16, 24)
SOUNDFONT_ENV = "MUSEGEN_SOUNDFONT"
# General MIDI soundfonts that distributions and Homebrew install, most complete first.
SYSTEM_SOUNDFONTS: tuple[str, ...] = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/opt/homebrew/share/soundfonts/default.sf2",
    "/opt/homebrew/share/fluid-synth/sf2/VintageDreamsWaves-v2.sf2",
    "/usr/local/share/soundfonts/default.sf2",
    "/usr/local/share/fluid-synth/sf2/VintageDreamsWaves-v2.sf2",
)
INSTALL_HINT = (
    "install the FluidSynth library (`apt-get install libfluidsynth3` on Debian/Ubuntu, "
    "`brew install fluid-synth` on macOS) and `pip install pyfluidsynth`"
)
SYNTH_GAIN = 0.3  # modest, so dense pieces keep headroom; the mix is normalised afterwards
PEAK_DBFS = -1.0  # normalisation target
SILENCE = 1e-6  # peaks below this (-120 dBFS) are silence, not something to normalise
CHUNK_SECONDS = 0.25  # longest single write (bounds progress gaps and the silence check)
# FluidSynth uses one core per synth, so the mix is rendered as time slices of PASS_SECONDS,
# side by side on every core (see _time_split). The slices depend on the piece alone, never
# on the machine, so a file renders to the same audio everywhere.
RENDER_THREADS = min(8, os.cpu_count() or 1)
PASS_SECONDS = 20
BLOCK = 64  # FluidSynth's block: events apply at block starts, so slices start on one
SILENT_FRAMES = 4096  # a pass past its notes stops after this many silent frames
WRITE_FRAMES = 1 << 18  # frames converted to PCM at a time
MAX_MINUTES = 60

Progress = Callable[[float], None]


def _check_soundfont(path: Path, origin: str) -> Path:
    """Return `path` if it is a readable SF2 file (RIFF form type `sfbk`), else raise."""
    hint = f"pass soundfont=PATH or set {SOUNDFONT_ENV} to a General MIDI .sf2 file"
    if not path.exists():
        raise RenderError(f"Soundfont {path} (from {origin}) does not exist: {hint}.")
    if not path.is_file():
        raise RenderError(f"Soundfont {path} (from {origin}) is not a file: {hint}.")
    try:
        with path.open("rb") as f:
            head = f.read(12)
    except OSError as e:
        raise RenderError(f"Soundfont {path} cannot be read ({e.strerror}): {hint}.") from e
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise RenderError(
            f"{path} (from {origin}) is not an SF2 soundfont (no RIFF/sfbk header): {hint}."
        )
    return path


def _pretty_midi_soundfont() -> Path | None:
    """The TimGM6mb.sf2 shipped inside the pretty_midi package, found without importing it."""
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "TimGM6mb.sf2"
        if candidate.is_file():
            return candidate
    return None


def find_soundfont(explicit: str | Path | None = None) -> Path:
    """The soundfont to use: `explicit`, else $MUSEGEN_SOUNDFONT, else a system GM soundfont,
    else pretty_midi's TimGM6mb.sf2. An explicit or environment choice that is invalid raises
    rather than silently falling back."""
    if explicit is not None:
        return _check_soundfont(Path(explicit).expanduser(), "the soundfont argument")
    env = os.environ.get(SOUNDFONT_ENV, "").strip()
    if env:
        return _check_soundfont(Path(env).expanduser(), f"${SOUNDFONT_ENV}")
    for candidate in SYSTEM_SOUNDFONTS:
        path = Path(candidate)
        if path.is_file():
            try:
                return _check_soundfont(path, "the system")
            except RenderError:
                continue
    bundled = _pretty_midi_soundfont()
    if bundled is not None:
        return _check_soundfont(bundled, "pretty_midi")
    raise RenderError(
        f"No General MIDI soundfont found: pass soundfont=PATH, set {SOUNDFONT_ENV}, "
        "or install one (`apt-get install fluid-soundfont-gm`, or `pip install pretty_midi`)."
    )


def _load_fluidsynth() -> Any:
    """Import pyfluidsynth lazily; it raises ImportError/OSError when libfluidsynth is absent."""
    try:
        import fluidsynth
    except (ImportError, OSError) as e:
        raise RenderError(f"FluidSynth is not available ({e}): {INSTALL_HINT}.") from e
    return fluidsynth


def fluidsynth_available() -> bool:
    """True when pyfluidsynth and the FluidSynth C library can be loaded."""
    try:
        _load_fluidsynth()
    except RenderError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Score -> sorted event arrays

# Event kinds, in the order they are applied at the same sample: offs before ons.
OFF, CONTROL, BEND, ON = 0, 1, 2, 3


def _channels(score: Score) -> list[int]:
    """One channel per track: drums on 9 (first kit), melodic tracks on the others.

    The synth has 256 channels, so channels are only reused beyond 255 tracks.
    """
    free = [c for c in range(256) if c != DRUM_CHANNEL]
    out, k, drum_taken = [], 0, False
    for track in score.tracks:
        if track.is_drum and not drum_taken:
            out.append(DRUM_CHANNEL)
            drum_taken = True
        else:
            out.append(free[k % len(free)])
            k += 1
    return out


def _rows(sample: np.ndarray, kind: int, channel: int, a: np.ndarray, b: Any = 0) -> np.ndarray:
    """(n, 5) int64 event rows: sample, kind, channel, a, b."""
    cols = [sample, np.full_like(sample, kind), np.full_like(sample, channel), a]
    return np.stack([*cols, np.broadcast_to(b, sample.shape)], axis=1).astype(np.int64)


def _track_events(track: Any, channel: int, to_samples: Callable) -> tuple[np.ndarray, np.ndarray]:
    """One track's events: notes (n, 2, 5), each note's on and off row, and its control changes
    and pitch bends (m, 5)."""
    notes_out = np.zeros((0, 2, 5), dtype=np.int64)
    notes = track.notes.numpy()
    if len(notes["time"]):
        start = notes["time"].astype(np.int64)
        on = to_samples(start)
        off = np.maximum(to_samples(start + notes["duration"]), on + 1)  # no zero-length notes
        pitch = notes["pitch"].astype(np.int64) & 0x7F
        notes_out = np.stack([_rows(on, ON, channel, pitch, np.clip(notes["velocity"], 1, 127)),
                              _rows(off, OFF, channel, pitch)], axis=1)  # fmt: skip
    rows = [np.zeros((0, 5), dtype=np.int64)]
    cc = track.controls.numpy()
    keep = (cc["number"] != 0) & (cc["number"] != 32)  # bank select: presets chosen directly
    if keep.any():
        t = to_samples(cc["time"][keep])
        rows.append(_rows(t, CONTROL, channel, cc["number"][keep], cc["value"][keep]))
    bends = track.pitch_bends.numpy()
    if len(bends["time"]):
        value = np.clip(bends["value"].astype(np.int64) + 8192, 0, 16383)
        rows.append(_rows(to_samples(bends["time"]), BEND, channel, value))
    return notes_out, np.concatenate(rows)


def _sorted(rows: list[np.ndarray]) -> np.ndarray:
    """Event rows stacked and sorted by sample, then kind (offs first)."""
    events = np.concatenate([*rows, np.zeros((0, 5), np.int64)])
    return events[np.lexsort((events[:, 1], events[:, 0]))]


@dataclass
class Pass:
    """One synth's share of the work: these programs and events, written from `start`.

    A pass owns frames start..end of the output. After its last event it keeps writing, into
    its own tail buffer, until it falls silent (releases and reverb end) or the piece ends;
    the tail is then added to the output.
    """

    programs: list[tuple[int, int, bool]]
    events: np.ndarray  # (n, 5) sorted; controls before `start` are applied at `start`
    start: int
    end: int
    notes_end: int  # the last note-off of its own notes
    tail: list[np.ndarray] = field(default_factory=list)


def _time_split(notes: np.ndarray, controls: np.ndarray, programs, total: int,
                music_end: int, frames: int) -> list[Pass]:  # fmt: skip
    """Split a mix (or one stem) into passes of about `frames` by note onset, side by side.

    Voices are independent and FluidSynth's effects are linear, so the sum of the passes is
    the one-pass mix, given that each pass gets every control change (the same channel
    state) and starts on FluidSynth's block grid (the same onset timing). Without effects the
    sum differs from one pass only by small transients at note onsets (FluidSynth reuses voice
    slots), as stems do. With them, the chorus and reverb modulation starts with each synth:
    the same effect, not the same samples (both measured in tests/test_render.py). A slice
    where no note starts makes no pass: the notes sounding into it are their own passes' tails.
    """
    parts = max(1, math.ceil(music_end / frames))
    cuts = [0, *(music_end * k // parts // BLOCK * BLOCK for k in range(1, parts)), total]
    onsets = notes[:, 0, 0]
    passes = []
    for k, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False)):
        mine = (onsets >= a) & ((onsets < b) | (k == parts - 1))
        if not mine.any():
            continue
        events = _sorted([notes[mine].reshape(-1, 5), controls])
        notes_end = int(notes[mine, 1, 0].max(initial=a))
        passes.append(Pass(programs, events, a, b, notes_end))
    return passes


# ---------------------------------------------------------------------------------------------
# Synthesis


def _write_float_fn(fluidsynth: Any) -> Callable:
    """fluid_synth_write_float with our own prototype (pyfluidsynth only wraps the s16 one)."""
    i, p = ctypes.c_int, ctypes.c_void_p  # synth, len, lout, loff, lincr, rout, roff, rincr
    proto = ctypes.CFUNCTYPE(i, p, i, p, i, i, p, i, i)
    return proto(("fluid_synth_write_float", fluidsynth._fl))


# One soundfont load at a time, process-wide: FluidSynth's sample cache (2.3) counts its
# references outside its mutex, so two loads at once could lose a count and free samples in use.
_SOUNDFONT_LOADING = threading.Lock()


def _synthesise(
    fluidsynth: Any, synth: Any, soundfont: Path, job: Pass, out: np.ndarray, chunk: int,
    report: Callable[[int], None], stop: threading.Event,
) -> None:  # fmt: skip
    """Render one pass with its own (fresh) synth into out[job.start:job.end] and job.tail.

    The synth loads the soundfont here, on the pass's own thread, so that one pass loads
    while another renders (a load takes about as long as 5 s of a one-voice render).

    Args:
        out: the (total, 2) float32 output; this pass writes only its own frames of it.
        chunk: most frames per write (bounds progress gaps and the silence check).
        report: called with the number of frames written since the last call.
        stop: set when another pass failed or the user interrupted: give up at the next write.
    """
    total = len(out)
    with _SOUNDFONT_LOADING:
        sfid = synth.sfload(str(soundfont))
    if sfid < 0:
        raise RenderError(f"FluidSynth could not load {soundfont}: pass a valid .sf2 file.")
    for channel, program, is_drum in job.programs:
        bank = 128 if is_drum else 0
        if synth.program_select(channel, sfid, bank, program) < 0:
            synth.program_select(channel, sfid, bank, 0)  # preset missing: bank's first
    ptr, write = synth.synth, _write_float_fn(fluidsynth)
    noteon, noteoff = fluidsynth.fluid_synth_noteon, fluidsynth.fluid_synth_noteoff
    cc, bend = fluidsynth.fluid_synth_cc, fluidsynth.fluid_synth_pitch_bend
    pos = job.start

    def advance(to: int) -> None:
        """Write frames pos..to: into `out` up to job.end, past it into the tail buffer."""
        nonlocal pos
        while pos < to:
            if stop.is_set():
                raise RenderError("rendering was stopped")
            if pos < job.end:
                n = min(to, job.end, pos + chunk) - pos
                address = out.ctypes.data + pos * 8  # 2 float32 per frame, interleaved L R
            else:
                n = min(to - pos, chunk)
                job.tail.append(np.empty((n, 2), dtype=np.float32))
                address = job.tail[-1].ctypes.data
            write(ptr, n, address, 0, 2, address, 1, 2)  # FluidSynth renders 64-frame blocks
            pos += n
            report(n)

    for sample, kind, channel, a, b in job.events[job.events[:, 0] < total].tolist():
        if sample > pos:
            if pos >= max(job.end, job.notes_end) and _silent(job.tail):
                return  # only later passes' control changes are left, and nothing sounds
            advance(sample)
        if kind == ON:
            noteon(ptr, channel, a, b)
        elif kind == OFF:
            noteoff(ptr, channel, a)
        elif kind == CONTROL:
            cc(ptr, channel, a, b)
        else:
            bend(ptr, channel, a)
    advance(job.end)
    while pos < total and not (pos > job.end and _silent(job.tail)):
        advance(min(total, pos + chunk))  # past its own frames: releases and reverb only


def _silent(tail: list[np.ndarray]) -> bool:
    """Whether the last SILENT_FRAMES frames written to a tail are all below SILENCE."""
    seen = 0
    for part in reversed(tail):
        if float(np.max(np.abs(part), initial=0.0)) >= SILENCE:
            return False
        seen += len(part)
        if seen >= SILENT_FRAMES:
            return True
    return False


def _run(fluidsynth: Any, soundfont: Path, sample_rate: int, jobs: list[tuple[Pass, np.ndarray]],
         progress: Progress | None) -> None:  # fmt: skip
    """Render every (pass, output) pair, side by side on up to `RENDER_THREADS` threads.

    FluidSynth's calls release the GIL (ctypes), so passes run truly in parallel. Each pass
    has its own synth; all are made here first, one at a time (FluidSynth's global set-up is
    not meant to race), and they share the soundfont's samples (its sample cache).
    """
    synths: list[Any] = []
    try:
        for _ in jobs:  # never synth.start(): no audio driver, we pull samples ourselves
            synths.append(fluidsynth.Synth(gain=SYNTH_GAIN, samplerate=float(sample_rate)))
        work = sum(job.end - job.start for job, _ in jobs)  # tails (short) come on top
        done, lock = [0], threading.Lock()

        def report(frames: int) -> None:
            with lock:
                done[0] += frames
                if progress is not None:
                    progress(min(1.0, done[0] / max(work, 1)))

        chunk, stop = int(CHUNK_SECONDS * sample_rate), threading.Event()
        with ThreadPoolExecutor(max_workers=max(1, min(RENDER_THREADS, len(jobs)))) as pool:
            futures = [
                pool.submit(
                    _synthesise, fluidsynth, synth, soundfont, job, out, chunk, report, stop
                )
                for synth, (job, out) in zip(synths, jobs, strict=True)
            ]
            try:
                for future in futures:
                    future.result()
            except BaseException:  # Ctrl-C or a failed pass: the others stop at their next write
                stop.set()
                for future in futures:
                    future.cancel()  # those not started yet never start
                raise
    finally:  # after the pool has joined its threads: no synth is deleted while in use
        for synth in synths:
            synth.delete()
    for job, out in jobs:  # tails overlap later passes' frames: added once all are done
        pos = job.end
        for part in job.tail:
            out[pos : pos + len(part)] += part
            pos += len(part)


# ---------------------------------------------------------------------------------------------
# WAV output


def _pcm_bytes(audio: np.ndarray, bit_depth: int) -> bytes:
    """Interleaved little-endian PCM bytes for float audio in [-1, 1].

    Rounded in float64 (exact for both depths), in place: one buffer, not one per step.
    """
    full = 2 ** (bit_depth - 1) - 1
    scaled = audio.astype(np.float64)
    scaled *= full
    np.rint(scaled, out=scaled)
    np.clip(scaled, -full - 1, full, out=scaled)
    if bit_depth == 16:
        return scaled.astype("<i2").tobytes()
    ints = scaled.astype("<i4")
    return ints.reshape(-1, 1).view(np.uint8)[:, :3].tobytes()  # low 3 bytes of each int32


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int, bit_depth: int = 16) -> Path:
    """Write (frames, 2) float audio in [-1, 1] as PCM WAV, atomically: a temporary file in the
    same folder, then os.replace, so no half-written file is ever left at `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as f, wave.open(f, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(bit_depth // 8)
        w.setframerate(sample_rate)
        for start in range(0, len(audio), WRITE_FRAMES):  # bounded temporary memory
            w.writeframes(_pcm_bytes(audio[start : start + WRITE_FRAMES], bit_depth))
    return path


def _peak(audio: np.ndarray) -> float:
    """Largest absolute sample, without a temporary copy of the audio."""
    return max(float(audio.max(initial=0.0)), -float(audio.min(initial=0.0)))


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:40] or "track"


# ---------------------------------------------------------------------------------------------
# Public entry point


def render(
    midi: str | Path | Score,
    out_wav: str | Path,
    *,
    soundfont: str | Path | None = None,
    sample_rate: int = 44100,
    bit_depth: int = 16,
    tail_seconds: float = 2.0,
    stems_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Render a MIDI file or Score to a stereo WAV, peak-normalised to -1 dBFS.

    Args:
        soundfont: .sf2 to use; see `find_soundfont` for the default.
        tail_seconds: silence after the last note-off, for releases and reverb.
        stems_dir: also write each track alone as `<index>-<name>.wav` (same length, same gain
            as the mix, so the stems sum to the mix).
        progress: called with the fraction done (0..1), e.g. to drive a progress bar.

    Returns:
        path, seconds, samples, sample_rate, bit_depth, peak_db (None when silent),
        soundfont, stems (list of paths) and render_seconds.
    """
    began = time.perf_counter()
    if sample_rate not in SAMPLE_RATES:
        raise InputError(f"sample_rate {sample_rate} is not supported: use one of {SAMPLE_RATES}.")
    if bit_depth not in BIT_DEPTHS:
        raise InputError(f"bit_depth {bit_depth} is not supported: use one of {BIT_DEPTHS}.")
    if not (math.isfinite(tail_seconds) and 0 <= tail_seconds <= 60):
        raise InputError(f"tail_seconds {tail_seconds} is out of range: use 0 to 60 seconds.")
    sf_path = find_soundfont(soundfont)
    fluidsynth = _load_fluidsynth()
    score = as_score(midi)
    out_path = Path(out_wav).expanduser()

    to_seconds = timeline.seconds_at(score)

    def to_samples(ticks: np.ndarray) -> np.ndarray:
        return np.rint(to_seconds(ticks) * sample_rate).astype(np.int64)

    tracks = list(score.tracks)
    channels = _channels(score)
    per_track = [_track_events(t, c, to_samples) for t, c in zip(tracks, channels, strict=True)]
    programs = [(c, t.program & 0x7F, t.is_drum) for t, c in zip(tracks, channels, strict=True)]
    ends = [t.end() for t in tracks if len(t.notes)]
    music_end = int(to_samples(np.array([max(ends)]))[0]) if ends else 0
    total = max(1, music_end + round(tail_seconds * sample_rate))
    if total > MAX_MINUTES * 60 * sample_rate:  # each pass holds the whole piece as float32
        raise InputError(
            f"The score lasts {total / sample_rate / 60:.0f} minutes: render at most "
            f"{MAX_MINUTES} (cut the score, or check for stray notes far after the end)."
        )

    # With stems, each track is rendered alone, and the mix is the sum of the stems, so they
    # null against it. (FluidSynth is linear but reuses voice slots, so a mix rendered at once
    # can differ from the sum by small transients at note onsets.) Each track is cut into
    # slices as many times longer as there are tracks: about as many passes as for the mix.
    slice_frames = PASS_SECONDS * sample_rate
    stems_wanted = stems_dir is not None and len(tracks) > 0
    if stems_wanted:
        parts = [np.zeros((total, 2), dtype=np.float32) for _ in tracks]
        frames = slice_frames * len(tracks)
        jobs = [
            (job, part)
            for program, (notes, controls), part in zip(programs, per_track, parts, strict=True)
            for job in _time_split(notes, controls, [program], total, music_end, frames)
        ]
    else:
        parts = [np.zeros((total, 2), dtype=np.float32)]
        notes = np.concatenate([n for n, _ in per_track] + [np.zeros((0, 2, 5), np.int64)])
        controls = np.concatenate([c for _, c in per_track] + [np.zeros((0, 5), np.int64)])
        passes = _time_split(notes, controls, programs, total, music_end, slice_frames)
        jobs = [(job, parts[0]) for job in passes]
    _run(fluidsynth, sf_path, sample_rate, jobs, progress)
    mix = parts[0].copy() if stems_wanted else parts[0]  # stems keep their own parts
    for part in parts[1:]:
        mix += part

    peak = max(_peak(p) for p in ([mix, *parts] if stems_wanted else [mix]))
    # Stems share the mix's gain. FluidSynth's idle output is ~3e-8, not 0: keep silence silent.
    gain = 10 ** (PEAK_DBFS / 20) / peak if peak > SILENCE else 0.0
    stems: list[str] = []
    try:
        if stems_wanted:
            folder = Path(stems_dir).expanduser()
            for i, (track, part) in enumerate(zip(tracks, parts, strict=True)):
                stem = folder / f"{i:02d}-{_safe_name(track.name)}.wav"
                write_wav(stem, part * gain, sample_rate, bit_depth)
                stems.append(str(stem))
        mix *= gain
        write_wav(out_path, mix, sample_rate, bit_depth)
    except BaseException:  # a full disk or Ctrl-C: no stems are left without their mix
        for stem in stems:
            Path(stem).unlink(missing_ok=True)
        raise
    if progress is not None:
        progress(1.0)
    mix_peak = _peak(mix)
    return {
        "path": str(out_path),
        "seconds": total / sample_rate,
        "samples": total,
        "sample_rate": sample_rate,
        "bit_depth": bit_depth,
        "peak_db": round(20 * math.log10(mix_peak), 2) if mix_peak > 0 else None,
        "soundfont": str(sf_path),
        "stems": stems,
        "render_seconds": time.perf_counter() - began,
    }
