"""Write an evaluation as report.json (every number), report.md (headlines) and PNG plots.

Nothing here computes a result: it formats what `musegen.evaluation` measured. Plots use
matplotlib's object API (Figure + Agg canvas), so no global pyplot state changes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from musegen.evaluate.metrics import STATISTICS
from musegen.generate.request import GUIDE_AGAINST
from musegen.io.files import atomic_write_bytes


def finite(value):
    """The report with NaN and infinities replaced by None, so the JSON is strict."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_report(report: dict, out: str | Path) -> list[Path]:
    """report.json, report.md and the plots in `out`; returns the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plots = {
        "realism": plot_realism(report["realism"], out / "realism.png"),
        "style": plot_style(report["style"], out / "style_confusion.png"),
        "mood": plot_mood(report["mood"], out / "mood_control.png"),
        "originality": plot_originality(report["originality"], out / "originality.png"),
    }
    report["plots"] = {k: p.name for k, p in plots.items()}
    text = json.dumps(finite(report), indent=2, allow_nan=False)
    written = [atomic_write_bytes(out / "report.json", text.encode())]
    written.append(atomic_write_bytes(out / "report.md", markdown(report).encode()))
    return written + list(plots.values())


# --------------------------------------------------------------------------- markdown


def _f(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _lowest(values) -> float | None:
    return min((v for v in values if v is not None), default=None)


def headlines(report: dict) -> list[tuple[str, str, str]]:
    """(section, measure, value) rows of the headline table."""
    lk, rl, st, md = report["likelihood"], report["realism"], report["style"], report["mood"]
    og, sp = report["originality"], report["speed"]
    best = lk["ngram_best"]
    rows = [
        ("Likelihood", "model: bits/note (nats/token)",
         f"{_f(lk['model']['bits_per_note'])} ({_f(lk['model']['nats_per_token'])})"),
        ("", f"best n-gram ({best['order']}-gram, Kneser-Ney): bits/note (nats/token)",
         f"{_f(best['bits_per_note'])} ({_f(best['nats_per_token'])})"),
        ("", 'model told "any" style and mood: bits/note (nats/token)',
         f"{_f(lk['model_any_condition']['bits_per_note'])} "
         f"({_f(lk['model_any_condition']['nats_per_token'])})"),
        ("", "test tokens scored (windows)", f"{lk['model']['tokens']} ({lk['windows']})"),
        ("Realism", "mean overlap of 7 statistics, generated vs real (lowest statistic)",
         f"{_f(rl['mean_overlap'])} "
         f"({_f(_lowest(s['overlap'] for s in rl['statistics'].values()))})"),
        ("", "same, on half-size sets: generated vs real (real vs real, the ceiling)",
         f"{_f(rl['mean_halves_overlap'])} ({_f(rl['mean_real_vs_real_overlap'])})"),
    ]  # fmt: skip
    if "guided" in rl:
        g, lowest = rl["guided"], _lowest(rl["guided"]["overlaps"].values())
        rows.append(("", f"mean overlap (lowest statistic) with guidance {g['guidance']:g}",
                     f"{_f(g['mean_overlap'])} ({_f(lowest)})"))  # fmt: skip
    rows += [
        ("Style", "classifier accuracy on real held-out excerpts (chance)",
         f"{_f(st['real']['accuracy'])} ({_f(st['chance'])})"),
        # The generated sets hold every style equally; the real one mostly folk and fiddle tunes.
        ("", "same, balanced: the mean of the per-style accuracies",
         _f(st["real"]["balanced_accuracy"])),
    ]  # fmt: skip
    for key in sorted(k for k in st if k.startswith("guidance_")):
        rows.append(("", f"accuracy on continuations (neutral seeds) asked for a style, "
                     f"{guidance_name(key)}",
                     _f(st[key]["accuracy"])))  # fmt: skip
    for what in ("valence", "arousal", "both"):
        rows.append(("Mood" if what == "valence" else "",
                     f"{what} matches the asked mood, neutral seeds, the model alone: "
                     "conditioned (unconditioned)",
                     f"{_f(md[f'conditioned_{what}_match'])} "
                     f"({_f(md[f'unconditioned_{what}_match'])})"))  # fmt: skip
    if "checked_valence_match" in md:
        rows.append(("", f"valence / arousal / both match, neutral seeds, with the mood check "
                     f"(best of {md['mood_candidates']} candidates, as the API and CLI do)",
                     " / ".join(_f(md[f"checked_{w}_match"])
                                for w in ("valence", "arousal", "both"))))  # fmt: skip
    for key in sorted(k for k in md if k.startswith("guidance_")):
        rows.append(
            (
                "",
                f"valence / arousal / both match, neutral seeds, guidance {key[9:]}",
                " / ".join(_f(md[key][f"{w}_match"]) for w in ("valence", "arousal", "both")),
            )
        )
    gen, real = og["generated"], og["real"]
    rows += [
        ("Originality", f"median / longest passage shared with training (notes, k={og['k']})",
         f"{_f(gen['median_notes'], 0)} / {_f(gen['max_notes'], 0)} "
         f"(real music: {_f(real['median_notes'], 0)} / {_f(real['max_notes'], 0)})"),
        ("", "share of continuations copying >= 2 bars (real music)",
         f"{_f(gen['share_copying_2_bars'])} ({_f(real['share_copying_2_bars'])})"),
        ("Speed", f"tokens/second, seconds/bar ({sp['device']}, {sp['threads']} "
                  f"thread{'s' if sp['threads'] != 1 else ''})",
         f"{_f(sp['tokens_per_second'], 1)}, {_f(sp['seconds_per_bar'])}"),
    ]  # fmt: skip
    return rows


RESULTS_START, RESULTS_END = "<!-- results:start -->", "<!-- results:end -->"


def headline_table(report: dict) -> str:
    rows = [f"| {a} | {b} | {c} |" for a, b, c in headlines(report)]
    return "\n".join(["| Section | Measure | Value |", "|---|---|---|", *rows])


def update_doc(path: Path, report: dict) -> None:
    """Put the headline table between a document's results markers (never typed by hand)."""
    text = path.read_text()
    start, end = text.find(RESULTS_START), text.find(RESULTS_END)
    if start < 0 or end < start:
        raise ValueError(f"{path} has no '{RESULTS_START}' ... '{RESULTS_END}' block to fill")
    text = text[: start + len(RESULTS_START)] + "\n" + headline_table(report) + "\n" + text[end:]
    path.write_text(text)


