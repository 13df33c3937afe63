"""POP909: 909 Chinese pop songs as piano arrangements (MELODY, BRIDGE and PIANO tracks).

Source: Wang, Chen, Jiang, Zhang, Xu, Dai, Bin and Xia, "POP909: A Pop-song Dataset for Music
Arrangement Generation", ISMIR 2020; repository music-x-lab/POP909-Dataset (MIT licence).

What the conversion does to each song folder (`POP909/NNN/NNN.mid` and its annotations):

- tracks get General MIDI programs and names, so that they stay three tracks in a one-stream
  tokenizer (same-program tracks would merge): MELODY (the sung line) -> Voice Oohs,
  BRIDGE (secondary melody, instrumental fills) -> String Ensemble 1, PIANO -> Acoustic Grand;
- the files' time signatures are not the songs' meters (most say 1/4), so the meter and the bar
  lines come from the song's own `beat_midi.txt` (a beat every 480 ticks; downbeat columns):
  4/4, or 3/4 for the songs in triple meter, and everything is shifted so that the first
  annotated downbeat falls on a bar line; whole empty bars before the first note are cut;
- tempo changes are kept (the files follow the recording's tempo); pedals and controls are
  dropped (the tokenizer does not read them); velocities are kept;
- title and artist come from `POP909/index.xlsx` (read with the standard library).

The `versions/` folders (earlier takes of the same arrangement) are not used: they would put
near-copies of a song into more than one split.
"""

from __future__ import annotations

import re
import zipfile
from functools import lru_cache
from pathlib import Path
from xml.etree import ElementTree

from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.data import corpus

NAME = "pop909"
STYLE = "pop"
LICENCE_NOTE = (
    "POP909 dataset (Wang, Chen et al., ISMIR 2020; music-x-lab/POP909-Dataset), MIT licence; "
    "the arrangements are of published pop songs whose composition rights stay with their "
    "writers"
)
# MIT covers the dataset's arrangements, not the songs' melodies and harmonies.
COMMERCIAL_USE = "unknown"
HOW_TO_GET = (
    "git clone --depth 1 https://github.com/music-x-lab/POP909-Dataset data/sources/POP909-Dataset"
)

# track name in the files -> (name in the corpus, General MIDI program, 0-based)
PROGRAMS = {
    "MELODY": ("Melody", 53),  # Voice Oohs: the sung line
    "BRIDGE": ("Bridge", 48),  # String Ensemble 1: secondary melody and fills
    "PIANO": ("Piano", 0),  # Acoustic Grand Piano: the accompaniment
}
TPQ = corpus.TPQ


def _songs_root(folder: Path) -> Path:
    """The folder that holds the NNN song folders (the repository root or its POP909/)."""
    folder = Path(folder)
    return folder / "POP909" if (folder / "POP909").is_dir() else folder


def find(folder: Path, limit: int | None = None) -> list[str]:
    """Paths of the songs' MIDI files (`.../POP909/NNN/NNN.mid`), in song order."""
    root = _songs_root(folder)
    found = sorted(
        str(p / f"{p.name}.mid")
        for p in root.iterdir()
        if p.is_dir() and re.fullmatch(r"\d{3}", p.name) and (p / f"{p.name}.mid").is_file()
    ) if root.is_dir() else []  # fmt: skip
    return found[:limit] if limit else found


def split_of(key: str) -> str | None:
    """POP909 fixes no split: the builder assigns one."""
    return None


# --------------------------------------------------------------------------- annotations


