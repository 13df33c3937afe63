"""Token shards and training windows.

`build_shards` tokenizes every manifest piece once into one uint16 memmap plus an index
(piece -> offset, length, style, mood, split). Windows for training always begin with the
piece's condition tokens and then a bar line, exactly like a generation prompt.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from symusic import Score

from musegen.data.augment import (
    OTHER_VALENCE,
    base_key,
    switch_mode,
    to_piano,
    transpose,
)
from musegen.data.corpus import split_partner
from musegen.data.manifest import read_manifest
from musegen.data.plan_contrast import contrast
from musegen.io.files import atomic_write_bytes
from musegen.model.loss import IGNORE
from musegen.music.labels import MODE_OF_MOOD
from musegen.progress import progress_bar
from musegen.tokens.controls import ANY, KEY, PLAN_KINDS, control_tokens
from musegen.tokens.layout import (
    PLAN_WIDTH,
    bar_plan_codes,
    infill_layout,
    plan_from_codes,
    plan_ids,
    split_bars,
    with_plans,
)
from musegen.tokens.tokenizer import MOOD, MuseTokenizer

SPLITS = ("train", "validation", "test")


def assign_splits(rows: list[dict], held_out: float = 0.05) -> dict[str, str]:
    """Fixed piece-level split, stratified by style: `held_out` each to validation and test.

    Pieces are ordered by a hash of their id, so the split never depends on build order and
    adding pieces does not move existing ones between splits more than necessary. A source's
    own split (the manifest's `split`) is kept; a piece that shares its notes with another
    (corpus.split_partner) goes where that one goes.
    """
    split = {r["id"]: r["split"] for r in rows if r.get("split") in SPLITS}
    ids = {r["id"] for r in rows}
    partner = {r["id"]: split_partner(r) for r in rows if r["id"] not in split}
    partner = {piece: other for piece, other in partner.items() if other in ids}
    by_style: dict[str, list[str]] = {}
    for r in rows:
        if r["id"] not in split and r["id"] not in partner:
            by_style.setdefault(r["style"], []).append(r["id"])
    for ids in by_style.values():
        ids = sorted(ids, key=lambda i: hashlib.sha256(i.encode()).hexdigest())
        n = len(ids)
        n_held = max(1, round(n * held_out)) if n >= 3 else 0
        for k, piece in enumerate(ids):
            split[piece] = "test" if k < n_held else "validation" if k < 2 * n_held else "train"
    for piece, other in partner.items():
        split[piece] = split.get(other, "train")
    return split


@dataclass
class Shards:
    """Memory-mapped tokens of a corpus and the per-piece index."""

    root: Path
    tokens: np.ndarray  # (N,) uint16
    index: list[dict]  # id, offset, length, style, mood, split, notes, plan_offset
    tokenizer: MuseTokenizer
    plans: np.ndarray  # (bars, PLAN_WIDTH) uint8: every piece's bar plans (bar_plan_codes)

    @classmethod
    def open(cls, root: str | Path) -> Shards:
        root = Path(root)
        meta = json.loads((root / "index.json").read_text())
        tokens = np.memmap(root / "tokens.bin", dtype=np.uint16, mode="r")
        plans = np.fromfile(root / "plans.bin", dtype=np.uint8).reshape(-1, PLAN_WIDTH)
        tok = MuseTokenizer.load(root / "tokenizer.json")
        return cls(root, tokens, meta["pieces"], tok, plans)

    def pieces(self, split: str) -> list[dict]:
        return [p for p in self.index if p["split"] == split]

    def piece_tokens(self, piece: dict) -> np.ndarray:
        return np.asarray(self.tokens[piece["offset"] : piece["offset"] + piece["length"]])

    def piece_plans(self, piece: dict) -> np.ndarray:
        """(bars, PLAN_WIDTH): the plan codes of each of the piece's Bar tokens."""
        bars = int(self.tokenizer.bar_count[self.piece_tokens(piece).astype(np.int64)].sum())
        return self.plans[piece["plan_offset"] : piece["plan_offset"] + bars]


# Raised when MuseTokenizer.encode changes what a file becomes, so old shards are rebuilt.
# 2: meters missing from the vocabulary are written as one of the same bar length (or a bar
#    as equal bars of one), and a pickup bar in a meter with no token ends a full bar of
#    the next meter (MuseTokenizer.in_vocab_meters).
# 3: every bar's plan (its attributes) is stored beside the tokens (plans.bin).
ENCODING = 3


def shard_key(tokenizer_path: Path, manifest_paths: Sequence[Path]) -> str:
    """Cache key: the encoding's version, the tokenizer's parameters and the manifests' bytes."""
    digest = hashlib.sha256(f"encoding {ENCODING}".encode())
    digest.update(tokenizer_path.read_bytes())
    for path in manifest_paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


_worker_tokenizer: MuseTokenizer | None = None


def _init_worker(tokenizer_path: str) -> None:
    global _worker_tokenizer
    torch.set_num_threads(1)
    _worker_tokenizer = MuseTokenizer.load(tokenizer_path)


def _encode_file(path: str) -> tuple[list[int], np.ndarray, str]:
    try:
        ids = _worker_tokenizer.encode(Score(path))
        return ids, bar_plan_codes(_worker_tokenizer, ids), ""
    except Exception as exc:  # a bad file is skipped and listed, never fatal
        return [], np.zeros((0, PLAN_WIDTH), np.uint8), f"{type(exc).__name__}: {exc}"


def build_shards(
    corpus: Path | Sequence[Path],
    out: Path,
    *,
    tokenizer: MuseTokenizer | None = None,
    vocab_size: int = 2000,
    bpe_files: int = 4000,
    jobs: int = 2,
    progress: bool = True,
) -> Path:
    """Tokenize one corpus or several into `out` (tokens.bin, plans.bin, index.json,
    tokenizer.json); cached by key.

    Without a tokenizer, one is created for the corpus styles and BPE is trained on (up to
    `bpe_files` of) the training pieces. A given tokenizer (fine-tuning a checkpoint) keeps
    its ids and gains the styles it lacks and the control tokens (MuseTokenizer.with_extra).
    """
    corpora = [Path(corpus)] if isinstance(corpus, (str, Path)) else [Path(c) for c in corpus]
    rows = []
    for folder in corpora:
        for r in read_manifest(folder):
            rows.append({**r, "path": str(folder / r["path"])})
    if not rows:
        raise ValueError(f"{', '.join(map(str, corpora))}: the manifests list no pieces")
    split = assign_splits(rows)
    out.mkdir(parents=True, exist_ok=True)
    tok_path = out / "tokenizer.json"
    styles = sorted({r["style"] for r in rows})
    if tokenizer is not None:
        tokenizer = tokenizer.with_extra([*control_tokens(), *(f"Style_{s}" for s in styles)])
    if tokenizer is None and tok_path.exists():
        previous = MuseTokenizer.load(tok_path)  # BPE is the slow part: reuse when it fits
        if previous.styles == styles and len(previous.remi) == vocab_size:
            tokenizer = previous
    if tokenizer is None:
        tokenizer = MuseTokenizer.create(styles)
        train_rows = [r for r in rows if split[r["id"]] == "train"]
        step = max(1, len(train_rows) // bpe_files)
        paths = [Path(r["path"]) for r in train_rows[::step]]
        if vocab_size > len(tokenizer.remi):
            tokenizer.train_bpe(paths, vocab_size)
    if tokenizer.vocab_size > np.iinfo(np.uint16).max:
        raise ValueError(f"vocabulary of {tokenizer.vocab_size} does not fit uint16 shards")
    tokenizer.save(tok_path)
    key = shard_key(tok_path, [c / "manifest.csv" for c in corpora])
    meta_path = out / "index.json"
    if meta_path.exists() and json.loads(meta_path.read_text()).get("key") == key:
        return out

    notes_per_id = note_counts(tokenizer)
    paths = [r["path"] for r in rows]
    ctx = multiprocessing.get_context("fork")
    results: list[tuple[list[int], np.ndarray, str]] = []
    with (
        progress_bar(progress) as bar,
        ctx.Pool(max(1, jobs), _init_worker, (str(tok_path),)) as pool,
    ):
        task = bar.add_task("tokenizing", total=len(paths))
        for result in pool.imap(_encode_file, paths, chunksize=16):
            results.append(result)
            bar.advance(task)

    pieces, chunks, plan_chunks, offset, plan_offset, failures = [], [], [], 0, 0, []
    for r, (ids, plans, error) in zip(rows, results, strict=True):
        if not ids:
            failures.append({"id": r["id"], "reason": error or "no tokens"})
            continue
        arr = np.asarray(ids, dtype=np.uint16)
        chunks.append(arr)
        plan_chunks.append(plans)
        pieces.append({
            "id": r["id"], "offset": offset, "length": len(arr), "style": r["style"],
            "mood": r["mood"], "split": split[r["id"]], "notes": int(notes_per_id[arr].sum()),
            "bars": int(r["bars"]), "plan_offset": plan_offset, "source": r.get("source", ""),
        })  # fmt: skip
        offset += len(arr)
        plan_offset += len(plans)
    tokens = np.concatenate(chunks) if chunks else np.zeros(0, np.uint16)
    plans = np.concatenate(plan_chunks) if plan_chunks else np.zeros((0, PLAN_WIDTH), np.uint8)
    atomic_write_bytes(out / "tokens.bin", tokens.tobytes())
    atomic_write_bytes(out / "plans.bin", plans.tobytes())
    meta = {"key": key, "tokens": int(len(tokens)), "pieces": pieces, "failures": failures}
    atomic_write_bytes(meta_path, json.dumps(meta).encode())
    return out


def note_counts(tokenizer: MuseTokenizer) -> np.ndarray:
    """Notes (Pitch base tokens) inside each vocabulary id: (V,) int."""
    return np.array([sum(t.startswith("Pitch_") for t in ts) for ts in tokenizer.base_tokens])


# --------------------------------------------------------------------------- windows


@dataclass
class WindowSampler:
    """Deterministic random training windows: sample k is a pure function of (seed, k).

    That makes resuming exact enough: a resumed run continues at sample k = steps * batch.
    Styles are balanced by temperature sampling (share ** `style_power`), pieces weighted
    by length inside a style.
    """

    shards: Shards
    split: str
    context: int
    condition_dropout: float = 0.1
    style_power: float = 0.5
    seed: int = 0
    min_fill: int = 16  # a packed window stops adding pieces when fewer tokens are left
    opening_weight: float = 1.0  # loss weight of the first opening_tokens of every piece
    opening_tokens: int = 48
    mode_switch: float = 0.0  # share of pieces switched to the parallel mode (musegen.augment)
    switch_max_bar: int = 16  # the switch falls on one of the first bar lines, 0 = from the start
    piano_share: float = 0.0  # share of pieces reduced to one piano (musegen.augment)
    transpose_share: float = 0.0  # share of pieces transposed by 1..transpose_range semitones
    transpose_range: int = 3
    plan_dropout: float = 0.25  # share of pieces whose plans of one kind are all "any"
    plan_bar_dropout: float = 0.1  # share of the other bars whose plan of a kind is "any"
    infill_share: float = 0.0  # share of pieces laid out fill-in-the-middle (tokens.layout)
    infill_max_bars: int = 8
    plan_contrast: float = 0.0  # share of pieces with bars edited against their plans

    def __post_init__(self) -> None:
        self.pieces = self.shards.pieces(self.split)
        if not self.pieces:
            raise ValueError(f"the {self.split} split holds no pieces")
        tok = self.shards.tokenizer
        lengths = np.array([p["length"] for p in self.pieces], dtype=float)
        styles = [p["style"] for p in self.pieces]
        style_tokens = {s: lengths[[x == s for x in styles]].sum() for s in set(styles)}
        total = sum(style_tokens.values())
        share = {s: (n / total) ** self.style_power for s, n in style_tokens.items()}
        norm = sum(share.values())
        weights = np.array(
            [share[s] / norm * n / style_tokens[s] for s, n in zip(styles, lengths, strict=True)]
        )
        self.cumulative = np.cumsum(weights / weights.sum())
        self.starts_bar = tok.starts_bar
        # A label the tokenizer does not know (fine-tuning on new folders) trains as "any".
        styles, moods = set(tok.styles), set(tok.moods)
        self.cond = [
            tok.condition_ids(p["style"] if p["style"] in styles else None,
                              p["mood"] if p["mood"] in moods else None)
            for p in self.pieces
        ]  # fmt: skip
        self.any_style, self.any_mood = tok.condition_ids(None, None)
        self.pad = tok.pad_id
        self.eos = tok.eos_id
        self.keys: dict[int, tuple[int, str]] = {}
        self.controls = tok.has_controls
        self.bar_count = tok.bar_count

    def _with_plans(self, i: int, ids: np.ndarray, first_bar: int, shift: int, switched: bool,
                    used: int, rng: np.random.Generator,
                    codes: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
        """Piece i's ids (from its bar `first_bar` on, transposed by `shift`) with every bar's
        plan before it, some kinds dropped to "any"; or, for `infill_share` of pieces, laid
        out fill-in-the-middle around a region of bars and tracks (tokens.layout). A piece
        switched to the other mode has no key plans (they would name the old mode). `codes`:
        plans measured on these very ids (an edited piece), else the stored ones are used."""
        tok = self.shards.tokenizer
        bars = split_bars(ids, self.starts_bar)
        if codes is None:
            codes = self.shards.piece_plans(self.pieces[i])[first_bar : first_bar + len(bars)]
        else:
            shift = 0  # measured on the transposed notes already
        plans: list[dict[str, str]] = [plan_from_codes(row, shift) for row in codes]
        plans += [{} for _ in range(len(bars) - len(plans))]  # a bar the plans lack: any
        if switched:
            for plan in plans:
                plan[KEY] = ANY
        for kind in PLAN_KINDS:
            if rng.random() < self.plan_dropout:
                drop = np.ones(len(bars), dtype=bool)
            else:
                drop = rng.random(len(bars)) < self.plan_bar_dropout
            for plan, dropped in zip(plans, drop, strict=True):
                if dropped:
                    plan[kind] = ANY
        if self.infill_share and len(bars) >= 2 and rng.random() < self.infill_share:
            # Only bars that fit the rest of the window, with room for the region twice.
            room = self.context + 1 - used - 4
            sizes = np.cumsum([len(b) + len(PLAN_KINDS) + 1 for b in bars])
            fit = int(np.searchsorted(sizes, room * 0.7, side="right"))
            if fit >= 2:
                length = int(rng.integers(1, min(self.infill_max_bars, fit - 1) + 1))
                start = int(rng.integers(0, fit - length + 1))
                programs = None
                if rng.random() < 0.5:  # one track (add a part) rather than whole bars
                    found = sorted({int(t.split("_")[1]) for t in tok.to_base(
                        [i for bar in bars[start : start + length] for i in bar])
                        if t.startswith("Program_")})  # fmt: skip
                    programs = {int(rng.choice(found))} if len(found) > 1 else None
                context, middle = infill_layout(tok, bars[:fit], plans[:fit],
                                                (start, start + length), programs)  # fmt: skip
                return np.asarray(context + middle, dtype=np.int64)
        return np.asarray(with_plans(tok, bars, plans), dtype=np.int64)

    def window(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, targets) of length `context` for sample number k (see _window)."""
        inputs, targets, _ = self._window(k)
        return inputs, targets

    def weighted_window(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """window(k) and each target's loss weight: `opening_weight` for the first
        `opening_tokens` targets after every piece's labels, 1 elsewhere.

        A piece's labels decide its mode from its first notes on, and hardly anything after
        that (the notes tell); weighting the openings makes the labels count where they matter.
        """
        inputs, targets, labelled = self._window(k)
        weights = np.ones(self.context, dtype=np.float32)
        for p in labelled:  # labels at p, p + 1: the piece's first target is at index p + 1
            weights[p + 1 : p + 1 + self.opening_tokens] = self.opening_weight
        return inputs, targets, weights

    def _window(self, k: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """(inputs, targets) of length `context` for sample number k, and where each piece's
        labels start.

        Most pieces are far shorter than the context (median under 100 tokens), so a window
        is packed: after its first piece ends, further whole pieces follow, each with its own
        condition tokens, until the window is full. Without packing 41% of training compute
        went to padding.
        """
        rng = np.random.default_rng([self.seed, k])
        tok = self.shards.tokenizer
        seq: list[np.ndarray] = []
        cond_positions: list[int] = []
        used = 0
        while used < self.context + 1 - self.min_fill:
            i = self._pick(rng)
            ids = self.shards.piece_tokens(self.pieces[i])
            first_bar = 0
            if not seq:  # the first piece may start at any bar line, later ones at the start
                body = self.context - 1  # conditions (2) + body + EOS, shifted by one
                bar_starts = np.flatnonzero(self.starts_bar[ids])
                candidates = bar_starts[bar_starts <= max(0, len(ids) - body // 2)]
                start = int(rng.choice(candidates)) if len(candidates) else 0
                first_bar = int(self.bar_count[ids[:start].astype(np.int64)].sum())
                ids = ids[start:]
            cond = self._conditions(i, rng)
            shift, switched, edited = 0, False, False
            if self.mode_switch or self.piano_share or self.transpose_share:
                ids, cond, shift, switched = self._augment(i, ids, cond, rng)
            if self.controls and self.plan_contrast and rng.random() < self.plan_contrast:
                ids, edited = np.asarray(tok.from_base(contrast(tok.to_base(ids), rng))), True
            if self.controls:
                codes = bar_plan_codes(tok, ids.tolist()) if edited else None
                ids = self._with_plans(i, ids, first_bar, shift, switched, used, rng, codes)
            cond_positions += [used, used + 1]
            part = np.concatenate([cond, ids, [self.eos]])
            seq.append(part)
            used += len(part)
        inputs, targets = self._shift(np.concatenate(seq))
        # Predicting a piece's labels (from the previous piece, or the mood from the style)
        # is not music: condition tokens are inputs only.
        ignore = np.array([p - 1 for p in cond_positions if 0 < p <= self.context])
        targets[ignore] = IGNORE
        return inputs, targets, cond_positions[::2]

    def _shift(self, seq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inputs and next-token targets of the first context + 1 ids of seq, padded."""
        seq = seq[: self.context + 1].astype(np.int64)
        inputs = np.full(self.context, self.pad, dtype=np.int64)
        targets = np.full(self.context, IGNORE, dtype=np.int64)
        inputs[: len(seq) - 1], targets[: len(seq) - 1] = seq[:-1], seq[1:]
        return inputs, targets

    def _pick(self, rng: np.random.Generator) -> int:
        i = int(np.searchsorted(self.cumulative, rng.random(), side="right"))
        return min(i, len(self.pieces) - 1)

    def _conditions(self, i: int, rng: np.random.Generator) -> list[int]:
        style, mood = self.cond[i]
        if rng.random() < self.condition_dropout:
            style = self.any_style
        if rng.random() < self.condition_dropout:
            mood = self.any_mood
        return [style, mood]

    def _augment(
        self, i: int, ids: np.ndarray, cond: list[int], rng: np.random.Generator
    ) -> tuple[np.ndarray, list[int], int, bool]:
        """Piece i's ids (from a bar line on), labels, transposition and whether it switched
        mode, after the augmentations drawn for it: a switch to the parallel mode, a piano
        reduction, a transposition (musegen.augment)."""
        tok = self.shards.tokenizer
        key = None
        if self.mode_switch and rng.random() < self.mode_switch:
            key = self._switch_key(i)
        piano = self.piano_share and rng.random() < self.piano_share
        shift = 0
        if self.transpose_share and rng.random() < self.transpose_share:
            shift = int(rng.choice([s for s in range(-self.transpose_range,
                                                     self.transpose_range + 1) if s]))  # fmt: skip
        if not (key or piano or shift):
            return ids, cond, 0, False
        base = tok.to_base(ids)
        if key:
            bars = sum(t.startswith("Bar_") for t in base)
            from_bar = int(rng.integers(0, max(1, min(bars, self.switch_max_bar + 1))))
            base = switch_mode(base, *key, from_bar)
            # The new label is kept even when labels are dropped: an unlabelled switch is noise.
            other = OTHER_VALENCE[self.pieces[i]["mood"]]
            cond = [cond[0], tok.token_id(f"{MOOD}_{other}")]
        if piano:
            base = to_piano(base)
        if shift:
            moved = transpose(base, shift)  # None: a note would leave the range
            base, shift = (moved, shift) if moved else (base, 0)
        return np.asarray(tok.from_base(base)), cond, shift, bool(key)

    def _switch_key(self, i: int) -> tuple[int, str] | None:
        """Piece i's (tonic, mode) when it can be switched: its label and its notes name the
        same mode, and the tokenizer knows the other valence's label; else None."""
        tok, mood = self.shards.tokenizer, self.pieces[i]["mood"]
        if mood not in MODE_OF_MOOD or OTHER_VALENCE[mood] not in tok.moods:
            return None
        if i not in self.keys:  # the whole piece's key, found once
            self.keys[i] = base_key(tok.to_base(self.shards.piece_tokens(self.pieces[i])))
        return self.keys[i] if self.keys[i][1] == MODE_OF_MOOD[mood] else None

    def _pack(self, cond: list[int], ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One piece (or its chunk) alone, padded: the fixed evaluation windows.

        With controls every bar's plan is "any" and is not scored: the windows measure the
        music alone, as for a model without plans.
        """
        if self.controls:
            tok = self.shards.tokenizer
            any_plan = plan_ids(tok, None)
            ids = np.asarray(
                [
                    j
                    for i in ids[: self.context]
                    for j in ([*any_plan, int(i)] if self.starts_bar[i] else [int(i)])
                ]
            )
        inputs, targets = self._shift(np.concatenate([cond, ids[: self.context - 1], [self.eos]]))
        targets[0] = IGNORE  # predicting the mood from the style is not music
        if self.controls:
            targets[np.isin(targets, any_plan)] = IGNORE
        return inputs, targets

    def evaluation_windows(self, max_windows: int | None = None):
        """Fixed windows: consecutive chunks of every piece, with its labels.

        At most `max_windows`, spread evenly over the split: pieces are stored grouped by
        source, so the first windows alone would be a few long pieces of one or two styles.
        """
        step = self.context - 2
        chunks = [
            (i, start)
            for i, piece in enumerate(self.pieces)
            for start in range(0, max(1, int(piece["length"])), step)
        ]
        if max_windows is not None and max_windows < len(chunks):
            keep = np.unique(np.linspace(0, len(chunks) - 1, max_windows).round().astype(int))
            chunks = [chunks[k] for k in keep]
        for i, start in chunks:
            ids = self.shards.piece_tokens(self.pieces[i])
            yield self._pack(self.cond[i], ids[start:]) + (i,)


class WindowStream(torch.utils.data.IterableDataset):
    """Endless stream of training windows starting at sample `start`, split across ranks."""

    def __init__(self, sampler: WindowSampler, start: int = 0, rank: int = 0, world: int = 1):
        self.sampler, self.start, self.rank, self.world = sampler, start, rank, world

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        k = self.start
        while True:
            index = (k * self.world + self.rank) * workers + worker
            x, y, w = self.sampler.weighted_window(index)
            yield torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(w)
            k += 1


class EvalWindows(torch.utils.data.Dataset):
    """Validation windows, fixed once so every evaluation sees the same tokens."""

    def __init__(self, sampler: WindowSampler, max_windows: int | None = None):
        self.items = [(x, y) for x, y, _ in sampler.evaluation_windows(max_windows)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):
        x, y = self.items[i]
        return torch.from_numpy(x), torch.from_numpy(y)


def tokens_per_bar(shards: Shards) -> float:
    """Mean tokens per bar over the corpus (a BPE quality measure)."""
    tokens = sum(p["length"] for p in shards.index)
    bars = sum(max(1, p["bars"]) for p in shards.index)
    return tokens / bars if bars else math.nan
