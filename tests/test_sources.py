"""Corpus sources (POP909, Groove MIDI): tiny look-alike folders built in code, real conversion."""

from __future__ import annotations

import csv
import shutil
import zipfile
from pathlib import Path

import mido
import pytest
from symusic import Score

try:
    from musegen.data.manifest import MANIFEST_FIELDS
except ImportError:  # older layout
    from musegen.data.corpus import MANIFEST_FIELDS
from musegen.data.sources import groove, mma, pop909

TPQ = 480


def _note_track(name: str, channel: int, notes: list[tuple[int, int, int]]) -> mido.MidiTrack:
    """A mido track with a name, a program change and (tick, duration, pitch) notes."""
    events = []
    for tick, duration, pitch in notes:
        events.append((tick, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=90)))
        events.append((tick + duration, 0, mido.Message("note_off", channel=channel, note=pitch)))
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
    if channel != 9:
        track.append(mido.Message("program_change", channel=channel, program=0))
    now = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - now))
        now = tick
    return track


def _xlsx(path: Path, rows: list[list[str]]) -> None:
    """A minimal index.xlsx with inline strings, as POP909 ships it."""
    cells = "".join(
        f'<row r="{i + 1}">' + "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in r)
        + "</row>" for i, r in enumerate(rows)
    )  # fmt: skip
    sheet = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f"<sheetData>{cells}</sheetData></worksheet>")  # fmt: skip
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/worksheets/sheet1.xml", sheet)


@pytest.fixture
def pop_folder(tmp_path) -> Path:
    """POP909-Dataset/POP909/001: three tracks, a 1/4 meter in the file, a pickup beat."""
    root = tmp_path / "POP909-Dataset"
    song = root / "POP909" / "001"
    song.mkdir(parents=True)
    # Beats every 480 ticks from tick 240 (0.25 s at 60 bpm); the downbeat is the second beat.
    first, downbeat = 240, 240 + TPQ
    melody = [(downbeat + i * TPQ, TPQ, 67 + i % 5) for i in range(16)]
    bridge = [(downbeat + i * 2 * TPQ, TPQ, 60) for i in range(8)]
    piano = [(first, TPQ, 48)] + [(downbeat + i * TPQ, TPQ, p) for i in range(16) for p in (48, 55)]
    midi = mido.MidiFile(type=1, ticks_per_beat=TPQ)
    midi.tracks.append(mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=1_000_000),
        mido.MetaMessage("time_signature", numerator=1, denominator=4),
    ]))  # fmt: skip
    midi.tracks.append(_note_track("MELODY", 0, melody))
    midi.tracks.append(_note_track("BRIDGE", 1, bridge))
    midi.tracks.append(_note_track("PIANO", 2, piano))
    midi.save(song / "001.mid")
    lines = []
    for i in range(18):
        seconds = (first + i * TPQ) / TPQ  # 60 bpm: a quarter per second
        bar = 1.0 if (i - 1) % 4 == 0 else 0.0
        lines.append(f"{seconds} {1.0 if (i - 1) % 2 == 0 else 0.0} {bar}")
    (song / "beat_midi.txt").write_text("\n".join(lines) + "\n")
    # Chords in seconds: none on the pickup beat, then a chord per bar from the downbeat.
    chart = ["0.5\t1.5\tN", "1.5\t5.5\tC:maj", "5.5\t9.5\tA:min7/b7", "9.5\t13.5\tF:maj",
             "13.5\t17.5\tG:7"]  # fmt: skip
    (song / "chord_midi.txt").write_text("\n".join(chart) + "\n")
    _xlsx(root / "POP909" / "index.xlsx", [["song_id", "name", "artist"], ["001", "Song", "Band"]])
    return root


def _groove_row(rel: str, style: str, beat_type: str, split: str) -> dict[str, str]:
    return {"drummer": "drummer1", "session": "drummer1/session1", "id": rel, "style": style,
            "bpm": "120", "beat_type": beat_type, "time_signature": "4-4", "split": split,
            "midi_filename": rel, "audio_filename": "", "duration": "8"}  # fmt: skip


