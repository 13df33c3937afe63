"""Per-bar attributes of a score: key/mode, note density, polyphony, register, chord; tempo, meter.

Computed from the music itself, so that every training example can carry them as controls
(like MIDI-GPT/MMM's bar attributes, FIGARO's bar descriptions, MuseMorphose's per-bar
attributes) and a sampler can ask for them. Levels are fixed bins, documented at each constant,
so a level means the same in every piece, style and instrument. Level 0 always means "nothing of
that kind in the bar", so silent bars read as such.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from symusic import Score, Track

from musegen.music import labels, timeline

# Note density: distinct onsets per bar (a chord counts once, so density is rhythm and
# polyphony is texture), scaled to a 4/4 bar (x 4 / the bar's length in quarters) so that a level
# names a note value in any meter. Upper edges (inclusive) of levels 1..5, above is 6:
# 1 = whole/half notes, 2 = quarters, 3 = eighths, 4 = eighths with sixteenths or triplets,
# 5 = running sixteenths, 6 = faster (fills, trills, 32nds). Note values mean the same on a
# piano, a bass line or a drum kit, so one table serves piano, band and drums.
DENSITY_EDGES = (2.0, 4.0, 8.0, 12.0, 16.0)
DENSITY_VALUES = (0.0, 2.0, 4.0, 8.0, 12.0, 16.0, 24.0)  # onsets per 4/4 bar that stand for a level

# Polyphony: mean number of notes sounding at the bar's onsets (and at its bar line when a note
# is held over it), rounded, 1..6 where 6 is "6 or more" (piano textures and band tutti alike).
# A note ending within a 32nd note after an onset is not counted, so the legato overlaps of played
# MIDI do not make a melody two voices. On drums, the hits that start together.
POLYPHONY_MAX = 6
LEGATO_QUARTERS = 0.125

# Register: mean MIDI pitch of the pitched notes sounding in the bar, in octave bands from C
# (60 = C4): 1 = below C3 (bass), 2 = C3-B3 (tenor, a left hand), 3 = C4-B4 (alto, the middle of
# most tunes), 4 = C5-B5 (soprano, a high lead), 5 = C6 and up (piccolo, a piano's top).
# Drums have no register (0).
REGISTER_EDGES = (48.0, 60.0, 72.0, 84.0)
REGISTER_VALUES = (math.nan, 42.0, 54.0, 66.0, 78.0, 90.0)  # a band's middle pitch

# Tempo band from quarter notes per minute, edges near the classical markings: 0 = largo/adagio,
# 1 = andante (66), 2 = moderato (88), 3 = allegro (112), 4 = vivace (140), 5 = presto (176).
TEMPO_EDGES = (66.0, 88.0, 112.0, 140.0, 176.0)
TEMPO_VALUES = (56.0, 76.0, 100.0, 126.0, 158.0, 192.0)

# Key window: weights of the bars before, at and after a bar in the duration-weighted
# pitch-class histogram a bar's key is found on. One bar is often too few notes (C E G is also
# half of A minor), while the double centre keeps a modulation at the bar where it happens.
KEY_WINDOW = (1.0, 2.0, 1.0)

# Chord templates (intervals above the root). One chord per bar: the template that best covers
# the bar's sounding time (share inside minus share outside), less 0.25 per note, so a seventh
# chord beats its triad only when the seventh sounds for over 1/8 of the bar (passing notes do
# not make every bar a seventh chord), plus 0.1 when the root is the bar's lowest note.
CHORDS = {"maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8),
          "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10)}  # fmt: skip
CHORD_SIZE_COST, CHORD_BASS_BONUS = 0.25, 0.1


@dataclass(frozen=True)
class TrackBar:
    """One track in one bar (index into score.tracks); levels are 0 where it is silent."""

    track: int
    is_drum: bool
    onsets: int
    density: int
    polyphony: int
    register: int


@dataclass(frozen=True)
class BarAttributes:
    """One bar [start, end): key from a window around it, levels over all tracks, each track.

    Bar density counts onsets of every track; bar polyphony and register use pitched tracks.
    A silent bar inside music keeps its neighbours' key (a rest does not end a key); tonic and
    mode are None only where the whole window is silent.
    """

    index: int
    start: int
    end: int
    notes: int  # notes sounding in the bar, all tracks
    tonic: int | None
    mode: str | None
    key_strength: float  # the key finder's correlation, 0 where there is no key
    chord_root: int | None
    chord_quality: str | None
    density: int
    polyphony: int
    register: int
    tracks: tuple[TrackBar, ...]

    @property
    def empty(self) -> bool:
        """No note sounds in this bar."""
        return self.notes == 0


@dataclass(frozen=True)
class GlobalAttributes:
    """Piece-wide tempo (time-weighted median qpm and its band) and the meter at tick 0."""

    qpm: float
    tempo_band: int
    numerator: int
    denominator: int


# --------------------------------------------------------------------------- levels


def _density_levels(onsets: np.ndarray, quarters: np.ndarray) -> np.ndarray:
    per_44 = np.round(onsets * 4.0 / quarters, 6)  # rounding keeps 3 * 4 / 3 on its edge
    return np.where(onsets > 0, np.searchsorted(DENSITY_EDGES, per_44, side="left") + 1, 0)


def _polyphony_levels(mean: np.ndarray) -> np.ndarray:
    return np.where(mean > 0, np.clip(np.floor(mean + 0.5), 1, POLYPHONY_MAX), 0).astype(int)


def _register_levels(mean: np.ndarray) -> np.ndarray:
    mean = np.asarray(mean, dtype=float)
    found = np.searchsorted(REGISTER_EDGES, np.nan_to_num(mean), side="right") + 1
    return np.where(np.isnan(mean), 0, found)


def density_level(onsets: float, quarters_per_bar: float = 4.0) -> int:
    """Density level 0..6 of `onsets` distinct onsets in a bar of `quarters_per_bar` quarters."""
    return int(_density_levels(np.array([onsets]), np.array([quarters_per_bar]))[0])


def density_value(level: int) -> float:
    """Onsets per 4/4 bar that stand for a density level (its upper edge)."""
    return DENSITY_VALUES[level]


def polyphony_level(mean_sounding: float) -> int:
    """Polyphony level 0..6 of a mean number of notes sounding at onsets."""
    return int(_polyphony_levels(np.array([mean_sounding]))[0])


def polyphony_value(level: int) -> float:
    """Notes sounding at each onset that stand for a polyphony level."""
    return float(level)


def register_level(mean_pitch: float | None) -> int:
    """Register band 0..5 of a mean MIDI pitch (None or NaN: no pitched notes, 0)."""
    return int(_register_levels(np.array([math.nan if mean_pitch is None else mean_pitch]))[0])


def register_value(level: int) -> float:
    """The middle MIDI pitch of a register band (NaN for 0)."""
    return REGISTER_VALUES[level]


def tempo_band(qpm: float) -> int:
    """Tempo band 0..5 of quarter notes per minute."""
    return int(np.searchsorted(TEMPO_EDGES, qpm, side="right"))


def tempo_value(band: int) -> float:
    """Quarter notes per minute that stand for a tempo band."""
    return TEMPO_VALUES[band]


# --------------------------------------------------------------------------- measuring


def _measure(time: np.ndarray, end: np.ndarray, pitch: np.ndarray, lines: np.ndarray,
             tol: int) -> dict[str, np.ndarray]:  # fmt: skip
    """Per-bar onsets, mean sounding at sample points, notes sounding, pitch sums, histogram."""
    n = len(lines) - 1
    hist = np.zeros((n, 12))  # (bars, pitch class): ticks sounding
    starts = np.unique(time)
    onset_bar = np.searchsorted(lines, starts, side="right") - 1
    inside = (onset_bar >= 0) & (onset_bar < n)
    s_sorted, e_sorted = np.sort(time), np.sort(np.maximum(end - tol, time + 1))

    def sounding(t: np.ndarray) -> np.ndarray:
        return np.searchsorted(s_sorted, t, "right") - np.searchsorted(e_sorted, t, "right")

    held = lines[:-1][sounding(lines[:-1]) > 0]  # bar lines a note is held over
    points = np.union1d(starts[inside], held)
    point_bar = np.searchsorted(lines, points, side="right") - 1
    samples = np.bincount(point_bar, minlength=n)
    poly = np.bincount(point_bar, sounding(points), minlength=n) / np.maximum(samples, 1)
    # every (note, bar) pair where the note sounds in the bar
    first = np.clip(np.searchsorted(lines, time, side="right") - 1, 0, None)
    last = np.clip(np.searchsorted(lines, end, side="left") - 1, None, n - 1)
    span = np.maximum(last - first + 1, 0)
    note = np.repeat(np.arange(len(time)), span)
    bar = first[note] + np.arange(len(note)) - np.repeat(np.cumsum(span) - span, span)
    overlap = np.minimum(end[note], lines[bar + 1]) - np.maximum(time[note], lines[bar])
    np.add.at(hist, (bar, pitch[note] % 12), overlap)
    lowest = np.full(n, 128)
    np.minimum.at(lowest, bar, pitch[note])
    return {"onsets": np.bincount(onset_bar[inside], minlength=n), "poly": poly,
            "notes": np.bincount(bar, minlength=n), "hist": hist, "lowest": lowest,
            "pitch_sum": np.bincount(bar, pitch[note].astype(float), minlength=n)}  # fmt: skip


def _register(m: dict[str, np.ndarray]) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return _register_levels(np.where(m["notes"] > 0, m["pitch_sum"] / m["notes"], np.nan))


def _chords(hist: np.ndarray, lowest: np.ndarray) -> list[tuple[int | None, str | None]]:
    """Best chord template per bar, (None, None) for bars without pitched notes."""
    names = list(CHORDS)
    templates = -np.ones((len(names) * 12, 12))  # (quality x root, pitch class): +1 in, -1 out
    for q, steps in enumerate(CHORDS.values()):
        for root in range(12):
            templates[q * 12 + root, [(root + s) % 12 for s in steps]] = 1.0
    sizes = np.repeat([len(s) for s in CHORDS.values()], 12)
    roots = np.tile(np.arange(12), len(names))
    total = hist.sum(1, keepdims=True)
    fit = hist / np.maximum(total, 1e-9) @ templates.T - CHORD_SIZE_COST * sizes  # (bars, 84)
    fit = fit + CHORD_BASS_BONUS * (roots[None, :] == (lowest % 12)[:, None])
    best = fit.argmax(1)
    return [(int(roots[b]), names[b // 12]) if t > 0 else (None, None)
            for b, t in zip(best, total[:, 0], strict=True)]  # fmt: skip


_Part = tuple[bool, np.ndarray, np.ndarray, np.ndarray]  # is_drum, onset, end, pitch


def _arrays(track: Track) -> _Part:
    """(is_drum, onset, end, pitch) of a track's notes; a drum hit lasts one tick, whatever
    its written length, and no note lasts less than one."""
    a = track.notes.numpy()
    time, pitch = a["time"].astype(np.int64), a["pitch"].astype(np.int64)
    end = time + (1 if track.is_drum else np.maximum(a["duration"], 1))
    return bool(track.is_drum), time, end, pitch


def _joined(parts: list[_Part]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Onsets, ends and pitches of several tracks in one set of arrays."""
    none = [np.zeros(0, np.int64)]
    time, end, pitch = (np.concatenate([part[k] for part in parts] or none) for k in (1, 2, 3))
    return time, end, pitch


