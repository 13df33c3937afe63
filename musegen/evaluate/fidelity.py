"""`musegen evaluate fidelity DIR`: does a continuation carry real songs on?

For each MIDI song in a folder (sorted by path, at most `songs`): the first `seed_bars` bars
are the seed; the model continues `new_bars` bars. Three sets of new bars are judged against
the seed's last `new_bars` bars with the measures of `fidelity_measures`:
the song's real next bars (the ceiling), a loop of the seed's last bars (the copy floor:
perfect on every similarity measure, copy rate 1) and the model's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from symusic import Score, Track

from musegen.errors import InputError
from musegen.evaluate.fidelity_measures import MEASURES, aggregate, bar_starts, compare
from musegen.music.timeline import cut

SYSTEMS = ("ceiling", "loop_floor", "model")
SYSTEM_NAMES = {
    "ceiling": "song's real next bars",
    "loop_floor": "loop of the seed's last bars",
    "model": "model",
}
MIDI_SUFFIXES = (".mid", ".midi", ".kar")


@dataclass
class FidelityConfig:
    """What to evaluate; `quick` (2 songs, 4 + 2 bars) is a smoke test, not a result."""

    folder: Path
    checkpoint: str | None = None  # folder or name; None: the shipped default
    seed_bars: int | None = None  # default 8, quick 4
    new_bars: int | None = None  # default 4, quick 2
    songs: int | None = None  # at most this many songs; default 20, quick 2
    quick: bool = False
    seed: int = 0  # sampling seed, the same for every song (a song's result is its own)
    key: str | None = None  # the continuations' `key` ("seed": keep the seed's last key)
    adapt_steps: int = 0  # the continuations' `adapt_steps` (adapting to the seed first)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        defaults = {"seed_bars": (8, 4), "new_bars": (4, 2), "songs": (20, 2)}
        for name, (full, quick) in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, quick if self.quick else full)
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} {getattr(self, name)}: use 1 or more")
        if self.new_bars > self.seed_bars:
            raise InputError(
                f"--new-bars {self.new_bars} is more than --seed-bars "
                f"{self.seed_bars}: the loop floor repeats the seed's last "
                "new-bars bars, so use new-bars <= seed-bars"
            )
        if not self.folder.is_dir():
            raise InputError(f"{self.folder}: no such folder; give a folder of MIDI files")


@dataclass
class Song:
    """One song cut for evaluation; every score starts at tick 0, seed tracks first."""

    name: str
    seed: Score  # bars [0, seed_bars), only tracks with notes there
    reference: Score  # the seed's last new_bars bars
    ceiling: Score  # the real next new_bars bars (+ tracks that enter there)
    new_start: int  # the song's bar line where new bars begin
    info: dict = field(default_factory=dict)


def midi_files(folder: Path) -> list[Path]:
    """MIDI files under `folder`, recursively, in a fixed order (by relative path)."""
    files = [p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def prepare(path: Path, name: str, seed_bars: int, new_bars: int) -> Song | str:
    """The song cut into seed, reference and ceiling, or the reason it cannot be used."""
    try:
        song = Score(str(path))
    except Exception as err:  # symusic raises RuntimeError, ValueError, ... on damaged files
        return f"unreadable ({str(err).splitlines()[0][:100] if str(err) else type(err).__name__})"
    lines = bar_starts(song, seed_bars + new_bars)
    start, end = int(lines[seed_bars]), int(lines[-1])
    last = [int(t.notes.numpy()["time"].max()) for t in song.tracks if len(t.notes)]
    if not last or max(last) < int(lines[-2]):  # no note in the last bar to compare
        return f"shorter than {seed_bars + new_bars} bars"
    seed_full = cut(song, 0, start, truncate=True)
    keep = [i for i, t in enumerate(seed_full.tracks) if len(t.notes)]
    later = [i for i, t in enumerate(song.tracks) if i not in keep]
    ordered = song.copy()
    ordered.tracks = [song.tracks[i].copy() for i in keep + later]  # seed tracks first
    seed = cut(ordered, 0, start, truncate=True)
    seed.tracks = [t.copy() for t in seed.tracks[: len(keep)]]
    reference = cut(seed, int(lines[seed_bars - new_bars]), start, truncate=True)
    if not any(len(t.notes) for t in reference.tracks):
        return f"silent in bars {seed_bars - new_bars + 1}-{seed_bars}"
    onsets = np.concatenate([t.notes.numpy()["time"] for t in seed.tracks]).astype(np.int64)
    phase = np.bincount(onsets * 12 % song.ticks_per_quarter)  # in 1/12 ticks
    info = {
        # Share of seed onsets on one 12-per-quarter grid, and that grid's offset from the
        # bar lines: low for unquantised performances, where onset overlap and copy rate mean
        # little even for the ceiling; an offset moves every onset off the bar grid.
        "on_grid": round(float(phase.max() / len(onsets)), 2),
        "grid_offset_ticks": round(int(phase.argmax()) / 12, 2),
        "tpq": song.ticks_per_quarter,
        "tracks": len(song.tracks),
        "seed_tracks": len(keep),
        "drum_tracks": sum(t.is_drum for t in seed.tracks),
    }
    return Song(name, seed, reference, cut(ordered, start, end, truncate=True), start, info)


def loop_floor(song: Song) -> Score:
    """The copy floor: the seed's last bars played once more."""
    return song.reference.copy()


