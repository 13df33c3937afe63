"""Write a fidelity evaluation as report.json (every number), report.md (the table, the
definitions, per song) and fidelity.png (a grouped bar chart: ceiling, loop floor, model).

Nothing here measures: it formats what `musegen.evaluate.fidelity` found. The picture uses
matplotlib's object API (Figure + Agg canvas), so no global pyplot state changes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from musegen.evaluate.fidelity import SYSTEM_NAMES, SYSTEMS
from musegen.evaluate.fidelity_measures import GRID, MEASURES
from musegen.io.files import atomic_write_bytes

COLUMNS = {"ceiling": "ceiling (real next bars)", "loop_floor": "loop floor", "model": "model"}
UNITS = {
    "drums_continued": "songs",
    "key_music21": "songs",
    "key_kk": "songs",
    "register_within_5": "pitched tracks",
    "register_shift": "pitched tracks",
    "copy_rate": "new bars",
}
SHORT = {
    "keep_playing": "keep\nplaying",
    "drums_continued": "drums\ncontinued",
    "density_within_2x": "notes per bar\nwithin 2x",
    "onset_overlap": "onset\noverlap",
    "register_within_5": "register\nwithin 5 st",
    "key_music21": "key kept\n(music21)",
    "key_kk": "key kept\n(find_key)",
    "copy_rate": "copy\nrate",
}
SCALAR = {"register_shift"}  # not a share in [0, 1]: in the table, not in the picture

DEFINITIONS = f"""\
Every measure compares the new bars with the seed's last bars (the reference), per seed track
(a track with notes in the reference); figures pool all tracks (bars, songs) of the folder.

- **keep playing**: the track has notes in the new bars.
- **drums continued**: of the songs whose seed has drum notes, those with drum notes in the
  new bars (any drum track).
- **notes per bar within a factor 2**: new notes / reference notes in [0.5, 2] (same number
  of bars); a silent track fails.
