"""Note-level statistics of a score, the overlapping area of two distributions, style features.

The statistics follow MusPy's definitions (Dong et al. 2020), computed on an excerpt of a known
number of bars so that silent bars count; the overlapping area (OA) of two kernel density
estimates follows Yang & Lerch (2020). Everything here is a small pure function of notes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from symusic import Score

from musegen.music import timeline

STEPS_PER_QUARTER = 12  # the tokenizer's grid: sixteenths and eighth/sixteenth triplets
MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
MINOR_STEPS = (0, 2, 3, 5, 7, 8, 10)  # natural minor, as in MusPy
STATISTICS = (
    "pitch_class_entropy", "scale_consistency", "pitch_range", "polyphony", "note_density",
    "empty_beat_rate", "groove_consistency",
)  # fmt: skip


@dataclass(frozen=True)
class Notes:
    """The pitched notes of an excerpt (ticks from its start) and its length in bars."""

    time: np.ndarray  # (N,) int64, sorted by (time, pitch)
    duration: np.ndarray  # (N,) int64
    pitch: np.ndarray  # (N,) int64
    tpq: int
    bar_ticks: int
    bars: int

    @property
    def length(self) -> int:
        return self.bars * self.bar_ticks


def notes_of(score: Score, bars: int | None = None) -> Notes:
    """Pitched (non-drum) notes of `score`; `bars` defaults to the bars up to the last note."""
    times, durations, pitches = [], [], []
    for track in score.tracks:
        if track.is_drum or not len(track.notes):
            continue
        arr = track.notes.numpy()
        times.append(arr["time"]), durations.append(arr["duration"]), pitches.append(arr["pitch"])
    time = np.concatenate(times).astype(np.int64) if times else np.zeros(0, np.int64)
    duration = np.concatenate(durations).astype(np.int64) if times else np.zeros(0, np.int64)
    pitch = np.concatenate(pitches).astype(np.int64) if times else np.zeros(0, np.int64)
    order = np.lexsort((pitch, time))
    tpq = score.ticks_per_quarter
    bar_ticks = timeline.meter_at(score, 0).bar_ticks(tpq)
    if bars is None:
        bars = max(1, math.ceil(timeline.end_tick(score) / bar_ticks))
    return Notes(time[order], duration[order], pitch[order], tpq, bar_ticks, int(bars))


# --------------------------------------------------------------------------- statistics


def pitch_class_entropy(n: Notes) -> float:
    """Entropy in bits of the pitch-class histogram of note counts (log2(12) at most)."""
    if not len(n.pitch):
        return math.nan
    p = np.bincount(n.pitch % 12, minlength=12) / len(n.pitch)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def scale_consistency(n: Notes) -> float:
    """Largest share of notes inside one major or natural-minor scale (24 scales tried)."""
    if not len(n.pitch):
        return math.nan
    counts = np.bincount(n.pitch % 12, minlength=12)
    best = max(
        counts[[(root + s) % 12 for s in steps]].sum()
        for steps in (MAJOR_STEPS, MINOR_STEPS)
        for root in range(12)
    )
    return float(best / len(n.pitch))


def pitch_range(n: Notes) -> float:
    """Highest minus lowest pitch, in semitones."""
    return float(n.pitch.max() - n.pitch.min()) if len(n.pitch) else math.nan


def _roll(n: Notes) -> np.ndarray:
    """(steps, 128) bool piano roll on the 12-per-quarter grid over the excerpt."""
    step = max(1, n.tpq // STEPS_PER_QUARTER)
    length = max(n.length, int((n.time + n.duration).max(initial=0)))
    roll = np.zeros((max(1, -(-length // step)), 128), dtype=bool)
    start = n.time // step
    stop = np.maximum(start + 1, (n.time + n.duration) // step)
    for a, b, p in zip(start, stop, n.pitch, strict=True):
        roll[a:b, p] = True
    return roll


def polyphony(n: Notes) -> float:
    """Mean number of distinct pitches sounding, over the time steps where any sounds."""
    if not len(n.pitch):
        return math.nan
    sounding = _roll(n).sum(1)
    return float(sounding[sounding > 0].mean())


def note_density(n: Notes) -> float:
    """Notes per bar."""
    return len(n.pitch) / max(1, n.bars)


def empty_beat_rate(n: Notes) -> float:
    """Share of beats (quarter notes, as in MusPy) of the excerpt in which no note starts."""
    beats = max(1, -(-n.length // n.tpq))
    started = np.zeros(beats, dtype=bool)
    started[np.minimum(n.time // n.tpq, beats - 1)] = True
    return float(1 - started.mean())


def groove_consistency(n: Notes) -> float:
    """1 - mean Hamming distance of the onset patterns of neighbouring bars (MusPy).

    Onsets sit on the 12-per-quarter grid; NaN for an excerpt shorter than two bars.
    """
    if n.bars < 2:
        return math.nan
    steps = max(1, round(n.bar_ticks * STEPS_PER_QUARTER / n.tpq))
    patterns = np.zeros((n.bars, steps), dtype=bool)  # (bars, positions)
    position = np.round(n.time * STEPS_PER_QUARTER / n.tpq).astype(np.int64)
    bar, offset = np.divmod(position, steps)
    keep = bar < n.bars
    patterns[bar[keep], offset[keep]] = True
    distance = np.count_nonzero(patterns[:-1] != patterns[1:])
    return float(1 - distance / (steps * (n.bars - 1)))


def statistics(score: Score, bars: int | None = None) -> dict[str, float]:
    """Every statistic of STATISTICS for one excerpt (NaN where undefined, e.g. no notes)."""
    n = notes_of(score, bars)
    return {name: globals()[name](n) for name in STATISTICS}


# --------------------------------------------------------------------------- overlap


def _bandwidth(x: np.ndarray, pooled_std: float) -> float:
    """Scott's rule; a set without spread borrows a tenth of the pooled spread."""
    std = float(x.std(ddof=1)) if len(x) > 1 else 0.0
    if std <= 0:
        std = 0.1 * pooled_std
    return std * len(x) ** (-1 / 5)


