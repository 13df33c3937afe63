"""Build a training corpus: convert sources to MIDI, label style and mood, write the manifest.

Two kinds of source: the corpus that ships inside the music21 package (converted with
music21, one MIDI file per piece, opus files split into their tunes) and a user's folder of
MIDI files (style = sub-folder name). Work runs in worker processes, is cached per source file
(so a second run converts only what is missing) and never stops on a bad piece.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import multiprocessing
import re
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from symusic import KeySignature, Note, Score, Tempo, TimeSignature, Track

from musegen.data.manifest import MANIFEST_FIELDS, load_optout, write_manifest
from musegen.errors import InputError
from musegen.io.files import atomic_write_bytes
from musegen.music import labels, timeline
from musegen.progress import progress_bar

MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
MUSIC21_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn", ".abc")
TPQ = 480

MUSIC21_LICENCE = (
    "music21 corpus: distributed with the permission of the encoders where permitted under US "
    "copyright law; some encodings restrict commercial use (music21/corpus/license.txt)"
)


@dataclass(frozen=True)
class Repertory:
    """A folder of the music21 corpus and how to label and voice it."""

    name: str
    folders: tuple[str, ...]
    style: str
    composer: str
    default_tempo: float
    default_program: int
    licence_note: str = MUSIC21_LICENCE
    commercial_use: str = "unknown"


# Styles are the labels a user asks for; names use hyphens (miditok splits tokens on "_").
REPERTORIES: dict[str, Repertory] = {
    r.name: r
    for r in [
        Repertory("bach", ("bach",), "chorale", "Johann Sebastian Bach", 80, 52),
        Repertory(
            "palestrina",
            ("palestrina",),
            "renaissance-polyphony",
            "Giovanni Pierluigi da Palestrina",
            72,
            52,
        ),
        Repertory("josquin", ("josquin", "luca", "lusitano"), "renaissance-polyphony", "", 72, 52),
        Repertory("monteverdi", ("monteverdi",), "madrigal", "Claudio Monteverdi", 84, 52),
        Repertory("trecento", ("trecento", "ciconia"), "medieval", "", 96, 74),
        Repertory(
            "classical",
            (
                "beethoven",
                "mozart",
                "haydn",
                "corelli",
                "cpebach",
                "handel",
                "schubert",
                "schumann_clara",
                "schumann_robert",
                "chopin",
                "weber",
                "verdi",
                "beach",
                "joplin",
            ),
            "classical",
            "",
            100,
            0,
        ),  # fmt: skip
        Repertory("oneills1850", ("oneills1850",), "celtic-fiddle", "traditional", 112, 110),
        Repertory("ryansMammoth", ("ryansMammoth",), "celtic-fiddle", "traditional", 112, 110),
        Repertory("airdsAirs", ("airdsAirs",), "celtic-fiddle", "traditional", 104, 110),
        Repertory("nottingham", ("nottingham-dataset",), "celtic-fiddle", "traditional", 112, 110),
        Repertory(
            "essen",
            ("essenFolksong", "miscFolk"),
            "european-folk",
            "traditional",
            96,
            73,
            licence_note=(
                "Essen folk song collection (ABC by Seymour Schlien): permission for "
                "non-commercial distribution and use in music21 (essenFolksong/license.txt)"
            ),
            commercial_use="no",
        ),
    ]
}

# Part-name keywords -> General MIDI program (0-based).
_PROGRAM_BY_NAME = [
    (r"violoncello|cello", 42), (r"viola(?!.*gamba)", 41), (r"violin|violino|fiddle", 40),
    (r"contrabass|double bass|basso continuo|continuo", 43),
    (r"sopran|alto|altus|tenor|bass|canto|cantus|quinto|quintus|sextus|voice|voce|vox|"
     r"superius|contratenor|triplum|motetus|duplum|choir|chor", 52),
    (r"piano|pianoforte|klavier|keyboard", 0), (r"harpsichord|cembalo", 6), (r"organ|organo", 19),
    (r"flute|flauto", 73), (r"recorder", 74), (r"oboe", 68), (r"clarinet", 71),
    (r"bassoon|fagott", 70), (r"horn|corno", 60), (r"trumpet|tromba", 56),
    (r"trombone", 57), (r"guitar|lute|liuto", 24), (r"harp", 46),
]  # fmt: skip


def program_for_part(part_name: str | None, repertory: Repertory) -> int:
    """General MIDI program for a part: from its name when it says, else the repertory's."""
    name = (part_name or "").lower()
    for pattern, program in _PROGRAM_BY_NAME:
        if re.search(pattern, name):
            # Keyboard names inside vocal repertories are encoders' defaults, not instruments.
            if program in (0, 6, 19) and repertory.default_program == 52:
                return 52
            return program
    return repertory.default_program


