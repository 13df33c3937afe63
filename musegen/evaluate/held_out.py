"""Held-out material: test pieces, excerpts of whole bars, seeds cut from them, and the
generation jobs the evaluation runs on those seeds."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.data.manifest import read_manifest
from musegen.errors import InputError
from musegen.evaluate.config import EvalConfig
from musegen.generate.request import GUIDE_AGAINST
from musegen.music import timeline


@dataclass
class HeldOutSeed:
    """A seed cut from a held-out piece and the real bars that follow it."""

    piece: str
    style: str
    mood: str
    score: Score
    real: Score  # the next `bars` bars of the piece, from tick 0
    bars: int
    start: int = 0  # the piece's bar the seed starts at

    @cached_property
    def neutral(self) -> Score:
        """The seed's meter and tempo with one middle C on a piano, a bar long: a seed that
        says nothing of style or mode, for measuring what the conditions alone do (with the
        real seed, the continuation rightly follows the seed's own style and key)."""
        meter = self.score.time_signatures[0]
        qpm = timeline.tempo_at(self.score, 0)
        return neutral_seed(meter.numerator, meter.denominator, qpm, self.score.ticks_per_quarter)


def neutral_seed(numerator: int, denominator: int, qpm: float = 120.0, tpq: int = 480) -> Score:
    """One middle C on a piano, a bar of `numerator`/`denominator` long, at `qpm`."""
    out = Score(tpq)
    out.time_signatures.append(TimeSignature(0, numerator, denominator))
    out.tempos.append(Tempo(0, qpm))
    piano = Track(name="Piano", program=0)
    piano.notes.append(Note(0, timeline.Meter(numerator, denominator).bar_ticks(tpq), 60, 80))
    out.tracks.append(piano)
    return out


@dataclass
class Generation:
    seed: int  # index into the seed list
    style: str | None
    mood: str | None
    guidance: float
    bars: int
    neutral: bool = False  # from the seed's neutral version (style and mood control)
    candidates: int | None = None  # mood candidates per continuation; None: the API's default
    guide_against: str | None = None  # what guidance moves away from; None: the API's default
    score: Score | None = None  # the new bars alone, from tick 0
    tokens: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- excerpts


def excerpt(score: Score, lines: list[int], first: int, last: int) -> Score:
    """Bars [first, last) of `score` from tick 0, with the tempo, meter and key in force."""
    out = timeline.cut(score, lines[first], lines[last], truncate=True)
    out.tracks = [t for t in out.tracks if len(t.notes)]
    return out


class Pieces:
    """Manifest pieces read once each, with their bar lines."""

    def __init__(self, corpus: Path):
        self.corpus = corpus
        self.rows = {r["id"]: r for r in read_manifest(corpus)}
        self._cache: dict[str, tuple[Score, list[int]]] = {}

    def get(self, piece: str) -> tuple[Score, list[int]]:
        if piece not in self._cache:
            score = Score(str(self.corpus / self.rows[piece]["path"]))
            self._cache[piece] = (score, timeline.bar_lines(score, timeline.end_tick(score)))
        return self._cache[piece]

    def excerpts(self, piece: str, bars: int, most: int) -> list[tuple[Score, int]]:
        """Up to `most` consecutive excerpts of `bars` bars (the whole piece if shorter)."""
        score, lines = self.get(piece)
        available = len(lines) - 1
        if available < 1:
            return []
        if available <= bars:
            return [(excerpt(score, lines, 0, available), available)]
        starts = range(0, available - bars + 1, bars)
        return [(excerpt(score, lines, s, s + bars), bars) for s in list(starts)[:most]]


def pick_seeds(pieces: Pieces, test_ids: list[str], styles: list[str], per_style: int,
               seed_bars: int, max_bars: int) -> list[HeldOutSeed]:  # fmt: skip
    """`per_style` seeds of each style: the first bars of held-out pieces, then later bars."""
    seeds = []
    for style in styles:
        ids = sorted(i for i in test_ids if i in pieces.rows and pieces.rows[i]["style"] == style)
        found: list[HeldOutSeed] = []
        for round_ in range(16):
            for piece in ids:
                if len(found) >= per_style:
                    break
                score, lines = pieces.get(piece)
                start = round_ * (seed_bars + max_bars)
                bars = min(max_bars, len(lines) - 1 - start - seed_bars)
                if bars < 1:
                    continue
                seed = excerpt(score, lines, start, start + seed_bars)
                real = excerpt(score, lines, start + seed_bars, start + seed_bars + bars)
                if seed.note_num() and real.note_num():
                    row = pieces.rows[piece]
                    found.append(HeldOutSeed(piece, style, row["mood"], seed, real, bars, start))
        seeds += found
    if not seeds:
        raise InputError("no held-out piece is long enough to cut a seed from; use --seed-bars 1")
    return seeds


# --------------------------------------------------------------------------- generation


def job_seed(base: int, seed: HeldOutSeed, job: Generation) -> int:
    """A job's random seed, from what the job is rather than where it sits in the plan.

    So adding a section or a seed changes no other job's draw, and the same request at two
    guidances, or guided two ways, shares its random numbers (a paired comparison).
    """
    what = (base, seed.piece, seed.start, job.neutral, job.style, job.mood, job.candidates)
    return zlib.crc32(repr(what).encode())


def generate_all(
    mg, seeds: list[HeldOutSeed], jobs: list[Generation], cfg: EvalConfig, tick
) -> None:
    """Run every generation job in place (one continuation each)."""
    for job in jobs:
        seed = seeds[job.seed].neutral if job.neutral else seeds[job.seed].score
        extra = {} if job.candidates is None else {"mood_candidates": job.candidates}
        if job.guide_against is not None:
            extra["guide_against"] = job.guide_against
        draw = job_seed(cfg.seed, seeds[job.seed], job)
        result = mg.continue_midi(seed, job.bars, style=job.style, mood=job.mood,
                                  guidance=job.guidance, seed=draw, **extra)  # fmt: skip
        job.score = result.continuation.score
        job.tokens = int(result.provenance["generated_tokens"])
        job.seconds = float(result.provenance["seconds"])
        tick()


def plan(seeds: list[HeldOutSeed], styles: list[str], moods: list[str], cfg: EvalConfig) -> dict:
    """Generation jobs of each section."""
    bars = cfg.max_bars
    guidances = sorted({1.0, float(cfg.guidance)})

    def real_seeds(g: float) -> list[Generation]:  # each seed with its own style and mood
        return [Generation(i, s.style if s.style in styles else None,
                           s.mood if s.mood in moods else None, g, s.bars)
                for i, s in enumerate(seeds)]  # fmt: skip

    # Realism at guidance 1, and at the higher guidance, to show what guidance costs.
    jobs = {"realism": real_seeds(1.0)}
    if guidances[-1] != 1:
        jobs["realism_guided"] = real_seeds(guidances[-1])
    # Style at each guidance as shipped, and the guided ones also the other way.
    style_ways = [(g, None) for g in guidances] + [(g, GUIDE_AGAINST[1]) for g in guidances
                                                   if g != 1]  # fmt: skip
    return jobs | {
        "style": [Generation(i, st, None, g, bars, neutral=True, guide_against=against)
                  for g, against in style_ways for i in range(len(seeds)) for st in styles],
        # The model alone (one candidate) at each guidance, and as shipped: the API's default
        # mood check, which keeps one of several candidates in the mood's mode.
        "mood": [Generation(i, None, m, g, bars, neutral=True, candidates=1)
                 for i in range(len(seeds)) for g in guidances for m in [*moods, None]
                 if g == 1 or m is not None]
                + [Generation(i, None, m, 1.0, bars, neutral=True)
                   for i in range(len(seeds)) for m in moods],
    }  # fmt: skip