@pytest.fixture
def groove_folder(tmp_path) -> Path:
    """groove/ with info.csv, a 4-bar rock beat (Roland edge hi-hat 22) and a one-bar fill."""
    root = tmp_path / "drums-with-llm" / "groove"
    (root / "drummer1" / "session1").mkdir(parents=True)
    beat = "drummer1/session1/1_rock_120_beat_4-4.mid"
    fill = "drummer1/session1/2_rock_120_fill_4-4.mid"
    short = "drummer1/session1/3_funk_120_beat_4-4.mid"
    for rel, bars in ((beat, 4), (fill, 1), (short, 1)):
        notes = []
        for q in range(4 * bars):
            notes.append((q * TPQ, 60, 36 if q % 2 == 0 else 38))
            notes += [(q * TPQ, 60, 22), (q * TPQ + TPQ // 2, 60, 42)]
        midi = mido.MidiFile(type=0, ticks_per_beat=TPQ)
        track = _note_track("", 9, notes)
        track.insert(0, mido.MetaMessage("set_tempo", tempo=500_000))
        track.insert(0, mido.MetaMessage("time_signature", numerator=4, denominator=4))
        midi.tracks.append(track)
        midi.save(root / rel)
    with (root / "info.csv").open("w", newline="") as fh:
        rows = [_groove_row(beat, "rock/indie", "beat", "test"),
                _groove_row(fill, "rock", "fill", "train"),
                _groove_row(short, "funk/groove1", "beat", "train")]  # fmt: skip
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root.parent


def _check_row(row: dict, out: Path, module) -> Path:
    assert list(row) == MANIFEST_FIELDS
    assert row["licence_note"] == module.LICENCE_NOTE
    assert row["commercial_use"] == module.COMMERCIAL_USE in ("yes", "no", "unknown")
    assert row["source"].startswith(f"{module.NAME}:") and row["repertory"] == module.NAME
    path = out / row["path"]
    assert path.is_file() and not Path(row["path"]).is_absolute()
    assert mido.MidiFile(path).ticks_per_beat == TPQ
    return path


def test_pop909_song_becomes_three_named_gm_tracks_on_the_bar_grid(pop_folder, tmp_path):
    keys = pop909.find(pop_folder, None)
    assert keys == [str(pop_folder / "POP909" / "001" / "001.mid")]
    assert pop909.find(pop_folder / "POP909", 1) == keys and pop909.split_of(keys[0]) is None
    out = tmp_path / "corpus"
    row = pop909.convert(keys[0], out)
    path = _check_row(row, out, pop909)
    assert row["id"] == "pop909-001" and row["style"] == "pop"
    assert row["title"] == "Song / Band" and row["time_signature"] == "4/4"
    assert row["bars"] == 5 and row["notes"] == 16 + 8 + 33
    score = Score(str(path))
    assert score.ticks_per_quarter == TPQ
    assert {t.name: (t.program, t.is_drum) for t in score.tracks} == {
        "Melody": (53, False), "Bridge": (48, False), "Piano": (0, False)}  # fmt: skip
    assert [(ts.numerator, ts.denominator) for ts in score.time_signatures] == [(4, 4)]
    # The annotated downbeat sits on a bar line; the pickup beat is the last beat of bar 0.
    melody = next(t for t in score.tracks if t.name == "Melody")
    assert melody.notes[0].time == 4 * TPQ
    piano = next(t for t in score.tracks if t.name == "Piano")
    assert piano.notes[0].time == 3 * TPQ
    assert round(score.tempos[0].qpm) == 60
    programs = {msg.program for t in mido.MidiFile(path).tracks for msg in t
                if msg.type == "program_change"}  # fmt: skip
    assert programs == {53, 48, 0}


def test_pop909_chords_are_on_the_normalised_bar_grid(pop_folder):
    (key,) = pop909.find(pop_folder, None)
    assert pop909.chords(Path(key)) == [
        (3 * TPQ, 4 * TPQ, "N"), (4 * TPQ, 8 * TPQ, "C:maj"), (8 * TPQ, 12 * TPQ, "A:min7/b7"),
        (12 * TPQ, 16 * TPQ, "F:maj"), (16 * TPQ, 20 * TPQ, "G:7")]  # fmt: skip


def test_mma_chord_names():
    assert [mma.mma_chord(c) for c in ("C:maj", "A:min7/b7", "C:maj/3", "E:sus4(b7)", "N")] == [
        "C", "Am7/G", "C/E", "E7sus4", None]  # fmt: skip
    with pytest.raises(ValueError, match="no MMA name"):
        mma.mma_chord("C:weird")


@pytest.mark.skipif(shutil.which("mma") is None, reason="MMA is not installed: apt-get install mma")
def test_mma_band_under_the_chord_chart(pop_folder, tmp_path):
    (key,) = mma.find(pop_folder, None)
    out = tmp_path / "corpus"
    row = mma.convert(key, out)
    path = _check_row(row, out, mma)
    assert row["id"] == "pop909-band-001" and mma.song_of(key) == "pop909-001"
    score = Score(str(path))
    names = [t.name for t in score.tracks]
    assert names[:3] == ["Melody", "Bridge", "Piano"] and "Drums" in names and "Bass" in names
    programs = [-1 if t.is_drum else t.program for t in score.tracks]  # drums: miditok's -1
    assert len(set(names)) == len(names) == len(set(programs))
    (drums,) = [t for t in score.tracks if t.is_drum]
    assert len(drums.notes) and drums.name == "Drums"
    bass = next(t for t in score.tracks if t.name == "Bass")
    assert 32 <= bass.program < 40
    # the bass plays the chart: C major in bar 1, F major in bar 3
    assert {n.pitch % 12 for n in bass.notes if 4 * TPQ <= n.time < 8 * TPQ} <= {0, 4, 7}
    assert {n.pitch % 12 for n in bass.notes if 12 * TPQ <= n.time < 16 * TPQ} <= {5, 9, 0}
    assert max(n.time for t in score.tracks for n in t.notes) < 20 * TPQ


def test_pop909_refuses_a_song_without_beat_annotation(pop_folder, tmp_path):
    key = pop909.find(pop_folder, None)[0]
    (Path(key).parent / "beat_midi.txt").write_text("")
    with pytest.raises(ValueError, match="beat"):
        pop909.convert(key, tmp_path / "corpus")


def test_groove_beat_becomes_a_gm_drum_track_with_the_dataset_split(groove_folder, tmp_path):
    keys = groove.find(groove_folder, None)
    assert [Path(k).name for k in keys] == ["1_rock_120_beat_4-4.mid", "3_funk_120_beat_4-4.mid"]
    assert [groove.split_of(k) for k in keys] == ["test", "train"]
    out = tmp_path / "corpus"
    row = groove.convert(keys[0], out)
    path = _check_row(row, out, groove)
    assert row["style"] == "rock" and row["commercial_use"] == "yes"
    assert row["bars"] == 4 and row["time_signature"] == "4/4" and row["tempo"] == 120
    assert row["source"] == "groove:drummer1/session1/1_rock_120_beat_4-4.mid"
    score = Score(str(path))
    (drums,) = score.tracks
    assert drums.is_drum and drums.name == "Drums"
    pitches = {n.pitch for n in drums.notes}
    assert pitches == {36, 38, 42}  # the Roland edge hi-hat (22) is a GM closed hi-hat
    channels = {msg.channel for t in mido.MidiFile(path).tracks for msg in t
                if msg.type == "note_on"}  # fmt: skip
    assert channels == {9}
    with pytest.raises(ValueError, match="fewer than 2"):
        groove.convert(keys[1], out)


def test_groove_styles_are_few_and_tokenizer_safe():
    assert groove.style_of("latin/brazilian-samba") == "latin"
    assert groove.style_of("neworleans/secondline") == "funk"
    assert groove.style_of("something-new") == "world"
    assert all("_" not in s and " " not in s for s in groove.STYLES.values())