# --------------------------------------------------------------------------- describing


def describe(score: Score) -> dict:
    """Note-level facts and key of a symusic Score (any ticks per quarter)."""
    tpq = score.ticks_per_quarter
    notes = [(n.pitch, n.time, n.duration) for t in score.tracks if not t.is_drum for n in t.notes]
    all_notes = sum(len(t.notes) for t in score.tracks)
    end = timeline.end_tick(score)
    tempo = timeline.tempo_at(score, 0)
    hist = labels.pitch_class_histogram([p for p, _, _ in notes], [d for _, _, d in notes])
    tonic, mode, _ = labels.find_key(hist)
    seconds_score = score.to("second")
    seconds = float(seconds_score.end()) if all_notes else 0.0
    onsets = [n.time for t in seconds_score.tracks for n in t.notes]
    meter = timeline.meter_at(score, 0)
    bars = len(timeline.bar_lines(score, end)) - 1 if end > 0 else 0
    return {
        "key": labels.key_name(tonic, mode),
        "mode": mode,
        "tempo": round(tempo, 2),
        "time_signature": str(meter),
        "notes": all_notes,
        "bars": max(bars, 1 if all_notes else 0),
        "seconds": round(seconds, 2),
        "onset_density": round(labels.onset_density(onsets, seconds), 4),
        "quarters": round(end / tpq, 3) if tpq else 0,
    }


# --------------------------------------------------------------------------- music21 side


def _music21_root() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def music21_sources(repertories: Iterable[str] | None = None, limit: int | None = None,
                    caps: dict[str, int] | None = None):  # fmt: skip
    """(repertory name, source path relative to the music21 corpus) for every piece file.

    `limit` caps every repertory, `caps` single ones (e.g. {"palestrina": 300}); files are
    taken in name order, so a capped build is a fixed, reproducible subset.
    """
    root = _music21_root()
    names = list(repertories) if repertories else list(REPERTORIES)
    for name in names:
        if name not in REPERTORIES:
            raise ValueError(f"unknown repertory {name!r}; choose from {', '.join(REPERTORIES)}")
        found: list[Path] = []
        for folder in REPERTORIES[name].folders:
            found += sorted(
                p for p in (root / folder).rglob("*")
                if p.suffix.lower() in MUSIC21_SUFFIXES and not p.name.startswith("test")
            )  # fmt: skip
        # The same work is sometimes encoded twice (kern and MusicXML): keep one.
        seen, unique = set(), []
        for p in sorted(found, key=lambda p: (p.with_suffix(""), p.suffix != ".mxl")):
            if p.with_suffix("") not in seen:
                seen.add(p.with_suffix(""))
                unique.append(p)
        cap = min(x for x in (limit, (caps or {}).get(name), len(unique)) if x is not None)
        for p in unique[:cap]:
            yield name, str(p.relative_to(root))


def _embedded_terms(path: Path) -> str:
    """Copyright / rights lines embedded in a kern or MusicXML file, if any."""
    try:
        head = path.read_bytes()[:200_000] if path.suffix != ".mxl" else b""
    except OSError:
        return ""
    text = head.decode("latin-1")
    found = re.findall(r"^!!!YE[CM]: *(.+)$", text, flags=re.M)
    found += re.findall(r"<rights[^>]*>([^<]+)</rights>", text)
    return "; ".join(dict.fromkeys(s.strip() for s in found))[:300]


