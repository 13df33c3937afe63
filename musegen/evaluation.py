"""`musegen evaluate`: likelihood, realism, style and mood control, originality and speed.

Every number comes from the held-out (test) split that `musegen tokenize` fixed: likelihood on
its fixed windows, seeds cut from its pieces. Baselines and ceilings sit beside each number: an
n-gram model, the model without its condition tokens, real-vs-real overlap, a classifier's
accuracy on real music, unconditioned continuations and the originality of real music.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from symusic import KeySignature, Note, Score, Tempo, TimeSignature, Track

from musegen import labels, metrics, timeline
from musegen.continuation import GUIDE_AGAINST, STYLE_GUIDANCE, Options
from musegen.corpus import read_manifest
from musegen.data import IGNORE, Shards, WindowSampler, note_counts
from musegen.errors import InputError


@dataclass
class EvalConfig:
    """What to evaluate and on how much; `quick` shrinks every budget to a smoke test."""

    out: Path
    checkpoint: str | None = None
    corpus: Path = Path("data/corpus")
    shards: Path = Path("data/cache")
    quick: bool = False
    seeds_per_style: int | None = None  # default 4, quick 1
    seed: int = 0
    seed_bars: int | None = None  # bars of each seed; default 4, quick 2
    max_bars: int | None = None  # bars generated per continuation; default 8, quick 2
    max_windows: int | None = None  # likelihood windows; default 400, quick 4
    guidance: float = STYLE_GUIDANCE  # the higher guidance tried (1 is always tried)
    classifier_pieces: int | None = None  # training pieces per style; default 200, quick 8
    device: str = "cpu"
    threads: int = 1
    compile: bool = False  # torch.compile the model: tens of seconds once, faster generation

    def __post_init__(self) -> None:
        defaults = {"seeds_per_style": (4, 1), "seed_bars": (4, 2), "max_bars": (8, 2),
                    "max_windows": (400, 4), "classifier_pieces": (200, 8)}  # fmt: skip
        for name, (full, quick) in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, quick if self.quick else full)
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} {getattr(self, name)}: use 1 or more")
        if not 0 <= self.guidance < math.inf:
            raise InputError(f"--guidance {self.guidance}: use a finite value >= 0")
        self.out, self.corpus, self.shards = Path(self.out), Path(self.corpus), Path(self.shards)


@dataclass
class Seed:
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
        out = Score(self.score.ticks_per_quarter)
        meter = self.score.time_signatures[0]
        out.time_signatures.append(TimeSignature(0, meter.numerator, meter.denominator))
        out.tempos.append(Tempo(0, timeline.tempo_at(self.score, 0)))
        bar = timeline.Meter(meter.numerator, meter.denominator).bar_ticks(out.ticks_per_quarter)
        piano = Track(name="Piano", program=0)
        piano.notes.append(Note(0, bar, 60, 80))
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
    a, b = lines[first], lines[last]
    out = Score(score.ticks_per_quarter)
    meter = timeline.meter_at(score, a)
    out.time_signatures.append(TimeSignature(0, meter.numerator, meter.denominator))
    out.tempos.append(Tempo(0, timeline.tempo_at(score, a)))
    for ts in score.time_signatures:
        if a < ts.time < b:
            out.time_signatures.append(TimeSignature(ts.time - a, ts.numerator, ts.denominator))
    for tempo in score.tempos:
        if a < tempo.time < b:
            out.tempos.append(Tempo(tempo.time - a, tempo.qpm))
    if (key := timeline.key_at(score, a)) is not None:
        out.key_signatures.append(KeySignature(0, key[0], key[1]))
    for track in score.tracks:
        new = Track(name=track.name, program=track.program, is_drum=track.is_drum)
        for n in track.notes:
            if a <= n.time < b:
                new.notes.append(Note(n.time - a, min(n.duration, b - n.time), n.pitch, n.velocity))
        if len(new.notes):
            out.tracks.append(new)
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
               seed_bars: int, max_bars: int) -> list[Seed]:  # fmt: skip
    """`per_style` seeds of each style: the first bars of held-out pieces, then later bars."""
    seeds = []
    for style in styles:
        ids = sorted(i for i in test_ids if i in pieces.rows and pieces.rows[i]["style"] == style)
        found: list[Seed] = []
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
                    found.append(Seed(piece, style, row["mood"], seed, real, bars, start))
        seeds += found
    if not seeds:
        raise InputError("no held-out piece is long enough to cut a seed from; use --seed-bars 1")
    return seeds


# --------------------------------------------------------------------------- 1. likelihood


def _model_nats(model, items, table: np.ndarray, device: str, batch: int = 8) -> dict:
    nats = tokens = notes = 0.0
    with torch.inference_mode():
        for i in range(0, len(items), batch):
            x = torch.from_numpy(np.stack([it[0] for it in items[i : i + batch]])).to(device)
            y = torch.from_numpy(np.stack([it[1] for it in items[i : i + batch]])).to(device)
            logits = model(x).float()  # (B, T, V)
            loss = torch.nn.functional.cross_entropy(
                logits.flatten(0, 1), y.flatten(), ignore_index=IGNORE, reduction="sum"
            )
            nats += float(loss)
            valid = (y != IGNORE).cpu().numpy()
            tokens += float(valid.sum())
            notes += float(table[y.clamp(min=0).cpu().numpy()][valid].sum())
    return _rates(nats, tokens, notes)


def _rates(nats: float, tokens: float, notes: float) -> dict:
    return {
        "nats_per_token": nats / max(tokens, 1),
        "bits_per_note": nats / math.log(2) / max(notes, 1),
        "tokens": int(tokens),
        "notes": int(notes),
    }


def test_windows(shards: Shards, context: int, cfg: EvalConfig) -> list:
    """The fixed held-out windows every likelihood row is scored on."""
    sampler = WindowSampler(shards, "test", context, 0.0, seed=cfg.seed)
    return list(sampler.evaluation_windows(cfg.max_windows))


def any_condition_nats(ckpt, items: list, device: str) -> dict:
    """The checkpoint's rates on `items` with the conditions replaced by "any"."""
    anyc = ckpt.tokenizer.condition_ids(None, None)
    blind = [(np.concatenate([anyc, x[2:]]), y, i) for x, y, i in items]
    return _model_nats(ckpt.model, blind, note_counts(ckpt.tokenizer), device)


