from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from symusic import Note, Score, TimeSignature, Track

from musegen.data.originality import OriginalityIndex

Q = 480
BAR = 4 * Q
FIELDS = ["id", "path", "style", "mood", "tempo", "seconds", "onset_density", "arousal",
          "notes", "bars"]  # fmt: skip


def melody(rng, bars: int, low: int = 55, high: int = 80) -> list[tuple[int, int, int]]:
    """(tick, ticks, pitch) of a random line of eighths and quarters filling `bars` bars."""
    notes, tick = [], 0
    while tick < bars * BAR:
        length = int(rng.choice([Q // 2, Q]))
        notes.append((tick, length, int(rng.integers(low, high))))
        tick += length
    return notes


def score_of(notes, program: int = 0) -> Score:
    score = Score(Q)
    score.time_signatures.append(TimeSignature(0, 4, 4))
    track = Track(name="line", program=program)
    for tick, length, pitch in notes:
        track.notes.append(Note(tick, length, pitch, 80))
    score.tracks.append(track)
    return score


@pytest.fixture
def corpus(tmp_path):
    """Three training pieces of random melody, written as MIDI with a manifest."""
    rng = np.random.default_rng(0)
    rows = []
    pieces = {}
    for k in range(3):
        pieces[f"piece-{k}"] = melody(rng, 8)
        path = tmp_path / "midi" / f"piece-{k}.mid"
        path.parent.mkdir(exist_ok=True)
        score_of(pieces[f"piece-{k}"]).dump_midi(str(path))
        rows.append({"id": f"piece-{k}", "path": f"midi/piece-{k}.mid", "style": "folk",
                     "mood": "calm", "tempo": 100, "seconds": 20, "onset_density": 2,
                     "arousal": 0, "notes": len(pieces[f"piece-{k}"]), "bars": 8})  # fmt: skip
    with (tmp_path / "manifest.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path, pieces


def test_finds_a_copied_three_bar_passage_transposed(corpus):
    corpus_dir, pieces = corpus
    index = OriginalityIndex.build(corpus_dir)
    rng = np.random.default_rng(99)
    source = [n for n in pieces["piece-1"] if 2 * BAR <= n[0] < 5 * BAR]  # bars 3 to 5
    span = (source[-1][0] + source[-1][1] - source[0][0]) / BAR  # 3 bars, less a tied-in note
    # a novel bar, the copied bars a fourth higher and one beat later, a novel bar
    copied = [(t - 2 * BAR + BAR + Q, d, p + 5) for t, d, p in source]
    query = melody(rng, 1, 40, 52) + copied + [(t + 4 * BAR + Q, d, p)
                                                 for t, d, p in melody(rng, 1, 40, 52)]  # fmt: skip
    found = index.longest_match(score_of(query))
    assert found["piece"] == "piece-1"
    assert len(source) <= found["notes"] <= len(source) + 2  # a random neighbour may agree
    assert 2.75 <= span <= 3 and span <= found["bars"] <= span + 0.5


def test_novel_material_shares_nothing(corpus):
    corpus_dir, _ = corpus
    index = OriginalityIndex.build(corpus_dir)
    novel = score_of(melody(np.random.default_rng(7), 8))
    assert index.longest_match(novel) == {"notes": 0, "bars": 0.0, "piece": None}
    # a short shared figure (under k notes) is not counted
    short = [(i * Q, Q, 60 + (i % 3)) for i in range(5)]
    assert index.longest_match(score_of(short))["notes"] == 0


def test_save_load_round_trip_without_pickle(corpus, tmp_path):
    corpus_dir, pieces = corpus
    index = OriginalityIndex.build(corpus_dir, split_ids=["piece-0", "piece-2"])
    path = index.save(tmp_path / "index.npz")
    with np.load(path, allow_pickle=False) as data:
        assert json.loads(str(data["meta"]))["k"] == index.k
    loaded = OriginalityIndex.load(path)
    assert loaded.piece_ids == ["piece-0", "piece-2"]
    whole = score_of(pieces["piece-2"])
    assert loaded.longest_match(whole) == index.longest_match(whole)
    assert loaded.longest_match(whole)["notes"] == len(pieces["piece-2"])
    assert loaded.longest_match(score_of(pieces["piece-1"]))["notes"] == 0  # not indexed


def test_for_corpus_caches_under_the_corpus_folder(corpus):
    corpus_dir, pieces = corpus
    first = OriginalityIndex.for_corpus(corpus_dir, split_ids=["piece-0"])
    cached = list((corpus_dir / ".cache").glob("originality-*.npz"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    again = OriginalityIndex.for_corpus(corpus_dir, split_ids=["piece-0"])
    assert cached[0].stat().st_mtime_ns == stamp and again.piece_ids == first.piece_ids


def test_training_piece_of_a_real_corpus_is_found(small_corpus):
    from musegen.data.manifest import read_manifest
    from musegen.data.shards import assign_splits

    rows = read_manifest(small_corpus)
    split = assign_splits(rows)
    train = next(r for r in rows if split[r["id"]] == "train" and r["style"] == "celtic-fiddle")
    test = next(r for r in rows if split[r["id"]] == "test" and r["style"] == "celtic-fiddle")
    index = OriginalityIndex.for_corpus(small_corpus)
    copy = index.longest_match(Score(str(small_corpus / train["path"])))
    assert copy["piece"] == train["id"] and copy["bars"] >= 8
    held_out = index.longest_match(Score(str(small_corpus / test["path"])))
    assert held_out["notes"] < copy["notes"]


def test_continue_reports_originality(tiny_checkpoint, small_corpus, tmp_path, capsys):
    from musegen.cli.app import main

    seed = next((small_corpus / "midi" / "chorale").glob("*.mid"))
    out = tmp_path / "out"
    code = main(["continue", str(seed), "-o", str(out), "--bars", "1", "--no-audio",
                 "--checkpoint", str(tiny_checkpoint), "--check-originality",
                 "--corpus", str(small_corpus)])  # fmt: skip
    assert code == 0
    assert "originality:" in capsys.readouterr().out
    record = json.loads((out / "generation.json").read_text())["originality"]
    assert set(record) >= {"notes", "bars", "piece", "k", "corpus"}
