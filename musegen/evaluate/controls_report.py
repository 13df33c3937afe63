"""Write a controls evaluation as results.json (every number and job), report.md (tables) and
confusion-matrix PNGs (asked x measured) for each level control and each way of asking a mode.

Nothing here measures: it formats what `musegen.evaluate.controls` found.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from musegen.evaluate import judges
from musegen.evaluate.controls import ASKED_LEVELS, FINDERS, KINDS, MODE_MOODS, MODES

KIND_NAMES = {"neutral": "neutral seeds", "real": "real seeds", "all": "all"}
WAY_NAMES = {
    "key": "key (C, or the seed's tonic)",
    "mood": f"mood ({', '.join(f'{m}: {mode}' for mode, m in MODE_MOODS.items())})",
}


def _kinds(report: dict) -> list[str]:
    """The seed kinds present, and 'all' when there are several."""
    present = [k for k in KINDS if any(s["kind"] == k for s in report["seeds"])]
    return present + (["all"] if len(present) > 1 else [])


def _num(value: float | None, n: int | None = None) -> str:
    text = "-" if value is None or not math.isfinite(value) else f"{value:.2f}"
    return text if n is None else f"{text} (n {n})"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def mode_table(report: dict) -> list[str]:
    kinds = _kinds(report)
    lines = [_row(["asked through", "judged by", *(KIND_NAMES[k] for k in kinds),
                   "finders agree"]),
             _row(["---"] * (len(kinds) + 3))]  # fmt: skip
    for way, entry in report["mode"].items():
        for finder, name in FINDERS.items():
            cells = [_num(entry[finder][k]["agreement"], entry[finder][k]["n"]) for k in kinds]
            lines.append(_row([WAY_NAMES[way], name, *cells, _num(entry["finders_agree"])]))
    return lines


def spearman_table(report: dict) -> list[str]:
    kinds = _kinds(report)
    lines = [_row(["control", "asked levels", *(KIND_NAMES[k] for k in kinds)]),
             _row(["---"] * (len(kinds) + 2))]  # fmt: skip
    for control, entry in report["levels"].items():
        levels = ASKED_LEVELS[control]
        cells = [_num(entry["spearman"][k], entry["n"][k]) for k in kinds]
        lines.append(_row([control, f"{levels[0]}-{levels[-1]}", *cells]))
    return lines


def level_rows(report: dict, control: str) -> list[str]:
    """One row per asked level: mean measured level (continuations with that kind of note)."""
    kinds = _kinds(report)
    lines = [_row(["asked", *(KIND_NAMES[k] for k in kinds)]), _row(["---"] * (len(kinds) + 1))]
    for row in report["levels"][control]["rows"]:
        cells = []
        for k in kinds:
            cell = row[k]
            silent = f", {cell['silent']} silent" if cell["silent"] else ""
            cells.append(f"{_num(cell['mean'])} (n {cell['n']}{silent})")
        lines.append(_row([str(row["asked"]), *cells]))
    return lines


def style_lines(report: dict) -> list[str]:
    style = report["style"]
    if "skipped" in style:
        return [f"Not run: {style['skipped']} (give --corpus and --shards to train the style "
                "classifier of `evaluate.control` on the corpus's train split)."]  # fmt: skip
    real, asked = style["real"], style["continuations"]
    return [
        f"Neutral seeds asked for each of {len(style['styles'])} styles at guidance "
        f"{style['guidance']:g} (as shipped), scored by the style classifier; chance "
        f"{style['chance']:.2f}.", "",
        _row(["", "balanced accuracy", "n"]), _row(["---"] * 3),
        _row(["real held-out excerpts (the classifier's ceiling)",
              _num(real["balanced_accuracy"]), str(real["n"])]),
        _row(["continuations asked for a style", _num(asked["balanced_accuracy"]),
              str(asked["n"])]),
        _row(["share of the ceiling", _num(style["share_of_real"]), ""]),
    ]  # fmt: skip


def table(report: dict) -> str:
    """The headline tables: mode agreement and Spearman correlations."""
    return "\n".join(["Mode asked vs mode found in the new bars (share of continuations):",
                      *mode_table(report), "",
                      "Spearman correlation, asked vs measured level:",
                      *spearman_table(report)])  # fmt: skip


def markdown(report: dict, pictures: dict[str, str]) -> str:
    cfg = report["config"]
    seeds = ", ".join(f"{s['name']} ({s['tonic']})" for s in report["seeds"])
    out = [
        f"# Controls of `{report['checkpoint']['name']}`", "",
        f"Command: `{report['command']}`", "",
        "The network alone (one candidate, no mood check) continues each seed by "
        f"{cfg['new_bars']} bars, once per asked value, every asked value of a seed with the "
        "same random draw. Judges that generation never uses: the mode of the new bars by "
        "music21's default key analysis and by the project's key finder, each separately; "
        "the levels of the new bars by `musegen.music.attributes` (a continuation's level is "
        "the mean over its bars that hold that kind of note; 'silent' continuations have none "
        "and are left out of the correlation).", "",
        f"Seeds (asked tonic in brackets): {seeds}."
        + (f" Real seeds are the first {cfg['seed_bars']} bars of each file." if any(
            s["kind"] == "real" for s in report["seeds"]) else ""), "",
        "## Mode", "", "Share of continuations in the asked mode (a continuation without "
        "pitched notes counts as a miss).", "", *mode_table(report), "",
        "## Density, polyphony, register", "", *spearman_table(report), "",
    ]  # fmt: skip
    for control in ASKED_LEVELS:
        out += [f"### {control}: mean measured level per asked level", "",
                *level_rows(report, control), ""]  # fmt: skip
    out += ["## Style", "", *style_lines(report), "", "## Confusion matrices", ""]
    out += [f"![{name}]({file})" for name, file in pictures.items()]
    problems = [f"- {s['file']}: {s['reason']}" for s in report["skipped"]]
    if report["failed_generations"]:
        problems.append(f"- {report['failed_generations']} continuations failed (see results.json)")
    if problems:
        out += ["", "## Not used", "", *problems]
    return "\n".join(out) + "\n"


def pictures(report: dict, out: Path) -> dict[str, str]:
    """Confusion PNGs: each level control, each way of asking a mode by each finder."""
    made = {}
    for control, entry in report["levels"].items():
        path = judges.confusion_png(entry["confusion"], entry["labels"], out / f"{control}.png",
                                    f"{control}: asked x measured level")  # fmt: skip
        made[control] = path.name
    for way, entry in report["mode"].items():
        for finder in FINDERS:
            path = judges.confusion_png(entry[finder]["confusion"], MODES,
                                        out / f"mode_{way}_{finder}.png",
                                        f"mode asked by {way}, found by {finder}")  # fmt: skip
            made[f"mode by {way}, {finder}"] = path.name
    return made


def finite(value):
    """The report with NaN as null (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def write_report(report: dict, out: str | os.PathLike) -> list[Path]:
    """results.json, report.md and the PNGs in `out`; returns the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    made = pictures(report, out)
    written = []
    for name, text in (("results.json", json.dumps(finite(report), indent=2, allow_nan=False)
                        + "\n"), ("report.md", markdown(report, made))):  # fmt: skip
        path = out / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
        written.append(path)
    return written + [out / f for f in made.values()]
