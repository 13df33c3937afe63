from __future__ import annotations

import csv

from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.data import corpus
from musegen.data.manifest import MANIFEST_FIELDS, read_manifest


def _piece(pitches, tempo=120.0, program=0, quarter=1.0) -> Score:
    score = Score(480)
    score.tempos.append(Tempo(0, tempo))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    track = Track(name="Melody", program=program)
    for i, p in enumerate(pitches):
        track.notes.append(Note(int(i * 480 * quarter), int(480 * quarter), p, 80))
    score.tracks.append(track)
    return score


def test_music21_sample_builds_with_labels_and_licences(small_corpus):
    rows = read_manifest(small_corpus)
    assert {r["style"] for r in rows} == {"chorale", "celtic-fiddle", "madrigal"}
    with (small_corpus / "manifest.csv").open() as fh:
        assert csv.DictReader(fh).fieldnames == MANIFEST_FIELDS
    for r in rows:
        assert (small_corpus / r["path"]).exists()
        assert r["mood"] in ("happy", "tense", "sad", "calm")
        assert r["mode"] in ("major", "minor") and r["key"].endswith(r["mode"])
        assert r["notes"] > 0 and r["bars"] > 0 and r["seconds"] > 0
        assert len(r["sha256"]) == 64 and r["licence_note"]
        assert r["commercial_use"] in ("yes", "no", "unknown")
    chorale = next(r for r in rows if r["style"] == "chorale")
    score = Score(str(small_corpus / chorale["path"]))
    # four voices (plus any instrument doubling), each its own named track with a choir program
    voices = [t for t in score.tracks if t.program == 52]
    assert len(voices) >= 4 and all(t.name for t in score.tracks)
    assert score.time_signatures[0].time == 0 and score.tempos[0].time == 0
    fiddle = next(r for r in rows if r["style"] == "celtic-fiddle")
    assert Score(str(small_corpus / fiddle["path"])).tracks[0].program == 110  # GM fiddle


def test_second_build_converts_nothing_and_optout_excludes(small_corpus, tmp_path, monkeypatch):
    rows = read_manifest(small_corpus)
    calls = []
    monkeypatch.setattr(corpus, "_run_parallel", lambda *a, **k: calls.append(a))
    optout = tmp_path / "optout.txt"
    optout.write_text(f"# opt-outs\n{rows[0]['id']}\nJohann Sebastian Bach\n")
    corpus.build("music21", small_corpus, ["bach", "ryansMammoth", "monteverdi"], limit=4,
                 optout_path=optout, progress=False)  # fmt: skip
    assert calls == []  # everything was cached
    kept = read_manifest(small_corpus)
    assert rows[0]["id"] not in {r["id"] for r in kept}
    assert not any(r["composer"] == "Johann Sebastian Bach" for r in kept)
    # restore the full manifest for other tests
    corpus.build("music21", small_corpus, ["bach", "ryansMammoth", "monteverdi"], limit=4,
                 optout_path=tmp_path / "none.txt", progress=False)  # fmt: skip


def test_commercial_only_drops_restricted_pieces(tmp_path):
    base = {f: "" for f in MANIFEST_FIELDS} | {"notes": 1, "bars": 1, "seconds": 1.0}
    rows = [
        base | {"id": "a", "style": "x", "commercial_use": "no", "onset_density": 1.0,
                "tempo": 100, "mode": "major", "source": "s1"},
        base | {"id": "b", "style": "x", "commercial_use": "unknown", "onset_density": 2.0,
                "tempo": 120, "mode": "minor", "source": "s2"},
    ]  # fmt: skip
    summary = corpus.write_manifest(tmp_path, rows, [], set(), commercial_only=True)
    assert summary["pieces"] == 1
    assert [r["id"] for r in read_manifest(tmp_path)] == ["b"]


def test_midi_folder_styles_from_subfolders_and_bad_files_listed(tmp_path):
    src = tmp_path / "mine"
    (src / "jazz").mkdir(parents=True)
    (src / "ambient").mkdir()
    _piece([60, 64, 67, 72] * 8, tempo=180, quarter=0.5).dump_midi(str(src / "jazz" / "a.mid"))
    _piece([57, 60, 64, 57] * 4, tempo=50, quarter=2).dump_midi(str(src / "ambient" / "b.mid"))
    (src / "jazz" / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")
    (src / "ambient" / "notes.mid").write_text("not midi at all")
    out = tmp_path / "corpus"
    summary = corpus.build(str(src), out, jobs=1, optout_path=tmp_path / "x", progress=False)
    rows = {r["title"]: r for r in read_manifest(out)}
    assert set(rows) == {"a", "b"} and summary["failures"] == 2
    assert rows["a"]["style"] == "jazz" and rows["b"]["style"] == "ambient"
    assert rows["a"]["key"] == "C:major"
    failures = (out / "failures.csv").read_text()
    assert "broken.mid" in failures and "notes.mid" in failures
    one_style = corpus.build(str(src), tmp_path / "c2", style="mine", jobs=1,
                             optout_path=tmp_path / "x", progress=False)  # fmt: skip
    assert set(one_style["style_mood"]) == {"mine"}


def test_describe_counts_bars_with_pickup_free_meter():
    score = _piece([60] * 12, quarter=1.0)  # 12 quarters of 4/4 = 3 bars
    facts = corpus.describe(score)
    assert facts["bars"] == 3 and facts["time_signature"] == "4/4" and facts["tempo"] == 120


def test_program_for_part():
    rep = corpus.REPERTORIES["classical"]
    assert corpus.program_for_part("Violoncello", rep) == 42
    assert corpus.program_for_part("Violin I", rep) == 40
    assert corpus.program_for_part("Soprano", corpus.REPERTORIES["bach"]) == 52
    assert corpus.program_for_part("Piano", corpus.REPERTORIES["monteverdi"]) == 52
    assert corpus.program_for_part(None, corpus.REPERTORIES["oneills1850"]) == 110


def test_repertories_have_five_styles():
    assert len({r.style for r in corpus.REPERTORIES.values()}) >= 5
    assert corpus.REPERTORIES["essen"].commercial_use == "no"
