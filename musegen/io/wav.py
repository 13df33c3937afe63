"""PCM WAV files from float audio: 16 or 24 bit, written atomically.

Samples are rounded in float64 (exact for both depths) a bounded block at a time, and the file
appears at its path only once complete.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from musegen.io.files import atomic_open

WRITE_FRAMES = 1 << 18  # frames converted to PCM at a time


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