def _keys(hist: np.ndarray, weights: Sequence[float]) -> list[tuple[int | None, str | None, float]]:
    """Key of each bar from its window of bars' pitch-class histograms (None where silent).

    labels.find_keys for all bars at once (find_key bar by bar took 4 ms a bar).
    """
    n, r = len(hist), len(weights) // 2
    padded = np.pad(hist, ((r, r), (0, 0)))
    window = sum(w * padded[k : k + n] for k, w in enumerate(weights))  # (bars, 12)
    return [key or (None, None, 0.0) for key in labels.find_keys(window)]


def attributes(score: Score, lines: Sequence[int] | None = None,
               key_window: Sequence[float] = KEY_WINDOW) -> list[BarAttributes]:  # fmt: skip
    """Attributes of every bar between consecutive `lines` (bar-line ticks, the last one ending
    the last bar; by default the score's own bar lines up to its last note). `score` is in ticks.
    `key_window`: weights of the bars around each bar for its key (odd length, see KEY_WINDOW)."""
    if lines is None:
        lines = timeline.bar_lines(score, max(timeline.end_tick(score), 1))
    edges = np.asarray(lines, dtype=np.int64)
    if len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"lines must be 2 or more increasing bar-line ticks, got {list(lines)}")
    if len(key_window) % 2 == 0:
        raise ValueError(f"key_window needs an odd number of weights, got {list(key_window)}")
    tpq = score.ticks_per_quarter
    tol, quarters = round(LEGATO_QUARTERS * tpq), np.diff(edges) / tpq
    parts = [_arrays(track) for track in score.tracks]
    every = _measure(*_joined(parts), edges, tol)  # onsets of all tracks
    tone = _measure(*_joined([p for p in parts if not p[0]]), edges, tol)  # pitched tracks
    per_track = []
    for drum, time, end, pitch in parts:
        m = _measure(time, end, pitch, edges, tol)
        register = 0 * m["notes"] if drum else _register(m)  # drums have no register
        levels = _density_levels(m["onsets"], quarters), _polyphony_levels(m["poly"]), register
        per_track.append((drum, m["onsets"], *levels))
    density = _density_levels(every["onsets"], quarters)
    polyphony, register = _polyphony_levels(tone["poly"]), _register(tone)
    keys, chords = _keys(tone["hist"], key_window), _chords(tone["hist"], tone["lowest"])
    bars = []
    for b, (start, stop) in enumerate(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True)):
        tracks = tuple(TrackBar(i, d, int(o[b]), int(dl[b]), int(pl[b]), int(rl[b]))
                       for i, (d, o, dl, pl, rl) in enumerate(per_track))  # fmt: skip
        tonic, mode, strength = keys[b]
        bars.append(BarAttributes(b, start, stop, int(every["notes"][b]), tonic, mode,
                                  float(strength), *chords[b], int(density[b]),
                                  int(polyphony[b]), int(register[b]), tracks))  # fmt: skip
    return bars


