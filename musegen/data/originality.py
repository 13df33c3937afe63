"""Originality check: the longest passage of a score that also occurs in the training corpus.

Every track of every training piece becomes a transposition-invariant sequence: one element
per pair of successive notes (ordered by onset, then pitch), packing the pitch interval and the
onset delta in sixteenths. Windows of `k` notes are hashed into a sorted table; a query's hits
are extended greedily in both directions against the stored sequences, so hash collisions can
never report a false copy. Saved as .npz without pickle; cached under the corpus folder.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from symusic import Score

from musegen.data.manifest import read_manifest
from musegen.io.files import atomic_open
from musegen.music import timeline

FORMAT = 1
DEFAULT_K = 8  # notes in a hashed window: shorter shared figures (scales, cadences) are common
CANDIDATES = 256  # training positions tried per hit; bounds the time on very repetitive material
_PRIME = np.uint64(0x9E3779B97F4A7C15)


def _elements(time: np.ndarray, pitch: np.ndarray, tpq: int) -> np.ndarray:
    """(N-1,) uint16 elements of notes sorted by (time, pitch): interval and onset delta."""
    interval = np.clip(np.diff(pitch), -64, 63) + 64  # 7 bits
    delta = np.clip(np.round(np.diff(time) * 4 / tpq), 0, 511).astype(np.int64)  # 9 bits
    return (interval.astype(np.int64) << 9 | delta).astype(np.uint16)


def _track_notes(track) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arr = track.notes.numpy()
    time, pitch = arr["time"].astype(np.int64), arr["pitch"].astype(np.int64)
    order = np.lexsort((pitch, time))
    return time[order], pitch[order], arr["duration"].astype(np.int64)[order]


def _hashes(elements: np.ndarray, width: int) -> np.ndarray:
    """Polynomial hash of every `width`-element window: (len - width + 1,) uint64."""
    count = len(elements) - width + 1
    if count <= 0:
        return np.zeros(0, np.uint64)
    values = elements.astype(np.uint64) + np.uint64(1)
    h = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(width):
            h = h * _PRIME + values[j : j + count]
    return h


@dataclass
class OriginalityIndex:
    """Hashed note windows of a set of pieces, and the sequences to verify matches against."""

    elements: np.ndarray  # (E,) uint16, all tracks one after another
    track_offsets: np.ndarray  # (T + 1,) int64
    track_piece: np.ndarray  # (T,) int32 index into piece_ids
    piece_ids: list[str]
    hashes: np.ndarray  # (H,) uint64, sorted
    positions: np.ndarray  # (H,) int64 start of each window in `elements`
    k: int = DEFAULT_K

    # ----------------------------------------------------------------- building / files
    @classmethod
    def build(cls, corpus_dir: str | Path, split_ids=None, k: int = DEFAULT_K,
              progress=None) -> OriginalityIndex:  # fmt: skip
        """Index the manifest's pieces (only those in `split_ids` when given).

        Args:
            progress: called with (done, total) after each piece.
        """
        corpus_dir = Path(corpus_dir)
        rows = read_manifest(corpus_dir)
        if split_ids is not None:
            wanted = set(split_ids)
            rows = [r for r in rows if r["id"] in wanted]
        chunks, offsets, owners, ids = [], [0], [], []
        for done, row in enumerate(rows, 1):
            try:
                score = Score(str(corpus_dir / row["path"]))
            except Exception:  # an unreadable file cannot be copied from: skip it
                continue
            ids.append(row["id"])
            for track in score.tracks:
                if track.is_drum or len(track.notes) < k:
                    continue
                time, pitch, _ = _track_notes(track)
                chunks.append(_elements(time, pitch, score.ticks_per_quarter))
                offsets.append(offsets[-1] + len(chunks[-1]))
                owners.append(len(ids) - 1)
            if progress:
                progress(done, len(rows))
        elements = np.concatenate(chunks) if chunks else np.zeros(0, np.uint16)
        return cls.from_sequences(elements, np.asarray(offsets), np.asarray(owners), ids, k)

    @classmethod
    def from_sequences(cls, elements, track_offsets, track_piece, piece_ids, k) -> OriginalityIndex:
        """Hash every window that lies inside one track."""
        width = k - 1
        h = _hashes(elements, width)
        starts = np.arange(len(h))
        track = np.searchsorted(track_offsets, starts, side="right") - 1
        inside = (
            starts + width
            <= np.asarray(track_offsets)[np.minimum(track + 1, len(track_offsets) - 1)]
        )
        h, starts = h[inside], starts[inside]
        order = np.argsort(h, kind="stable")
        return cls(np.asarray(elements, np.uint16), np.asarray(track_offsets, np.int64),
                   np.asarray(track_piece, np.int32), list(piece_ids), h[order],
                   starts[order].astype(np.int64), k)  # fmt: skip

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = json.dumps({"format": FORMAT, "k": self.k})
        with atomic_open(path) as fh:
            np.savez(
                fh,
                elements=self.elements,
                track_offsets=self.track_offsets,
                track_piece=self.track_piece,
                hashes=self.hashes,
                positions=self.positions,
                piece_ids=np.array(self.piece_ids, dtype=str),
                meta=np.array(meta),
            )
        return path

    @classmethod
    def load(cls, path: str | Path) -> OriginalityIndex:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT:
                raise ValueError(f"{path} is an originality index of another format; delete it")
            return cls(data["elements"], data["track_offsets"], data["track_piece"],
                       [str(i) for i in data["piece_ids"]], data["hashes"], data["positions"],
                       int(meta["k"]))  # fmt: skip

    @classmethod
    def for_corpus(cls, corpus_dir: str | Path, split_ids=None, k: int = DEFAULT_K,
                   progress=None) -> OriginalityIndex:  # fmt: skip
        """The index of a corpus's training pieces, built once and cached in corpus/.cache/.

        `split_ids` defaults to the train split that `musegen tokenize` assigns.
        """
        corpus_dir = Path(corpus_dir)
        manifest = corpus_dir / "manifest.csv"
        if split_ids is None:
            from musegen.data.shards import assign_splits

            split = assign_splits(read_manifest(corpus_dir))
            split_ids = [i for i, s in split.items() if s == "train"]
        digest = hashlib.sha256(manifest.read_bytes())
        digest.update(json.dumps([FORMAT, k, sorted(split_ids)]).encode())
        path = corpus_dir / ".cache" / f"originality-{digest.hexdigest()[:16]}.npz"
        if path.exists():
            try:
                return cls.load(path)
            except (ValueError, OSError, KeyError):
                pass  # a damaged cache is rebuilt
        index = cls.build(corpus_dir, split_ids, k, progress)
        index.save(path)
        return index

    # ----------------------------------------------------------------- queries
    def longest_match(self, score: Score) -> dict:
        """Longest passage of one track of `score` that also occurs in an indexed track.

        Returns {"notes": n, "bars": b, "piece": id}: n is the most notes in one shared
        passage (0 when none of `k` notes or more is shared), b the most bars a shared passage
        spans (first onset to last note end, in bars of the score's first meter), and piece
        the training piece of the longest passage (None when there is none).
        """
        bar_ticks = timeline.meter_at(score, 0).bar_ticks(score.ticks_per_quarter)
        best = {"notes": 0, "bars": 0.0, "piece": None}
        for track in score.tracks:
            if track.is_drum or len(track.notes) < self.k:
                continue
            time, pitch, duration = _track_notes(track)
            query = _elements(time, pitch, score.ticks_per_quarter)
            for first, last, owner in self._matches(query):
                notes = last - first + 1
                bars = (time[last] + duration[last] - time[first]) / bar_ticks
                if notes > best["notes"]:
                    best["notes"], best["piece"] = int(notes), self.piece_ids[owner]
                best["bars"] = max(best["bars"], round(float(bars), 2))
        return best

    def _matches(self, query: np.ndarray):
        """(first note, last note, piece index) of every maximal shared run in one query."""
        width = self.k - 1
        h = _hashes(query, width)
        if not len(h) or not len(self.hashes):
            return
        lo = np.searchsorted(self.hashes, h, side="left")
        hi = np.searchsorted(self.hashes, h, side="right")
        covered: dict[int, int] = {}  # diagonal (j - i) -> query element where its run ended
        for i in np.flatnonzero(hi > lo):
            for j in self.positions[lo[i] : min(hi[i], lo[i] + CANDIDATES)]:
                j = int(j)
                if covered.get(j - i, -1) > i:
                    continue
                track = int(np.searchsorted(self.track_offsets, j, side="right")) - 1
                begin, end = self.track_offsets[track], self.track_offsets[track + 1]
                ahead = _common(query[i:], self.elements[j:end])
                if ahead < width:  # a hash collision, not a shared passage
                    continue
                back = _common(query[:i][::-1], self.elements[begin:j][::-1])
                covered[j - i] = i + ahead
                # elements i - back .. i + ahead - 1 join notes i - back .. i + ahead
                yield i - back, i + ahead, int(self.track_piece[track])


def _common(a: np.ndarray, b: np.ndarray) -> int:
    """Length of the common prefix of two arrays."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if len(differ) else n