- **onset overlap**: onset positions in the bar on a {GRID}-per-bar grid (relative to each
  bar's own length), histogram intersection sum(min(p, q)) = 1 - total variation distance;
  a silent track scores 0.
- **register within 5**: pitched (non-drum) tracks whose mean pitch moves by at most 5
  semitones; a silent track fails. **Register shift**: the mean absolute change of mean
  pitch, over pitched tracks playing in both (n in brackets).
- **key kept**: key (tonic and mode) of all pitched notes of the new bars equals the
  reference's; songs whose reference has pitched notes. Two finders, separately: music21's
  default `analyze('key')` (AardenEssen weights, duration-weighted) and musegen's
  Krumhansl-Kessler `find_key` (duration-weighted).
- **copy rate**: new bars with notes on seed tracks whose set of (onset after the bar line,
  pitch) equals that of a bar the seed has on the same track (n in brackets).

The **ceiling** is the song's own next bars; the **loop floor** plays the seed's last bars
again, so it scores 1 on every similarity measure and on copy rate by construction: a model
should approach the ceiling, not the floor's copy rate.
"""


def _value(entry: dict, digits: int = 2) -> str:
    value = entry.get("value")
    return "n/a" if value is None else f"{value:.{digits}f}"


def cell(key: str, entry: dict) -> str:
    """One table cell: a share, `k of n` for songs with drums, n in brackets where it varies."""
    if key == "drums_continued":
        return f"{entry['count']} of {entry['of']}" if entry["of"] else "n/a (no drums)"
    if key in ("copy_rate", "register_shift"):
        return f"{_value(entry)} ({entry['of']})"
    return _value(entry)


def table(report: dict) -> str:
    """The headline table as markdown: a row per measure, a column per system, model/ceiling."""
    res = report["results"]
    head = ["measure", "n"] + [COLUMNS[s] for s in SYSTEMS] + ["model / ceiling"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label in MEASURES:
        ceiling, model = res["ceiling"][key]["value"], res["model"][key]["value"]
        if key in SCALAR:  # a distance: the difference says more than a ratio near 0
            ratio = f"{model - ceiling:+.2f} st" if None not in (model, ceiling) else "n/a"
        else:
            ratio = f"{model / ceiling:.2f}" if model is not None and ceiling else "n/a"
        n = f"{res['ceiling'][key]['of']} {UNITS.get(key, 'tracks')}"
        cells = [label, n] + [cell(key, res[s][key]) for s in SYSTEMS] + [ratio]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def markdown(report: dict) -> str:
    cfg, ckpt = report["config"], report["checkpoint"]
    lines = [
        "# Fidelity: does the continuation carry the song on?",
        "",
        f"Checkpoint `{ckpt['name']}` ({ckpt['sha256'][:12]}); folder `{cfg['folder']}`: "
        f"{len(report['songs'])} songs, the first {cfg['seed_bars']} bars continued by "
        f"{cfg['new_bars']}; sampling seed {cfg['seed']}"
        + (" (quick: a smoke test, not a result)" if cfg["quick"] else "")
        + ".",
        "",
        f"Reproduce: `{report.get('command', '')}`",
        "",
        table(report),
        "",
        "![fidelity](fidelity.png)",
        "",
        DEFINITIONS,
        "Songs where the model's new bars do not start on the song's bar line (the seed is cut "
        "there, so only a silent last seed bar moves them): "
        f"{report['start_mismatches']}; "
        f"failed generations (counted as silent): {report['failed_generations']}. "
        f"Run time {report['seconds']} s.",
        "",
        "## Per song",
        "",
        "`on grid`: the share of the seed's onsets on one 12-per-quarter grid, and (in",
        "brackets) that grid's offset in ticks from the file's bar lines. An unquantised",
        "performance scores low: its onset overlap and copy rate mean little even for the",
        "ceiling. An offset (audio-aligned files with a lead-in) puts every onset off the",
        "file's beat grid, for the ceiling and the model alike.",
        "",
        "| song | seed tracks | on grid | judged | keep playing (ceiling / model) "
        "| copy rate (ceiling / model) | key, music21 (reference -> ceiling / model) |",
        "|---|---|---|---|---|---|---|",
    ]
    for song in report["songs"]:
        c, m = song["counts"]["ceiling"], song["counts"]["model"]
        keys = f"{c['key_music21_found'][0]} -> {c['key_music21_found'][1]} / "
        keys += str(m["key_music21_found"][1])
        note = song["model"].get("start_mismatch") or song["model"].get("error") or ""
        lines.append(
            f"| {song['song']}{' (' + note + ')' if note else ''} | {song['seed_tracks']} "
            f"| {song['on_grid']:.2f} ({song['grid_offset_ticks']:g}) | {c['tracks']} "
            f"| {c['keep_playing']} / {m['keep_playing']} "
            f"| {c['copied_bars']}/{c['new_bars']} / {m['copied_bars']}/{m['new_bars']} "
            f"| {keys} |"
        )
    if report["skipped"]:
        lines += [
            "",
            "Skipped: "
            + "; ".join(f"{s['song']} ({s['reason']})" for s in report["skipped"])
            + ".",
        ]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> Path:
    """Grouped bars: each share measure for ceiling, loop floor and model."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    keys = [k for k, _ in MEASURES if k not in SCALAR]
    x = np.arange(len(keys))
    fig = Figure(figsize=(10, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.8 / len(SYSTEMS)
    colours = {"ceiling": "#4C72B0", "loop_floor": "#BBBBBB", "model": "#DD8452"}
    for j, system in enumerate(SYSTEMS):
        values = [report["results"][system][k]["value"] for k in keys]
        heights = np.array([np.nan if v is None else v for v in values])
        offset = x + (j - (len(SYSTEMS) - 1) / 2) * width
        ax.bar(offset, heights, width, label=SYSTEM_NAMES[system], color=colours[system])
        for xi, v in zip(offset, values, strict=True):  # zeros would be invisible bars
            ax.text(
                xi,
                (v or 0) + 0.01,
                "n/a" if v is None else f"{v:.2f}",
                ha="center",
                va="bottom",
                fontsize=6,
            )
    ax.set_xticks(x, [SHORT[k] for k in keys], fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("share")
    cfg = report["config"]
    ax.set_title(
        f"Fidelity of {report['checkpoint']['name']}: {len(report['songs'])} songs, "
        f"{cfg['seed_bars']} seed bars + {cfg['new_bars']} new",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plain_json(value):
    """json.dumps' `default` for the numpy scalars a report holds."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_report(report: dict, out: str | os.PathLike) -> list[Path]:
    """report.json, report.md and fidelity.png in `out`; returns the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    picture = plot(report, out / "fidelity.png")
    report["plot"] = picture.name
    text = json.dumps(report, indent=2, default=plain_json, allow_nan=False)
    return [
        atomic_write_bytes(out / "report.json", (text + "\n").encode()),
        atomic_write_bytes(out / "report.md", markdown(report).encode()),
        picture,
    ]