def model_bars(mg, song: Song, new_bars: int, seed: int, key: str | None = None,
               adapt_steps: int = 0) -> tuple[Score, dict]:  # fmt: skip
    """The model's new bars, through the public API, with tracks in the seed's order."""
    started = time.perf_counter()
    try:
        result = mg.continue_midi(song.seed, new_bars, seed=seed, mood_candidates=1, key=key,
                                  adapt_steps=adapt_steps)  # fmt: skip
    except ValueError as err:  # InputError: a seed the model cannot continue
        return song.reference.clip(0, 0), {"error": str(err).splitlines()[0]}  # no notes
    new = result.continuation.score
    info = {"new_start": int(result.new_start), "seconds": round(time.perf_counter() - started, 3)}
    if result.new_start != song.new_start:  # the seed ends on its bar line unless its last
        # bar is silent: the model then starts at the bar after its last note
        info["start_mismatch"] = (
            f"new bars start at tick {result.new_start}, not the song's bar line {song.new_start}"
        )
    return aligned(new, song.seed, info), info


def aligned(new: Score, seed: Score, info: dict) -> Score:
    """`new` with its tracks reordered to the seed's (an empty track where one is missing),
    then any other tracks. Matched by position when programs agree, else by name/program."""
    out = new.copy()
    key = [(t.program, t.is_drum) for t in seed.tracks]
    if [(t.program, t.is_drum) for t in new.tracks[: len(key)]] == key:
        return out
    free = list(range(len(new.tracks)))
    order: list[Track] = []
    for t in seed.tracks:
        match = next(
            (
                j
                for j in free
                if (new.tracks[j].name, new.tracks[j].program, new.tracks[j].is_drum)
                == (t.name, t.program, t.is_drum)
            ),
            None,
        )
        if match is None:
            match = next(
                (
                    j
                    for j in free
                    if (new.tracks[j].program, new.tracks[j].is_drum) == (t.program, t.is_drum)
                ),
                None,
            )
        if match is None:
            order.append(Track(name=t.name, program=t.program, is_drum=t.is_drum))
            info.setdefault("missing_tracks", []).append(t.name or f"program {t.program}")
        else:
            free.remove(match)
            order.append(new.tracks[match].copy())
    out.tracks = order + [new.tracks[j].copy() for j in free]
    return out


