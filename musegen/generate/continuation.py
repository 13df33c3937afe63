"""Seed -> prompt tokens -> generate -> new bars merged onto the seed's own tracks and grid.

The seed itself is never re-quantised: its score is copied as it is, and only the new notes,
decoded from the model's tokens, are placed bar by bar on the seed's bar lines after its end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, fields

import numpy as np
import torch
from symusic import Note, Score, Track

from musegen.checkpoint.folder import Checkpoint
from musegen.errors import InputError
from musegen.generate.adapt import adapted
from musegen.generate.plans import allowed_plans
from musegen.generate.request import SEED_KEY, ContinueRequest
from musegen.model.sampling import generate
from musegen.music import instruments as programs
from musegen.music import labels, timeline
from musegen.tokens.controls import KEY, control_tokens, kind_of
from musegen.tokens.grammar import DRUMS, Constraints, Grammar, GrammarState
from musegen.tokens.layout import plans_of_ids, split_bars, with_plans
from musegen.tokens.plan_grammar import PlanGrammar


@dataclass
class Generated:
    """One continuation: the full score (seed + new bars) and the new bars alone."""

    full: Score
    new: Score  # starts at tick 0 with the tempo, meter and key in force at new_start
    new_start: int  # tick in the full score where the new bars begin
    channels: dict[int, int]  # track index -> MIDI channel, for both scores
    info: dict = field(default_factory=dict)


@contextmanager
def one_thread():
    """Decode on one CPU thread: a small model step by step is fastest there, and far faster
    than two threads on a busy machine (see benchmarks/generate_speed.py)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def generate_continuations(
    ckpt: Checkpoint,
    seed: Score,
    options: ContinueRequest,
    *,
    channels: dict[int, int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> list[Generated]:
    """`options.variations` continuations of `seed`, decoded as one batch on one thread."""
    threads = torch.get_num_threads()  # adapting to the seed trains: it takes them all
    with one_thread():
        return _generate(ckpt, seed, options, channels, progress, notice, threads)


def _generate(ckpt, seed, options, channels, progress, notice, threads=1) -> list[Generated]:
    started = time.perf_counter()
    tok, model = ckpt.tokenizer, ckpt.model
    tpq = seed.ticks_per_quarter
    seed_end = timeline.end_tick(seed)
    new_start = timeline.next_bar_line(seed, seed_end)
    meter = timeline.meter_at(seed, new_start)
    bar_len = meter.bar_ticks(tpq)
    cond = tok.condition_ids(options.style, options.mood)  # ValueError lists valid names
    stand_in = {}
    if options.programs is None:  # an explicit choice of programs is the user's own
        stand_in = programs.stand_ins(seed, ckpt.programs, options.style)
    _tell_stand_ins(seed, stand_in, options.style, notice)
    planned = tok.has_controls
    constraints = _constraints(seed, meter, options, stand_in, scale_mask=not planned)
    grammar = Grammar(tok, constraints)
    if not grammar.writes_notes:
        raise InputError(_no_note_message(options, grammar.known_pitches))

    seed_ids = tok.encode(programs.as_seen(seed, stand_in))
    starts = tok.starts_bar  # where a prompt may be cut: a bar's first id, or its plan's
    seed_plans: list[dict] = []
    if planned:  # every seed bar with the plan its music has; new bars' plans as asked
        seed_plans = plans_of_ids(tok, seed_ids)
        seed_ids = with_plans(tok, split_bars(seed_ids, tok.starts_bar), seed_plans)
        grammar = PlanGrammar(grammar, allowed_plans(options, seed_plans))
        starts = np.zeros(tok.vocab_size, dtype=bool)
        starts[[tok.token_id(name) for name in control_tokens() if kind_of(name) == KEY]] = True
    context = model.config.context
    per_bar = len(seed_ids) / max(1, len(timeline.bar_lines(seed, seed_end)) - 1)
    budget = min(context // 2, int(per_bar * options.bars * 1.5) + 32)
    prompt_ids = _crop_at_bar(seed_ids, context - 2 - budget, starts)
    if len(prompt_ids) < len(seed_ids) and notice:
        notice(f"the seed does not fit the model's context with room for {options.bars} new "
               f"bars: the prompt keeps its last {len(prompt_ids)} of {len(seed_ids)} tokens, "
               "cut at a bar line")  # fmt: skip

    if options.adapt_steps:
        plan_tokens = {tok.token_id(name) for name in control_tokens()}
        torch.set_num_threads(threads)
        try:
            model = adapted(model, cond, prompt_ids, options.adapt_steps, ignore=plan_tokens)
        finally:
            torch.set_num_threads(1)
    negatives = negative_conditions(tok, options)
    K = options.candidates
    B = options.variations * K  # row v * K + c is candidate c of variation v
    generator = torch.Generator().manual_seed(options.seed)
    state = grammar.start(B)
    forced = grammar.forced_meter
    parts = forced.parts if forced else 1  # model bars per seed bar (7/2: two of 7/4)
    target = options.bars * parts + 1  # generation stops on the Bar that would open one more
    histories = [list(seed_ids) for _ in range(B)]
    new_ids: list[list[int]] = [[] for _ in range(B)]
    done = np.zeros(B, dtype=bool)
    rows = list(range(B))
    n_generated = 0
    while rows:
        # First round: all variations as one batch. Rows that ran out of context continue
        # one by one with their history re-cropped at a bar line.
        batch = rows if n_generated == 0 else rows[:1]
        crop = len(prompt_ids) if n_generated == 0 else context - 2 - budget
        prompts = [cond + _crop_at_bar(histories[r], crop, starts) for r in batch]
        width = len(prompts[0])
        prompt = torch.tensor(prompts)
        uncond = torch.tensor([neg + p[2:] for neg in negatives for p in prompts])  # negative-major
        sub = _substate(state, batch)

        def mask_fn(step, tokens, sub=sub):
            return grammar.mask(sub)

        def stop_fn(new, step, sub=sub):
            grammar.advance(sub, new.numpy())
            return torch.from_numpy(sub.bars >= target)

        out = generate(
            model, prompt, max_new_tokens=context - width, sampling=options.sampling,
            generator=generator, uncond_prompt=uncond, mask_fn=mask_fn, stop_fn=stop_fn,
            pad_id=tok.pad_id,
            progress=(lambda n, done=n_generated: progress(done + n, -1)) if progress else None,
        )  # fmt: skip
        for j, r in enumerate(batch):
            produced = out[j, width:].tolist()
            if sub.bars[j] >= target:
                produced = _until_stop(produced, tok.bar_count, target - state.bars[r])
                done[r] = True
            new_ids[r] += produced
            histories[r] += produced
        _merge_substate(state, sub, batch)
        n_generated += int((out[:, width:] != tok.pad_id).sum())
        if n_generated == 0 or all(not p for p in (out[:, width:] != tok.pad_id).any(1).tolist()):
            break  # the model produced nothing more: stop rather than loop
        rows = [r for r in rows if not done[r]]
    elapsed = time.perf_counter() - started

    placed = [place_new_bars(tok.decode(ids), new_start, bar_len, options.bars, tpq, parts)
              for ids in new_ids]  # fmt: skip
    results = []
    for v in range(options.variations):
        c, check = _mode_check(placed[v * K : (v + 1) * K], options.mood) if K > 1 else (0, None)
        r = v * K + c
        full, new, chans = _assemble(seed, placed[r], new_start, channels, stand_in)
        info = {
            "variation": v + 1,
            "new_start_tick": new_start,
            "new_bars": options.bars,
            "meter": str(meter),
            "tempo_qpm": timeline.tempo_at(seed, new_start),
            "prompt_tokens": len(prompt_ids) + 2,
            "program_stand_ins": {
                seed.tracks[i].name or f"track {i}": p for i, p in stand_in.items()
            },
            "seed_tokens": len(seed_ids),
            "generated_tokens": len(new_ids[r]),
            "new_notes": sum(len(t.notes) for t in new.tracks),
            "complete": bool(done[r]),
            "seconds": round(elapsed, 3),
            "request": options.as_dict(),
        }
        if check is not None:
            info["mood_check"] = check
        results.append(Generated(full, new, new_start, chans, info))
    return results


def negative_conditions(tok, options: ContinueRequest) -> list[list[int]]:
    """The conditions classifier-free guidance moves away from, one [style, mood] pair each.

    The "any" pair by default: classic classifier-free guidance. With a style and
    `guide_against="other-styles"`: every other style (mood "any"), as an equal mixture, so
    guidance moves toward what sets the style apart from each of the others, its close
    neighbours included, rather than from the "any" average, which is mostly the largest
    repertories. Each other style is one more row per decoding step. On the default
    checkpoint, trained with the discriminative style loss, "any" recognises the asked style
    more often (docs/evaluation.md); on the checkpoint before it, the other styles did.
    """
    others = [] if options.style is None or options.guide_against == "any" else [
        tok.condition_ids(other, None) for other in tok.styles if other != options.style
    ]  # fmt: skip
    return others or [tok.condition_ids(None, None)]


def _mode_check(candidates: list[list[tuple]], mood: str) -> tuple[int, dict]:
    """The first candidate whose new notes are in the mood's mode (happy and calm: major; sad
    and tense: minor) by the key finding that labelled the training corpus, else the first.

    The model's mood tokens alone barely move the mode (see docs/evaluation.md), so asking for a
    mood decodes several candidates in one batch and keeps one in the asked mode; arousal is
    left to the model.
    """
    wanted = labels.MODE_OF_MOOD[mood]
    found = []
    for placed in candidates:
        melodic = [n for _, is_drum, n in placed if not is_drum]
        hist = labels.pitch_class_histogram([n.pitch for n in melodic],
                                            [n.duration for n in melodic])  # fmt: skip
        tonic, mode, _ = labels.find_key(hist)
        found.append(labels.key_name(tonic, mode) if melodic else None)
    matching = [c for c, key in enumerate(found) if key and key.endswith(":" + wanted)]
    chosen = matching[0] if matching else 0
    check = {"wanted_mode": wanted, "candidates": found, "chosen": chosen + 1,
             "matched": bool(matching)}  # fmt: skip
    return chosen, check


def _tell_stand_ins(seed: Score, stand_in: dict, style: str | None, notice) -> None:
    for i, shown in stand_in.items():
        track = seed.tracks[i]
        own = programs.program_of(track)
        if not notice or not len(track.notes):
            continue
        name = f"track {track.name!r}" if track.name else f"track {i + 1}"
        context = f"in {style} music" if style else "in its training data"
        if shown is None:
            notice(f"{name} is not continued: this checkpoint saw no "
                   f"{programs.instrument_name(own)} {context}")  # fmt: skip
        else:
            notice(f"{name}: this checkpoint saw no {programs.instrument_name(own)} {context}, "
                   f"so it is shown as {programs.instrument_name(shown)}; the new notes keep "
                   f"the track's own program")  # fmt: skip


def _constraints(seed: Score, meter: timeline.Meter, options: ContinueRequest,
                 stand_in: dict[int, int | None],
                 scale_mask: bool = True) -> Constraints:  # fmt: skip
    chosen = options.programs
    if chosen is None:
        chosen = {
            programs.shown_program(stand_in, i, t) for i, t in enumerate(seed.tracks) if t.notes
        }
        chosen.discard(None)
        if not chosen:
            raise InputError(
                "this checkpoint knows none of the seed's instruments (drums only?)"
                "; choose instruments to generate with `programs`, e.g. 40,42"
            )
    scale = None
    if options.key and options.key != SEED_KEY and scale_mask:  # plans ask through the plan
        tonic, mode = labels.parse_key(options.key)
        scale = labels.scale_pitch_classes(tonic, mode)
    return Constraints(
        meter=(meter.numerator, meter.denominator),
        programs=set(chosen),
        pitch_range=options.pitch_range or (0, 127),
        scale=scale,
    )


def _no_note_message(options: ContinueRequest, known: tuple[int, int]) -> str:
    """What to say when `key`, `pitch_range` and `programs` together allow no note."""
    asked = [
        f"`key` {options.key}" if options.key else "",
        "`pitch_range` {}-{}".format(*options.pitch_range) if options.pitch_range else "",
        "`programs` " + ",".join(map(str, options.programs)) if options.programs else "",
    ]
    asked = [a for a in asked if a]
    asked = " and ".join([", ".join(asked[:-1]), asked[-1]] if len(asked) > 1 else asked)
    asked = asked or "the seed's instruments"
    return (
        f"no note this checkpoint can write fits {asked} (it writes pitches "
        f"{known[0]}-{known[1]}): widen the pitch range, change the key or the programs"
    )


def _crop_at_bar(ids: list[int], keep: int, starts_bar: np.ndarray) -> list[int]:
    """The last `keep` tokens or fewer, starting at a bar line when one is in range."""
    if len(ids) <= keep:
        return list(ids)
    start = len(ids) - max(keep, 1)
    for i in range(start, len(ids)):
        if starts_bar[ids[i]]:
            return list(ids[i:])
    return list(ids[start:])


def _substate(state: GrammarState, rows: list[int]) -> GrammarState:
    return GrammarState(**{f.name: getattr(state, f.name)[rows].copy() for f in fields(state)})


def _merge_substate(state: GrammarState, sub: GrammarState, rows: list[int]) -> None:
    for f in fields(state):
        getattr(state, f.name)[rows] = getattr(sub, f.name)


def _until_stop(ids: list[int], bar_count: np.ndarray, bars_left: int) -> list[int]:
    """Generated ids up to and including the one holding the stopping Bar."""
    seen = 0
    for i, v in enumerate(ids):
        seen += int(bar_count[v])
        if seen >= bars_left:
            return ids[: i + 1]
    return ids


def place_new_bars(decoded: Score, new_start: int, bar_len: int, bars: int, tpq: int,
           parts: int = 1) -> list[tuple]:  # fmt: skip
    """Notes of the decoded new bars, as (program, is_drum, Note) on the seed's tick grid.

    Decoded bar k goes to part k % parts of the seed's (k // parts)-th bar after new_start (a
    7/2 bar is decoded as two of 7/4); a note that would not fit its part of the bar (never,
    when the grammar forces MuseTokenizer.generation_meter) is dropped.
    """
    if not decoded.tracks:
        return []
    ratio = tpq / decoded.ticks_per_quarter
    end = new_start + bars * bar_len
    lines = timeline.bar_lines(decoded, timeline.end_tick(decoded) + 1)
    placed = []
    for track in decoded.tracks:
        for n in track.notes:
            k = int(np.searchsorted(lines, n.time, side="right")) - 1
            bar, part = divmod(k, parts)
            part_start = round(part * bar_len / parts)
            offset = round((n.time - lines[k]) * ratio)
            if bar >= bars or part_start + offset >= round((part + 1) * bar_len / parts):
                continue
            start = new_start + bar * bar_len + part_start + offset
            duration = min(max(1, round(n.duration * ratio)), end - start)
            if duration > 0:
                placed.append((int(track.program), bool(track.is_drum),
                               Note(start, duration, int(n.pitch), int(n.velocity))))  # fmt: skip
    return placed


def _assemble(seed: Score, placed: list[tuple], new_start: int, channels: dict[int, int] | None,
              stand_in: dict[int, int | None]) -> tuple[Score, Score, dict[int, int]]:  # fmt: skip
    """Seed + new notes on the seed's tracks (nearest mean pitch among same-program tracks).

    A track shown to the model under a stand-in program receives that program's notes.
    """
    full = seed.copy()
    groups: dict[int, list[int]] = {}  # program as the model saw it (DRUMS) -> track indices
    for i, t in enumerate(full.tracks):
        shown = programs.shown_program(stand_in, i, t)
        if shown is not None:
            groups.setdefault(shown, []).append(i)
    mean_pitch = {
        i: float(np.mean([n.pitch for n in t.notes])) if len(t.notes) else 60.0
        for i, t in enumerate(full.tracks)
    }
    new_notes: dict[int, list[Note]] = {}
    for program, is_drum, note in placed:
        key = DRUMS if is_drum else program
        if key not in groups:  # a program the seed does not have (--programs)
            name = "Drums" if is_drum else f"Program {program}"
            full.tracks.append(Track(name=f"{name} (generated)", program=max(program, 0),
                                     is_drum=is_drum))  # fmt: skip
            groups[key] = [len(full.tracks) - 1]
            mean_pitch[len(full.tracks) - 1] = float(note.pitch)
        best = min(groups[key], key=lambda i: abs(mean_pitch[i] - note.pitch))
        new_notes.setdefault(best, []).append(note)
    for index, notes in new_notes.items():
        for n in sorted(notes, key=lambda n: (n.time, n.pitch)):
            full.tracks[index].notes.append(n)
    return full, timeline.cut(full, new_start), dict(channels or {})
