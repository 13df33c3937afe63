"""Write an infill evaluation as results.json (every number), report.md (a table per case:
model, real part, ratio, target) and infill.png (one song before and after, drawn with the
API's own piano roll, `Infilled.plot`).

Nothing here measures: it formats what `musegen.evaluate.infill_eval` found.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

from musegen.evaluate.fidelity_report import plain_json
from musegen.evaluate.infill_eval import MEASURES, NEAR_QUARTERS, ON_QUARTERS, TASKS
from musegen.io.files import atomic_write_bytes
from musegen.music.timeline import cut

DEFINITIONS = f"""\
Each case is measured twice, the same way. **model**: the regenerated material against the
real part in the same bars. **real part** (the ceiling): the real part against its
surroundings, the same tracks in as many bars before and after the asked bars as there are
asked bars (fewer at the piece's edges). Fit measures judge each against the other tracks of
its own version. Figures pool all tracks (onsets, bars, songs) of the folder; **model / real**
is the model's value as a share of the real part's, target at least 0.85.

- **notes per bar within a factor 2**: per track, notes per bar / the reference's in [0.5, 2].
- **onset-grid overlap**: onset positions in the bar (48 per bar) as histograms,
  sum(min(p, q)) (musegen.evaluate.fidelity_measures).
- **mean pitch within 5 semitones / distance**: pitched tracks; the distance's column gives
  model minus real.
- **key kept**: key of all pitched notes equals the reference's; music21's default analysis
  and musegen's find_key, separately (musegen.evaluate.judges).
- **onsets on / within a 16th of another track's**: distinct onsets of a track within
  {ON_QUARTERS:g} / {NEAR_QUARTERS:g} quarter of an onset of any other track in the same bars.
- **bass time on the chord root / a chord tone**: the added bass's sounding time
  (duration-weighted) whose pitch class is the root (a tone) of the chord the other tracks
  imply in that bar (musegen.music.attributes: one chord per bar); bars without one left out.
- **kicks and snares on other parts' onsets**: added drums, GM 35/36/38/40, within
  {ON_QUARTERS:g} quarter of an onset of another track.
- **joins** (the model must score 1): the first asked bar holds a new note (songs whose real
  part plays there); no new note rings past the region's end; every note that starts outside
  the region, the bars before and after it included, is unchanged. For the real part the
  crossing row counts its notes tied over the region's end (music does that).
- **asked bars with a note**: bars of the region where the material starts a note.
"""

TASK_TITLES = {
    "infill": "Regenerate bars {r0}-{r1}, all tracks",
    "bass": "Remove the bass, add it back over bars {p0}-{p1}",
    "drums": "Remove the drums, add them back over bars {p0}-{p1}",
}


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def rows(report: dict, task: str) -> list[list[str]]:
    """[measure, n, model, real part, model / real, target, met] for the measures judged."""
    res, target = report["results"][task], report["target"]
    out = []
    for key, label, kind, unit in MEASURES:
        model, real = res["model"][key], res["real"][key]
        if not model["of"] and not real["of"]:
            continue
        m, r = model["value"], real["value"]
        counts = [model["of"]] if kind == "join" or model["of"] == real["of"] else [
            model["of"], real["of"]]  # fmt: skip
        n = " / ".join(f"{c:.0f}" for c in counts) + f" {unit}"
        if kind == "distance":
            ratio = f"{m - r:+.2f} st" if None not in (m, r) else "n/a"
            goal, met = "-", "-"
        elif kind == "join":
            ratio, goal = "-", "1 (all)"
            met = "n/a" if m is None else ("yes" if m >= 1.0 else "no")
        else:
            ratio = f"{m / r:.2f}" if m is not None and r else "n/a"
            goal = f">= {target:g}"
            met = "n/a" if ratio == "n/a" else ("yes" if m / r >= target else "no")
        out.append([label, n, _num(m), _num(r), ratio, goal, met])
    return out


def _title(report: dict, task: str) -> str:
    cfg = report["config"]
    (r0, r1), (p0, p1) = cfg["region"], cfg["part_bars"]
    res = report["results"][task]
    failed = f", {res['failed']} failed (left out)" if res["failed"] else ""
    return (
        TASK_TITLES[task].format(r0=r0, r1=r1, p0=p0, p1=p1)
        + f": {res['songs']} song{'s' if res['songs'] != 1 else ''}{failed}"
    )


def table(report: dict) -> str:
    """The headline tables as markdown, one per case that ran."""
    head = ["measure", "n", "model", "real part", "model / real", "target", "met"]
    blocks = []
    for task in TASKS:
        if not report["results"][task]["songs"]:
            blocks.append(f"**{_title(report, task)}** (no song has one)")
            continue
        lines = [f"**{_title(report, task)}**", "", "| " + " | ".join(head) + " |",
                 "|" + "---|" * len(head)]  # fmt: skip
        lines += ["| " + " | ".join(r) + " |" for r in rows(report, task)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def markdown(report: dict) -> str:
    cfg, ckpt = report["config"], report["checkpoint"]
    lines = [
        "# Infill and added parts against real songs",
        "",
        f"Checkpoint `{ckpt['name']}` ({ckpt['sha256'][:12]}); folder `{cfg['folder']}`: "
        f"{len(report['songs'])} songs; sampling seed {cfg['seed']}"
        + (" (quick: a smoke test, not a result)" if cfg["quick"] else "")
        + f". Run time {report['seconds']} s.",
        "",
        f"Reproduce: `{report.get('command', '')}`",
        "",
        table(report),
        "",
    ]
    if report.get("plot"):
        lines += [f"![before and after]({report['plot']})", ""]
    lines += [DEFINITIONS, "## Per song", "",
              "| song | tracks | bars | infill: new / real notes, s | bass | drums |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for song in report["songs"]:
        cells = []
        for task in TASKS:
            case = song["cases"][task]
            if case is None:
                cells.append("-")
            elif "error" in case:
                cells.append(f"error: {case['error']}")
            else:
                cells.append(f"{case['new_notes']} / {case['real_notes']}, {case['seconds']} s")
        lines.append(f"| {song['song']} | {song['tracks']} | {song['bars']} | "
                     + " | ".join(cells) + " |")  # fmt: skip
    if report["skipped"]:
        skipped = "; ".join(f"{s['song']} ({s['reason']})" for s in report["skipped"])
        lines += ["", f"Skipped: {skipped}."]
    return "\n".join(lines) + "\n"


def picture(example: tuple, path: Path) -> Path:
    """One song before (the real bars, region shaded) and after, stacked in one PNG; each
    panel is the API's `Infilled.plot` of the piece up to the bars after the region."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    name, song, result, (first, last) = example
    until = int(song.lines[min(song.bars, 2 * last - first + 1)])
    model = result.provenance["checkpoint"]["name"]
    panels = (
        (song.score, f"{name}: before (the song's own bars {first}-{last} shaded)"),
        (result.score, f"after: bars {first}-{last} regenerated by {model}"),
    )
    images = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (score, title) in enumerate(panels):
            shown = replace(result, score=cut(score, 0, until, truncate=True))
            images.append(imread(shown.plot(Path(tmp) / f"{k}.png", title=title)))
    height, width = sum(i.shape[0] for i in images), max(i.shape[1] for i in images)
    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    FigureCanvasAgg(fig)
    for k, image in enumerate(images):
        ax = fig.add_axes((0, 1 - (k + 1) / len(images), 1, 1 / len(images)))
        ax.imshow(image)
        ax.set_axis_off()
    fig.savefig(path, dpi=100)
    return path


def write_report(report: dict, out: str | os.PathLike, example: tuple | None = None
                 ) -> list[Path]:  # fmt: skip
    """results.json, report.md and (with an example) infill.png in `out`; the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if example is not None:
        written.append(picture(example, out / "infill.png"))
        report["plot"] = written[-1].name
    text = json.dumps(report, indent=2, default=plain_json, allow_nan=False)
    return [atomic_write_bytes(out / "results.json", (text + "\n").encode()),
            atomic_write_bytes(out / "report.md", markdown(report).encode()), *written]  # fmt: skip
