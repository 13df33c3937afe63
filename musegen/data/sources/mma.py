"""POP909 songs with a band: drums, bass and one comping track rendered by MMA under the song's
own chord annotation, on top of its melody, bridge and piano tracks (six tracks in all).

MMA (Musical MIDI Accompaniment, Bob van der Poel; Debian/Ubuntu package `mma`, GPL-2+) plays
the human-written grooves of its library (`/usr/share/mma/lib/stdlib`) under a chord chart.
For each POP909 song (see `pop909`): the chord annotation (`chord_midi.txt`, on the beat grid
of the normalised song) becomes an MMA chart with a chord per beat; a groove is chosen from a
few pop/rock/ballad grooves (waltzes for songs in 3/4) by the song's tempo and number, with a
fixed random seed, so a build is reproducible; MMA's drum track, one bass track (given a bass
program when the groove voices it otherwise) and one comping track whose program differs from
the song's own (guitar first, then organ, then anything but a piano) are added to the song.

The same song's notes are also in `pop909`: the builder must put `pop909-NNN` and
`pop909-band-NNN` into the same split (`song_of`), or build only one of the two.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from symusic import Note, Score, Track

from musegen.data import corpus
from musegen.data.sources import pop909

NAME = "pop909-band"
STYLE = pop909.STYLE
LICENCE_NOTE = (
    pop909.LICENCE_NOTE + "; drums, bass and comping rendered by MMA (Musical MIDI "
    "Accompaniment) from its groove library, GPL-2+"
)
COMMERCIAL_USE = pop909.COMMERCIAL_USE  # the songs' rights decide; MMA's GPL allows it
HOW_TO_GET = "apt-get install mma && " + pop909.HOW_TO_GET
# beats per bar -> (grooves for slow songs, grooves for the others); names as in MMA's stdlib
GROOVES = {
    4: (
        ("PopBallad", "PopBallad1", "Ballad", "Ballad1", "RockBallad", "GuitarBallad",
         "SoftRock"),
        ("8Beat", "8Beat1", "SoftRock1", "FolkRock", "50sRock", "PopBallad1", "RockBallad1"),
    ),
    3: (("Waltz", "Waltz1", "CountryWaltz"), ("RockWaltz", "CountryWaltz1", "Waltz1")),
}  # fmt: skip
SLOW_QPM = 90
TPQ = corpus.TPQ

_QUALITY = {
    "maj": "", "min": "m", "sus2": "sus2", "sus4": "sus4", "min7": "m7", "maj7": "M7", "7": "7",
    "dim": "dim", "maj6": "6", "hdim7": "m7b5", "aug": "aug", "dim7": "dim7", "min6": "m6",
    "minmaj7": "mM7", "sus4(b7)": "7sus4", "9": "9", "maj9": "M9", "min9": "m9",
}  # fmt: skip
_INTERVAL = {"1": 0, "b2": 1, "2": 2, "b3": 3, "3": 4, "4": 5, "b5": 6, "5": 7, "#5": 8,
             "b6": 8, "6": 9, "b7": 10, "7": 11}  # fmt: skip
_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
_PC = {n: i for i, n in enumerate(_NAMES)} | {
    "Db": 1, "D#": 3, "Gb": 6, "G#": 8, "A#": 10, "Cb": 11, "Fb": 4, "E#": 5, "B#": 0}  # fmt: skip


def find(folder: Path, limit: int | None = None) -> list[str]:
    """The POP909 songs (same keys as `pop909.find`)."""
    return pop909.find(folder, limit)


def split_of(key: str) -> str | None:
    return None


def song_of(key: str) -> str:
    """The POP909 piece id this arrangement shares its notes with (for the split)."""
    return f"{pop909.NAME}-{Path(key).parent.name}"


def mma_chord(label: str) -> str | None:
    """An MMA chord name for a POP909 (Harte-style) label: "A:min7/b7" -> "Am7/G"; N -> None."""
    if label == "N":
        return None
    root, _, rest = label.partition(":")
    quality, _, bass = rest.partition("/")
    if root not in _PC or (quality or "maj") not in _QUALITY or (bass and bass not in _INTERVAL):
        raise ValueError(f"chord {label!r} has no MMA name")
    name = _NAMES[_PC[root]] + _QUALITY[quality or "maj"]
    if bass and _INTERVAL[bass]:
        name += "/" + _NAMES[(_PC[root] + _INTERVAL[bass]) % 12]
    return name


def chart(key: str, score: Score) -> tuple[str, str]:
    """(groove, MMA source) for a normalised POP909 song: a chord per beat, '/' repeats."""
    beats = score.time_signatures[0].numerator
    if beats not in GROOVES:
        raise ValueError(f"no grooves for {beats} beats per bar")
    n_bars = -(-score.end() // (beats * TPQ))
    per_beat: list[str | None] = [None] * (n_bars * beats)
    for start, end, label in pop909.chords(Path(key)):
        name = mma_chord(label)
        for b in range(max(0, round(start / TPQ)), min(round(end / TPQ), len(per_beat))):
            per_beat[b] = name
    if not any(per_beat):
        raise ValueError("no chords in chord_midi.txt")
    slow, other = GROOVES[beats]
    choices = slow if score.tempos[0].qpm < SLOW_QPM else other
    song = Path(key).parent.name
    groove = choices[int(hashlib.sha1(song.encode()).hexdigest(), 16) % len(choices)]
    lines = [f"Time {beats}", "Tempo 100", f"Groove {groove}", "RndSeed 1"]
    for i in range(n_bars):
        cells, prev = [], object()
        for name in per_beat[i * beats : (i + 1) * beats]:
            cells.append("/" if name == prev else (name or "z"))
            prev = name
        lines.append(f"{i + 1} " + " ".join(cells))
    return groove, "\n".join(lines) + "\n"


def _render(source: str) -> Score:
    """Run MMA on a chart; the band as a Score at 480 tpq."""
    exe = shutil.which("mma")
    if exe is None:
        raise RuntimeError("mma is not installed (apt-get install mma)")
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "song.mma", Path(tmp) / "song.mid"
        src.write_text(source)
        run = subprocess.run([exe, "-f", str(out), str(src)], capture_output=True, text=True,
                             timeout=120)  # fmt: skip
        if run.returncode or not out.exists():
            errors = [ln.strip() for ln in (run.stdout + run.stderr).splitlines() if ln.strip()]
            raise RuntimeError(f"mma failed: {errors[-1] if errors else run.returncode}")
        return Score(str(out)).resample(TPQ, min_dur=1)


def _comp_rank(program: int) -> int:
    """Preference of a comping program: guitar, organ, then others; pianos and POP909's own
    programs never (they would merge with the song's tracks in a one-stream tokenizer)."""
    if program in {p for _, p in pop909.PROGRAMS.values()} or program < 8:
        return 99
    return 0 if 24 <= program < 32 else 1 if 16 <= program < 24 else 2


def band_tracks(band: Score, end: int) -> list[Track]:
    """Drums, one bass and one comping track from an MMA rendering, cut at `end`."""
    played = [t for t in band.tracks if len(t.notes)]  # one Python object per track
    drums = [t for t in played if t.is_drum]
    basses = [t for t in played if not t.is_drum
              and t.name.split("-")[0] in ("Bass", "Walk")]  # fmt: skip
    bass_ids = {id(t) for t in basses}
    comps = sorted(
        (t for t in played if not t.is_drum and id(t) not in bass_ids
         and _comp_rank(t.program) < 99),
        key=lambda t: (_comp_rank(t.program), -len(t.notes)),
    )  # fmt: skip
    picked = []
    if drums:
        picked.append(("Drums", 0, True, [n for t in drums for n in t.notes]))
    if basses:
        bass = max(basses, key=lambda t: len(t.notes))
        program = bass.program if 32 <= bass.program < 40 else 33
        picked.append(("Bass", program, False, list(bass.notes)))
    if comps:
        program = comps[0].program
        name = "Guitar" if 24 <= program < 32 else "Organ" if 16 <= program < 24 else "Comp"
        picked.append((name, program, False, list(comps[0].notes)))
    tracks = []
    for name, program, is_drum, notes in picked:
        track = Track(name=name, program=program, is_drum=is_drum)
        for n in sorted(notes, key=lambda n: (n.time, n.pitch)):
            if n.time < end:
                track.notes.append(Note(n.time, max(1, min(n.duration, end - n.time)), n.pitch,
                                        n.velocity))  # fmt: skip
        tracks.append(track)
    return tracks


def arrange(key: str) -> tuple[Score, str]:
    """(the normalised song with the band added, the groove used)."""
    score = pop909.normalise(Path(key))
    groove, source = chart(key, score)
    band = _render(source)
    tracks = band_tracks(band, score.end())
    if not any(t.is_drum for t in tracks):
        raise ValueError(f"groove {groove} rendered no drums")
    for track in tracks:
        score.tracks.append(track)
    return score, groove


def convert(key: str, out_dir: Path) -> dict:
    """Write one song with its band under `out_dir`/midi/pop and return its manifest row."""
    path = Path(key)
    song = path.parent.name
    score, groove = arrange(key)
    return corpus.piece_row(
        score,
        out_dir,
        STYLE,
        f"{NAME}-{song}",
        source=f"{NAME}:POP909/{song}/{path.name}#{groove}",
        repertory=NAME,
        composer="unknown",
        title=f"{pop909.title_of(key)} (band: MMA {groove})"[:200],
        licence_note=LICENCE_NOTE,
        commercial_use=COMMERCIAL_USE,
    )