def _m21_to_symusic(m21score, repertory: Repertory) -> Score:
    """One music21 Score -> symusic Score at 480 tpq: a track per part, tempo, meter, key."""
    from music21 import key as m21key
    from music21 import meter as m21meter
    from music21 import tempo as m21tempo

    m21score.stripTies(inPlace=True)  # the parsed score is ours: no deep copy
    parts = list(m21score.parts) or [m21score]
    flats = [part.flatten() for part in parts]
    score = Score(TPQ)
    # A pickup bar is shorter than its meter: shift everything so bar lines fall on the grid.
    pad = 0.0
    measures = list(parts[0].getElementsByClass("Measure"))
    if measures:
        first = measures[0]
        pad = float(first.paddingLeft or 0.0)
        bar = float(first.barDuration.quarterLength)
        if not pad and first.duration.quarterLength < bar and len(measures) > 1:
            pad = float(bar - first.duration.quarterLength)

    def tick(offset: float) -> int:
        return max(0, round((float(offset) + pad) * TPQ))

    flat0 = flats[0]
    for ts in flat0.getElementsByClass(m21meter.TimeSignature):
        t = 0 if ts.offset == 0 else tick(ts.offset)
        score.time_signatures.append(TimeSignature(t, ts.numerator, ts.denominator))
    for ks in flat0.getElementsByClass(m21key.KeySignature):
        minor = isinstance(ks, m21key.Key) and ks.mode == "minor"
        t = 0 if ks.offset == 0 else tick(ks.offset)
        score.key_signatures.append(KeySignature(t, ks.sharps, int(minor)))
    # Flattened parts carry absolute offsets; tempo marks usually sit in the first part.
    marks = next((m for m in (list(f.getElementsByClass(m21tempo.MetronomeMark)) for f in flats)
                  if m), [])  # fmt: skip
    tempos = [(0 if m.offset == 0 else tick(m.offset), m.getQuarterBPM()) for m in marks]
    tempos = [(t, q) for t, q in tempos if q and 10 <= q <= 400]
    if not tempos or tempos[0][0] != 0:
        tempos.insert(0, (0, repertory.default_tempo))
    for t, qpm in dict(tempos).items():
        score.tempos.append(Tempo(t, float(qpm)))

    used_names: Counter = Counter()
    for part, flat in zip(parts, flats, strict=True):
        name = (part.partName or "").strip() or (repertory.style.replace("-", " ").title())
        used_names[name] += 1
        if used_names[name] > 1:
            name = f"{name} {used_names[name]}"
        track = Track(name=name, program=program_for_part(part.partName, repertory))
        for el in flat.notes:
            ql = float(el.quarterLength)
            if ql <= 0:  # grace notes have no duration of their own
                continue
            velocity = el.volume.velocity if el.volume.velocity is not None else 80
            pitches = [p.midi for p in el.pitches] if hasattr(el, "pitches") else []
            start, duration = tick(el.offset), max(1, round(ql * TPQ))
            for pitch in pitches:
                if 0 <= pitch <= 127:
                    track.notes.append(Note(start, duration, int(pitch), int(velocity)))
        if len(track.notes):
            track.notes.sort(key=lambda n: (n.time, n.pitch))
            score.tracks.append(track)
    return score


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:80]


def _convert_music21_source(task: tuple[str, str, str]) -> dict:
    """Worker: parse one music21 corpus file, write one MIDI per piece, return rows."""
    repertory_name, rel, out_dir = task
    warnings.filterwarnings("ignore")
    import music21

    repertory = REPERTORIES[repertory_name]
    path = _music21_root() / rel
    rows, failures = [], []
    try:
        # No pickle cache: music21 would gzip a pickle of every score it parses (slow, unused).
        parsed = music21.converter.parse(str(path), forceSource=True, storePickle=False)
    except Exception as exc:  # music21 raises many kinds; each is a bad piece, not a crash
        return {"rows": [], "failures": [{"source": rel, "reason": _reason(exc)}]}
    scores = list(parsed.scores) if isinstance(parsed, music21.stream.Opus) else [parsed]
    terms = _embedded_terms(path)
    restricted = bool(re.search(r"non-?commercial|reserved|licensing agreement", terms, re.I))
    for index, m21score in enumerate(scores):
        stem = Path(rel).with_suffix("")
        stem = Path(*stem.parts[1:]) if stem.parts[0] == repertory_name else stem
        piece_id = f"{repertory_name}-{_slug(str(stem))}"
        piece_id += f"-{index + 1}" if len(scores) > 1 else ""
        try:
            score = _m21_to_symusic(m21score, repertory)
            if not any(len(t.notes) for t in score.tracks):
                raise ValueError("no notes")
            midi_path = Path(out_dir) / "midi" / repertory.style / f"{piece_id}.mid"
            midi_path.parent.mkdir(parents=True, exist_ok=True)
            score.dump_midi(str(midi_path))
            meta = m21score.metadata
            title = (meta and (meta.title or meta.movementName)) or Path(rel).stem
            composer = (meta and meta.composer) or repertory.composer or "unknown"
            row = {
                "id": piece_id,
                "path": str(midi_path.relative_to(out_dir)),
                "source": f"music21:{rel}" + (f"#{index + 1}" if len(scores) > 1 else ""),
                "repertory": repertory_name,
                "composer": _one_line(composer),
                "title": _one_line(title),
                "style": repertory.style,
                "licence_note": repertory.licence_note
                + (f"; file terms: {terms}" if terms else ""),
                "commercial_use": "no" if restricted else repertory.commercial_use,
                "sha256": hashlib.sha256(midi_path.read_bytes()).hexdigest(),
                **describe(score),
            }
            rows.append(row)
        except Exception as exc:
            failures.append({"source": f"{rel}#{index + 1}", "reason": _reason(exc)})
    return {"rows": rows, "failures": failures}


