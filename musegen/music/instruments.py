"""Which instruments a checkpoint knows, and stand-ins for the ones it does not.

A model trained on choirs, strings, flutes and fiddles has rarely or never seen a piano or a
drum kit, and a Program token it has not learned puts it off its training distribution
(measured on the default checkpoint: a one-note piano seed continued as european-folk gave
523 notes in 4 bars, most of them stacked duplicates; with a flute program, 16 notes). So a
seed track whose program the checkpoint does not know (for the asked style, when there is one)
is shown to the model as the known program nearest in pitch, and the new notes go back onto
that track with its own program.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from symusic import Score

DRUMS = -1  # miditok's Program value for drums, and how musegen names the drum 'program'
DRUM_CHANNEL = 9  # General MIDI's channel 10

KNOWN_SHARE = 0.02  # programs under 2% of the training notes are not known...
SEEN_SHARE = 0.002  # ...unless their GM family has 2% and they have 0.2% themselves
STYLE_SHARE = 0.05  # with a style asked for: programs with 5% of that style's notes


def program_stats(shards, split: str = "train") -> dict[str, dict]:
    """Per program (as a string; "-1" = drums): share of the notes, mean pitch, share by style."""
    table = shards.tokenizer.base_tokens
    counts: dict[int, dict[str, int]] = {}
    pitch_sum: dict[int, float] = {}
    for piece in shards.pieces(split):
        program, by_style = None, None
        for token in shards.piece_tokens(piece).tolist():
            for base in table[token]:
                if base.startswith("Program_"):
                    program = int(base.split("_", 1)[1])
                    by_style = counts.setdefault(program, {})
                elif base.startswith("Pitch") and program is not None:
                    by_style[piece["style"]] = by_style.get(piece["style"], 0) + 1
                    pitch_sum[program] = pitch_sum.get(program, 0.0) + int(base.split("_")[1])
    total = sum(sum(c.values()) for c in counts.values()) or 1
    style_total: dict[str, int] = {}
    for c in counts.values():
        for style, n in c.items():
            style_total[style] = style_total.get(style, 0) + n
    stats = {}
    for program, c in sorted(counts.items()):
        notes = sum(c.values())
        if notes:
            stats[str(program)] = {
                "share": notes / total,
                "mean_pitch": pitch_sum[program] / notes,
                "styles": {s: n / style_total[s] for s, n in sorted(c.items())},
            }
    return stats


def family(program: int) -> int:
    """General MIDI family (0 pianos .. 15 sound effects; -1 drums) of a program."""
    return DRUMS if program == DRUMS else program // 8


def _known(shares: dict[int, float], threshold: float) -> set[int]:
    """Programs with `threshold` of the notes, or seen (SEEN_SHARE) in a family that has it:
    three bass programs of 1% each make the basses known, each of them as itself."""
    by_family: dict[int, float] = {}
    for program, share in shares.items():
        by_family[family(program)] = by_family.get(family(program), 0.0) + share
    return {p for p, share in shares.items() if share >= threshold
            or (share >= SEEN_SHARE and by_family[family(p)] >= threshold)}  # fmt: skip


def known_programs(stats: dict[str, dict], style: str | None = None) -> dict[int, float]:
    """Known program -> its mean pitch; with a style, the programs of that style if any."""
    pitch = {int(p): s["mean_pitch"] for p, s in stats.items()}
    known = _known({int(p): s["share"] for p, s in stats.items()}, KNOWN_SHARE)
    if style is not None:
        shares = {int(p): s["styles"].get(style, 0.0) for p, s in stats.items()}
        known = _known(shares, STYLE_SHARE) or known
    return {p: pitch[p] for p in sorted(known)}


def program_of(track) -> int:
    """A track's program as the tokenizer writes it (DRUMS for a drum track)."""
    return DRUMS if track.is_drum else int(track.program)


def stand_ins(seed: Score, stats: dict[str, dict], style: str | None) -> dict[int, int | None]:
    """Seed track index -> the program the model sees instead of the track's own (None: the
    track is left alone); tracks that keep their own program are not listed.

    Empty when the checkpoint has no statistics. Drums the checkpoint does not know get None:
    no melodic stand-in can play a drum part.
    """
    if not stats:
        return {}
    known = known_programs(stats, style)
    drums_known = stats.get(str(DRUMS), {}).get("share", 0.0) >= KNOWN_SHARE
    melodic = {p: pitch for p, pitch in known.items() if p != DRUMS}
    result: dict[int, int | None] = {}
    for i, track in enumerate(seed.tracks):
        if track.is_drum:
            if not drums_known:
                result[i] = None
        elif int(track.program) not in known and melodic:
            pitch = float(np.mean([n.pitch for n in track.notes])) if len(track.notes) else 60.0
            # a known member of its own family first (a synth bass as an electric bass)
            kin = {p: m for p, m in melodic.items() if family(p) == family(int(track.program))}
            pool = kin or melodic
            result[i] = min(pool, key=lambda p: (abs(pool[p] - pitch), p))
    return result


def shown_program(stand_in: dict[int, int | None], i: int, track) -> int | None:
    """The program the model sees for seed track i (None: left alone)."""
    return stand_in.get(i, program_of(track))


def as_seen(seed: Score, stand_in: dict[int, int | None]) -> Score:
    """The seed as the model is shown it: stand-in programs, tracks left alone removed."""
    shown = seed.copy()
    keep = []
    for i, track in enumerate(shown.tracks):
        program = shown_program(stand_in, i, track)
        if program is None:
            continue
        if not track.is_drum:
            track.program = program
        keep.append(track)
    shown.tracks = keep
    return shown


def gm_name(program: int) -> str:
    """The General MIDI name of a program (pretty_midi has the table)."""
    # pretty_midi imports pyfluidsynth, which prints its library's path when $CI is set:
    # imported lazily (it is slow) and quietly (stdout carries our own output)
    with contextlib.redirect_stdout(io.StringIO()):
        import pretty_midi
    return pretty_midi.program_to_instrument_name(program)


def instrument_name(program: int) -> str:
    if program == DRUMS:
        return "drums"
    return f"program {program} ({gm_name(program)})"


# Names a user may give for a part: GM families' usual members (the program a DAW picks).
PART_NAMES = {"drums": DRUMS, "piano": 0, "organ": 19, "guitar": 25, "bass": 33, "strings": 48,
              "choir": 52, "brass": 61, "sax": 65, "flute": 73, "lead": 80, "pad": 89}  # fmt: skip


def program_from_name(part: int | str) -> int:
    """A GM program (DRUMS for drums) from a number or a name: "bass", "drums", "33"."""
    text = str(part).strip().lower()
    if text in PART_NAMES:
        return PART_NAMES[text]
    try:
        program = int(text)
    except ValueError:
        program = -2
    if not -1 <= program <= 127:
        raise ValueError(f"{part!r} is not a part: give a GM program 0-127 or one of "
                         f"{', '.join(PART_NAMES)}")  # fmt: skip
    return program