def markdown(report: dict) -> str:
    ck, cfg = report["checkpoint"], report["config"]
    lines = [
        f"# Evaluation of {ck['name']}",
        "",
        f"Checkpoint `{ck['path']}` (sha256 {ck['sha256'][:12]}), corpus `{cfg['corpus']}`, "
        f"shards `{cfg['shards']}`, {len(report['seeds'])} held-out seeds of {cfg['seed_bars']} "
        f"bars, up to {cfg['max_bars']} new bars each, seed {cfg['seed']}"
        + (", **quick run: tiny budgets, numbers are not meaningful**" if cfg["quick"] else "")
        + f"; {_f(report['seconds'], 1)} s.",
        "",
        headline_table(report),
        "",
        "## Likelihood on the test split",
        "",
        "| Model | nats/token | bits/note |",
        "|---|---|---|",
    ]
    lk = report["likelihood"]
    names = {"model": "checkpoint", "model_any_condition": 'checkpoint, "any" condition',
             "ngram_3": "3-gram", "ngram_4": "4-gram", "ngram_5": "5-gram"}  # fmt: skip
    for key, name in names.items():
        lines.append(
            f"| {name} | {_f(lk[key]['nats_per_token'])} | {_f(lk[key]['bits_per_note'])} |"
        )
    lines += ["", "## Continuation realism", "",
              "| Statistic | generated mean | real mean | overlap | halves: overlap "
              "| halves: real vs real |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for name in STATISTICS:
        s = report["realism"]["statistics"][name]
        lines.append(f"| {name} | {_f(s['generated_mean'])} | {_f(s['real_mean'])} | "
                     f"{_f(s['overlap'])} | {_f(s['halves_overlap'])} | "
                     f"{_f(s['real_vs_real_overlap'])} |")  # fmt: skip
    neutral = (
        "Generated from neutral seeds: each held-out seed's meter and tempo with one "
        "middle C on a piano, so that the condition alone decides (a real seed's "
        "continuation follows the seed's own style and key)."
    )
    lines += ["", f"![realism]({report['plots']['realism']})", "", "## Style control", "",
              neutral, "", *style_table(report["style"]), "",
              f"![style confusion]({report['plots']['style']})", "",
              "## Mood control", "", neutral, "",
              "The model alone (one candidate each), and with the mood check that keeps one "
              "of several candidates in the asked mode.", "",
              "| Mood | valence | arousal | both | unconditioned both | mean arousal "
              "| with the check: valence | both |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for mood, m in report["mood"]["per_mood"].items():
        c, u, k = m["conditioned"], m["unconditioned"], m.get("checked", {})
        lines.append(f"| {mood} | {_f(c['valence'])} | {_f(c['arousal'])} | {_f(c['both'])} | "
                     f"{_f(u['both'])} | {_f(c['mean_arousal'])} | "
                     f"{_f(k.get('valence'))} | {_f(k.get('both'))} |")  # fmt: skip
    md = report["mood"]
    lines += ["", f"Valence effect (major share, happy/calm minus tense/sad): "
              f"{_f(md['valence_effect'])}; arousal effect (happy/tense minus sad/calm): "
              f"{_f(md['arousal_effect'])}.", "", f"![mood]({report['plots']['mood']})", "",
              "## Originality", "",
              f"Longest passage: {report['originality']['generated']['longest']}.",
              "", f"![originality]({report['plots']['originality']})", ""]  # fmt: skip
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def _save(fig, path: Path) -> Path:
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return atomic_write_bytes(path, buffer.getvalue())


def plot_realism(realism: dict, path: Path) -> Path:
    fig = _figure(14, 6)
    for k, name in enumerate(STATISTICS):
        ax = fig.add_subplot(2, 4, k + 1)
        s = realism["statistics"][name]
        real = [v for v in s["real_values"] if v is not None]
        gen = [v for v in s["generated_values"] if v is not None]
        both = real + gen
        bins = (
            np.linspace(min(both), max(both) + 1e-6 * max(1.0, abs(max(both))), 12) if both else 10
        )
        ax.hist(real, bins=bins, alpha=0.55, density=True, label="real", color="#4C72B0")
        ax.hist(gen, bins=bins, alpha=0.55, density=True, label="generated", color="#DD8452")
        oa, ceiling = _f(s["overlap"], 2), _f(s["real_vs_real_overlap"], 2)
        ax.set_title(f"{name}\nOA {oa} (halves of real: {ceiling})", fontsize=9)
    fig.axes[0].legend(fontsize=8)
    return _save(fig, path)


def style_table(style: dict) -> list[str]:
    """Per style: how many real excerpts, and the share recognised, real and generated.

    Every style is asked for equally often, so a generated set's accuracy is a balanced one;
    the real set is mostly folk and fiddle tunes, so its pooled accuracy leans on those two.
    """
    keys = sorted(k for k in style if k.startswith("guidance_"))
    lines = ["Share recognised per style. Each style is asked for equally often, so the "
             "generated accuracy is a balanced one, to set against the real set's balanced "
             "accuracy (its pooled accuracy counts mostly folk songs and fiddle tunes).", "",
             "| Style | real excerpts | real | " + " | ".join(guidance_name(k) for k in keys)
             + " |", "|---|---|---|" + "---|" * len(keys)]  # fmt: skip
    for i, name in enumerate(style["styles"]):
        cells = []
        for result in [style["real"]] + [style[k] for k in keys]:
            row = result["confusion"][i]
            cells.append(_f(row[i] / sum(row)) if sum(row) else "-")
        lines.append(f"| {name} | {sum(style['real']['confusion'][i])} | " + " | ".join(cells)
                     + " |")  # fmt: skip
    balanced = [_f(style[k]["balanced_accuracy"]) for k in ["real", *keys]]
    lines.append(f"| balanced accuracy | | {' | '.join(balanced)} |")
    return lines


GUIDANCE_WAYS = {"any": 'away from "any"', "other-styles": "away from the other styles"}


def guidance_name(key: str) -> str:
    """A style key in words: guidance_1 (off), guidance_5_any -> guidance 5 away from "any"
    (as shipped), guidance_5_other-styles -> guidance 5 away from the other styles."""
    value, _, way = key.removeprefix("guidance_").partition("_")
    if not way:
        return f"guidance {value}"
    return f"guidance {value} {GUIDANCE_WAYS[way]}" + (
        " (as shipped)" if way == GUIDE_AGAINST[0] else ""
    )


def plot_style(style: dict, path: Path) -> Path:
    panels = [("real held-out", style["real"])]
    panels += [(f"generated, {guidance_name(k)}", style[k]) for k in sorted(style)
               if k.startswith("guidance_")]  # fmt: skip
    names = style["styles"]
    fig = _figure(4.5 * len(panels), 4.5)
    for k, (title, result) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        matrix = np.array(result["confusion"], dtype=float)
        share = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
        ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
        for i, j in np.ndindex(matrix.shape):
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 0.5 else "black")  # fmt: skip
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true" if k == 0 else "asked for")
        ax.set_title(f"{title}\naccuracy {_f(result['accuracy'], 2)}", fontsize=9)
    return _save(fig, path)


def plot_mood(mood: dict, path: Path) -> Path:
    moods = list(mood["per_mood"])
    x = np.arange(len(moods))
    fig = _figure(12, 3.8)
    for k, what in enumerate(("valence", "arousal", "both")):
        ax = fig.add_subplot(1, 3, k + 1)
        for shift, kind, label, colour in (
            (-0.27, "conditioned", "model alone", "#DD8452"),
            (0.0, "checked", "with the mood check", "#55A868"),
            (0.27, "unconditioned", "unconditioned", "#8C8C8C"),
        ):
            values = [mood["per_mood"][m].get(kind, {}).get(what) for m in moods]
            ax.bar(
                x + shift,
                np.nan_to_num(np.array(values, dtype=float)),
                0.27,
                label=label,
                color=colour,
            )
        ax.set_xticks(x, moods)
        ax.set_ylim(0, 1)
        ax.set_title(f"{what} matches the asked mood", fontsize=9)
    fig.tight_layout()
    # Above the panels, where no bar can hide under it (saved with bbox_inches="tight").
    fig.legend(*fig.axes[0].get_legend_handles_labels(), loc="lower center",
               bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8)  # fmt: skip
    return _save(fig, path)


def plot_originality(orig: dict, path: Path) -> Path:
    fig = _figure(6, 3.5)
    ax = fig.add_subplot(1, 1, 1)
    values = orig["generated"]["notes"] + orig["real"]["notes"]
    bins = np.arange(0, max(values + [orig["k"]]) + 2) - 0.5
    ax.hist(orig["real"]["notes"], bins=bins, alpha=0.55, label="real held-out", color="#4C72B0")
    ax.hist(orig["generated"]["notes"], bins=bins, alpha=0.55, label="generated", color="#DD8452")
    ax.set_xlabel(f"longest passage shared with training pieces (notes; 0 = under {orig['k']})")
    ax.set_ylabel("continuations")
    ax.legend(fontsize=8)
    return _save(fig, path)
