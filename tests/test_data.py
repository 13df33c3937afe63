from __future__ import annotations

import numpy as np

from musegen.data.shards import Shards, WindowSampler, assign_splits, build_shards
from musegen.model.loss import IGNORE
from musegen.tokens.controls import PLAN_KINDS, control_tokens


def test_splits_are_stratified_and_fixed():
    rows = [{"id": f"{s}-{i}", "style": s} for s in ("a", "b") for i in range(40)]
    split = assign_splits(rows)
    assert split == assign_splits(list(reversed(rows)))
    for s in ("a", "b"):
        held = [k for k, v in split.items() if k.startswith(s) and v != "train"]
        assert len(held) == 4  # 5% validation + 5% test of 40


def test_a_sources_own_split_is_kept_and_an_arrangement_follows_its_song():
    rows = [{"id": f"pop909-{i:03d}", "style": "pop", "source": f"pop909:POP909/{i:03d}/x.mid"}
            for i in range(1, 41)]  # fmt: skip
    rows += [
        {
            "id": f"pop909-band-{i:03d}",
            "style": "pop",
            "source": f"pop909-band:POP909/{i:03d}/{i:03d}.mid#8Beat",
        }
        for i in range(1, 41)
    ]
    rows += [{"id": "groove-1", "style": "rock", "split": "test"},
             {"id": "groove-2", "style": "rock", "split": "validation"}]  # fmt: skip
    split = assign_splits(rows)
    assert split["groove-1"] == "test" and split["groove-2"] == "validation"
    for i in range(1, 41):
        assert split[f"pop909-band-{i:03d}"] == split[f"pop909-{i:03d}"]
    assert sum(v != "train" for k, v in split.items() if k.startswith("pop909-0")) == 4


def test_shards_hold_every_piece_and_cache(small_corpus, small_shards):
    shards = Shards.open(small_shards)
    assert len(shards.tokenizer.remi) == 800  # the bar-plan and infill tokens come after
    assert shards.tokenizer.vocab_size == 800 + len(control_tokens())
    assert sum(p["length"] for p in shards.index) == len(shards.tokens)
    piece = shards.index[0]
    from symusic import Score

    from musegen.data.manifest import read_manifest

    row = next(r for r in read_manifest(small_corpus) if r["id"] == piece["id"])
    expected = shards.tokenizer.encode(Score(str(small_corpus / row["path"])))
    assert shards.piece_tokens(piece).tolist() == expected
    assert {p["split"] for p in shards.index} >= {"train"}
    before = (small_shards / "tokens.bin").stat().st_mtime_ns
    build_shards(small_corpus, small_shards, vocab_size=800, jobs=1, progress=False)
    assert (small_shards / "tokens.bin").stat().st_mtime_ns == before  # cache hit


def test_windows_start_with_conditions_then_a_bar(small_shards):
    shards = Shards.open(small_shards)
    tok = shards.tokenizer
    sampler = WindowSampler(shards, "train", 128, condition_dropout=0.0, seed=1)
    for k in range(20):
        x, y = sampler.window(k)
        base = tok.to_base(x[:3])
        assert [t.split("_")[0] for t in tok.to_base(x[2:6])] == list(PLAN_KINDS)
        assert base[0].startswith("Style_") and base[1].startswith("Mood_")
        assert base[2].startswith("Key_")  # the first bar's plan, then the bar
        assert tok.to_base(x[6:7])[0] == "Bar_None"
        valid = (y[:-1] != IGNORE) & (x[1:] != tok.pad_id)
        assert y[0] == IGNORE and (y[:-1][valid] == x[1:][valid]).all()
    again = WindowSampler(shards, "train", 128, condition_dropout=0.0, seed=1)
    assert np.array_equal(sampler.window(5)[0], again.window(5)[0])
    dropped = WindowSampler(shards, "train", 128, condition_dropout=1.0, seed=1)
    assert tok.to_base(dropped.window(0)[0][:2]) == ["Style_any", "Mood_any"]


def test_windows_are_packed_and_never_train_on_labels(small_shards):
    shards = Shards.open(small_shards)
    tok = shards.tokenizer
    labels = {
        i for i, ts in enumerate(tok.base_tokens) if ts and ts[0].startswith(("Style_", "Mood_"))
    }
    sampler = WindowSampler(shards, "train", 256, condition_dropout=0.0, seed=3)
    fills, pieces = [], 0
    for k in range(30):
        x, y = sampler.window(k)
        fills.append((y != IGNORE).mean())
        starts = [i for i in range(1, len(x)) if x[i] in labels and x[i - 1] == tok.eos_id]
        pieces += len(starts)
        for i in starts:  # a later piece: EOS, its own Style_ and Mood_, a bar's plan, a bar
            assert tok.base_tokens[x[i]][0].startswith("Style_")
            assert i + 2 >= len(x) or tok.base_tokens[x[i + 2]][0].startswith("Key_")
            assert i + 6 >= len(x) or tok.base_tokens[x[i + 6]][0] == "Bar_None"
        assert not set(y[y != IGNORE].tolist()) & labels  # labels are inputs only
    assert pieces > 0 and min(fills[:-1]) > 0.9  # short pieces fill the window


def test_evaluation_windows_cover_every_piece_or_spread_over_the_split(small_shards):
    shards = Shards.open(small_shards)
    sampler = WindowSampler(shards, "train", 64, condition_dropout=0.0)
    every = list(sampler.evaluation_windows())
    assert {i for *_, i in every} == set(range(len(sampler.pieces)))
    total = sum(-(-p["length"] // 62) for p in sampler.pieces)  # chunks of context - 2 tokens
    assert len(every) == total
    some = list(sampler.evaluation_windows(5))
    pieces = [i for *_, i in some]
    assert len(some) == 5 and pieces[0] == 0 and pieces[-1] == len(sampler.pieces) - 1
    assert all(np.array_equal(x, every[k][0]) for k, (x, *_) in zip(
        np.linspace(0, total - 1, 5).round().astype(int), some, strict=True))  # fmt: skip


def test_openings_weigh_more_right_after_each_pieces_labels(small_shards):
    shards = Shards.open(small_shards)
    tok = shards.tokenizer
    labels = {i for i, ts in enumerate(tok.base_tokens) if ts and ts[0].startswith("Style_")}
    sampler = WindowSampler(shards, "train", 256, condition_dropout=0.0, seed=3,
                            opening_weight=4.0, opening_tokens=10)  # fmt: skip
    for k in range(5):
        x, y, w = sampler.weighted_window(k)
        assert np.array_equal(x, sampler.window(k)[0]) and np.array_equal(y, sampler.window(k)[1])
        starts = [i for i in range(len(x)) if x[i] in labels]  # Style_ then Mood_ per piece
        expected = np.ones(len(x), dtype=np.float32)
        for s in starts:
            expected[s + 1 : s + 11] = 4.0  # the piece's first 10 music targets
        assert np.array_equal(w, expected) and len(starts) >= 1
    plain = WindowSampler(shards, "train", 256, condition_dropout=0.0, seed=3)
    assert (plain.weighted_window(0)[2] == 1).all()
