"""Infill evaluation: the measures on music built in code, and one quick run end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.errors import InputError
from musegen.evaluate.infill_eval import (
    InfillEvalConfig,
    Notes,
    chord_fit,
    evaluate_infill,
    infill_command,
    joins,
    kick_snare_on,
    onset_alignment,
    outside_kept,
    pool,
    prepare,
    similarity,
)
from musegen.evaluate.infill_report import table

TPQ = 480
BAR = 4 * TPQ
ROOTS = (36, 33, 29, 31)  # C, A, F, G: a bar each
CHORDS = ((60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62))


def band(bars: int = 12, bass_offset: int = 0, drums: bool = True) -> Score:
    """Piano chords on the half notes, a melody in quarters, a bass on the chord roots (moved
    by `bass_offset` semitones) on beats 1 and 3, and a kick/snare/hat groove."""
    score = Score(TPQ)
    score.tempos.append(Tempo(0, 110))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    piano, melody = Track(name="Piano", program=0), Track(name="Flute", program=73)
    bass, kit = Track(name="Bass", program=33), Track(name="Drums", program=0, is_drum=True)
    for b in range(bars):
        t, chord = b * BAR, CHORDS[b % 4]
        for half in (0, 2 * TPQ):
            piano.notes.extend(Note(t + half, 2 * TPQ, p, 70) for p in chord)
            bass.notes.append(Note(t + half, 2 * TPQ, ROOTS[b % 4] + bass_offset, 90))
        for beat in range(4):
            melody.notes.append(Note(t + beat * TPQ, TPQ, chord[beat % 3] + 12, 80))
            kit.notes.append(Note(t + beat * TPQ, TPQ // 4, 36 if beat % 2 == 0 else 38, 100))
    score.tracks.extend([piano, melody, bass] + ([kit] if drums else []))
    return score


def lines(bars: int) -> list[int]:
    return [b * BAR for b in range(bars + 1)]


def test_a_bass_on_the_chord_roots_scores_one_and_one_off_scores_lower() -> None:
    others = band(4)
    others.tracks = [t for t in others.tracks if t.name in ("Piano", "Flute")]
    on = chord_fit(Notes.of(band(4).tracks[2:3]), others, lines(4))
    assert on["bass_on_root"][0] == pytest.approx(on["bass_on_root"][1]) == 16.0  # quarters
    assert on["bass_in_chord"][0] == pytest.approx(16.0)
    off = chord_fit(Notes.of(band(4, bass_offset=1).tracks[2:3]), others, lines(4))
    assert off["bass_on_root"][0] == 0.0 and off["bass_in_chord"][0] == 0.0
    fifth = chord_fit(Notes.of(band(4, bass_offset=7).tracks[2:3]), others, lines(4))
    assert fifth["bass_on_root"][0] == 0.0 and fifth["bass_in_chord"][0] == pytest.approx(16.0)


def test_onset_alignment_and_drum_hits() -> None:
    song = band(2)
    piano, drums = Notes.of(song.tracks[:1]), Notes.of(song.tracks[3:])
    assert onset_alignment(Notes.of(song.tracks[2:3]), piano, TPQ) == {
        "onsets_on": [4, 4], "onsets_near": [4, 4]}  # fmt: skip
    late = song.copy()
    late.tracks[2].notes = [
        Note(n.time + TPQ // 8, n.duration, n.pitch, 90) for n in song.tracks[2].notes
    ]  # fmt: skip  (a 32nd late)
    assert onset_alignment(Notes.of(late.tracks[2:3]), piano, TPQ) == {
        "onsets_on": [0, 4], "onsets_near": [4, 4]}  # fmt: skip
    hits = kick_snare_on(drums, piano, TPQ)  # the piano plays on 1 and 3 only
    assert hits == {"kick_snare_on": [4, 8]}
    assert onset_alignment(Notes.of([]), piano, TPQ) == {}  # nothing to judge


def test_similarity_of_a_part_with_itself_and_with_a_shifted_sparse_copy() -> None:
    bass = Notes.of(band(4).tracks[2:3])
    same = similarity(bass, bass, 4, 4, lines(4))
    assert same == {"density_within_2x": [1.0, 1], "onset_overlap": [1.0, 1],
                    "register_within_5": [1.0, 1], "register_shift": [0.0, 1]}  # fmt: skip
    sparse = band(4, bass_offset=12)
    sparse.tracks[2].notes = [n for n in sparse.tracks[2].notes if n.time % BAR == 0]
    other = similarity(Notes.of(sparse.tracks[2:3]), bass, 4, 4, lines(4))
    assert other["density_within_2x"] == [1.0, 1]  # half as many: still within a factor 2
    assert other["onset_overlap"][0] == pytest.approx(0.5)
    assert other["register_within_5"] == [0.0, 1] and other["register_shift"] == [12.0, 1]
    silent = similarity(Notes.of([]), bass, 4, 4, lines(4))
    assert silent["density_within_2x"] == [0.0, 1] and silent["register_within_5"] == [0.0, 1]


def test_the_join_checks_catch_a_crossing_note_a_gap_and_a_change_outside() -> None:
    song = band(4)
    region = [BAR, 2 * BAR, 3 * BAR]  # bars 2-3
    inside = Notes.of(song.tracks, [(BAR, 3 * BAR)])
    assert joins(inside, region, True) == {"no_crossing": [1.0, 1], "bars_with_notes": [2, 2],
                                           "first_bar_note": [1.0, 1]}  # fmt: skip
    ringing = song.copy()
    ringing.tracks[0].notes.append(Note(3 * BAR - TPQ, 2 * TPQ, 72, 80))  # over the end
    crossing = joins(Notes.of(ringing.tracks, [(BAR, 3 * BAR)]), region, True)
    assert crossing["no_crossing"] == [0.0, 1]
    late = Notes.of(song.tracks, [(2 * BAR, 3 * BAR)])  # nothing in the region's first bar
    assert joins(late, region, True)["first_bar_note"] == [0.0, 1]
    assert joins(late, region, True)["bars_with_notes"] == [1, 2]
    assert outside_kept(song, ringing, BAR, 3 * BAR)  # the new note starts inside
    moved = song.copy()
    moved.tracks[1].notes[0].pitch += 1  # bar 1: outside the region
    assert not outside_kept(song, moved, BAR, 3 * BAR)
    added = song.copy()
    added.tracks.append(Track(name="Bass 2", program=33))
    added.tracks[-1].notes.append(Note(3 * BAR, TPQ, 40, 80))  # a new track's note after it
    assert not outside_kept(song, added, BAR, 3 * BAR)


def test_pool_sums_counts_over_songs() -> None:
    pooled = pool([{"onsets_on": [3, 4]}, {"onsets_on": [1, 4], "no_crossing": [1.0, 1]}])
    assert pooled["onsets_on"] == {"value": 0.5, "count": 4.0, "of": 8}
    assert pooled["key_kk"] == {"value": None, "count": 0.0, "of": 0}


def test_config_and_song_checks(tmp_path: Path) -> None:
    cfg = InfillEvalConfig(tmp_path)
    assert (cfg.songs, cfg.region, cfg.part_bars) == (20, (5, 8), (1, 8))
    quick = InfillEvalConfig(tmp_path, quick=True, region="4-5")
    assert (quick.songs, quick.region, quick.part_bars) == (2, (4, 5), (1, 4))
    for bad in ({"region": "1-4"}, {"region": "5-x"}, {"part_bars": (3, 2)}, {"songs": 0}):
        with pytest.raises(InputError):
            InfillEvalConfig(tmp_path, **bad)
    with pytest.raises(InputError, match="no such folder"):
        InfillEvalConfig(tmp_path / "missing")
    band(6).dump_midi(str(tmp_path / "short.mid"))
    assert "shorter than 9 bars" in prepare(tmp_path / "short.mid", "short.mid", cfg)
    song = prepare(_write(band(20), tmp_path / "long.mid"), "long.mid", cfg)
    assert song.bars == 16 and song.info["bass_tracks"] == 1  # cut after bars 9-16
    song = prepare(_write(band(14), tmp_path / "mid.mid"), "mid.mid", cfg)
    assert song.around(5, 8) == ([(0, 4 * BAR), (8 * BAR, 12 * BAR)], 8)
    assert song.around(1, 8) == ([(8 * BAR, 14 * BAR)], 6)  # the piece ends at bar 14


def _write(score: Score, path: Path) -> Path:
    score.dump_midi(str(path))
    return path


def test_a_checkpoint_without_plans_is_refused_in_one_line(
    tmp_path: Path, planless_checkpoint
) -> None:
    _write(band(12), tmp_path / "a.mid")
    with pytest.raises(InputError) as err:
        evaluate_infill(InfillEvalConfig(tmp_path, checkpoint=str(planless_checkpoint),
                                         quick=True))  # fmt: skip
    assert "has no bar plans" in str(err.value) and "\n" not in str(err.value)


def test_the_command_refuses_a_checkpoint_without_plans_in_one_line(
    tmp_path: Path, capsys, planless_checkpoint
) -> None:
    from musegen.cli import main

    _write(band(12), tmp_path / "a.mid")
    args = ["evaluate", "infill", str(tmp_path), "--checkpoint", str(planless_checkpoint)]
    assert main([*args, "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no bar plans" in err and "--checkpoint" in err


def test_quick_run_end_to_end(tmp_path: Path, tiny_checkpoint: Path) -> None:
    songs = tmp_path / "songs"
    songs.mkdir()
    _write(band(12), songs / "a.mid")
    _write(band(12, drums=False), songs / "b.mid")
    cfg = InfillEvalConfig(
        songs, checkpoint=str(tiny_checkpoint), quick=True, region=(5, 8), seed=3
    )  # fmt: skip  (4 bars: the whole progression, in C)
    report = infill_command(cfg, out=tmp_path / "out", say=lambda _: None)
    res = report["results"]
    assert (res["infill"]["songs"], res["bass"]["songs"], res["drums"]["songs"]) == (2, 2, 1)
    for task in ("infill", "bass", "drums"):
        if res[task]["failed"] < res[task]["songs"]:  # the joins hold whatever the model wrote
            assert res[task]["model"]["outside_kept"]["value"] == 1.0
            assert res[task]["model"]["no_crossing"]["value"] == 1.0
    # The real part of a repeating song is its surroundings: the ceiling is perfect.
    real = res["infill"]["real"]
    for key in ("density_within_2x", "onset_overlap", "register_within_5", "key_kk",
                "key_music21", "bars_with_notes", "first_bar_note"):  # fmt: skip
        assert real[key]["value"] == 1.0, key
    assert res["bass"]["real"]["bass_on_root"]["value"] == 1.0
    assert res["drums"]["real"]["kick_snare_on"]["value"] == 1.0  # the melody is on each beat
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert written["results"] == json.loads(json.dumps(res))
    assert (tmp_path / "out" / "infill.png").stat().st_size > 10_000
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| measure | n | model | real part | model / real | target | met |" in md
    assert "--quick" in md and table(report) in md
    again, _ = evaluate_infill(cfg, say=lambda _: None)  # the same seed, the same numbers
    assert again["results"] == report["results"]
