"""`musegen evaluate infill DIR`: do regenerated bars and added parts fit real songs?

For each MIDI song in a folder (sorted by path, at most `songs`), three cases:

- **infill**: bars `region` (all tracks) blanked and regenerated (`MuseGen.infill`);
- **bass** / **drums**, when the song has one in bars `part_bars`: every track of that kind
  (GM 32-39; drum tracks) removed and the part added back there (`MuseGen.add_part`).

Each case is measured twice, the same way: the model's material against the real part, and
the real part against its surroundings (the same tracks in as many bars before and after),
which is the ceiling; fit measures judge each against the other tracks of its own version.
The measures of `fidelity_measures` (onset grid, overlap) and the judges' key finders are
reused; counts are summed over songs, so each figure is a share of all tracks (onsets, ...).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from symusic import Score, Track

from musegen.errors import InputError
from musegen.evaluate.fidelity import midi_files
from musegen.evaluate.fidelity_measures import (
    DENSITY_FACTOR,
    REGISTER_SEMITONES,
    bar_starts,
    onset_histogram,
    overlap,
)
from musegen.evaluate.judges import key_by_music21, key_by_project
from musegen.io.seed import read_seed
from musegen.music.attributes import CHORDS, attributes
from musegen.music.timeline import cut, end_tick

TASKS = ("infill", "bass", "drums")
SYSTEMS = ("model", "real")
BASS_PROGRAMS = range(32, 40)  # GM bass family
KICK_SNARE = (35, 36, 38, 40)  # acoustic/bass drum 1, acoustic/electric snare
ON_QUARTERS = 1 / 16  # an onset "on" another within a 64th note (played MIDI jitters)
NEAR_QUARTERS = 1 / 4  # "near": within a 16th note
TARGET = 0.85  # the model's value as a share of the real part's
FINDERS = (("key_music21", key_by_music21), ("key_kk", key_by_project))

# (key, label, kind, unit): the table's rows. kind "ratio": target TARGET x the real part's
# value; "distance": lower is closer, reported as a difference; "join": the model must score 1.
MEASURES: tuple[tuple[str, str, str, str], ...] = (
    ("density_within_2x", "notes per bar within a factor 2", "ratio", "tracks"),
    ("onset_overlap", "onset-grid histogram overlap", "ratio", "tracks"),
    ("register_within_5", "mean pitch within 5 semitones", "ratio", "tracks"),
    ("register_shift", "mean pitch distance, semitones", "distance", "tracks"),
    ("key_music21", "key kept, music21 (Aarden-Essen)", "ratio", "songs"),
    ("key_kk", "key kept, find_key (Krumhansl-Kessler)", "ratio", "songs"),
    ("onsets_on", "onsets on another track's onset", "ratio", "onsets"),
    ("onsets_near", "onsets within a 16th of another track's", "ratio", "onsets"),
    ("bass_on_root", "bass time on the bar's chord root", "ratio", "quarters"),
    ("bass_in_chord", "bass time on a chord tone", "ratio", "quarters"),
    ("kick_snare_on", "kicks and snares on other parts' onsets", "ratio", "hits"),
    ("bars_with_notes", "asked bars with a note", "ratio", "bars"),
    ("first_bar_note", "first asked bar holds a note", "join", "songs"),
    ("no_crossing", "no note crosses the region's end", "join", "songs"),
    ("outside_kept", "notes outside the region unchanged", "join", "songs"),
)

Counts = dict[str, list[float]]  # measure -> [count, of]: summed over tracks and songs


@dataclass
class InfillEvalConfig:
    """What to evaluate; `quick` (2 songs, bars 3-4, parts over bars 1-4) is a smoke test."""

    folder: Path
    checkpoint: str | None = None  # folder or name; None: the shipped default
    songs: int | None = None  # default 20, quick 2
    region: tuple[int, int] | None = None  # bars regenerated, from 1; default 5-8, quick 3-4
    part_bars: tuple[int, int] | None = None  # bars of an added part; default 1-8, quick 1-4
    quick: bool = False
    seed: int = 0  # sampling seed, the same for every song
    adapt_steps: int = 0  # steps of adapting to each piece first (musegen.generate.adapt)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        if self.songs is None:
            self.songs = 2 if self.quick else 20
        if self.songs < 1:
            raise InputError(f"--songs {self.songs}: use 1 or more")
        self.region = bar_range(self.region or ((3, 4) if self.quick else (5, 8)), "bars")
        self.part_bars = bar_range(self.part_bars or ((1, 4) if self.quick else (1, 8)),
                                   "part_bars")  # fmt: skip
        if self.region[0] < 2:
            first, last = self.region
            raise InputError(
                f"`bars` {first}-{last}: the region needs a bar before it (the join is "
                "judged there); start at bar 2 or later"
            )
        if not self.folder.is_dir():
            raise InputError(f"{self.folder}: no such folder; give a folder of MIDI files")


def bar_range(value: str | Sequence[int], name: str) -> tuple[int, int]:
    """(first, last) bars, counted from 1, from "5-8" or a pair; InputError names `name`."""
    try:
        if isinstance(value, str):
            first, _, last = value.partition("-")
            value = (first, last or first)
        first, last = (int(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"`{name}` {value!r} is invalid: give FIRST-LAST, e.g. 5-8") from None
    if not 1 <= first <= last:
        raise InputError(f"`{name}` {first}-{last} is invalid: bars count from 1, FIRST <= LAST")
    return first, last


# --------------------------------------------------------------------------- measures


@dataclass(frozen=True)
class Notes:
    """Notes of one or more tracks as arrays, in ticks; `drum` per note."""

    time: np.ndarray
    end: np.ndarray
    pitch: np.ndarray
    drum: np.ndarray

    @classmethod
    def of(cls, tracks: Iterable[Track], windows: Sequence[tuple[int, int]] | None = None
           ) -> Notes:  # fmt: skip
        """Notes of `tracks` starting inside any of `windows` ([start, end) ticks; None: all)."""
        parts = []
        for track in tracks:
            a = track.notes.numpy()
            t = a["time"].astype(np.int64)
            keep = np.ones(len(t), bool) if windows is None else np.zeros(len(t), bool)
            for start, stop in windows or ():
                keep |= (t >= start) & (t < stop)
            parts.append((t[keep], t[keep] + np.maximum(a["duration"][keep], 1),
                          a["pitch"][keep].astype(np.int64),
                          np.full(int(keep.sum()), bool(track.is_drum))))  # fmt: skip
        if not parts:
            return cls(*(np.zeros(0, np.int64),) * 3, np.zeros(0, bool))
        return cls(*(np.concatenate([p[k] for p in parts]) for k in range(4)))

    def __len__(self) -> int:
        return len(self.time)

    def pitched(self) -> Notes:
        keep = ~self.drum
        return Notes(self.time[keep], self.end[keep], self.pitch[keep], self.drum[keep])


def add(total: Counts, more: Counts) -> Counts:
    """`total` with each [count, of] of `more` added."""
    for name, (count, of) in more.items():
        entry = total.setdefault(name, [0.0, 0])
        entry[0] += float(count)
        entry[1] += of
    return total


def similarity(x: Notes, ref: Notes, x_bars: int, ref_bars: int, lines: Sequence[int]) -> Counts:
    """One track's `x` against `ref`: notes per bar, onset grid, register (judged where `ref`
    has notes; a silent `x` fails each). `lines`: the piece's bar lines."""
    c: Counts = {}
    lines = np.asarray(lines, dtype=np.int64)
    if len(ref):
        ratio = (len(x) / x_bars) / (len(ref) / ref_bars)
        c["density_within_2x"] = [float(1 / DENSITY_FACTOR <= ratio <= DENSITY_FACTOR), 1]
        histograms = onset_histogram(x.time, lines), onset_histogram(ref.time, lines)
        c["onset_overlap"] = [overlap(*histograms), 1]
    px, pr = x.pitched(), ref.pitched()
    if len(pr):
        shift = abs(float(px.pitch.mean()) - float(pr.pitch.mean())) if len(px) else None
        c["register_within_5"] = [float(shift is not None and shift <= REGISTER_SEMITONES), 1]
        if shift is not None:
            c["register_shift"] = [shift, 1]
    return c


