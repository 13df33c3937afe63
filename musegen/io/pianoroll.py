"""Piano-roll pictures of a score: seed and generated notes in two colours, bar lines, drums.

Uses matplotlib's object API (Figure + FigureCanvasAgg) rather than pyplot, so it changes no
global state (backend, current figure) for other users in the same process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from symusic import Score

from musegen.errors import InputError
from musegen.io.files import atomic_open
from musegen.io.seed import as_score
from musegen.music.timeline import bar_lines, end_tick, seconds_at

SEED_COLOUR = "#4C72B0"
GENERATED_COLOUR = "#DD8452"
TRACK_COLOURS = ("#4C72B0", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")
MAX_BAR_LABELS = 24
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def _bars(
    ax: Any, x0: np.ndarray, x1: np.ndarray, width: float, pitch: np.ndarray, colour: str
) -> None:
    """Draw notes as rectangles in one PolyCollection (fast for thousands of notes)."""
    from matplotlib.collections import PolyCollection

    if len(x0) == 0:
        return
    y0, y1 = pitch - 0.4, pitch + 0.4
    verts = np.stack(
        [
            np.stack([x0, y0], 1),
            np.stack([x1, y0], 1),
            np.stack([x1, y1], 1),
            np.stack([x0, y1], 1),
        ],
        axis=1,
    )  # (n, 4 corners, xy)
    ax.add_collection(
        PolyCollection(verts, facecolors=colour, edgecolors="black", linewidths=width)
    )


def plot_pianoroll(
    score: Score | str | Path,
    out_png: str | Path,
    *,
    split_tick: int | None = None,
    region: tuple[int, int] | None = None,
    title: str | None = None,
    seconds: bool = False,
) -> Path:
    """Draw a piano roll of `score` to a PNG and return its path.

    Args:
        split_tick: notes starting before it are the seed, those at or after it are generated;
            they get different colours, a legend and a vertical line at the split.
        region: (start, end) ticks of a regenerated region, shaded, each track in its colour.
        seconds: x axis in seconds (bar numbers on top) instead of bar numbers.

    Raises:
        InputError: the score has no notes (there would be nothing to see).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    score = as_score(score)
    tracks = [t for t in score.tracks if len(t.notes)]
    if not tracks:
        raise InputError("The score has no notes, so there is no piano roll to draw.")
    last = end_tick(score)
    lines = bar_lines(score, max(last, split_tick or 0, 1))
    to_x = seconds_at(score) if seconds else (lambda t: np.asarray(t, float))

    pitches = np.concatenate([t.notes.numpy()["pitch"].astype(int) for t in tracks])
    low, high = int(pitches.min()) - 2, int(pitches.max()) + 2
    fig = Figure(figsize=(float(np.clip(4 + 0.4 * len(lines), 8, 24)), 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()

    handles: list[Any] = []
    for k, track in enumerate(tracks):
        notes = track.notes.numpy()
        start = notes["time"].astype(np.int64)
        stop = start + notes["duration"].astype(np.int64)
        pitch = notes["pitch"].astype(float)
        if split_tick is None:
            groups = [(np.ones(len(start), bool), TRACK_COLOURS[k % len(TRACK_COLOURS)])]
        else:
            seed = start < split_tick
            groups = [(seed, SEED_COLOUR), (~seed, GENERATED_COLOUR)]
        for mask, colour in groups:
            if track.is_drum:  # hits, not durations
                ax.scatter(
                    to_x(start[mask]),
                    pitch[mask],
                    s=12,
                    marker="o",
                    color=colour,
                    edgecolors="black",
                    linewidths=0.3,
                    zorder=3,
                )
            else:
                _bars(ax, to_x(start[mask]), to_x(stop[mask]), 0.3, pitch[mask], colour)
        if split_tick is None and len(tracks) > 1:
            label = (track.name or f"track {k + 1}") + (" (drums)" if track.is_drum else "")
            handles.append(Patch(color=TRACK_COLOURS[k % len(TRACK_COLOURS)], label=label))

    bar_x = to_x(np.array(lines))
    ax.vlines(bar_x, low, high, colors="grey", linewidths=0.5, alpha=0.35, zorder=0)
    if split_tick is not None:
        split_x = float(to_x(np.array([split_tick]))[0])
        ax.axvline(split_x, color="black", linestyle="--", linewidth=1.2, zorder=4)
        handles = [
            Patch(color=SEED_COLOUR, label="seed"),
            Patch(color=GENERATED_COLOUR, label="generated"),
            Line2D([], [], color="black", linestyle="--", label="split"),
        ]
    if region is not None:
        x0, x1 = (float(x) for x in to_x(np.array(region)))
        ax.axvspan(x0, x1, color=GENERATED_COLOUR, alpha=0.12, zorder=0)
        handles.append(Patch(color=GENERATED_COLOUR, alpha=0.25, label="regenerated"))
    if any(t.is_drum for t in tracks):
        handles.append(Line2D([], [], marker="o", linestyle="", color="grey", label="drum hit"))

    split_end = [] if split_tick is None else [split_tick]
    ax.set_xlim(bar_x[0], max([bar_x[-1], *to_x(np.array([last, *split_end]))]))
    ax.set_ylim(low, high)
    every = max(1, -(-len(lines) // MAX_BAR_LABELS))  # ceil: at most MAX_BAR_LABELS labels
    shown = list(range(0, len(lines), every))
    bar_axis = ax.twiny() if seconds else ax
    if seconds:
        bar_axis.set_xlim(ax.get_xlim())
        ax.set_xlabel("seconds")
    bar_axis.set_xticks(bar_x[shown], [str(i + 1) for i in shown])
    bar_axis.set_xlabel("bar")
    c_notes = [p for p in range(low, high + 1) if p % 12 == 0] or list(range(low + 2, high - 1))
    ax.set_yticks(c_notes, [f"{NOTE_NAMES[p % 12]}{p // 12 - 1}" for p in c_notes])
    ax.set_ylabel("pitch")
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    if title:
        ax.set_title(title, pad=22 if seconds else 6)
    fig.tight_layout()

    out = Path(out_png).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(out) as f:
        fig.savefig(f, format="png")
    return out