def evaluate_fidelity(cfg: FidelityConfig, say: Callable[[str], None] = print) -> dict:
    """Run the evaluation; returns the report (every number, per song and aggregated)."""
    from musegen import MuseGen

    mg = MuseGen.from_pretrained(cfg.checkpoint)
    files = midi_files(cfg.folder)
    if not files:
        raise InputError(f"{cfg.folder}: no MIDI files (.mid, .midi) in it or below it")
    songs, skipped, started = [], [], time.perf_counter()
    for path in files:
        if len(songs) >= cfg.songs:
            break
        name = path.relative_to(cfg.folder).as_posix()
        song = prepare(path, name, cfg.seed_bars, cfg.new_bars)
        if isinstance(song, str):
            skipped.append({"song": name, "reason": song})
            continue
        new, info = model_bars(mg, song, cfg.new_bars, cfg.seed, cfg.key, cfg.adapt_steps)
        bars = {"ceiling": song.ceiling, "loop_floor": loop_floor(song), "model": new}
        counts = {
            s: compare(song.seed, song.reference, bars[s], cfg.seed_bars, cfg.new_bars)
            for s in SYSTEMS
        }
        songs.append({"song": name, **song.info, "model": info, "counts": counts})
        problem = info.get("start_mismatch") or info.get("error")
        say(
            f"fidelity: {name}: {len(song.seed.tracks)} seed tracks"
            + (f" ({problem})" if problem else "")
        )
    if not songs:
        reasons = "; ".join(f"{s['song']}: {s['reason']}" for s in skipped[:5])
        raise InputError(
            f"{cfg.folder}: no song has {cfg.seed_bars + cfg.new_bars} bars to "
            f"use ({reasons}); lower --seed-bars/--new-bars"
        )
    ckpt = mg.checkpoint
    return {
        "config": {**asdict(cfg), "folder": str(cfg.folder)},
        "checkpoint": {"name": ckpt.name, "path": str(ckpt.path), "sha256": ckpt.sha256},
        "measures": dict(MEASURES),
        "results": {s: aggregate(song["counts"][s] for song in songs) for s in SYSTEMS},
        "start_mismatches": sum("start_mismatch" in s["model"] for s in songs),
        "failed_generations": sum("error" in s["model"] for s in songs),
        "songs": songs,
        "skipped": skipped,
        "seconds": round(time.perf_counter() - started, 1),
    }


def command_line(cfg: FidelityConfig, out: Path | None = None) -> str:
    """The command that reproduces a run."""
    parts = ["musegen evaluate fidelity", str(cfg.folder)]
    if cfg.checkpoint:
        parts.append(f"--checkpoint {cfg.checkpoint}")
    if cfg.quick:
        parts.append("--quick")
    parts += (
        [
            f"--seed-bars {cfg.seed_bars}",
            f"--new-bars {cfg.new_bars}",
            f"--songs {cfg.songs}",
            f"--seed {cfg.seed}",
        ]
        + ([f"--key {cfg.key}"] if cfg.key else [])
        + ([f"--adapt-steps {cfg.adapt_steps}"] if cfg.adapt_steps else [])
    )
    return " ".join(parts + ([f"--out {out}"] if out else []))


def fidelity_command(
    folder: Path,
    checkpoint: str | None = None,
    seed_bars: int | None = None,
    new_bars: int | None = None,
    songs: int | None = None,
    quick: bool = False,
    out: Path | None = Path("out/fidelity"),
    seed: int = 0,
    key: str | None = None,
    adapt_steps: int = 0,
    say: Callable[[str], None] = print,
) -> dict:
    """Continue the first bars of each song in FOLDER and compare the new bars, per track,
    with the song's own next bars and with a loop of the seed. Writes OUT/report.md,
    report.json and fidelity.png; prints the table."""
    from musegen.evaluate.fidelity_report import table, write_report

    cfg = FidelityConfig(folder, checkpoint, seed_bars, new_bars, songs, quick, seed, key,
                         adapt_steps)  # fmt: skip
    report = evaluate_fidelity(cfg, say=say)
    report["command"] = command_line(cfg, out)
    say(table(report))
    if out is not None:
        written = write_report(report, out)
        say(f"fidelity report: {', '.join(str(p) for p in written)}")
    return report