def typical_qpm(score: Score) -> float:
    """Time-weighted median tempo (qpm) up to the last note; 120 when the file names none."""
    tempos = score.tempos.numpy()
    order = np.argsort(tempos["time"], kind="stable")
    ticks = tempos["time"][order].astype(np.int64)
    qpm = 6e7 / tempos["mspq"][order].astype(np.float64)
    keep = np.append(ticks[1:] != ticks[:-1], True)[: len(ticks)]  # last tempo at a tick wins
    ticks, qpm = ticks[keep], qpm[keep]
    if len(ticks) == 0 or ticks[0] > 0:  # MIDI's 120 qpm until the first tempo
        ticks, qpm = np.insert(ticks, 0, 0), np.insert(qpm, 0, 120.0)
    last = timeline.end_tick(score)
    inside = (ticks < last) | (np.arange(len(ticks)) == 0)
    ticks, qpm = ticks[inside], qpm[inside]
    weight = np.diff(np.append(ticks, max(last, int(ticks[-1]) + 1)))
    by_qpm = np.argsort(qpm)
    cumulative = np.cumsum(weight[by_qpm])
    return float(qpm[by_qpm][np.searchsorted(cumulative, cumulative[-1] / 2)])


def global_attributes(score: Score) -> GlobalAttributes:
    """Tempo band and meter of a piece (the meter in force at tick 0, 4/4 when none)."""
    meters = [(ts.time, ts.numerator, ts.denominator) for ts in score.time_signatures
              if ts.time == 0 and ts.numerator > 0 and ts.denominator > 0]  # fmt: skip
    _, num, den = meters[-1] if meters else (0, 4, 4)
    qpm = typical_qpm(score)
    return GlobalAttributes(qpm, tempo_band(qpm), int(num), int(den))


