"""Fidelity evaluation: the measures on songs built in code, and one quick run end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.evaluate.fidelity import (
    FidelityConfig,
    Song,
    aligned,
    fidelity_command,
    loop_floor,
    midi_files,
    prepare,
)
from musegen.evaluate.fidelity_measures import (
    aggregate,
    bar_starts,
    compare,
    onset_histogram,
    overlap,
)
from musegen.evaluate.judges import key_by_music21 as key_music21
from musegen.evaluate.judges import key_by_project as key_kk
from musegen.music.timeline import cut

TPQ = 480
BAR = 4 * TPQ
CHORDS = ((48, 52, 55), (45, 48, 52), (41, 45, 48), (43, 47, 50))  # C, Am, F, G


def song(bars: int = 12, tpq: int = TPQ, transpose: int = 0) -> Score:
    """A repeating 3-track song: a one-bar bass riff, four-bar chords, a one-bar drum groove."""
    bar = 4 * tpq
    score = Score(tpq)
    score.tempos.append(Tempo(0, 100))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    bass = Track(name="Bass", program=33)
    keys = Track(name="Piano", program=0)
    drums = Track(name="Drums", program=0, is_drum=True)
    for b in range(bars):
        t = b * bar
        for step, pitch in enumerate((36, 36, 43, 40)):
            bass.notes.append(Note(t + step * tpq, tpq // 2, pitch + transpose, 90))
        for pitch in CHORDS[b % 4]:
            keys.notes.append(Note(t, bar, pitch + 12 + transpose, 70))  # ends on the bar line
        for step in range(8):
            drums.notes.append(Note(t + step * tpq // 2, tpq // 4, 42, 60))
            if step % 4 == 0:
                drums.notes.append(Note(t + step * tpq // 2, tpq // 4, 36 if step == 0 else 38, 90))
    score.tracks.extend([bass, keys, drums])
    return score


def write(score: Score, path: Path) -> Path:
    score.dump_midi(str(path))
    return path


@pytest.fixture
def cut_song(tmp_path: Path) -> Song:
    prepared = prepare(write(song(), tmp_path / "a.mid"), "a.mid", 8, 4)
    assert isinstance(prepared, Song)
    return prepared


def measure(s: Song, new: Score) -> dict:
    return aggregate([compare(s.seed, s.reference, new, 8, 4)])


def values(result: dict) -> dict:
    return {k: v["value"] for k, v in result.items()}


def test_ceiling_of_a_repeating_song_is_a_copy_that_keeps_playing(cut_song: Song) -> None:
    assert cut_song.new_start == 8 * BAR
    assert len(cut_song.seed.tracks) == 3 and cut_song.seed.end() == 8 * BAR
    assert cut_song.info["on_grid"] == 1.0 and cut_song.info["grid_offset_ticks"] == 0
    got = values(measure(cut_song, cut_song.ceiling))
    assert got["copy_rate"] == 1.0 and got["keep_playing"] == 1.0
    assert got["density_within_2x"] == 1.0 and got["onset_overlap"] == pytest.approx(1.0)
    assert got["drums_continued"] == 1.0 and got["register_within_5"] == 1.0
    assert got["key_music21"] == 1.0 and got["key_kk"] == 1.0


def test_loop_floor_copy_rate_is_one(cut_song: Song) -> None:
    result = measure(cut_song, loop_floor(cut_song))
    assert result["copy_rate"]["value"] == 1.0
    assert result["copy_rate"]["of"] == 3 * 4  # every bar of every track, none empty


def test_a_silenced_track_lowers_keep_playing(cut_song: Song) -> None:
    new = cut_song.ceiling.copy()
    new.tracks[2].notes = cut_song.ceiling.clip(0, 0).tracks[2].notes  # the drums stop
    result = measure(cut_song, new)
    assert result["keep_playing"]["count"] == 2 and result["keep_playing"]["of"] == 3
    assert result["density_within_2x"]["value"] == pytest.approx(2 / 3)
    assert result["onset_overlap"]["value"] == pytest.approx(2 / 3)
    assert result["drums_continued"]["value"] == 0.0


def test_the_measures_can_fail(tmp_path: Path, cut_song: Song) -> None:
    # Another song a tritone away, with every onset moved by a 16th triplet and twice the notes.
    other = song(transpose=6)
    for track in other.tracks:
        notes = track.notes.numpy()
        doubled = {k: np.concatenate([v, v]) for k, v in notes.items()}
        doubled["time"] = np.concatenate([notes["time"] + TPQ // 6, notes["time"] + TPQ // 3])
        track.notes = Note.from_numpy(**doubled)
    new = cut(other, 8 * BAR, 12 * BAR, truncate=True)
    got = values(measure(cut_song, new))
    assert got["keep_playing"] == 1.0  # everything plays, yet nothing else holds
    assert got["copy_rate"] == 0.0 and got["onset_overlap"] == 0.0
    assert got["density_within_2x"] == 1.0  # exactly twice: the boundary counts as within
    assert got["register_within_5"] == 0.0 and got["register_shift"] == pytest.approx(6.0)
    assert got["key_music21"] == 0.0 and got["key_kk"] == 0.0


def test_cut_shortens_notes_that_ring_over_and_keeps_the_meter() -> None:
    score = Score(TPQ)
    score.time_signatures.append(TimeSignature(0, 3, 4))
    score.time_signatures.append(TimeSignature(6 * TPQ, 4, 4))  # two bars of 3/4, then 4/4
    track = Track(name="Piano", program=0)
    track.notes.append(Note(5 * TPQ, 4 * TPQ, 60, 80))  # rings over the 4/4 bar line
    track.notes.append(Note(6 * TPQ + 1, 10, 62, 80))
    score.tracks.append(track)
    assert bar_starts(score, 4).tolist() == [0, 3 * TPQ, 6 * TPQ, 10 * TPQ, 14 * TPQ]
    seed = cut(score, 0, 6 * TPQ, truncate=True)
    assert [(n.time, n.duration) for n in seed.tracks[0].notes] == [(5 * TPQ, TPQ)]
    after = cut(score, 6 * TPQ, 14 * TPQ, truncate=True)
    assert [(n.time, n.pitch) for n in after.tracks[0].notes] == [(1, 62)]
    assert after.time_signatures[0].numerator == 4 and after.time_signatures[0].time == 0


def test_onset_overlap_is_one_minus_total_variation() -> None:
    lines = np.array([0, BAR, 2 * BAR])
    p = onset_histogram(np.array([0, TPQ, 2 * TPQ, 3 * TPQ]), lines)
    q = onset_histogram(np.array([BAR, BAR + TPQ, BAR + TPQ // 2, BAR + TPQ // 2]), lines)
    assert p.sum() == pytest.approx(1.0) and q.sum() == pytest.approx(1.0)
    assert overlap(p, q) == pytest.approx(1 - 0.5 * np.abs(p - q).sum()) == pytest.approx(0.5)
    assert overlap(p, np.zeros_like(p)) == 0.0


def test_two_key_finders_on_a_scale() -> None:
    score = Score(TPQ)
    track = Track(name="Piano", program=0)
    for i, pitch in enumerate((60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60)):
        track.notes.append(Note(i * TPQ, TPQ * (3 if pitch % 12 in (0, 7) else 1), pitch, 80))
    score.tracks.append(track)
    assert key_kk(score) == (0, "major") and key_music21(score) == (0, "major")
    assert key_kk(score.shift_pitch(2)) == (2, "major") == key_music21(score.shift_pitch(2))
    assert key_kk(Score(TPQ)) is None and key_music21(Score(TPQ)) is None


def test_aligned_restores_the_seed_track_order(cut_song: Song) -> None:
    new = cut_song.ceiling.copy()
    new.tracks = [new.tracks[2].copy(), new.tracks[0].copy()]  # drums first, the piano lost
    info: dict = {}
    out = aligned(new, cut_song.seed, info)
    assert [t.name for t in out.tracks] == ["Bass", "Piano", "Drums"]
    assert len(out.tracks[1].notes) == 0 and info["missing_tracks"] == ["Piano"]


def test_config_and_folder_checks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--new-bars"):
        FidelityConfig(tmp_path, seed_bars=2, new_bars=4)
    with pytest.raises(ValueError, match="--songs"):
        FidelityConfig(tmp_path, songs=0)
    with pytest.raises(ValueError, match="no such folder"):
        FidelityConfig(tmp_path / "missing")
    assert FidelityConfig(tmp_path, quick=True).seed_bars == 4
    write(song(), tmp_path / "b.MID")
    (tmp_path / "sub").mkdir()
    write(song(), tmp_path / "sub" / "a.mid")
    (tmp_path / "notes.txt").write_text("not MIDI")
    assert [p.relative_to(tmp_path).as_posix() for p in midi_files(tmp_path)] == [
        "b.MID",
        "sub/a.mid",
    ]
    assert prepare(write(song(bars=5), tmp_path / "short.mid"), "short", 4, 2) == (
        "shorter than 6 bars"
    )


@pytest.mark.slow
def test_quick_run_with_the_shipped_default(tmp_path: Path) -> None:
    folder = tmp_path / "songs"
    folder.mkdir()
    write(song(bars=8), folder / "1-pop.mid")
    write(song(bars=8, tpq=96, transpose=-3), folder / "2-pop-96.mid")
    write(song(bars=3), folder / "0-short.mid")  # skipped: fewer than 4 + 2 bars
    gap = song(bars=8)
    for track in gap.tracks:  # bar 4, the seed's last, is silent: the model starts a bar early
        notes = track.notes.numpy()
        keep = (notes["time"] < 3 * BAR) | (notes["time"] >= 4 * BAR)
        track.notes = Note.from_numpy(**{k: v[keep] for k, v in notes.items()})
    write(gap, folder / "3-gap.mid")
    checkpoint = str(Path(__file__).resolve().parents[1] / "checkpoints" / "default")
    lines: list[str] = []
    report = fidelity_command(
        folder, checkpoint=checkpoint, quick=True, songs=3, out=tmp_path / "out", say=lines.append
    )
    assert [s["song"] for s in report["songs"]] == ["1-pop.mid", "2-pop-96.mid", "3-gap.mid"]
    assert report["skipped"] == [{"song": "0-short.mid", "reason": "shorter than 6 bars"}]
    assert report["start_mismatches"] == 1 and report["failed_generations"] == 0
    assert "not the song's bar line 7680" in report["songs"][2]["model"]["start_mismatch"]
    res = report["results"]
    assert res["ceiling"]["copy_rate"]["value"] == 1.0 == res["loop_floor"]["copy_rate"]["value"]
    assert res["ceiling"]["keep_playing"]["value"] == 1.0
    for entry in res["model"].values():
        assert entry["value"] is None or entry["value"] >= 0
    for name in ("report.md", "report.json", "fidelity.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["results"] == res and "| seed tracks that keep playing |" in lines[-2]
    again = fidelity_command(folder, checkpoint=checkpoint, quick=True, songs=3, out=None)
    assert again["results"] == res  # deterministic