def _one_line(text) -> str:
    return " ".join(str(text).split())[:200]


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


# --------------------------------------------------------------------------- MIDI folder side


def midi_folder_sources(folder: Path, limit: int | None = None) -> list[str]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES)
    return [str(p.relative_to(folder)) for p in (files[:limit] if limit else files)]


def _convert_midi_source(task: tuple[str, str, str, str | None]) -> dict:
    """Worker: read one user MIDI file, copy it into the corpus, return its row."""
    folder, rel, out_dir, style = task
    src = Path(folder) / rel
    try:
        data = src.read_bytes()
        score = Score.from_midi(data)
        if not any(len(t.notes) for t in score.tracks):
            raise ValueError("no notes")
        facts = describe(score)
    except Exception as exc:
        return {"rows": [], "failures": [{"source": rel, "reason": _reason(exc)}]}
    parts = Path(rel).parts
    label = style or (parts[0] if len(parts) > 1 else Path(folder).resolve().name)
    label = _slug(label).lower() or "unlabelled"
    piece_id = f"{label}-{_slug(str(Path(rel).with_suffix('')))}"
    midi_path = Path(out_dir) / "midi" / label / f"{piece_id}.mid"
    midi_path.parent.mkdir(parents=True, exist_ok=True)
    midi_path.write_bytes(data)
    return {
        "rows": [
            {
                "id": piece_id,
                "path": str(midi_path.relative_to(out_dir)),
                "source": f"folder:{rel}",
                "repertory": label,
                "composer": "unknown",
                "title": Path(rel).stem,
                "style": label,
                "licence_note": "user-supplied MIDI; terms as given by its owner",
                "commercial_use": "unknown",
                "sha256": hashlib.sha256(data).hexdigest(),
                **facts,
            }
        ],
        "failures": [],
    }


# --------------------------------------------------------------------------- named sources

# Datasets with a converter of their own (musegen.data.sources): `corpus build NAME:FOLDER`.
NAMED_SOURCES = {"pop909": "pop909", "groove": "groove", "pop909-band": "mma"}


def piece_row(score: Score, out_dir: Path, style: str, piece_id: str, facts: dict | None = None,
              **fields: str) -> dict:  # fmt: skip
    """Write a converted piece as corpus MIDI (midi/STYLE/ID.mid) and return its manifest row.

    `fields` give the source, repertory, composer, title and licence; `facts` are
    describe(score) when the converter has them already. Mood is left to write_manifest.
    """
    data = score.dumps_midi()
    midi_path = Path(out_dir) / "midi" / style / f"{piece_id}.mid"
    midi_path.parent.mkdir(parents=True, exist_ok=True)
    midi_path.write_bytes(data)
    values = {
        "id": piece_id, "path": str(midi_path.relative_to(out_dir)), "style": style,
        "mood": "", "arousal": 0.0, "sha256": hashlib.sha256(data).hexdigest(), "split": "",
        **fields, **(facts or describe(score)),
    }  # fmt: skip
    return {field: values[field] for field in MANIFEST_FIELDS}


def _source_module(name: str):
    # Imported on use: the source modules themselves import this module's `describe`.
    return importlib.import_module(f"musegen.data.sources.{NAMED_SOURCES[name]}")


