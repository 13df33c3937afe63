"""Realism, style control and mood control of generated continuations.

The judges here (statistics overlap, a style classifier trained on real excerpts, key and
arousal analysis) score outputs; the mood check that picks candidates is opt-in and reported
apart."""

from __future__ import annotations

import math

import numpy as np
from symusic import Score

from musegen.errors import InputError
from musegen.evaluate import metrics
from musegen.evaluate.config import EvalConfig
from musegen.evaluate.held_out import Generation, HeldOutSeed, Pieces
from musegen.generate.request import GUIDE_AGAINST, ContinueRequest
from musegen.music import labels, timeline

# --------------------------------------------------------------------------- 2. realism


def realism(seeds: list[HeldOutSeed], jobs: list[Generation], cfg: EvalConfig) -> dict:
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
            "generated_mean": nanmean(g), "real_mean": nanmean(r),
            "generated_values": finite_list(g), "real_values": finite_list(r),
        }  # fmt: skip
    stats = result["statistics"].values()
    result["mean_overlap"] = nanmean([s["overlap"] for s in stats])
    result["mean_real_vs_real_overlap"] = nanmean([s["real_vs_real_overlap"] for s in stats])
    result["mean_halves_overlap"] = nanmean([s["halves_overlap"] for s in stats])
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


def mood_control(seeds: list[HeldOutSeed], jobs: list[Generation], references: dict, moods) -> dict:
    """Share of continuations whose mode and arousal sign match the requested mood: the model
    alone ("conditioned", one candidate), unconditioned, and "checked" (the API's mood check)."""
    found = [mood_of(j.score, j.bars, references.get(seeds[j.seed].style, _NEUTRAL)) for j in jobs]
    floor = [f for f, j in zip(found, jobs, strict=True) if j.mood is None]
    result: dict = {"per_mood": {}, "mood_candidates": ContinueRequest().mood_candidates}
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
            f"{what}_match": nanmean([p[what] for p in per_mood])
            for what in ("valence", "arousal", "both")
        }
    for kind in ("conditioned", "unconditioned", "checked"):
        for what in ("valence", "arousal", "both"):
            values = [result["per_mood"][m][kind][what] for m in moods]
            result[f"{kind}_{what}_match"] = nanmean(values)
    result["empty_continuations"] = sum(f is None for f in found)
    conditioned = {m: result["per_mood"][m]["conditioned"] for m in moods}
    major = [conditioned[m]["major_share"] for m in moods if labels.MODE_OF_MOOD.get(m) == "major"]
    minor = [conditioned[m]["major_share"] for m in moods if labels.MODE_OF_MOOD.get(m) == "minor"]
    result["valence_effect"] = nanmean(major) - nanmean(minor)
    high = [conditioned[m]["mean_arousal"] for m in moods if labels.HIGH_AROUSAL.get(m)]
    low = [conditioned[m]["mean_arousal"] for m in moods if not labels.HIGH_AROUSAL.get(m)]
    result["arousal_effect"] = nanmean(high) - nanmean(low)
    return result


_NEUTRAL = labels.arousal_reference([], [])


def _matches(found: list[dict | None], mood: str) -> dict:
    """Valence, arousal and joint match rates; an empty continuation matches nothing."""
    valence = [f is not None and f["mode"] == labels.MODE_OF_MOOD.get(mood) for f in found]
    arousal = [f is not None and (f["arousal"] > 0) == labels.HIGH_AROUSAL.get(mood) for f in found]
    return {
        "n": len(found),
        "valence": nanmean(valence), "arousal": nanmean(arousal),
        "both": nanmean([v and a for v, a in zip(valence, arousal, strict=True)]),
        "major_share": nanmean([f is not None and f["mode"] == "major" for f in found]),
        "mean_arousal": nanmean([f["arousal"] for f in found if f is not None]),
    }  # fmt: skip


def nanmean(values) -> float:
    values = np.asarray(list(values), dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else math.nan


def finite_list(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values]