def likelihood(ckpt, shards: Shards, cfg: EvalConfig, tick) -> dict:
    """The model, the model told "any" style and mood, and n-gram baselines, on the same tokens."""
    from musegen.ngram import KneserNey

    tok, model = ckpt.tokenizer, ckpt.model
    items = test_windows(shards, ckpt.model_config.context, cfg)
    table = note_counts(tok)
    result = {"windows": len(items), "model": _model_nats(model, items, table, cfg.device)}
    tick()
    result["model_any_condition"] = any_condition_nats(ckpt, items, cfg.device)
    tick()
    train = shards.pieces("train")
    conds = WindowSampler(shards, "train", 8, 0.0).cond
    sequences = [
        np.concatenate([c, shards.piece_tokens(p), [tok.eos_id]])
        for p, c in zip(train, conds, strict=True)
    ]
    ngram = KneserNey.fit(sequences, tok.vocab_size, order=5)
    x = np.stack([it[0] for it in items])
    y = np.stack([it[1] for it in items])
    valid = y != IGNORE
    notes = float(table[y[valid]].sum())
    for order in (3, 4, 5):
        nats = -float(ngram.window_log_probs(x, y, order).sum())
        result[f"ngram_{order}"] = _rates(nats, float(valid.sum()), notes)
    best = min((3, 4, 5), key=lambda o: result[f"ngram_{o}"]["nats_per_token"])
    result["ngram_best"] = {"order": best, **result[f"ngram_{best}"]}
    result["ngram_training_tokens"] = int(sum(len(s) for s in sequences))
    m, b = result["model"], result["model_any_condition"]
    result["conditioning_gain_bits_per_note"] = b["bits_per_note"] - m["bits_per_note"]
    result["gain_over_ngram_bits_per_note"] = (
        result["ngram_best"]["bits_per_note"] - m["bits_per_note"]
    )
    tick()
    return result


