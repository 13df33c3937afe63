"""Fidelity measures: do new bars carry a song's seed on, track by track?

Pure functions over symusic Scores. Every measure compares new bars with the seed's last bars
(the reference), per seed track, and counts: a song's counts are summed over songs by
`aggregate`, so each figure is a share of all tracks (or bars, or songs) in the folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from symusic import Score

from musegen.evaluate.judges import key_by_music21, key_by_project
from musegen.music.timeline import bar_lines

GRID = 48  # onset positions per bar: 12 per quarter in 4/4, so 16ths and 8th triplets
DENSITY_FACTOR = 2.0  # notes per bar within this factor of the reference's
REGISTER_SEMITONES = 5.0  # mean pitch within this many semitones of the reference's

# (key, label): the order of the report's table and picture.
MEASURES: tuple[tuple[str, str], ...] = (
    ("keep_playing", "seed tracks that keep playing"),
    ("drums_continued", "drums continued, songs whose seed has drums"),
    ("density_within_2x", "tracks whose notes per bar stay within a factor 2"),
    ("onset_overlap", "overlap of the onset-position-in-bar histograms"),
    ("register_within_5", "pitched tracks whose mean pitch stays within 5 semitones"),
    ("register_shift", "mean pitch change per pitched track, semitones (lower is closer)"),
    ("key_music21", "key kept, music21 key analysis (AardenEssen)"),
    ("key_kk", "key kept, musegen find_key (Krumhansl-Kessler)"),
    ("copy_rate", "new bars identical to a bar the seed has on that track"),
)


def bar_starts(score: Score, bars: int) -> np.ndarray:
    """Ticks of the first `bars` + 1 bar lines of `score` (the last one closes the last bar)."""
    lines: list[int] = []
    until = 0
    while len(lines) < bars + 1:  # bar_lines stops at the first line at or after `until`
        until = max(until * 2, score.ticks_per_quarter * 4 * (bars + 1))
        lines = bar_lines(score, until)
    return np.asarray(lines[: bars + 1], dtype=np.int64)


def _bar_of(times: np.ndarray, lines: np.ndarray) -> np.ndarray:
    return np.searchsorted(lines, times, side="right") - 1


def onset_histogram(times: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Share of onsets at each of GRID positions in the bar (bar length from its own meter)."""
    bar = _bar_of(times, lines)
    inside = (bar >= 0) & (bar < len(lines) - 1)
    times, bar = times[inside], bar[inside]
    if not len(times):
        return np.zeros(GRID)
    phase = (times - lines[bar]) / (lines[bar + 1] - lines[bar])
    position = np.rint(phase * GRID).astype(np.int64) % GRID
    return np.bincount(position, minlength=GRID) / len(times)


def overlap(p: np.ndarray, q: np.ndarray) -> float:
    """Histogram intersection, sum(min(p, q)); for histograms of sum 1 it is 1 - total
    variation distance. 0 when either is empty (a silent track keeps no rhythm)."""
    if p.sum() == 0 or q.sum() == 0:
        return 0.0
    return float(np.minimum(p, q).sum())


def bar_sets(times: np.ndarray, pitches: np.ndarray, lines: np.ndarray) -> list[frozenset]:
    """Each bar's notes as a set of (onset ticks after the bar line, pitch)."""
    bar = _bar_of(times, lines)
    sets: list[set] = [set() for _ in range(len(lines) - 1)]
    for b, t, p in zip(bar.tolist(), times.tolist(), pitches.tolist(), strict=True):
        if 0 <= b < len(sets):
            sets[b].add((t - int(lines[b]), p))
    return [frozenset(s) for s in sets]


