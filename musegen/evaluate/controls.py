"""`musegen evaluate controls`: does the network obey its bar plans? Judged by measures that
generation never uses.

The network alone (one candidate, no mood check) continues neutral seeds (one piano note in
4/4, 3/4, 6/8 and 2/4: `held_out.neutral_seed`) and the first bars of real held-out MIDI files,
each asked for:

- a mode, two ways: `key` (the seed's tonic, C for a neutral seed; major, then minor) and
  `mood` (happy: major, sad: minor). The mode of the new bars is found by music21's default key
  analysis and by the project's Krumhansl-Kessler finder, each reported on its own (`judges`).
- every density (1-6), polyphony (1-4) and register (1-5) level, for all new bars. The new bars
  are measured by `music.attributes`; a continuation's level is the mean over its bars that
  hold that kind of note (level > 0). Spearman correlation of asked vs measured (`judges`).
- with a corpus, every style, scored by the style classifier of `evaluate.control`.

Every asked value of one seed shares one random draw, so levels are compared on paired samples.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from symusic import Score

from musegen.errors import InputError
from musegen.evaluate import judges
from musegen.evaluate.fidelity import midi_files
from musegen.evaluate.fidelity_measures import bar_starts
from musegen.evaluate.held_out import excerpt, neutral_seed
from musegen.music import labels, timeline
from musegen.music.attributes import POLYPHONY_MAX, REGISTER_EDGES, attributes

NEUTRAL_METERS = ((4, 4), (3, 4), (6, 8), (2, 4))
QUICK_METERS = ((4, 4), (6, 8))
MODES = ("major", "minor")
MODE_MOODS = {"major": "happy", "minor": "sad"}  # mood asked for each mode
WAYS = ("key", "mood")  # ways of asking for a mode
FINDERS = {
    "music21": "music21 default analysis (Aarden-Essen)",
    "project": "project's find_key (Krumhansl-Kessler)",
}
ASKED_LEVELS = {"density": range(1, 7), "polyphony": range(1, 5), "register": range(1, 6)}
TOP_LEVEL = {"density": 6, "polyphony": POLYPHONY_MAX, "register": len(REGISTER_EDGES) + 1}
KINDS = ("neutral", "real")


@dataclass
class ControlsConfig:
    """What to evaluate; `quick` (2 neutral seeds, 1 file, 4 + 2 bars) is a smoke test."""

    checkpoint: str | None = None  # folder or name; None: the shipped default
    seeds: Path | None = None  # a folder of real held-out MIDI files; None: neutral seeds only
    out: Path | None = None  # None: CHECKPOINT/evaluation/controls
    seed_bars: int | None = None  # bars of each file given as seed; default 8, quick 4
    new_bars: int | None = None  # bars generated per continuation; default 4, quick 2
    files: int | None = None  # at most this many files of `seeds`; default 8, quick 1
    quick: bool = False
    seed: int = 0
    corpus: Path | None = None  # with a corpus: the style section (classifier on its train split)
    shards: Path = Path("data/cache")  # the corpus's token shards (its fixed split)

    def __post_init__(self) -> None:
        defaults = {"seed_bars": (8, 4), "new_bars": (4, 2), "files": (8, 1)}
        for name, (full, quick) in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, quick if self.quick else full)
            if getattr(self, name) < 1:
                raise InputError(f"`{name}` {getattr(self, name)}: use 1 or more")
        if self.seeds is not None:
            self.seeds = Path(self.seeds)
            if not self.seeds.is_dir():
                raise InputError(f"`seeds` {self.seeds}: no such folder; give a folder of MIDI")
        if self.corpus is not None:
            self.corpus, self.shards = Path(self.corpus), Path(self.shards)
            for needed in (self.corpus / "manifest.csv", self.shards / "index.json"):
                if not needed.is_file():
                    raise InputError(f"{needed} is missing: the style section needs a corpus "
                                     "and its token shards (musegen tokenize)")  # fmt: skip
        self.out = None if self.out is None else Path(self.out)


@dataclass
class Seed:
    """A seed and what is asked with it: `tonic` for `key` (the seed's own, C if neutral)."""

    name: str
    kind: str  # neutral | real
    score: Score
    tonic: int
    draw: int  # the random seed of every continuation of this seed


@dataclass
class Job:
    """One continuation: `control` asked for `asked`, and what the judges found in it."""

    seed: int  # index into the seed list
    control: str  # key | mood | density | polyphony | register
    asked: int | str  # a level, or a mode
    found: dict | None = None
    error: str | None = None

    def options(self, seed: Seed) -> dict:
        """The request's options beyond bars and seed."""
        if self.control == "key":
            return {"key": labels.key_name(seed.tonic, str(self.asked))}
        if self.control == "mood":
            return {"mood": MODE_MOODS[str(self.asked)]}
        return {self.control: int(self.asked)}


# --------------------------------------------------------------------------- seeds


def draw_of(base: int, name: str) -> int:
    """A seed's random draw, from what it is (adding a file changes no other seed's draw)."""
    return zlib.crc32(repr((base, name)).encode())


def neutral_seeds(cfg: ControlsConfig) -> list[Seed]:
    meters = QUICK_METERS if cfg.quick else NEUTRAL_METERS
    return [Seed(f"neutral {n}/{d}", "neutral", neutral_seed(n, d), 0,
                 draw_of(cfg.seed, f"neutral {n}/{d}")) for n, d in meters]  # fmt: skip


def real_seed(path: Path, name: str, cfg: ControlsConfig) -> Seed | str:
    """The file's first `seed_bars` bars as a seed, or the reason it cannot be one."""
    try:
        score = Score(str(path))
    except Exception as err:  # symusic raises RuntimeError, ValueError, ... on damaged files
        return f"unreadable ({str(err).splitlines()[0][:100] if str(err) else type(err).__name__})"
    lines = [int(t) for t in bar_starts(score, cfg.seed_bars)]
    if timeline.end_tick(score) <= lines[-2]:
        return f"shorter than {cfg.seed_bars} bars"
    seed = excerpt(score, lines, 0, cfg.seed_bars)
    key = judges.key_by_project(seed)
    if key is None:
        return f"no pitched notes in its first {cfg.seed_bars} bars"
    return Seed(name, "real", seed, key[0], draw_of(cfg.seed, name))


def real_seeds(cfg: ControlsConfig, say: Callable[[str], None]) -> tuple[list[Seed], list[dict]]:
    if cfg.seeds is None:
        return [], []
    files = midi_files(cfg.seeds)
    if not files:
        raise InputError(f"`seeds` {cfg.seeds}: no MIDI files (.mid, .midi) in it or below it")
    seeds, skipped = [], []
    for path in files:
        if len(seeds) >= cfg.files:
            break
        name = path.relative_to(cfg.seeds).as_posix()
        seed = real_seed(path, name, cfg)
        if isinstance(seed, str):
            skipped.append({"file": name, "reason": seed})
            say(f"controls: skipped {name}: {seed}")
        else:
            seeds.append(seed)
    if not seeds:
        raise InputError(f"`seeds` {cfg.seeds}: no file has {cfg.seed_bars} bars with pitched "
                         "notes; lower --seed-bars")  # fmt: skip
    return seeds, skipped


def plan_jobs(seeds: list[Seed], moods: list[str]) -> list[Job]:
    """Every seed asked each mode two ways (the mood way if the checkpoint knows the moods)
    and each level of each control."""
    ways = [w for w in WAYS if w == "key" or set(MODE_MOODS.values()) <= set(moods)]
    jobs = []
    for i in range(len(seeds)):
        jobs += [Job(i, way, mode) for way in ways for mode in MODES]
        jobs += [Job(i, c, level) for c, levels in ASKED_LEVELS.items() for level in levels]
    return jobs


# --------------------------------------------------------------------------- measuring


def measure(control: str, new: Score, bars: int) -> dict:
    """What the judges find in the new bars: the mode by each finder, or the per-bar levels of
    a control and their mean over the bars that have that kind of note (None: none do)."""
    if control in WAYS:
        return {"music21": judges.mode_by_music21(new), "project": judges.mode_by_project(new)}
    levels = [getattr(b, control) for b in attributes(new, bar_starts(new, bars).tolist())]
    sounding = [v for v in levels if v > 0]
    return {"levels": levels, "mean": float(np.mean(sounding)) if sounding else None}


def continue_seed(mg, seed: Seed, bars: int, options: dict) -> tuple[Score | None, str | None]:
    """The new bars alone (from tick 0), or the error of a seed the model cannot continue."""
    try:
        result = mg.continue_midi(seed.score, bars, seed=seed.draw, mood_candidates=1, **options)
    except ValueError as err:  # InputError: a seed or request the model cannot continue
        return None, str(err).splitlines()[0]
    return result.continuation.score, None


# --------------------------------------------------------------------------- summaries


def _share(hits: list[bool]) -> float:
    return float(np.mean(hits)) if hits else math.nan


def mode_summary(jobs: list[Job], seeds: list[Seed]) -> dict:
    """Per way of asking and per finder: the share of continuations whose mode is the asked
    one (a continuation without pitched notes matches nothing), by seed kind and in all, and a
    2 x 2 confusion (asked x found) over all seeds."""
    result: dict = {}
    for way in WAYS:
        chosen = [j for j in jobs if j.control == way]
        if not chosen:
            continue
        entry: dict = {"asked": {m: (m if way == "key" else MODE_MOODS[m]) for m in MODES}}
        for finder in FINDERS:
            row = {}
            for kind in (*KINDS, "all"):
                some = [j for j in chosen if kind in ("all", seeds[j.seed].kind)]
                found = [(j.found or {}).get(finder) for j in some]
                row[kind] = {
                    "agreement": _share([f == j.asked for f, j in zip(found, some, strict=True)]),
                    "n": len(some),
                    "no_mode": sum(f is None for f in found),
                }
            matrix = np.zeros((2, 2), dtype=int)
            for j in chosen:
                mode = (j.found or {}).get(finder)
                if mode in MODES:
                    matrix[MODES.index(str(j.asked)), MODES.index(mode)] += 1
            entry[finder] = row | {"confusion": matrix.tolist()}
        both = [j.found for j in chosen if j.found and None not in j.found.values()]
        entry["finders_agree"] = _share([f["music21"] == f["project"] for f in both])
        result[way] = entry
    return result


def level_summary(jobs: list[Job], seeds: list[Seed], control: str) -> dict:
    """Spearman of asked vs measured level by seed kind and in all, one row per asked level
    (mean measured level, continuations, silent ones) and a confusion of asked x measured
    (the mean rounded) over all seeds."""
    chosen = [j for j in jobs if j.control == control]
    top = TOP_LEVEL[control]

    def mean_of(j: Job) -> float:
        value = (j.found or {}).get("mean")
        return math.nan if value is None else float(value)

    result: dict = {"spearman": {}, "n": {}, "rows": []}
    for kind in (*KINDS, "all"):
        some = [j for j in chosen if kind in ("all", seeds[j.seed].kind)]
        measured = [mean_of(j) for j in some]
        result["spearman"][kind] = judges.spearman([float(j.asked) for j in some], measured)
        result["n"][kind] = int(np.isfinite(measured).sum()) if measured else 0
    for level in ASKED_LEVELS[control]:
        row: dict = {"asked": level}
        for kind in (*KINDS, "all"):
            values = [mean_of(j) for j in chosen
                      if j.asked == level and kind in ("all", seeds[j.seed].kind)]  # fmt: skip
            finite = [v for v in values if math.isfinite(v)]
            row[kind] = {"mean": float(np.mean(finite)) if finite else math.nan,
                         "n": len(values), "silent": len(values) - len(finite)}  # fmt: skip
        result["rows"].append(row)
    matrix = np.zeros((top, top), dtype=int)
    for j in chosen:
        value = mean_of(j)
        if math.isfinite(value):
            matrix[int(j.asked) - 1, min(top, max(1, math.floor(value + 0.5))) - 1] += 1
    result["labels"] = [str(v) for v in range(1, top + 1)]
    result["confusion"] = matrix.tolist()
    return result


# --------------------------------------------------------------------------- style


def style_section(mg, cfg: ControlsConfig, seeds: list[Seed], bar) -> dict:
    """The style classifier of `evaluate.control` (trained on the corpus's train split) on
    continuations of the neutral seeds asked for each style, guidance as shipped."""
    from musegen.data.shards import Shards
    from musegen.evaluate.config import EvalConfig
    from musegen.evaluate.control import style_control, style_key, train_style_classifier
    from musegen.evaluate.held_out import Generation, Pieces
    from musegen.generate.request import STYLE_GUIDANCE

    pieces, shards = Pieces(cfg.corpus), Shards.open(cfg.shards)
    train = [p["id"] for p in shards.pieces("train")]
    test = [p["id"] for p in shards.pieces("test")]
    known = {pieces.rows[i]["style"] for i in train if i in pieces.rows}
    styles = [s for s in mg.styles if s in known]
    if len(styles) < 2 or not test:
        return {"skipped": f"{cfg.corpus}: fewer than two of the checkpoint's styles in its "
                           "train split, or no test pieces"}  # fmt: skip
    ecfg = EvalConfig(out=Path("."), corpus=cfg.corpus, shards=cfg.shards, quick=cfg.quick,
                      seed=cfg.seed, max_bars=cfg.new_bars)  # fmt: skip
    task = bar.add_task("controls: style classifier", total=None)
    classifier = train_style_classifier(
        pieces, train, styles, ecfg, lambda done, total: bar.update(task, completed=done,
                                                                    total=total)
    )  # fmt: skip
    neutral = [i for i, s in enumerate(seeds) if s.kind == "neutral"]
    jobs = [Generation(i, st, None, STYLE_GUIDANCE, cfg.new_bars, neutral=True)
            for i in neutral for st in styles]  # fmt: skip
    task = bar.add_task("controls: styles", total=len(jobs))
    for job in jobs:
        new, _ = continue_seed(mg, seeds[job.seed], cfg.new_bars, {"style": job.style})
        job.score = new if new is not None else seeds[job.seed].score.clip(0, 0)
        bar.advance(task)
    found = style_control(classifier, pieces, test, styles, jobs, ecfg)
    asked = found[style_key(jobs[0])]
    return {"styles": styles, "chance": found["chance"], "guidance": STYLE_GUIDANCE,
            "real": found["real"], "continuations": asked,
            "share_of_real": asked["balanced_accuracy"] / found["real"]["balanced_accuracy"]
            if found["real"]["balanced_accuracy"] else math.nan}  # fmt: skip


# --------------------------------------------------------------------------- the run


def evaluate_controls(cfg: ControlsConfig, say: Callable[[str], None] = print,
                      progress: bool = True) -> dict:  # fmt: skip
    """Run every continuation and judge it; returns the report (every number and every job)."""
    from musegen import MuseGen
    from musegen.progress import progress_bar

    mg = MuseGen.from_pretrained(cfg.checkpoint)
    ckpt = mg.checkpoint
    if not ckpt.tokenizer.has_controls:
        raise InputError(f"checkpoint {ckpt.name} ({ckpt.path}) has no bar plans: key, density, "
                         "polyphony and register controls are not supported by it; evaluate a "
                         "checkpoint trained with plan tokens")  # fmt: skip
    started = time.perf_counter()
    seeds = neutral_seeds(cfg)
    found, skipped = real_seeds(cfg, say)
    seeds += found
    jobs = plan_jobs(seeds, mg.moods)
    with progress_bar(progress) as bar:
        task = bar.add_task("controls: continuations", total=len(jobs))
        for job in jobs:
            seed = seeds[job.seed]
            new, job.error = continue_seed(mg, seed, cfg.new_bars, job.options(seed))
            if new is not None:
                job.found = measure(job.control, new, cfg.new_bars)
            bar.advance(task)
        style = (style_section(mg, cfg, seeds, bar) if cfg.corpus is not None
                 else {"skipped": "no --corpus given"})  # fmt: skip
    report = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "checkpoint": {"name": ckpt.name, "path": str(ckpt.path), "sha256": ckpt.sha256},
        "seeds": [
            {"name": s.name, "kind": s.kind, "tonic": labels.PITCH_NAMES[s.tonic], "draw": s.draw}
            for s in seeds
        ],
        "skipped": skipped,
        "mode": mode_summary(jobs, seeds),
        "levels": {c: level_summary(jobs, seeds, c) for c in ASKED_LEVELS},
        "style": style,
        "failed_generations": sum(j.error is not None for j in jobs),
        "jobs": [
            {
                "seed": seeds[j.seed].name,
                "control": j.control,
                "asked": j.asked,
                "found": j.found,
                "error": j.error,
            }
            for j in jobs
        ],
    }
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def command_line(cfg: ControlsConfig, out: Path) -> str:
    """The command that reproduces a run."""
    parts = ["musegen evaluate controls"] + ([cfg.checkpoint] if cfg.checkpoint else [])
    if cfg.seeds is not None:
        parts += [f"--seeds {cfg.seeds}", f"--files {cfg.files}", f"--seed-bars {cfg.seed_bars}"]
    if cfg.corpus is not None:
        parts += [f"--corpus {cfg.corpus}", f"--shards {cfg.shards}"]
    parts += ["--quick"] if cfg.quick else []
    return " ".join([*parts, f"--new-bars {cfg.new_bars}", f"--seed {cfg.seed}", f"--out {out}"])


def controls_command(cfg: ControlsConfig, say: Callable[[str], None] = print,
                     progress: bool = True) -> dict:  # fmt: skip
    """Evaluate, write OUT/report.md, results.json and the confusion PNGs, print the table."""
    from musegen.evaluate.controls_report import table, write_report

    report = evaluate_controls(cfg, say=say, progress=progress)
    out = cfg.out or Path(report["checkpoint"]["path"]) / "evaluation" / "controls"
    report["command"] = command_line(cfg, out)
    say(table(report))
    written = write_report(report, out)
    say(f"controls report: {', '.join(str(p) for p in written)}")
    return report