def kde(x: np.ndarray, grid: np.ndarray, bandwidth: float) -> np.ndarray:
    """Gaussian kernel density estimate of samples `x` at `grid`."""
    z = (grid[:, None] - x[None, :]) / bandwidth  # (G, N)
    return np.exp(-0.5 * z * z).sum(1) / (len(x) * bandwidth * math.sqrt(2 * math.pi))


def overlap_area(a, b, points: int = 1024) -> float:
    """Overlapping area of the Gaussian KDEs of two samples: 1 = same, 0 = disjoint.

    NaN values are dropped; NaN when either sample is then empty.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not len(a) or not len(b):
        return math.nan
    pooled = float(np.concatenate([a, b]).std())
    if pooled == 0:  # every value of both samples is the same number
        return 1.0
    bw_a, bw_b = _bandwidth(a, pooled), _bandwidth(b, pooled)
    pad = 4 * max(bw_a, bw_b)
    grid = np.linspace(min(a.min(), b.min()) - pad, max(a.max(), b.max()) + pad, points)
    overlap = np.minimum(kde(a, grid, bw_a), kde(b, grid, bw_b))
    area = float(((overlap[1:] + overlap[:-1]) / 2 * np.diff(grid)).sum())  # trapezoids
    return min(1.0, area)


# --------------------------------------------------------------------------- style features


def style_features(score: Score, bars: int | None = None) -> np.ndarray:
    """A fixed-length description of an excerpt for the style classifier.

    Pitch-class histogram (12), melodic interval histogram of each instrument's top line (25,
    from -12 to +12 semitones, clipped), log-duration histogram (15), onset position inside the
    beat (12), log notes per bar and polyphony (2): 66 numbers.

    Top lines are taken per program, not per track: the tokenizer keeps one stream per program,
    so four choir tracks and one choir track holding four voices are the same music to the
    model, and must be to the classifier (per track, a real chorale's bass line counted and a
    generated one could not).
    """
    n = notes_of(score, bars)
    pcs = _normalised(np.bincount(n.pitch % 12, minlength=12))
    by_program: dict[int, list] = {}
    for track in score.tracks:
        if not track.is_drum and len(track.notes):
            by_program.setdefault(int(track.program), []).append(track.notes.numpy())
    intervals = np.concatenate([_top_line_intervals(parts) for parts in by_program.values()]
                               or [np.zeros(0, np.int64)])  # fmt: skip
    ints = _normalised(np.bincount(np.clip(intervals, -12, 12) + 12, minlength=25))
    quarters = np.maximum(n.duration, 1) / n.tpq
    dur_bins = np.clip(np.round(2 * np.log2(quarters)), -8, 6).astype(np.int64) + 8
    durs = _normalised(np.bincount(dur_bins, minlength=15))
    in_beat = np.round(n.time * STEPS_PER_QUARTER / n.tpq).astype(np.int64) % STEPS_PER_QUARTER
    onsets = _normalised(np.bincount(in_beat, minlength=STEPS_PER_QUARTER))
    poly = polyphony(n)
    scalars = [math.log1p(note_density(n)), 0.0 if math.isnan(poly) else poly]
    return np.concatenate([pcs, ints, durs, onsets, scalars])


def _normalised(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else counts.astype(float)


def _top_line_intervals(parts: list[dict]) -> np.ndarray:
    """Intervals between the highest notes of successive onsets in the tracks' notes
    (symusic note arrays) taken together."""
    time = np.concatenate([a["time"] for a in parts]).astype(np.int64)
    pitch = np.concatenate([a["pitch"] for a in parts]).astype(np.int64)
    if len(time) < 2:
        return np.zeros(0, np.int64)
    order = np.lexsort((-pitch, time))
    time, pitch = time[order], pitch[order]
    first = np.concatenate([[True], time[1:] != time[:-1]])  # the top note of each onset
    return np.diff(pitch[first])


class SoftmaxRegression:
    """Multinomial logistic regression on standardised features, fitted by gradient descent.

    Classes are weighted inversely to their frequency, so a large style cannot win by size.
    """

    def __init__(self, l2: float = 1e-3, steps: int = 500, lr: float = 0.5):
        self.l2, self.steps, self.lr = l2, steps, lr

    def fit(self, x: np.ndarray, y: np.ndarray, classes: int) -> SoftmaxRegression:
        self.mean = x.mean(0)
        self.std = np.maximum(x.std(0), 0.05)  # a feature rare in training cannot explode
        z = (x - self.mean) / self.std  # (N, F)
        counts = np.bincount(y, minlength=classes)
        weight = (len(y) / (classes * np.maximum(counts, 1)))[y]  # (N,)
        onehot = np.eye(classes)[y]  # (N, C)
        self.w = np.zeros((z.shape[1], classes))
        self.b = np.zeros(classes)
        for _ in range(self.steps):
            p = self._softmax(z @ self.w + self.b)
            g = (p - onehot) * weight[:, None] / weight.sum()  # (N, C)
            self.w -= self.lr * (z.T @ g + self.l2 * self.w)
            self.b -= self.lr * g.sum(0)
        return self

    @staticmethod
    def _softmax(logits: np.ndarray) -> np.ndarray:
        e = np.exp(logits - logits.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self._softmax(((x - self.mean) / self.std) @ self.w + self.b)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.predict_proba(np.atleast_2d(x)).argmax(1)


def confusion(true: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """(classes, classes) counts: rows are true (or requested) classes, columns predictions."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true, int), np.asarray(predicted, int)), 1)
    return matrix