# --------------------------------------------------------------------------- mood


@dataclass(frozen=True)
class MoodTarget:
    """What a mood asks: a mode, and density and tempo moves from a reference (the seed's or
    the style's median), so "happy" is livelier than its own repertory, not than a fixed tempo."""

    mode: str
    density_offset: int
    tempo_offset: int


# Valence/arousal quadrants (Russell; EMOPIA's labels): valence is the mode, arousal the density
# and tempo. One level is about a doubling of onsets and a step of ~25% in tempo, enough to be
# heard and measured, small enough to stay inside a style.
MOOD_ATTRIBUTES: dict[str, MoodTarget] = {
    "happy": MoodTarget("major", +1, +1),
    "tense": MoodTarget("minor", +1, +1),
    "sad": MoodTarget("minor", -1, -1),
    "calm": MoodTarget("major", -1, -1),
}


def median_level(levels: Sequence[int]) -> int:
    """Median of the non-zero levels (silent bars say nothing about how busy music is), or 0."""
    found = np.asarray([v for v in levels if v > 0], dtype=float)
    return int(np.floor(np.median(found) + 0.5)) if len(found) else 0


def mood_targets(mood: str, density_median: int, tempo: int) -> tuple[str, int, int]:
    """(mode, density level, tempo band) to ask for `mood`, moved from a reference median
    density level and tempo band, kept inside the valid levels (never asking for silence)."""
    if mood not in MOOD_ATTRIBUTES:
        raise ValueError(f"mood must be one of {', '.join(MOOD_ATTRIBUTES)}, got {mood!r}")
    target = MOOD_ATTRIBUTES[mood]
    top = len(DENSITY_EDGES) + 1
    density = int(np.clip(max(density_median, 1) + target.density_offset, 1, top))
    band = int(np.clip(tempo + target.tempo_offset, 0, len(TEMPO_EDGES)))
    return target.mode, density, band