@lru_cache(maxsize=4)
def _index(xlsx: str) -> dict[str, dict[str, str]]:
    """Rows of index.xlsx (song_id -> name, artist, ...), read without a spreadsheet library."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    try:
        with zipfile.ZipFile(xlsx) as z:
            sheet = ElementTree.fromstring(z.read("xl/worksheets/sheet1.xml"))
    except (OSError, KeyError, zipfile.BadZipFile, ElementTree.ParseError):
        return {}
    data = sheet.find("m:sheetData", ns)
    rows = []
    for row in data.findall("m:row", ns) if data is not None else []:
        rows.append(["".join(c.itertext()).strip() for c in row.findall("m:c", ns)])
    if not rows:
        return {}
    head = rows[0]
    return {r[0]: dict(zip(head, r, strict=False)) for r in rows[1:] if r}


def _beats(song_dir: Path) -> list[tuple[float, float, float]]:
    """beat_midi.txt: (seconds, downbeat every 2 beats, downbeat every 4 beats) per beat."""
    path = song_dir / "beat_midi.txt"
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3:
            rows.append((float(parts[0]), float(parts[1]), float(parts[2])))
    if len(rows) < 8:
        raise ValueError(f"beat_midi.txt has {len(rows)} beats")
    return rows


def _meter_and_downbeat(beats: list[tuple[float, float, float]]) -> tuple[int, float]:
    """(beats per bar, seconds of the first downbeat) from the beat annotation.

    The third column marks every 4th beat in duple songs and every 6th in triple ones (where
    the second column marks every 3rd): 4/4 or 3/4.
    """
    marked = [i for i, b in enumerate(beats) if b[2] == 1.0]
    if len(marked) < 2:
        raise ValueError("beat_midi.txt marks no downbeats")
    gaps: dict[int, int] = {}
    for a, b in zip(marked, marked[1:], strict=False):
        gaps[b - a] = gaps.get(b - a, 0) + 1
    period = max(gaps, key=lambda g: (gaps[g], -g))
    numerator = 3 if period % 3 == 0 else 4
    return numerator, beats[marked[0]][0]


def _tick_at_seconds(seconds: float, tempos: list[tuple[int, int]], tpq: int) -> float:
    """Tick at a time in seconds under a tempo map [(tick, microseconds per quarter)]."""
    now, tick, mspq = 0.0, 0, tempos[0][1] if tempos else 500_000
    for t, m in tempos:
        if t <= tick:
            mspq = m
            continue
        span = (t - tick) * mspq / 1e6 / tpq
        if now + span > seconds:
            break
        now, tick, mspq = now + span, t, m
    return tick + (seconds - now) * 1e6 / mspq * tpq


def title_of(key: str) -> str:
    """ "name / artist" from index.xlsx, else the song number."""
    path = Path(key)
    info = _index(str(path.parent.parent / "index.xlsx")).get(path.parent.name, {})
    title = info.get("name") or path.parent.name
    if info.get("artist"):
        title = f"{title} / {info['artist']}"
    return " ".join(title.split())[:200]


# --------------------------------------------------------------------------- conversion


def _load(path: Path) -> tuple[Score, list[tuple[int, int]], int, int]:
    """(source score at 480 tpq, its tempo map, beats per bar, tick shift onto the bar grid).

    The shift puts the first annotated downbeat on a bar line and cuts whole empty bars
    before the first note; it applies to every event of the file and to the annotations.
    """
    src = Score(str(path))
    if src.ticks_per_quarter != TPQ:
        src = src.resample(TPQ, min_dur=1)
    tempos = sorted((t.time, t.mspq) for t in src.tempos) or [(0, 500_000)]
    numerator, downbeat_seconds = _meter_and_downbeat(_beats(path.parent))
    bar = numerator * TPQ
    downbeat = round(_tick_at_seconds(downbeat_seconds, tempos, TPQ))
    onsets = [n.time for t in src.tracks for n in t.notes]
    if not onsets:
        raise ValueError("no notes")
    pad = (-downbeat) % bar  # the first annotated downbeat lands on a bar line
    first = min(onsets) + pad
    return src, tempos, numerator, pad - (first // bar) * bar


def normalise(path: Path) -> Score:
    """The song's MIDI file as a Score at 480 tpq: named GM tracks, meter and bar lines from
    the beat annotation, leading empty bars cut."""
    src, tempos, numerator, delta = _load(path)
    tracks = []
    for track in src.tracks:
        name, program = PROGRAMS.get(track.name.strip().upper(), (None, None))
        if name is None:
            raise ValueError(f"unexpected track {track.name!r}")
        if len(track.notes):
            tracks.append((name, program, track))
    out = Score(TPQ)
    start = -delta  # the source tick that becomes tick 0
    at_start = [m for t, m in tempos if t <= start]
    out.tempos.append(Tempo(0, mspq=at_start[-1] if at_start else tempos[0][1]))
    for t, m in tempos:
        if t + delta > 0:
            out.tempos.append(Tempo(t + delta, mspq=m))
    out.time_signatures.append(TimeSignature(0, numerator, 4))
    for name, program, track in tracks:
        new = Track(name=name, program=program, is_drum=False)
        for n in track.notes:
            if n.time + delta >= 0 and 0 <= n.pitch <= 127:
                new.notes.append(Note(n.time + delta, max(1, n.duration), n.pitch, n.velocity))
        new.notes.sort(key=lambda n: (n.time, n.pitch))
        out.tracks.append(new)
    return out


def chords(path: Path) -> list[tuple[int, int, str]]:
    """The song's chord annotation (chord_midi.txt) on the normalised score's ticks:
    (start, end, label) with labels as the file writes them ("C:maj", "A:min7/b7", "N")."""
    _, tempos, _, delta = _load(path)
    found = []
    for line in (path.parent / "chord_midi.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        start = round(_tick_at_seconds(float(parts[0]), tempos, TPQ)) + delta
        end = round(_tick_at_seconds(float(parts[1]), tempos, TPQ)) + delta
        if end > 0:
            found.append((max(0, start), end, parts[2]))
    return found


def convert(key: str, out_dir: Path) -> dict:
    """Write one song's normalised MIDI under `out_dir`/midi/pop and return its manifest row."""
    path = Path(key)
    song = path.parent.name
    score = normalise(path)
    return corpus.piece_row(
        score,
        out_dir,
        STYLE,
        f"{NAME}-{song}",
        source=f"{NAME}:POP909/{song}/{path.name}",
        repertory=NAME,
        composer="unknown",
        title=title_of(key),
        licence_note=LICENCE_NOTE,
        commercial_use=COMMERCIAL_USE,
        split=split_of(key) or "",
    )
