"""Offline FluidSynth rendering of a score to WAV, with optional stems.

Events are placed on exact sample indices from the score's tempo map (`schedule`), and
FluidSynth writes float audio straight into one preallocated buffer between events (`synth`):
no audio driver, no real-time clock, no per-sample Python work. FluidSynth applies an event at
the start of its next 64-frame block, so onsets land at most 63 frames (1.4 ms at 44.1 kHz)
after their exact sample. A synth uses one core, so longer pieces render as time slices, one
synth each, side by side. Each track plays on the MIDI channel `write_midi` gives it.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from symusic import Score

from musegen.errors import InputError
from musegen.io.channels import assign_channels
from musegen.io.schedule import time_split, track_events
from musegen.io.seed import as_score, read_seed
from musegen.io.soundfont import find_soundfont
from musegen.io.synth import SILENCE, Progress, load_fluidsynth, run_passes
from musegen.io.wav import write_wav
from musegen.music import timeline

SAMPLE_RATES = (44100, 48000)
BIT_DEPTHS = (16, 24)
PEAK_DBFS = -1.0  # normalisation target
# FluidSynth uses one core per synth, so the mix is rendered as time slices of PASS_SECONDS,
# side by side on every core (see schedule.time_split). The slices depend on the piece alone,
# never on the machine, so a file renders to the same audio everywhere.
PASS_SECONDS = 20
MAX_MINUTES = 60


def _peak(audio: np.ndarray) -> float:
    """Largest absolute sample, without a temporary copy of the audio."""
    return max(float(audio.max(initial=0.0)), -float(audio.min(initial=0.0)))


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:40] or "track"


def render(
    midi: str | Path | Score,
    out_wav: str | Path,
    *,
    channels: dict[int, int] | None = None,
    soundfont: str | Path | None = None,
    sample_rate: int = 44100,
    bit_depth: int = 16,
    tail_seconds: float = 2.0,
    stems_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Render a MIDI file or Score to a stereo WAV, peak-normalised to -1 dBFS.

    Args:
        channels: preferred MIDI channel per track index, as given to `write_midi` (e.g.
            `SeedFile.channels`), so that each track plays on the channel it has in the MIDI
            file (`assign_channels`); for a path, the file's own.
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
    fluidsynth = load_fluidsynth()
    if isinstance(midi, Score):
        score = as_score(midi)
    else:
        seed = read_seed(midi)
        score, channels = seed.score, seed.channels if channels is None else channels
    out_path = Path(out_wav).expanduser()

    to_seconds = timeline.seconds_at(score)

    def to_samples(ticks: np.ndarray) -> np.ndarray:
        return np.rint(to_seconds(ticks) * sample_rate).astype(np.int64)

    tracks = list(score.tracks)
    on = assign_channels(tracks, channels)  # the channels of the MIDI file
    per_track = [track_events(t, c, to_samples) for t, c in zip(tracks, on, strict=True)]
    programs = [(c, t.program & 0x7F, t.is_drum) for t, c in zip(tracks, on, strict=True)]
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
            for job in time_split(notes, controls, [program], total, music_end, frames)
        ]
    else:
        parts = [np.zeros((total, 2), dtype=np.float32)]
        notes = np.concatenate([n for n, _ in per_track] + [np.zeros((0, 2, 5), np.int64)])
        controls = np.concatenate([c for _, c in per_track] + [np.zeros((0, 5), np.int64)])
        passes = time_split(notes, controls, programs, total, music_end, slice_frames)
        jobs = [(job, parts[0]) for job in passes]
    run_passes(fluidsynth, sf_path, sample_rate, jobs, progress)
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