# --------------------------------------------------------------------------- generation


def job_seed(base: int, seed: Seed, job: Generation) -> int:
    """A job's random seed, from what the job is rather than where it sits in the plan.

    So adding a section or a seed changes no other job's draw, and the same request at two
    guidances, or guided two ways, shares its random numbers (a paired comparison).
    """
    what = (base, seed.piece, seed.start, job.neutral, job.style, job.mood, job.candidates)
    return zlib.crc32(repr(what).encode())


def generate_all(mg, seeds: list[Seed], jobs: list[Generation], cfg: EvalConfig, tick) -> None:
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


def plan(seeds: list[Seed], styles: list[str], moods: list[str], cfg: EvalConfig) -> dict:
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


# --------------------------------------------------------------------------- 2. realism


def realism(seeds: list[Seed], jobs: list[Generation], cfg: EvalConfig) -> dict:
    """Note statistics of generated vs real continuations: overlap of their distributions."""
    gen = [metrics.statistics(j.score, j.bars) for j in jobs]
    real = [metrics.statistics(s.real, s.bars) for s in seeds]
    half = np.random.default_rng(cfg.seed).permutation(len(real))
    a, b = half[: len(real) // 2], half[len(real) // 2 :]
    result: dict = {"continuations": len(jobs), "statistics": {}}
    for name in metrics.STATISTICS:
        g = np.array([s[name] for s in gen])
        r = np.array([s[name] for s in real])
        result["statistics"][name] = {
            "overlap": metrics.overlap_area(g, r),
            "real_vs_real_overlap": metrics.overlap_area(r[a], r[b]),
            "halves_overlap": metrics.overlap_area(g[a], r[b]),  # same sizes as real vs real
            "generated_mean": _nanmean(g), "real_mean": _nanmean(r),
            "generated_values": _clean(g), "real_values": _clean(r),
        }  # fmt: skip
    stats = result["statistics"].values()
    result["mean_overlap"] = _nanmean([s["overlap"] for s in stats])
    result["mean_real_vs_real_overlap"] = _nanmean([s["real_vs_real_overlap"] for s in stats])
    result["mean_halves_overlap"] = _nanmean([s["halves_overlap"] for s in stats])
    result["empty_continuations"] = sum(j.score.note_num() == 0 for j in jobs)
    return result


# --------------------------------------------------------------------------- 3. style


def train_style_classifier(pieces: Pieces, train_ids, styles, cfg: EvalConfig, progress):
    """A softmax regression on excerpts of real training pieces (balanced by class weights).

    Args:
        progress: called with (pieces done, pieces in all).
    """
    rng = np.random.default_rng(cfg.seed)
    chosen = []
    for c, style in enumerate(styles):
        ids = sorted(i for i in train_ids if i in pieces.rows and pieces.rows[i]["style"] == style)
        chosen += (
            [(c, str(p)) for p in rng.permutation(ids)[: cfg.classifier_pieces]] if ids else []
        )
    x, y = [], []
    for done, (c, piece) in enumerate(chosen, 1):
        for score, bars in pieces.excerpts(piece, cfg.max_bars, 4):
            x.append(metrics.style_features(score, bars))
            y.append(c)
        progress(done, len(chosen))
    if len(set(y)) < 2:
        raise InputError("the train split holds fewer than two styles: no style classifier")
    return metrics.SoftmaxRegression().fit(np.array(x), np.array(y), len(styles))


def style_control(classifier, pieces: Pieces, test_ids, styles, jobs, cfg: EvalConfig) -> dict:
    """Classifier accuracy on real held-out music (ceiling) and on continuations by style."""
    x, y = [], []
    for piece in sorted(test_ids):
        if piece in pieces.rows and pieces.rows[piece]["style"] in styles:
            for score, bars in pieces.excerpts(piece, cfg.max_bars, 4):
                x.append(metrics.style_features(score, bars))
                y.append(styles.index(pieces.rows[piece]["style"]))
    result = {"styles": styles, "chance": 1 / len(styles)}
    result["real"] = _accuracy(np.array(y), classifier.predict(np.array(x)), len(styles))
    for key in sorted({style_key(j) for j in jobs}):
        chosen = [j for j in jobs if style_key(j) == key]
        feats = np.array([metrics.style_features(j.score, j.bars) for j in chosen])
        wanted = np.array([styles.index(j.style) for j in chosen])
        result[key] = _accuracy(wanted, classifier.predict(feats), len(styles))
    return result


def style_key(job: Generation) -> str:
    """The report key of a style job: guidance_1 (off), else guidance_5_any or
    guidance_5_other-styles, by what guidance moves away from."""
    if job.guidance == 1:
        return "guidance_1"
    return f"guidance_{job.guidance:g}_{job.guide_against or GUIDE_AGAINST[0]}"


def _accuracy(true: np.ndarray, predicted: np.ndarray, classes: int) -> dict:
    matrix = metrics.confusion(true, predicted, classes)
    rows = matrix.sum(1)
    recall = np.diag(matrix)[rows > 0] / rows[rows > 0]
    return {
        "n": int(len(true)),
        "accuracy": float((true == predicted).mean()) if len(true) else math.nan,
        "balanced_accuracy": float(recall.mean()) if len(recall) else math.nan,
        "confusion": matrix.tolist(),
    }


# --------------------------------------------------------------------------- 4. mood


def mood_of(score: Score, bars: int, reference: dict) -> dict | None:
    """Mode (key finding) and arousal of a continuation, as the corpus labels are made."""
    n = metrics.notes_of(score, bars)
    if not len(n.pitch):
        return None
    _, mode, _ = labels.find_key(labels.pitch_class_histogram(n.pitch, n.duration))
    qpm = timeline.tempo_at(score, 0)
    to_seconds = 60 / (qpm * n.tpq)
    density = labels.onset_density(n.time * to_seconds, n.length * to_seconds)
    return {"mode": mode, "arousal": labels.arousal(density, qpm, reference)}


def mood_control(seeds: list[Seed], jobs: list[Generation], references: dict, moods) -> dict:
    """Share of continuations whose mode and arousal sign match the requested mood: the model
    alone ("conditioned", one candidate), unconditioned, and "checked" (the API's mood check)."""
    found = [mood_of(j.score, j.bars, references.get(seeds[j.seed].style, _NEUTRAL)) for j in jobs]
    floor = [f for f, j in zip(found, jobs, strict=True) if j.mood is None]
    result: dict = {"per_mood": {}, "mood_candidates": Options().mood_candidates}
    kinds = {"conditioned": 1, "checked": None}  # candidates: one, or the API's default
    for m in moods:
        result["per_mood"][m] = {
            kind: _matches([f for f, j in zip(found, jobs, strict=True) if j.mood == m
                            and j.guidance == 1 and j.candidates == n], m)
            for kind, n in kinds.items()
        }  # fmt: skip
        result["per_mood"][m]["unconditioned"] = _matches(floor, m)
    for g in sorted({j.guidance for j in jobs} - {1.0}):  # the model alone with guidance
        per_mood = [
            _matches([f for f, j in zip(found, jobs, strict=True)
                      if j.mood == m and j.guidance == g], m)
            for m in moods
        ]  # fmt: skip
        result[f"guidance_{g:g}"] = {
            f"{what}_match": _nanmean([p[what] for p in per_mood])
            for what in ("valence", "arousal", "both")
        }
    for kind in ("conditioned", "unconditioned", "checked"):
        for what in ("valence", "arousal", "both"):
            values = [result["per_mood"][m][kind][what] for m in moods]
            result[f"{kind}_{what}_match"] = _nanmean(values)
    result["empty_continuations"] = sum(f is None for f in found)
    conditioned = {m: result["per_mood"][m]["conditioned"] for m in moods}
    major = [conditioned[m]["major_share"] for m in moods if labels.MODE_OF_MOOD.get(m) == "major"]
    minor = [conditioned[m]["major_share"] for m in moods if labels.MODE_OF_MOOD.get(m) == "minor"]
    result["valence_effect"] = _nanmean(major) - _nanmean(minor)
    high = [conditioned[m]["mean_arousal"] for m in moods if labels.HIGH_AROUSAL.get(m)]
    low = [conditioned[m]["mean_arousal"] for m in moods if not labels.HIGH_AROUSAL.get(m)]
    result["arousal_effect"] = _nanmean(high) - _nanmean(low)
    return result


_NEUTRAL = labels.arousal_reference([], [])


def _matches(found: list[dict | None], mood: str) -> dict:
    """Valence, arousal and joint match rates; an empty continuation matches nothing."""
    valence = [f is not None and f["mode"] == labels.MODE_OF_MOOD.get(mood) for f in found]
    arousal = [f is not None and (f["arousal"] > 0) == labels.HIGH_AROUSAL.get(mood) for f in found]
    return {
        "n": len(found),
        "valence": _nanmean(valence), "arousal": _nanmean(arousal),
        "both": _nanmean([v and a for v, a in zip(valence, arousal, strict=True)]),
        "major_share": _nanmean([f is not None and f["mode"] == "major" for f in found]),
        "mean_arousal": _nanmean([f["arousal"] for f in found if f is not None]),
    }  # fmt: skip


# --------------------------------------------------------------------------- 5, 6


def originality(index, seeds: list[Seed], jobs: list[Generation]) -> dict:
    """Longest passage shared with the training pieces: generated, and real music for scale."""
    result = {"k": index.k, "training_pieces": len(index.piece_ids)}
    for name, scores in (("generated", [j.score for j in jobs]), ("real", [s.real for s in seeds])):
        found = [index.longest_match(s) for s in scores]
        notes = np.array([f["notes"] for f in found], dtype=float)
        bars = np.array([f["bars"] for f in found], dtype=float)
        worst = max(found, key=lambda f: (f["notes"], f["bars"]))
        result[name] = {
            "n": len(found), "median_notes": float(np.median(notes)),
            "max_notes": float(notes.max()), "max_bars": float(bars.max()),
            "share_copying_2_bars": float((bars >= 2).mean()),
            "longest": worst, "notes": notes.tolist(), "bars": bars.tolist(),
        }  # fmt: skip
    return result


def speed(jobs: list[Generation]) -> dict:
    """Decoding speed over all generations, plain (guidance 1) and guided separately."""
    result = {}
    for name, chosen in (("plain", [j for j in jobs if j.guidance == 1]),
                         ("guided", [j for j in jobs if j.guidance != 1])):  # fmt: skip
        seconds = sum(j.seconds for j in chosen)
        tokens, bars = sum(j.tokens for j in chosen), sum(j.bars for j in chosen)
        result[name] = {"continuations": len(chosen), "tokens": tokens, "seconds": seconds,
                        "tokens_per_second": tokens / seconds if seconds else math.nan,
                        "seconds_per_bar": seconds / bars if bars else math.nan}  # fmt: skip
    result["tokens_per_second"] = result["plain"]["tokens_per_second"]
    result["seconds_per_bar"] = result["plain"]["seconds_per_bar"]
    return result


def _nanmean(values) -> float:
    values = np.asarray(list(values), dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else math.nan


def _clean(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values]


# --------------------------------------------------------------------------- the run


def probe_setup(checkpoint: str | None, corpus: str, shards: str, seeds_per_style: int):
    """What the probes in examples/ share: (MuseGen, EvalConfig, Pieces, Shards, seeds), the
    held-out seeds picked exactly as `evaluate` picks them, on one thread."""
    from musegen.api import MuseGen

    torch.set_num_threads(1)
    cfg = EvalConfig(out=Path("unused"), corpus=corpus, shards=shards,
                     seeds_per_style=seeds_per_style)  # fmt: skip
    pieces, shard_set = Pieces(cfg.corpus), Shards.open(cfg.shards)
    mg = MuseGen.from_pretrained(checkpoint)
    test = [p["id"] for p in shard_set.pieces("test")]
    seeds = pick_seeds(pieces, test, mg.styles, cfg.seeds_per_style, cfg.seed_bars, cfg.max_bars)
    return mg, cfg, pieces, shard_set, seeds


def evaluate(cfg: EvalConfig, progress: bool = True, say=print) -> dict:
    """Run every section and write report.md, report.json and the plots into cfg.out."""
    from musegen import __version__
    from musegen.api import MuseGen
    from musegen.evaluation_report import write_report
    from musegen.originality import OriginalityIndex
    from musegen.progress import progress_bar

    started = time.perf_counter()
    torch.set_num_threads(cfg.threads)
    needs = {
        cfg.shards / "index.json": f"musegen tokenize --corpus {cfg.corpus} --out {cfg.shards}",
        cfg.corpus / "labels.json": f"musegen corpus build music21 --out {cfg.corpus}",
    }
    for needed, fix in needs.items():
        if not needed.exists():
            raise InputError(f"{needed} is missing; build it with: {fix}")
    mg = MuseGen.from_pretrained(cfg.checkpoint, device=cfg.device, compile=cfg.compile)
    ckpt = mg.checkpoint
    shards = Shards.open(cfg.shards)
    if shards.tokenizer != ckpt.tokenizer:
        raise InputError(
            f"{cfg.shards} was tokenized with another tokenizer than {ckpt.path}; re-run: "
            f"musegen tokenize --tokenizer {ckpt.path}/tokenizer.json --out NEW_CACHE"
        )
    pieces = Pieces(cfg.corpus)
    references = json.loads((cfg.corpus / "labels.json").read_text())["arousal_reference"]
    train_ids = [p["id"] for p in shards.pieces("train")]
    test_ids = [p["id"] for p in shards.pieces("test")]
    if not test_ids or not train_ids:
        raise InputError(f"{cfg.shards} has no test or no train pieces: evaluate needs both")
    styles, moods = ckpt.tokenizer.styles, ckpt.tokenizer.moods
    seeds = pick_seeds(pieces, test_ids, styles, cfg.seeds_per_style, cfg.seed_bars, cfg.max_bars)
    jobs = plan(seeds, styles, moods, cfg)
    report: dict = {
        "musegen": __version__,
        "checkpoint": {"name": ckpt.name, "path": str(ckpt.path), "sha256": ckpt.sha256},
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "seeds": [
            {"piece": s.piece, "style": s.style, "mood": s.mood, "bars": s.bars} for s in seeds
        ],
    }
    with progress_bar(progress) as bar:
        task = bar.add_task("likelihood", total=3)
        report["likelihood"] = likelihood(ckpt, shards, cfg, lambda: bar.advance(task))
        every = [j for section in jobs.values() for j in section]
        task = bar.add_task("generating", total=len(every))
        generate_all(mg, seeds, every, cfg, lambda: bar.advance(task))
        report["realism"] = realism(seeds, jobs["realism"], cfg)
        if "realism_guided" in jobs:
            guided = realism(seeds, jobs["realism_guided"], cfg)
            report["realism"]["guided"] = {
                "guidance": cfg.guidance, "mean_overlap": guided["mean_overlap"],
                "overlaps": {k: v["overlap"] for k, v in guided["statistics"].items()},
            }  # fmt: skip

        def counter(name: str):
            task = bar.add_task(name, total=None)
            return lambda done, total: bar.update(task, completed=done, total=total)

        classifier = train_style_classifier(
            pieces, train_ids, styles, cfg, counter("style classifier")
        )
        report["style"] = style_control(classifier, pieces, test_ids, styles, jobs["style"], cfg)
        report["mood"] = mood_control(seeds, jobs["mood"], references, moods)
        indexed = counter("originality index")
        index = OriginalityIndex.for_corpus(cfg.corpus, train_ids, progress=indexed)
        indexed(1, 1)  # a full bar also when the index came from the cache
        report["originality"] = originality(index, seeds, [j for j in every if j.guidance == 1])
        report["speed"] = {**speed(every), "device": cfg.device, "threads": cfg.threads}
    report["seconds"] = time.perf_counter() - started
    write_report(report, cfg.out)
    say(f"report: {cfg.out / 'report.md'}")
    return report
