"""The Groove MIDI Dataset: human drum performances on an electronic kit, labelled by genre.

Source: Gillick, Roberts, Engel, Eck and Bamman, "Learning to Groove with Inverse Sequence
Transformations", ICML 2019; Magenta (magenta.tensorflow.org/datasets/groove), CC BY 4.0. The
copy used here (MIDI files and `info.csv`) is the `groove/` folder of the public repository
zharry29/drums-with-llm.

What the conversion does to each performance:

- only "beat" performances are kept (the "fill" files are mostly one bar long), and pieces under
  2 bars are refused;
- the one drum track becomes an `is_drum` track named "Drums"; the Roland TD-11 pitches that are
  no General MIDI drum, or a GM drum that sounds unlike what was played, are mapped as the
  dataset's paper does (closed/open hi-hat edge 22/26 -> 42/46, tom 3 rim 58 -> 43,
  crash edges 55/52 -> 49/57); hi-hat pedal controllers are dropped; velocities are kept;
- tempo and time signature are the file's own (info.csv agrees); ticks are 480 per quarter;
- the genre in info.csv ("funk/groove1", "latin/brazilian-samba"...) becomes one of a few styles
  (STYLES), and the dataset's own train/validation/test split is kept (`split_of`).
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.data import corpus

NAME = "groove"
LICENCE_NOTE = (
    "Groove MIDI Dataset (Gillick, Roberts, Engel, Eck, Bamman, ICML 2019; Magenta, Google), "
    "CC BY 4.0: attribute the dataset and its authors"
)
COMMERCIAL_USE = "yes"  # with attribution
HOW_TO_GET = (
    "git clone --depth 1 https://github.com/zharry29/drums-with-llm data/sources/drums-with-llm"
)
BEAT_TYPES = ("beat",)
MIN_BARS = 2

# first part of the dataset's genre -> corpus style (names use hyphens, never "_")
STYLES = {
    "rock": "rock", "punk": "rock", "country": "rock",
    "pop": "pop",
    "funk": "funk", "soul": "funk", "neworleans": "funk", "gospel": "funk",
    "jazz": "jazz", "blues": "jazz",
    "latin": "latin", "afrocuban": "latin",
    "hiphop": "hiphop", "dance": "hiphop",
    "afrobeat": "world", "highlife": "world", "reggae": "world", "middleeastern": "world",
}  # fmt: skip

# Roland TD-11 pitch -> General MIDI drum (only those that differ; Magenta's paper mapping)
DRUM_MAP = {22: 42, 26: 46, 58: 43, 55: 49, 52: 57}
TPQ = corpus.TPQ


def _groove_root(folder: Path) -> Path:
    """The folder holding info.csv (the repository root or its groove/)."""
    folder = Path(folder)
    return folder / "groove" if (folder / "groove" / "info.csv").is_file() else folder


@lru_cache(maxsize=4)
def _info(root: str) -> dict[str, dict[str, str]]:
    """info.csv rows by midi_filename (relative to the groove folder)."""
    with (Path(root) / "info.csv").open(newline="") as fh:
        return {row["midi_filename"]: row for row in csv.DictReader(fh)}


def _locate(key: str) -> tuple[Path, dict[str, str]]:
    """(groove folder, info.csv row) of a MIDI file path."""
    path = Path(key)
    for root in path.parents:
        if (root / "info.csv").is_file():
            rel = path.relative_to(root).as_posix()
            row = _info(str(root)).get(rel)
            if row is None:
                raise ValueError(f"{rel} is not listed in info.csv")
            return root, row
    raise ValueError("no info.csv above this file")


def find(folder: Path, limit: int | None = None) -> list[str]:
    """Paths of the beat performances listed in info.csv, sorted."""
    root = _groove_root(folder)
    if not (root / "info.csv").is_file():
        return []
    rows = _info(str(root)).values()
    found = sorted(
        str(root / r["midi_filename"])
        for r in rows
        if r.get("beat_type") in BEAT_TYPES and (root / r["midi_filename"]).is_file()
    )
    return found[:limit] if limit else found


def split_of(key: str) -> str | None:
    """The dataset's own split of this performance ("train", "validation" or "test")."""
    try:
        return _locate(key)[1].get("split") or None
    except ValueError:
        return None


def style_of(genre: str) -> str:
    """Corpus style of an info.csv genre such as "latin/brazilian-samba"."""
    return STYLES.get(genre.split("/")[0].strip().lower(), "world")


def normalise(path: Path) -> Score:
    """The performance as a Score at 480 tpq: one GM drum track, the file's tempo and meter."""
    src = Score(str(path))
    if src.ticks_per_quarter != TPQ:
        src = src.resample(TPQ, min_dur=1)
    out = Score(TPQ)
    for t in src.tempos or [Tempo(0, 120.0)]:
        out.tempos.append(Tempo(t.time, mspq=t.mspq))
    for ts in src.time_signatures or [TimeSignature(0, 4, 4)]:
        out.time_signatures.append(TimeSignature(ts.time, ts.numerator, ts.denominator))
    drums = Track(name="Drums", program=0, is_drum=True)
    for track in src.tracks:
        for n in track.notes:
            pitch = DRUM_MAP.get(n.pitch, n.pitch)
            drums.notes.append(Note(n.time, max(1, n.duration), pitch, n.velocity))
    if not len(drums.notes):
        raise ValueError("no notes")
    drums.notes.sort(key=lambda n: (n.time, n.pitch))
    out.tracks.append(drums)
    return out


def convert(key: str, out_dir: Path) -> dict:
    """Write one performance's normalised MIDI under `out_dir`/midi/STYLE and return its row."""
    path = Path(key)
    root, info = _locate(key)
    if info.get("beat_type") not in BEAT_TYPES:
        raise ValueError(f"a {info.get('beat_type')}, not a beat")
    score = normalise(path)
    facts = corpus.describe(score)
    if facts["bars"] < MIN_BARS:
        raise ValueError(f"{facts['bars']} bar(s), fewer than {MIN_BARS}")
    rel = path.relative_to(root).with_suffix("")
    style = style_of(info.get("style", ""))
    piece_id = f"{NAME}-" + "-".join(p for p in rel.parts if p).replace("_", "-")
    title = f"{info.get('style', '')} {info.get('bpm', '')} bpm {info.get('beat_type', '')}"
    return corpus.piece_row(
        score,
        out_dir,
        style,
        piece_id,
        facts,
        source=f"{NAME}:{path.relative_to(root).as_posix()}",
        repertory=NAME,
        composer=f"Groove MIDI Dataset {info.get('drummer', 'drummer')}",
        title=title.strip(),
        licence_note=LICENCE_NOTE,
        commercial_use=COMMERCIAL_USE,
        split=info.get("split", ""),
    )
