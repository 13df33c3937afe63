"""Regenerate chosen bars of a piece (all tracks or some), or add a part: fill-in-the-middle.

The piece goes to the model with the region's chosen notes taken out (a Hole before each of
its bars) and the bars around it, then Infill; the model writes the region's bars after it
(musegen.tokens.layout.infill_layout, as in training). Only the chosen notes change: every
other note, the tempo map, meter, key, tracks, channels and programs are copied as they are.
Long regions go in chunks of CHUNK_BARS, each seeing the chunks already written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from symusic import Note, Score, Track

from musegen.checkpoint.folder import Checkpoint
from musegen.errors import InputError
from musegen.generate.adapt import adapted
from musegen.generate.continuation import (
    Generated,
    negative_conditions,
    one_thread,
    place_new_bars,
)
from musegen.generate.plans import allowed_plans
from musegen.generate.request import ContinueRequest
from musegen.model.sampling import generate
from musegen.music import timeline
from musegen.music.instruments import gm_name
from musegen.tokens.controls import KEY, control_tokens
from musegen.tokens.grammar import DRUMS, Constraints, Grammar
from musegen.tokens.layout import infill_layout, plans_of_ids, split_bars
from musegen.tokens.plan_grammar import PlanGrammar

CHUNK_BARS = 8  # training regions are 1-8 bars


@dataclass(frozen=True)
class Region:
    """Bars [start, end) (0-based) and the seed tracks to regenerate (None: all); or, with
    `add_program`, a new track of that program (DRUMS for drums) written into those bars."""

    start: int
    end: int
    tracks: tuple[int, ...] | None = None
    add_program: int | None = None


def generate_infill(
    ckpt: Checkpoint, seed: Score, region: Region, options: ContinueRequest, *,
    channels: dict[int, int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Generated:  # fmt: skip
    """The seed with the region regenerated (`full`) and the new notes alone (`new`, at their
    own ticks with the seed's tempo map and meter, so they land on the same bars in a DAW)."""
    tok = ckpt.tokenizer
    if not tok.has_controls:
        raise InputError(
            f"checkpoint {ckpt.name} was not trained to fill in bars; use one trained with bar "
            "plans and infilling (`musegen info CHECKPOINT` says 'infill')"
        )
    started = time.perf_counter()
    lines = timeline.bar_lines(seed, max(timeline.end_tick(seed), 1))
    bars_in_seed = len(lines) - 1
    if not 0 <= region.start < region.end <= bars_in_seed:
        raise InputError(f"`bars` {region.start + 1}-{region.end} is outside the piece's "
                         f"bars 1-{bars_in_seed}")  # fmt: skip
    full = seed.copy()
    targets = _target_tracks(full, region)
    program_set = {_program(full.tracks[i]) for i in targets}
    _refuse_shared_programs(full, targets, program_set, lines[region.start], lines[region.end])
    new_notes: list[tuple[int, Note]] = []
    generated_tokens = 0
    for start, end in _chunks(ckpt, full, lines, region):
        # The model reads the chunk's own notes as holes, and the chunks before as written.
        done = generated_tokens
        tick = (lambda n, done=done: progress(done + n, -1)) if progress else None
        placed, n_tokens = _fill_chunk(ckpt, full, lines, start, end, program_set, options, tick)
        generated_tokens += n_tokens
        for i in targets:  # the chosen notes that start in the chunk go
            full.tracks[i].notes = [n for n in full.tracks[i].notes
                                    if not lines[start] <= n.time < lines[end]]  # fmt: skip
        for program, note in placed:
            track = _track_for(full, targets, program, note)
            full.tracks[track].notes.append(note)
            new_notes.append((track, note))
    for track in {t for t, _ in new_notes}:
        full.tracks[track].notes.sort(key=lambda n: (n.time, n.pitch))
    new = full.copy()
    for i, track in enumerate(new.tracks):
        track.notes = [n for t, n in new_notes if t == i]
    info = {
        "mode": "add_part" if region.add_program is not None else "infill",
        "bars": [region.start + 1, region.end],
        "tracks": [i + 1 for i in targets],
        "region_ticks": [lines[region.start], lines[region.end]],
        "generated_tokens": generated_tokens,
        "new_notes": len(new_notes),
        "seconds": round(time.perf_counter() - started, 3),
        "request": options.as_dict(),
    }
    return Generated(full, new, lines[region.start], dict(channels or {}), info)


def _chunks(ckpt: Checkpoint, score: Score, lines: list[int],
            region: Region) -> list[tuple[int, int]]:  # fmt: skip
    """The region cut into chunks of at most CHUNK_BARS bars, of one meter each (bars are
    generated in one meter at a time), whose tokens fit the context with room for the answer."""
    tok, context = ckpt.tokenizer, ckpt.model.config.context
    sizes = [len(b) + 5 for b in split_bars(tok.encode(score), tok.starts_bar)]
    sizes += [sizes[-1] if sizes else 16] * max(0, region.end - len(sizes))
    tpq = score.ticks_per_quarter
    chunks, start = [], region.start
    while start < region.end:
        meter = timeline.meter_at(score, lines[start])
        end = start + 1
        while (end < min(region.end, start + CHUNK_BARS)
               and timeline.meter_at(score, lines[end]) == meter
               and lines[end + 1] - lines[end] == meter.bar_ticks(tpq)
               and 3 * sum(sizes[start : end + 1]) + 64 <= context):  # fmt: skip
            end += 1
        chunks.append((start, end))
        start = end
    return chunks


def _program(track: Track) -> int:
    return DRUMS if track.is_drum else int(track.program)


def _target_tracks(full: Score, region: Region) -> list[int]:
    if region.add_program is not None:
        is_drum = region.add_program == DRUMS
        name = "Drums" if is_drum else gm_name(region.add_program)
        full.tracks.append(Track(name=f"{name} (generated)", program=max(region.add_program, 0),
                                 is_drum=is_drum))  # fmt: skip
        return [len(full.tracks) - 1]
    chosen = range(len(full.tracks)) if region.tracks is None else region.tracks
    for i in chosen:
        if not 0 <= i < len(full.tracks):
            raise InputError(f"`tracks`: the piece has tracks 1-{len(full.tracks)}, not {i + 1}")
    return [i for i in chosen if len(full.tracks[i].notes) or region.tracks is not None]


def _refuse_shared_programs(full: Score, targets: list[int], chosen: set[int], start: int,
                            end: int) -> None:  # fmt: skip
    """The model tells tracks apart by program: a kept track with a chosen track's program and
    notes in the region could not be kept."""
    for i, track in enumerate(full.tracks):
        if (
            i not in targets
            and _program(track) in chosen
            and any(start <= n.time < end for n in track.notes)
        ):
            raise InputError(
                f"track {i + 1} ({track.name or 'unnamed'}) plays the same instrument as a "
                "track to regenerate; choose both, or give them different programs"
            )


def _fill_chunk(ckpt: Checkpoint, score: Score, lines: list[int], start: int, end: int,
                chosen: set[int], options: ContinueRequest,
                progress: Callable[[int], None] | None = None) -> tuple[list, int]:  # fmt: skip
    """Generate bars [start, end) of the chosen programs into `score`'s holes."""
    tok, model = ckpt.tokenizer, ckpt.model
    tpq = score.ticks_per_quarter
    ids = tok.encode(score)
    bars = split_bars(ids, tok.starts_bar)
    if len(bars) < end:
        raise InputError("the piece's bars could not be counted (meter changes inside a bar?)")
    plans = plans_of_ids(tok, ids)
    n = end - start
    budget = int(np.mean([len(b) for b in bars[start:end]]) * 1.5 + 8) * n + 16
    lo, hi = _fit(bars, start, end, model.config.context - 2 - budget)
    programs_allowed = {p for p in chosen}
    context, _ = infill_layout(tok, bars[lo:hi], plans[lo:hi], (start - lo, end - lo),
                               programs_allowed)  # fmt: skip
    meter = timeline.meter_at(score, lines[start])
    pitch_range = options.pitch_range or _usual_range(chosen)
    grammar = Grammar(tok, Constraints(meter=(meter.numerator, meter.denominator),
                                       programs=programs_allowed,
                                       pitch_range=pitch_range))  # fmt: skip
    if not grammar.writes_notes:
        raise InputError("no note this checkpoint can write fits the asked instrument and range")
    grammar = PlanGrammar(grammar, allowed_plans(options, plans[lo:start]))
    cond = tok.condition_ids(options.style, options.mood)
    if options.adapt_steps:  # the piece around the region, holes and markers not scored
        controls = {tok.token_id(name) for name in control_tokens()}
        model = adapted(model, cond, context, options.adapt_steps, ignore=controls)
    negatives = negative_conditions(tok, options)
    state = grammar.start(1)
    eos = tok.eos_id

    opens_plan = list(grammar.kind_ids[KEY].values())

    def mask_fn(step, tokens):
        mask = grammar.mask(state)
        if state.bars[0] >= n and state.plan_step[0] == 0 and mask[0, opens_plan].any():
            # Where another bar could begin, the region is written: end it as training did.
            mask[0, opens_plan] = False
            mask[0, eos] = True
        return mask

    def stop_fn(new, step):
        if int(new[0]) == eos:
            return torch.tensor([True])
        grammar.advance(state, new.numpy())
        return torch.tensor([bool(state.bars[0] > n)])

    room = model.config.context - len(cond) - len(context)
    if room < 8 * n:
        raise InputError(
            f"bars {start + 1}-{end} are too dense for this checkpoint's context of "
            f"{model.config.context} tokens; regenerate fewer bars or fewer tracks at a time"
        )
    prompt = torch.tensor([cond + context])
    uncond = torch.tensor([neg + context for neg in negatives])
    with one_thread():
        out = generate(model, prompt, max_new_tokens=min(budget * 2, room),
                       sampling=options.sampling,
                       generator=torch.Generator().manual_seed(options.seed + start),
                       uncond_prompt=uncond, mask_fn=mask_fn, stop_fn=stop_fn,
                       pad_id=tok.pad_id, progress=progress)  # fmt: skip
    produced = [i for i in out[0, prompt.shape[1] :].tolist() if i not in (tok.pad_id, eos)]
    forced = grammar.forced_meter
    parts = forced.parts if forced else 1
    bar_len = meter.bar_ticks(tpq)
    placed = place_new_bars(tok.decode(produced), lines[start], bar_len, n, tpq, parts)
    region_end = lines[end]
    out_notes = []
    for program, is_drum, note in placed:
        note.duration = max(1, min(note.duration, region_end - note.time))  # joins cleanly
        out_notes.append((DRUMS if is_drum else program, note))
    return out_notes, len(produced)


def _fit(bars: list[list[int]], start: int, end: int, room: int) -> tuple[int, int]:
    """Bars [lo, hi) around the region whose tokens (with plans) fit `room`, taking bars
    before and after the region in turn."""
    size = [len(b) + 5 for b in bars]
    lo, hi = start, end
    used = sum(size[lo:hi])
    while True:
        grew = False
        if lo > 0 and used + size[lo - 1] <= room:
            lo, used, grew = lo - 1, used + size[lo - 1], True
        if hi < len(bars) and used + size[hi] <= room:
            hi, used, grew = hi + 1, used + size[hi], True
        if not grew:
            return lo, hi


def _track_for(full: Score, targets: list[int], program: int, note: Note) -> int:
    """The chosen track of this program whose notes lie nearest in pitch."""
    same = [i for i in targets if _program(full.tracks[i]) == program] or targets

    def distance(i: int) -> float:
        notes = full.tracks[i].notes
        return abs(float(np.mean([n.pitch for n in notes])) - note.pitch) if len(notes) else 0.0

    return min(same, key=distance)


# A bass part stays in a bass's range unless the user gives one (GM 32-39: E1 to E4).
BASS_RANGE = (28, 64)


def _usual_range(chosen: set[int]) -> tuple[int, int]:
    if chosen and all(32 <= p <= 39 for p in chosen):
        return BASS_RANGE
    return (0, 127)