def split_partner(row: dict) -> str | None:
    """The id of the piece whose split this one must share (an MMA band arrangement shares
    its POP909 song's), or None."""
    name, _, key = str(row.get("source", "")).partition(":")
    if name not in NAMED_SOURCES:
        return None
    song_of = getattr(_source_module(name), "song_of", None)
    return song_of(key) if song_of else None


def _convert_named_source(task: tuple[str, str, str]) -> dict:
    """Worker: one piece of a named dataset through its own converter."""
    name, key, out_dir = task
    try:
        return {"rows": [_source_module(name).convert(key, Path(out_dir))], "failures": []}
    except Exception as exc:
        return {"rows": [], "failures": [{"source": key, "reason": _reason(exc)}]}


# --------------------------------------------------------------------------- the build


def build(
    source: str,
    out: Path,
    repertories: list[str] | None = None,
    jobs: int = 2,
    limit: int | None = None,
    style: str | None = None,
    commercial_only: bool = False,
    optout_path: Path = Path("data/optout.txt"),
    progress: bool = True,
    caps: dict[str, int] | None = None,
) -> dict:
    """Convert a source ("music21" or a MIDI folder) into `out` and write the manifest.

    Args:
        limit: at most this many source files per repertory (music21) or in all (folder).
        caps: at most this many source files of the named repertories (music21).
    Returns a summary dict (pieces, failures, styles x moods).
    """
    out.mkdir(parents=True, exist_ok=True)
    cache = out / ".cache"
    cache.mkdir(exist_ok=True)
    optout = load_optout(optout_path)
    name, _, folder = source.partition(":")
    if source == "music21":
        sources = list(music21_sources(repertories, limit, caps))
        tasks = [(rep, rel, str(out)) for rep, rel in sources]
        worker, keys = _convert_music21_source, [f"music21:{rel}" for _, rel in sources]
    elif name in NAMED_SOURCES:
        if not Path(folder).is_dir():
            module = _source_module(name)
            raise InputError(f"{name}: no folder at {folder!r}; get it with: {module.HOW_TO_GET}")
        found = _source_module(name).find(Path(folder), limit)
        tasks = [(name, key, str(out)) for key in found]
        worker, keys = _convert_named_source, [f"{name}:{key}" for key in found]
    else:
        folder = Path(source)
        if not folder.is_dir():
            raise InputError(
                f"{source!r} is neither 'music21', NAME:FOLDER with NAME one of "
                f"{', '.join(NAMED_SOURCES)}, nor a folder of MIDI files"
            )
        rels = midi_folder_sources(folder, limit)
        tasks = [(str(folder), rel, str(out), style) for rel in rels]
        worker, keys = _convert_midi_source, [f"folder:{rel}" for rel in rels]

    def cache_file(key: str) -> Path:
        return cache / (hashlib.sha1(key.encode()).hexdigest() + ".json")

    todo = [
        (task, key)
        for task, key in zip(tasks, keys, strict=True)
        if not cache_file(key).exists() and key.split(":", 1)[1].lower() not in optout
    ]
    # Largest files first, so one big opus does not finish last alone.
    todo.sort(key=lambda tk: -_source_size(tk[1]))
    if todo:
        _run_parallel(worker, todo, cache_file, jobs, progress)
    rows, failures = [], []
    for key in keys:
        if cache_file(key).exists():
            result = json.loads(cache_file(key).read_text())
            rows += result["rows"]
            failures += result["failures"]
    return write_manifest(out, rows, failures, optout, commercial_only)


def _source_size(key: str) -> int:
    kind, rel = key.split(":", 1)
    path = _music21_root() / rel if kind == "music21" else Path(rel.split("#")[0])
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _run_parallel(worker, todo, cache_file, jobs: int, progress: bool) -> None:

    ctx = multiprocessing.get_context("fork")
    with progress_bar(progress) as bar:
        task_id = bar.add_task("converting", total=len(todo))
        # Workers are recycled: music21 keeps caches that grow over thousands of pieces.
        with ctx.Pool(max(1, jobs), maxtasksperchild=40) as pool:
            results = pool.imap_unordered(_keyed(worker), todo)
            for key, result in results:
                atomic_write_bytes(cache_file(key), json.dumps(result).encode())
                bar.advance(task_id)


class _keyed:
    """Picklable wrapper returning (key, worker(task))."""

    def __init__(self, worker):
        self.worker = worker

    def __call__(self, task_key):
        task, key = task_key
        return key, self.worker(task)
