"""FluidSynth driven offline: passes rendered into one float buffer, side by side.

No audio driver and no real-time clock: each pass has its own synth, which writes float audio
straight into its frames of the output between events, so time is exactly the event samples
(FluidSynth applies an event at the start of its next 64-frame block). A synth uses one core,
so passes run on several threads; FluidSynth's calls release the GIL.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np

from musegen.errors import RenderError
from musegen.io.schedule import CONTROL, OFF, ON, Pass

INSTALL_HINT = (
    "install the FluidSynth library (`apt-get install libfluidsynth3` on Debian/Ubuntu, "
    "`brew install fluid-synth` on macOS) and `pip install pyfluidsynth`"
)
SYNTH_GAIN = 0.3  # modest, so dense pieces keep headroom; the mix is normalised afterwards
SILENCE = 1e-6  # peaks below this (-120 dBFS) are silence (FluidSynth idles at about 3e-8)
CHUNK_SECONDS = 0.25  # longest single write (bounds progress gaps and the silence check)
RENDER_THREADS = min(8, os.cpu_count() or 1)
SILENT_FRAMES = 4096  # a pass past its notes stops after this many silent frames

Progress = Callable[[float], None]


def load_fluidsynth() -> Any:
    """Import pyfluidsynth lazily; it raises ImportError/OSError when libfluidsynth is absent."""
    try:
        # pyfluidsynth prints where it found the library when $CI is set; keep stdout ours
        with contextlib.redirect_stdout(io.StringIO()):
            import fluidsynth
    except (ImportError, OSError) as e:
        raise RenderError(f"FluidSynth is not available ({e}): {INSTALL_HINT}.") from e
    return fluidsynth


def fluidsynth_available() -> bool:
    """True when pyfluidsynth and the FluidSynth C library can be loaded."""
    try:
        load_fluidsynth()
    except RenderError:
        return False
    return True


def write_float_fn(fluidsynth: Any) -> Callable:
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
    ptr, write = synth.synth, write_float_fn(fluidsynth)
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
        else:  # BEND
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


def run_passes(fluidsynth: Any, soundfont: Path, sample_rate: int,
               jobs: list[tuple[Pass, np.ndarray]], progress: Progress | None) -> None:  # fmt: skip
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
                wait(futures, return_when=FIRST_EXCEPTION)  # not in order: the first to fail
                for future in futures:
                    if future.done() and future.exception() is not None:
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