def key_kept(x: Notes, ref: Notes, tpq: int) -> tuple[Counts, dict]:
    """Key of the pitched notes of `x` equals `ref`'s, by each finder (judged where `ref` has
    a key); also the keys found, as text."""
    c: Counts = {}
    found = {}
    pairs = [_durations(n.pitched(), tpq) for n in (ref, x)]
    for name, finder in FINDERS:
        keys = [finder(p) for p in pairs]
        found[name] = [_key_text(k) for k in keys]
        if keys[0] is not None:
            c[name] = [float(keys[0] == keys[1]), 1]
    return c, found


def _durations(n: Notes, tpq: int) -> list[tuple[int, float]]:
    """(pitch, quarters) pairs, as the key finders take them."""
    return list(zip(n.pitch.tolist(), ((n.end - n.time) / tpq).tolist(), strict=True))


def _key_text(key: tuple[int, str] | None) -> str | None:
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    return None if key is None else f"{names[key[0] % 12]}:{key[1]}"


def _distance_to(onsets: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """For each onset, the distance in ticks to the nearest of the sorted, non-empty `ref`."""
    i = np.searchsorted(ref, onsets)
    left, right = ref[np.clip(i - 1, 0, len(ref) - 1)], ref[np.clip(i, 0, len(ref) - 1)]
    return np.minimum(np.abs(onsets - left), np.abs(onsets - right))


def onset_alignment(x: Notes, others: Notes, tpq: int) -> Counts:
    """Distinct onsets of `x` on (within a 64th) and near (a 16th) an onset of `others`."""
    onsets, ref = np.unique(x.time), np.unique(others.time)
    if not len(onsets) or not len(ref):
        return {}
    d = _distance_to(onsets, ref)
    return {"onsets_on": [int((d <= ON_QUARTERS * tpq).sum()), len(onsets)],
            "onsets_near": [int((d <= NEAR_QUARTERS * tpq).sum()), len(onsets)]}  # fmt: skip


def kick_snare_on(drums: Notes, others: Notes, tpq: int) -> Counts:
    """Kick and snare hits of `drums` on (within a 64th) an onset of `others`."""
    hits, ref = drums.time[np.isin(drums.pitch, KICK_SNARE)], np.unique(others.time)
    if not len(hits) or not len(ref):
        return {}
    return {"kick_snare_on": [int((_distance_to(hits, ref) <= ON_QUARTERS * tpq).sum()),
                              len(hits)]}  # fmt: skip


def chord_fit(bass: Notes, others: Score, lines: Sequence[int]) -> Counts:
    """Share of the bass's sounding time (quarters) on the chord root, and on a chord tone, of
    the chord `others` imply in each bar (`music.attributes`); bars without a chord are left out."""
    tpq = others.ticks_per_quarter
    root = tone = total = 0.0
    pc = bass.pitch % 12
    for bar in attributes(others, list(lines)):
        if bar.chord_root is None:
            continue
        span = np.minimum(bass.end, bar.end) - np.maximum(bass.time, bar.start)
        span = np.where(span > 0, span, 0) / tpq
        chord = [(bar.chord_root + s) % 12 for s in CHORDS[bar.chord_quality]]
        total += span.sum()
        root += span[pc == bar.chord_root].sum()
        tone += span[np.isin(pc, chord)].sum()
    if total <= 0:
        return {}
    return {"bass_on_root": [root, total], "bass_in_chord": [tone, total]}


def outside_kept(before: Score, after: Score, start: int, end: int) -> bool:
    """Every note starting outside [start, end) in `before` is in `after` as it was, and
    `after`'s added tracks have no note there."""
    if len(after.tracks) < len(before.tracks):
        return False
    for i, track in enumerate(after.tracks):
        a = _outside(track, start, end)
        b = _outside(before.tracks[i], start, end) if i < len(before.tracks) else a[:0]
        if a.shape != b.shape or not np.array_equal(a, b):
            return False
    return True


def _outside(track: Track, start: int, end: int) -> np.ndarray:
    a = track.notes.numpy()
    rows = np.stack([a[k].astype(np.int64) for k in ("time", "duration", "pitch", "velocity")], 1)
    rows = rows[(rows[:, 0] < start) | (rows[:, 0] >= end)]
    return rows[np.lexsort(rows.T[::-1])] if len(rows) else rows  # sorted by time, ...


def joins(new: Notes, lines: Sequence[int], real_first_bar: bool) -> Counts:
    """New notes over the bars [lines[0], lines[-1]): none rings past the end, bars with a
    note; the first bar holds one (judged where the real part's first bar does)."""
    starts = np.asarray(lines)
    bar = np.searchsorted(starts, new.time, side="right") - 1
    filled = np.unique(bar[(bar >= 0) & (bar < len(starts) - 1)])
    c: Counts = {"no_crossing": [float(not (new.end > starts[-1]).any()), 1],
                 "bars_with_notes": [len(filled), len(starts) - 1]}  # fmt: skip
    if real_first_bar:
        c["first_bar_note"] = [float(0 in filled), 1]
    return c


def pool(rows: Iterable[Counts]) -> dict[str, dict]:
    """Each measure over all songs: {"value": count / of, "count", "of"} (value None if of 0)."""
    total: Counts = {}
    for row in rows:
        add(total, row)
    out = {}
    for key, *_ in MEASURES:
        count, of = total.get(key, [0.0, 0])
        out[key] = {"value": count / of if of else None, "count": round(count, 4), "of": of}
    return out


# --------------------------------------------------------------------------- songs and cases


@dataclass
class Song:
    """A song cut after its last judged bar, read back as the API reads it."""

    name: str
    score: Score
    lines: np.ndarray  # bar lines, lines[b] starts bar b + 1
    bars: int  # bars with music (the last one holds the last note's end)
    info: dict = field(default_factory=dict)

    def window(self, first: int, last: int) -> tuple[int, int]:
        return int(self.lines[first - 1]), int(self.lines[last])

    def around(self, first: int, last: int) -> tuple[list[tuple[int, int]], int]:
        """Up to as many bars as [first, last] before and after it, and how many bars that is."""
        k = last - first + 1
        spans = [(max(1, first - k), first - 1), (last + 1, min(self.bars, last + k))]
        spans = [(a, b) for a, b in spans if a <= b]
        return [self.window(a, b) for a, b in spans], sum(b - a + 1 for a, b in spans)


def prepare(path: Path, name: str, cfg: InfillEvalConfig) -> Song | str:
    """The song cut for evaluation, or the reason it cannot be used."""
    try:
        score = read_seed(path).score
    except InputError as err:
        return f"unreadable ({str(err).splitlines()[0][:100]})"
    (first, last), (pf, pl) = cfg.region, cfg.part_bars
    need = max(2 * last - first + 1, 2 * pl - pf + 1)  # the judged bars and those after them
    lines = bar_starts(score, need)
    song_end = end_tick(score)
    if song_end <= lines[last]:
        return f"shorter than {last + 1} bars (the region needs a bar after it)"
    if not len(Notes.of(score.tracks, [(int(lines[first - 1]), int(lines[last]))])):
        return f"silent in bars {first}-{last}"
    score = cut(score, 0, int(lines[need]), truncate=True)
    score.tracks = [t for t in score.tracks if len(t.notes)]
    score = read_seed(score).score  # as the API will read it: notes compare exactly
    lines = bar_starts(score, need)
    bars = min(need, int(np.searchsorted(lines, end_tick(score), side="left")))
    info = {"tpq": score.ticks_per_quarter, "tracks": len(score.tracks), "bars": bars,
            "drum_tracks": sum(t.is_drum for t in score.tracks),
            "bass_tracks": sum(_is_bass(t) for t in score.tracks)}  # fmt: skip
    return Song(name, score, lines, bars, info)


def _is_bass(track: Track) -> bool:
    return not track.is_drum and track.program in BASS_PROGRAMS


def infill_case(mg, song: Song, cfg: InfillEvalConfig) -> tuple[dict, object | None]:
    """Blank the region (all tracks), regenerate it; counts for the model and the real part."""
    first, last = cfg.region
    start, end = song.window(first, last)
    around, around_bars = song.around(first, last)
    k = last - first + 1
    try:
        result = mg.infill(
            song.score, bars=(first, last), seed=cfg.seed, adapt_steps=cfg.adapt_steps
        )
    except InputError as err:
        return {"error": str(err).splitlines()[0]}, None
    if len(result.score.tracks) != len(song.score.tracks) or result.region != (start, end):
        return {"error": f"tracks or region changed: {result.region} for {(start, end)}"}, None
    real_tracks, new_tracks = song.score.tracks, result.part.score.tracks
    tpq = song.score.ticks_per_quarter
    model, real = {}, {}
    for i, track in enumerate(real_tracks):
        here = Notes.of([track], [(start, end)])
        if not len(here):
            continue
        new = Notes.of([new_tracks[i]])
        add(model, similarity(new, here, k, k, song.lines))
        add(real, similarity(here, Notes.of([track], around), k, around_bars, song.lines))
        others = [t for j, t in enumerate(result.score.tracks) if j != i]
        add(model, onset_alignment(new, Notes.of(others, [(start, end)]), tpq))
        others = [t for j, t in enumerate(real_tracks) if j != i]
        add(real, onset_alignment(here, Notes.of(others, [(start, end)]), tpq))
    new_all, real_all = Notes.of(new_tracks), Notes.of(real_tracks, [(start, end)])
    keys_model, found_model = key_kept(new_all, real_all, tpq)
    keys_real, found_real = key_kept(real_all, Notes.of(real_tracks, around), tpq)
    region_lines = song.lines[first - 1 : last + 1]
    first_bar = bool(len(Notes.of(real_tracks, [song.window(first, first)])))
    add(model, {**keys_model, **joins(new_all, region_lines, first_bar)})
    add(model, {"outside_kept": [float(outside_kept(song.score, result.score, start, end)), 1]})
    add(real, {**keys_real, **joins(real_all, region_lines, first_bar)})
    keys = {"model": found_model["key_music21"][1], "real": found_real["key_music21"][1],
            "around": found_real["key_music21"][0]}  # fmt: skip
    info = {"seconds": result.provenance.get("seconds"), "new_notes": len(new_all),
            "real_notes": len(real_all), "keys_music21": keys}  # fmt: skip
    return {"model": model, "real": real, **info}, result


def part_case(mg, song: Song, cfg: InfillEvalConfig, kind: str) -> dict | None:
    """Remove every bass (or drum) track, add the part back over `part_bars`; None when the
    song has no such part there."""
    first, last = cfg.part_bars
    start, end = song.window(first, last)
    family = (lambda t: t.is_drum) if kind == "drums" else _is_bass
    removed = [t for t in song.score.tracks if family(t)]
    here = Notes.of(removed, [(start, end)])
    kept = [t for t in song.score.tracks if not family(t)]
    if not len(here) or not len(Notes.of(kept, [(start, end)])):
        return None  # no part to compare with, or nothing for it to fit
    busiest = max(removed, key=lambda t: len(Notes.of([t], [(start, end)])))
    program = "drums" if kind == "drums" else int(busiest.program)
    without = song.score.copy()
    without.tracks = [t.copy() for t in kept]
    try:
        result = mg.add_part(
            without, program=program, bars=(first, last), seed=cfg.seed, adapt_steps=cfg.adapt_steps
        )
    except InputError as err:
        return {"error": str(err).splitlines()[0], "program": program}
    if len(result.score.tracks) != len(kept) + 1:
        return {"error": f"{len(result.score.tracks)} tracks after adding one to {len(kept)}"}
    tpq = song.score.ticks_per_quarter
    k = last - first + 1
    around, around_bars = song.around(first, last)
    new = Notes.of([result.part.score.tracks[-1]])
    others = Notes.of(kept, [(start, end)])
    model = similarity(new, here, k, k, song.lines)
    real = similarity(here, Notes.of(removed, around), k, around_bars, song.lines)
    add(model, onset_alignment(new, others, tpq))
    add(real, onset_alignment(here, others, tpq))
    if kind == "drums":
        add(model, kick_snare_on(new, others, tpq))
        add(real, kick_snare_on(here, others, tpq))
    else:
        add(model, key_kept(new, here, tpq)[0])
        add(real, key_kept(here, Notes.of(removed, around), tpq)[0])
        lines = [int(x) for x in song.lines[first - 1 : last + 1]]
        add(model, chord_fit(new, without, lines))
        add(real, chord_fit(here, without, lines))
    region_lines = song.lines[first - 1 : last + 1]
    first_bar = bool(len(Notes.of(removed, [song.window(first, first)])))
    add(model, joins(new, region_lines, first_bar))
    add(model, {"outside_kept": [float(outside_kept(without, result.score, start, end)), 1]})
    add(real, joins(here, region_lines, first_bar))
    return {"model": model, "real": real, "program": program, "new_notes": len(new),
            "real_notes": len(here), "seconds": result.provenance.get("seconds")}  # fmt: skip


def evaluate_infill(cfg: InfillEvalConfig, say: Callable[[str], None] = print
                    ) -> tuple[dict, tuple | None]:  # fmt: skip
    """Run the evaluation: the report (every number) and an example for the picture
    (song name, the song, its infill result, the region's bars), None if no infill worked."""
    from musegen import MuseGen

    mg = MuseGen.from_pretrained(cfg.checkpoint)
    ckpt = mg.checkpoint
    if not ckpt.tokenizer.has_controls:
        raise InputError(
            f"checkpoint {ckpt.name} has no bar plans, so it cannot fill in bars or add parts; "
            "give one trained with plans and infill (`checkpoint`)"
        )
    files = midi_files(cfg.folder)
    if not files:
        raise InputError(f"{cfg.folder}: no MIDI files (.mid, .midi) in it or below it")
    songs, skipped, example, started = [], [], None, time.perf_counter()
    for path in files:
        if len(songs) >= cfg.songs:
            break
        name = path.relative_to(cfg.folder).as_posix()
        song = prepare(path, name, cfg)
        if isinstance(song, str):
            skipped.append({"song": name, "reason": song})
            continue
        infill, result = infill_case(mg, song, cfg)
        if example is None and result is not None:
            example = (name, song, result, cfg.region)
        cases = {"infill": infill, "bass": part_case(mg, song, cfg, "bass"),
                 "drums": part_case(mg, song, cfg, "drums")}  # fmt: skip
        songs.append({"song": name, **song.info, "cases": cases})
        done = [t for t in TASKS if cases[t] is not None]
        errors = [f"{t}: {cases[t]['error']}" for t in done if "error" in cases[t]]
        say(f"infill: {name}: {', '.join(done)}" + (f" ({'; '.join(errors)})" if errors else ""))
    if not songs:
        reasons = "; ".join(f"{s['song']}: {s['reason']}" for s in skipped[:5])
        raise InputError(f"{cfg.folder}: no song can be used ({reasons}); try other `bars`")
    results = {}
    for task in TASKS:
        ran = [s["cases"][task] for s in songs if s["cases"][task] is not None]
        ok = [c for c in ran if "error" not in c]
        results[task] = {"songs": len(ran), "failed": len(ran) - len(ok),
                         **{s: pool(c[s] for c in ok) for s in SYSTEMS}}  # fmt: skip
    report = {
        "config": {**asdict(cfg), "folder": str(cfg.folder)},
        "checkpoint": {"name": ckpt.name, "path": str(ckpt.path), "sha256": ckpt.sha256},
        "measures": [
            dict(zip(("key", "label", "kind", "unit"), m, strict=True)) for m in MEASURES
        ],  # fmt: skip
        "target": TARGET,
        "results": results,
        "songs": songs,
        "skipped": skipped,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return report, example


def command_line(cfg: InfillEvalConfig, out: Path | None = None) -> str:
    """The command that reproduces a run."""
    parts = ["musegen evaluate infill", str(cfg.folder)]
    if cfg.checkpoint:
        parts.append(f"--checkpoint {cfg.checkpoint}")
    parts += ["--quick"] if cfg.quick else []
    parts += [f"--songs {cfg.songs}", "--bars {}-{}".format(*cfg.region),
              "--part-bars {}-{}".format(*cfg.part_bars), f"--seed {cfg.seed}"]  # fmt: skip
    parts += [f"--adapt-steps {cfg.adapt_steps}"] if cfg.adapt_steps else []
    return " ".join(parts + ([f"--out {out}"] if out else []))


def infill_command(cfg: InfillEvalConfig, out: Path | None = Path("out/infill"),
                   say: Callable[[str], None] = print) -> dict:  # fmt: skip
    """Evaluate, print the table, write OUT/report.md, results.json and infill.png."""
    from musegen.evaluate.infill_report import table, write_report

    report, example = evaluate_infill(cfg, say=say)
    report["command"] = command_line(cfg, out)
    say(table(report))
    if out is not None:
        written = write_report(report, out, example)
        say(f"infill report: {', '.join(str(p) for p in written)}")
    return report
