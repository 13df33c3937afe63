"""Judges that generation never uses: two key finders, rank correlation, confusion pictures.

A measure that picks or guides outputs cannot be the only one that scores them, so the
evaluation reports music21's default key analysis (Aarden-Essen weights) beside the project's
own Krumhansl-Kessler finder, each separately.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
from symusic import Score

from musegen.music import labels

# a tick Score, or (MIDI pitch, duration) pairs; a string because symusic's Score is a factory
Notes: TypeAlias = "Score | Iterable[tuple[int, float]]"


def pitch_durations(music: Notes, start: int = 0, end: int | None = None) -> np.ndarray:
    """Total duration per pitch class (quarters for a Score) of pitched notes; drums are left out.

    Args:
        start, end: for a Score, keep only notes starting in [start, end) ticks, e.g. the
            generated bars of a continuation.
    """
    hist = np.zeros(12)
    if isinstance(music, Score):
        tpq = music.ticks_per_quarter
        for track in music.tracks:
            if track.is_drum:
                continue
            a = track.notes.numpy()
            keep = (a["time"] >= start) & (a["time"] < (np.inf if end is None else end))
            pcs = a["pitch"][keep].astype(np.int64) % 12
            np.add.at(hist, pcs, a["duration"][keep] / tpq)
        return hist
    for pitch, duration in music:
        hist[int(pitch) % 12] += max(float(duration), 0.0)
    return hist


def key_by_music21(music: Notes | Any, start: int = 0, end: int | None = None
                   ) -> tuple[int, str] | None:  # fmt: skip
    """(tonic pitch class, mode) by music21's default key analysis, None without pitched notes.

    `stream.analyze('key')` resolves to `analysis.discrete.AardenEssenKey` (checked in music21
    10.5: its identifiers include 'key'). That analysis weighs each pitch class by its total
    quarter length, so a stream of one note per pitch class holding that total gives music21
    exactly the distribution of the whole score, and is fast on long pieces. A music21 Stream
    is analysed as it is.
    """
    from music21 import note, stream

    if isinstance(music, stream.Stream):
        found = music.analyze("key")
    else:
        hist = pitch_durations(music, start, end)
        if hist.sum() <= 0:
            return None
        part = stream.Stream()
        for pc in np.flatnonzero(hist):
            part.append(note.Note(int(60 + pc), quarterLength=float(hist[pc])))
        found = part.analyze("key")
    if found is None:
        return None
    return int(found.tonic.pitchClass), str(found.mode)


def mode_by_music21(music: Notes | Any, start: int = 0, end: int | None = None) -> str | None:
    """'major' or 'minor' by music21's default key analysis (Aarden-Essen); None if no notes."""
    key = key_by_music21(music, start, end)
    return key[1] if key else None


def key_by_project(music: Notes, start: int = 0, end: int | None = None) -> tuple[int, str] | None:
    """(tonic pitch class, mode) by the project's Krumhansl-Kessler finder (labels.find_key)."""
    hist = pitch_durations(music, start, end)
    if hist.sum() <= 0:
        return None
    tonic, mode, _ = labels.find_key(hist / hist.sum())
    return tonic, mode


def mode_by_project(music: Notes, start: int = 0, end: int | None = None) -> str | None:
    """'major' or 'minor' by the project's Krumhansl-Kessler finder; None if no notes."""
    key = key_by_project(music, start, end)
    return key[1] if key else None


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank (as scipy.stats.rankdata)."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)
    return (last - (counts - 1) / 2.0)[inverse]


def spearman(asked: Sequence[float], measured: Sequence[float]) -> float:
    """Spearman rank correlation, ties averaged (scipy is not installed, so numpy does it).

    Pairs where either value is NaN are dropped (a continuation without notes has no level).
    NaN when fewer than two pairs remain or either side is constant.
    """
    x, y = np.asarray(asked, dtype=float), np.asarray(measured, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"asked and measured must be equal-length lists, got {x.shape}, {y.shape}")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if len(x) < 2:
        return float("nan")
    rx, ry = _ranks(x) - (len(x) + 1) / 2.0, _ranks(y) - (len(y) + 1) / 2.0
    scale = np.sqrt((rx**2).sum() * (ry**2).sum())
    return float((rx * ry).sum() / scale) if scale > 0 else float("nan")


def confusion_png(matrix: Sequence[Sequence[float]], labels: Sequence[str], path: str | Path,
                  title: str, xlabel: str = "measured", ylabel: str = "asked") -> Path:  # fmt: skip
    """Draw a confusion matrix (rows asked, columns measured) to a PNG and return its path.

    Cells show counts and are shaded by their share of the row (the recall), so that rare
    classes read as clearly as common ones. Uses matplotlib's object API (no pyplot state).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = np.asarray(matrix, dtype=float)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] != len(labels):
        raise ValueError(f"matrix must be square with one row per label ({len(labels)}), "
                         f"got shape {counts.shape}")  # fmt: skip
    share = counts / np.maximum(counts.sum(1, keepdims=True), 1e-9)
    size = 1.2 + 0.55 * len(labels)
    fig = Figure(figsize=(size + 1.0, size), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of row")
    for (i, j), value in np.ndenumerate(counts):
        text = f"{value:g}"
        ax.text(j, i, text, ha="center", va="center", fontsize=8,
                color="white" if share[i, j] > 0.6 else "black")  # fmt: skip
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, labels=list(labels), rotation=45, ha="right")
    ax.set_yticks(ticks, labels=list(labels))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
