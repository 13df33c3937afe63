"""Key, mode, arousal and mood: small pure functions over note lists.

Used to label the training corpus and, the same way, to evaluate generated music.
Mood follows the valence/arousal quadrants of emotion-labelled music datasets
(e.g. EMOPIA): valence from the mode, arousal from onset density and tempo.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

MOODS = ("happy", "tense", "sad", "calm")
MODE_OF_MOOD = {"happy": "major", "calm": "major", "tense": "minor", "sad": "minor"}  # valence
HIGH_AROUSAL = {"happy": True, "tense": True, "calm": False, "sad": False}
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# Tonic of a key signature with k sharps (negative: flats), at index k + 7.
MAJOR_KEY_TONICS = ("Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F",
                    "C", "G", "D", "A", "E", "B", "F#", "C#")  # fmt: skip
MINOR_KEY_TONICS = ("Ab", "Eb", "Bb", "F", "C", "G", "D",
                    "A", "E", "B", "F#", "C#", "G#", "D#", "A#")  # fmt: skip

# Krumhansl-Kessler key profiles (Krumhansl 1990), tonic first.
_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_PROFILES = np.stack(  # (24, 12): major on C..B, then minor
    [np.roll(p, t) for p in (_MAJOR_PROFILE, _MINOR_PROFILE) for t in range(12)]
)


def pitch_class_histogram(pitches: Iterable[int], durations: Iterable[float]) -> np.ndarray:
    """Duration-weighted pitch-class histogram, normalised to sum 1 (all zeros if empty)."""
    hist = np.zeros(12)
    for pitch, duration in zip(pitches, durations, strict=True):
        hist[int(pitch) % 12] += max(float(duration), 0.0)
    total = hist.sum()
    return hist / total if total > 0 else hist


def find_key(histogram: Sequence[float]) -> tuple[int, str, float]:
    """Krumhansl-Schmuckler key finding: (tonic pitch class, "major"|"minor", correlation).

    A histogram with no key (silent, or every pitch class equal) reads (0, "major", 0.0).
    """
    return find_keys(np.asarray(histogram, dtype=float)[None])[0] or (0, "major", 0.0)


def find_keys(histograms: np.ndarray) -> list[tuple[int, str, float] | None]:
    """find_key for many histograms (N, 12) at once; None for a row with no key.

    The correlation with each of the 24 rotated profiles is one matrix product; ties go to the
    first (major before minor, C upward).
    """
    hist = np.asarray(histograms, dtype=float)  # (N, 12)
    centred = hist - hist.mean(1, keepdims=True)
    shape = _PROFILES - _PROFILES.mean(1, keepdims=True)  # (24, 12)
    norms = np.linalg.norm(centred, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = centred @ shape.T / (norms[:, None] * np.linalg.norm(shape, axis=1))  # (N, 24)
    best = np.nan_to_num(corr, nan=-2.0).argmax(1)
    flat = np.all(np.abs(hist - hist[:, :1]) <= 1e-8 + 1e-5 * np.abs(hist[:, :1]), 1)
    no_key = (hist.sum(1) <= 0) | flat  # as np.allclose(hist, hist[0])
    return [None if q else (int(k % 12), "major" if k < 12 else "minor", float(c[k]))
            for q, k, c in zip(no_key, best, corr, strict=True)]  # fmt: skip


def key_name(tonic: int, mode: str) -> str:
    """Human key name used in manifests and on the CLI, e.g. "A:minor"."""
    return f"{PITCH_NAMES[tonic % 12]}:{mode}"


def parse_key(text: str) -> tuple[int, str]:
    """Parse "C:major", "f#:minor", "Bb" (major assumed) into (tonic, mode)."""
    name, _, mode = text.strip().partition(":")
    mode = (mode or "major").lower()
    if mode not in ("major", "minor"):
        raise ValueError(f"key mode must be major or minor, got {mode!r} in {text!r}")
    aliases = {"DB": 1, "D#": 3, "GB": 6, "G#": 8, "A#": 10, "CB": 11, "E#": 5, "FB": 4, "B#": 0}
    upper = name.strip().upper()
    names = [n.upper() for n in PITCH_NAMES]
    if upper in names:
        return names.index(upper), mode
    if upper in aliases:
        return aliases[upper], mode
    raise ValueError(f"unknown key {text!r}; use a note name and mode, e.g. C:major or F#:minor")


def scale_pitch_classes(tonic: int, mode: str) -> frozenset[int]:
    """Pitch classes of the major or (harmonic+natural) minor scale on tonic."""
    steps = (0, 2, 4, 5, 7, 9, 11) if mode == "major" else (0, 2, 3, 5, 7, 8, 10, 11)
    return frozenset((tonic + s) % 12 for s in steps)


def onset_density(onsets_seconds: Iterable[float], length_seconds: float) -> float:
    """Distinct note onsets per second (chords count once, so voice count matters less)."""
    distinct = {round(t, 3) for t in onsets_seconds}
    return len(distinct) / length_seconds if length_seconds > 0 else 0.0


def arousal(density: float, tempo: float, reference: dict[str, float]) -> float:
    """Arousal score: mean z-score of log onset density and log tempo against a reference.

    The reference holds the mean and std of log density and log tempo (see arousal_reference);
    positive means livelier than the reference repertory.
    """
    z_density = (math.log(max(density, 1e-3)) - reference["log_density_mean"]) / max(
        reference["log_density_std"], 0.05
    )
    z_tempo = (math.log(max(tempo, 1.0)) - reference["log_tempo_mean"]) / max(
        reference["log_tempo_std"], 0.05
    )
    return 0.5 * (z_density + z_tempo)


def arousal_reference(densities: Sequence[float], tempos: Sequence[float]) -> dict[str, float]:
    """Mean and std of log density and log tempo over a group of pieces."""
    log_d = np.log(np.maximum(np.asarray(densities, dtype=float), 1e-3))
    log_t = np.log(np.maximum(np.asarray(tempos, dtype=float), 1.0))
    return {
        "log_density_mean": float(log_d.mean()) if len(log_d) else 0.0,
        "log_density_std": float(log_d.std()) if len(log_d) > 1 else 1.0,
        "log_tempo_mean": float(log_t.mean()) if len(log_t) else math.log(120),
        "log_tempo_std": float(log_t.std()) if len(log_t) > 1 else 1.0,
    }


def mood(mode: str, arousal_score: float) -> str:
    """Quadrant: major+high=happy, minor+high=tense, minor+low=sad, major+low=calm."""
    high = arousal_score > 0
    if mode == "major":
        return "happy" if high else "calm"
    return "tense" if high else "sad"
