"""The corpus manifest: one CSV row per piece with its source, labels, licence note and
commercial-use flag; the opt-out list; summaries for the data card.

Everything downstream (shards, evaluation, originality) reads a corpus through this module.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path

from musegen.io.files import atomic_open
from musegen.music import labels

MANIFEST_FIELDS = [
    "id", "path", "source", "repertory", "composer", "title", "style", "mood", "key", "mode",
    "tempo", "time_signature", "notes", "bars", "seconds", "licence_note", "commercial_use",
    "sha256", "onset_density", "arousal", "split",
]  # fmt: skip


def load_optout(path: Path) -> set[str]:
    """Lower-cased entries of an opt-out list (ids, sources, repertories or composers)."""
    if not path.exists():
        return set()
    lines = (line.split("#", 1)[0].strip().lower() for line in path.read_text().splitlines())
    return {line for line in lines if line}


def opted_out(row: dict, optout: set[str]) -> bool:
    """True when the row's id, source file, repertory or composer is on the opt-out list."""
    source = row.get("source", "").lower()
    keys = {
        row.get("id", "").lower(),
        source,
        source.split("#")[0],
        source.split(":", 1)[-1].split("#")[0],
        row.get("repertory", "").lower(),
        row.get("composer", "").lower(),
    }
    return bool(keys & optout)


def write_manifest(
    out: Path, rows: list[dict], failures: list[dict], optout: set[str], commercial_only: bool
) -> dict:
    """Filter rows, label moods against each style's own tempo and density, write CSVs."""
    kept = [r for r in rows if not opted_out(r, optout)]
    if commercial_only:
        kept = [r for r in kept if r["commercial_use"] != "no"]
    kept.sort(key=lambda r: r["id"])
    by_style = defaultdict(list)
    for r in kept:
        by_style[r["style"]].append(r)
    # Arousal is relative to the piece's own style: otherwise every fiddle reel would be
    # "happy" and every chorale "calm", and mood would only repeat style.
    references = {
        s: labels.arousal_reference([r["onset_density"] for r in rs], [r["tempo"] for r in rs])
        for s, rs in by_style.items()
    }
    for r in kept:
        score = labels.arousal(r["onset_density"], r["tempo"], references[r["style"]])
        r["arousal"] = round(score, 4)
        r["mood"] = labels.mood(r["mode"], score)
    _write_csv(out / "manifest.csv", MANIFEST_FIELDS, kept)
    _write_csv(out / "failures.csv", ["source", "reason"], failures)
    (out / "labels.json").write_text(json.dumps({"arousal_reference": references}, indent=2))
    return summarize(kept, failures)


def _write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    with atomic_open(path) as fh, io.TextIOWrapper(fh, newline="") as text:
        writer = csv.DictWriter(text, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_manifest(corpus: Path) -> list[dict]:
    """Rows of `corpus/manifest.csv` with numbers parsed."""
    path = corpus / "manifest.csv"
    if not path.exists():
        raise FileNotFoundError(
            f"no manifest at {path}; build one with: musegen corpus build music21 --out {corpus}"
        )
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        for f in ("tempo", "seconds", "onset_density", "arousal"):
            r[f] = float(r[f])
        for f in ("notes", "bars"):
            r[f] = int(r[f])
    return rows


def summarize(rows: list[dict], failures: list[dict] | None = None) -> dict:
    """Per repertory and per style counts, hours, bars; style x mood table."""
    per_rep: dict[str, dict] = {}
    for r in rows:
        rep = per_rep.setdefault(
            r["repertory"],
            {"style": r["style"], "pieces": 0, "bars": 0, "hours": 0.0, "notes": 0,
             "commercial_use": Counter(), "licence_note": r["licence_note"].split("; file")[0]},
        )  # fmt: skip
        if r["style"] not in rep["style"].split(", "):  # a source with several styles
            rep["style"] = ", ".join(sorted([*rep["style"].split(", "), r["style"]]))
        rep["pieces"] += 1
        rep["bars"] += int(r["bars"])
        rep["notes"] += int(r["notes"])
        rep["hours"] += float(r["seconds"]) / 3600
        rep["commercial_use"][r["commercial_use"]] += 1
    table: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        table[r["style"]][r["mood"]] += 1
    return {
        "pieces": len(rows),
        "failures": len(failures or []),
        "repertories": per_rep,
        "style_mood": {s: dict(c) for s, c in sorted(table.items())},
        "median_tempo": statistics.median([float(r["tempo"]) for r in rows]) if rows else 0,
    }


def markdown_tables(summary: dict) -> str:
    """The data card's tables: repertories (pieces, bars, hours, licence) and style x mood."""
    moods = labels.MOODS
    lines = ["| repertory | style | pieces | bars | hours | commercial use | licence note |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    total = {"pieces": 0, "bars": 0, "hours": 0.0}
    for name, rep in sorted(summary["repertories"].items()):
        uses = ", ".join(f"{k}: {v}" for k, v in sorted(rep["commercial_use"].items()))
        lines.append(f"| {name} | {rep['style']} | {rep['pieces']} | {rep['bars']} | "
                     f"{rep['hours']:.1f} | {uses} | {rep['licence_note']} |")  # fmt: skip
        for k in total:
            total[k] += rep[k]
    lines.append(f"| **all** | | {total['pieces']} | {total['bars']} | {total['hours']:.1f} | | |")
    lines += ["", f"| style | {' | '.join(moods)} | total |", "|---" * (len(moods) + 2) + "|"]
    for style, counts in summary["style_mood"].items():
        cells = " | ".join(str(counts.get(m, 0)) for m in moods)
        lines.append(f"| {style} | {cells} | {sum(counts.values())} |")
    return "\n".join(lines)