def compare(seed: Score, reference: Score, new: Score, seed_bars: int, new_bars: int) -> dict:
    """Counts for one song: `new` against `reference` (the seed's last bars), per seed track.

    All three scores start at tick 0 and list the seed's tracks first, in the same order;
    `new` may add tracks after them (they count for drums and key only). A seed track is
    judged when it has notes in the reference.
    """
    ref_lines, new_lines = bar_starts(reference, new_bars), bar_starts(new, new_bars)
    seed_lines = bar_starts(seed, seed_bars)
    c = {
        "tracks": 0,
        "keep_playing": 0,
        "density_within_2x": 0,
        "onset_overlap": 0.0,
        "pitched_tracks": 0,
        "register_within_5": 0,
        "register_shifts": [],
        "copied_bars": 0,
        "new_bars": 0,
    }
    for i, seed_track in enumerate(seed.tracks):
        ref = reference.tracks[i].notes.numpy()
        out = new.tracks[i].notes.numpy() if i < len(new.tracks) else {"time": [], "pitch": []}
        t_new = np.asarray(out["time"], dtype=np.int64)
        p_new = np.asarray(out["pitch"], dtype=np.int64)
        sn = seed_track.notes.numpy()
        seen = set(bar_sets(sn["time"].astype(np.int64), sn["pitch"].astype(np.int64), seed_lines))
        for bar in bar_sets(t_new, p_new, new_lines):
            if bar:
                c["new_bars"] += 1
                c["copied_bars"] += bar in seen
        if not len(ref["time"]):
            continue
        c["tracks"] += 1
        c["keep_playing"] += bool(len(t_new))
        ratio = len(t_new) / len(ref["time"])
        c["density_within_2x"] += 1 / DENSITY_FACTOR <= ratio <= DENSITY_FACTOR
        c["onset_overlap"] += overlap(
            onset_histogram(ref["time"].astype(np.int64), ref_lines),
            onset_histogram(t_new, new_lines),
        )
        if not seed_track.is_drum:
            c["pitched_tracks"] += 1
            if len(p_new):
                shift = abs(float(p_new.mean()) - float(ref["pitch"].astype(float).mean()))
                c["register_shifts"].append(shift)
                c["register_within_5"] += shift <= REGISTER_SEMITONES
    seed_drums = any(t.is_drum and len(t.notes) for t in seed.tracks)
    c["seed_has_drums"] = seed_drums
    c["drums_continued"] = seed_drums and any(t.is_drum and len(t.notes) for t in new.tracks)
    for name, finder in (("key_music21", key_by_music21), ("key_kk", key_by_project)):
        before = finder(reference)
        c[name] = None if before is None else before == finder(new)
        c[name + "_found"] = [_key_text(before), _key_text(finder(new))]
    return c


def _key_text(key: tuple[int, str] | None) -> str | None:
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    return None if key is None else f"{names[key[0] % 12]}:{key[1]}"


def _share(count: float, total: int) -> dict:
    return {"value": count / total if total else None, "count": count, "of": total}


def aggregate(rows: Iterable[dict]) -> dict[str, dict]:
    """The folder's figure for each measure, from the songs' counts: {"value", "count", "of"}.

    Track measures are shares of all judged tracks of all songs (a song with more tracks
    weighs more), copy rate a share of all new bars with notes on seed tracks, drums and
    key shares of songs (key: songs whose reference has pitched notes).
    """
    rows = list(rows)
    total = {k: sum(r[k] for r in rows) for k in ("tracks", "pitched_tracks", "new_bars")}
    shifts: Sequence[float] = [s for r in rows for s in r["register_shifts"]]
    out = {
        "keep_playing": _share(sum(r["keep_playing"] for r in rows), total["tracks"]),
        "drums_continued": _share(
            sum(bool(r["drums_continued"]) for r in rows),
            sum(bool(r["seed_has_drums"]) for r in rows),
        ),
        "density_within_2x": _share(sum(r["density_within_2x"] for r in rows), total["tracks"]),
        "onset_overlap": _share(sum(r["onset_overlap"] for r in rows), total["tracks"]),
        "register_within_5": _share(
            sum(r["register_within_5"] for r in rows), total["pitched_tracks"]
        ),
        "register_shift": {
            "value": float(np.mean(shifts)) if shifts else None,
            "count": None,
            "of": len(shifts),
        },
        "copy_rate": _share(sum(r["copied_bars"] for r in rows), total["new_bars"]),
    }
    for name in ("key_music21", "key_kk"):
        judged = [r[name] for r in rows if r[name] is not None]
        out[name] = _share(sum(judged), len(judged))
    return {key: out[key] for key, _ in MEASURES}
