"""Form fields of a generation request -> one validated request, with the CLI's sentences.

A DAW script posts every value as text (`curl -F bars=4`); each field has one parser here, so
the page, the API and the docs agree on names, and an unknown field is refused by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from musegen.errors import InputError
from musegen.generate.request import ContinueRequest
from musegen.music import timeline
from musegen.music.instruments import PART_NAMES, program_from_name

MODES = ("continue", "infill", "arrange")
FILL_MODES = ("infill", "arrange")  # need a checkpoint trained with bar plans and infilling
PARTS = {"continue": ("full", "continuation"), "infill": ("full", "part"),
         "arrange": ("full", "part")}  # fmt: skip
MAX_PARTS = 8  # parts added by one arrange request: each is a generation of its own


def _int(name: str, example: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            return int(text.strip())
        except ValueError:
            raise InputError(
                f"{name} {text!r} is invalid: give a whole number, e.g. {example}"
            ) from None

    return parse


def _float(name: str, example: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise InputError(f"{name} {text!r} is invalid: give a number, e.g. {example}")
        return value

    return parse


def _text(text: str) -> str:
    return text.strip()


def _pitch_range(text: str) -> tuple[int, int]:
    low, sep, high = text.strip().partition("-")
    try:
        return int(low), int(high) if sep else int(low)
    except ValueError:
        raise InputError(f"pitch_range {text!r} is invalid: use LOW-HIGH, e.g. 36-96") from None


def _bar_range(text: str) -> tuple[int, int]:
    first, sep, last = text.strip().partition("-")
    try:
        first_bar, last_bar = int(first), int(last) if sep else int(first)
    except ValueError:
        raise InputError(
            f"bars {text!r} is invalid: give FIRST-LAST, counted from 1, e.g. 5-8"
        ) from None
    if not 1 <= first_bar <= last_bar:
        raise InputError(
            f"bars {text.strip()!r} is invalid: bars count from 1 and FIRST <= LAST, e.g. 5-8"
        )
    return first_bar, last_bar


def _tracks(text: str) -> list[int]:
    try:
        numbers = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise InputError(
            f"tracks {text!r} is invalid: use track numbers counted from 1, e.g. 1,3"
        ) from None
    for n in numbers:
        if n < 1:
            raise InputError(f"tracks: {n} is not a track number (tracks count from 1), e.g. 1,3")
    return sorted(set(numbers))


def _parts(text: str) -> list[str]:
    names = [p.strip().lower() for p in text.split(",") if p.strip()]
    for name in names:
        try:
            program_from_name(name)
        except ValueError as exc:
            raise InputError(f"parts: {exc}") from None
    if len(names) > MAX_PARTS:
        raise InputError(f"parts lists {len(names)} parts: add at most {MAX_PARTS} at a time")
    return names


def _programs(text: str) -> list[int]:
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise InputError(
            f"programs {text!r} is invalid: use GM program numbers, e.g. 0,40 (-1 = drums)"
        ) from None


# name -> (parser, help). Engine options are passed to MuseGen.continue_midi, infill and
# arrange as they are.
ENGINE_FIELDS: dict[str, tuple[Callable[[str], object], str]] = {
    "style": (_text, "a style the checkpoint knows (GET /api/info)"),
    "mood": (_text, "happy | tense | sad | calm"),
    "temperature": (_float("temperature", "0.95"), "sampling temperature (default 0.95)"),
    "top_k": (_int("top_k", "40"), "keep the k likeliest tokens (default off)"),
    "top_p": (_float("top_p", "0.95"), "nucleus sampling mass (default 0.95)"),
    "min_p": (_float("min_p", "0.05"), "drop tokens below min_p x the likeliest (default 0)"),
    "repetition_penalty": (_float("repetition_penalty", "1.1"), "1 = off (default)"),
    "guidance": (_float("guidance", "5"), "classifier-free guidance; 1 = off; 5 with a style"),
    "guide_against": (_text, "any | other-styles"),
    "seed": (_int("seed", "7"), "random seed: the same seed gives the same result (default 0)"),
    "key": (_text, "keep new notes in a key, e.g. C:major"),
    "pitch_range": (_pitch_range, "LOW-HIGH MIDI pitches, e.g. 36-96"),
    "programs": (_programs, "GM programs for the new material, e.g. 0,40 (-1 = drums)"),
    "mood_candidates": (_int("mood_candidates", "4"), "with a mood: candidates tried (1 = off)"),
    "density": (_int("density", "3"), "bar plans: 1 (whole notes) to 6 (fills)"),
    "polyphony": (_int("polyphony", "2"), "bar plans: notes sounding together, 1 to 6"),
    "register": (_int("register", "3"), "bar plans: 1 (bass) to 5 (above C6)"),
}
CONTINUE_ONLY = ("programs", "mood_candidates")  # infill and arrange choose their instruments
PLAN_FIELDS = ("density", "polyphony", "register")  # checkpoints with bar plans only
REQUEST_FIELDS: dict[str, tuple[Callable[[str], object], str]] = {
    "mode": (_text, f"what to do: {', '.join(MODES)} (default continue)"),
    "bars": (
        _text,
        "continue: new bars to add (default 8); infill: bars to regenerate, "
        "FIRST-LAST, e.g. 5-8; arrange: only these bars (default the whole piece)",
    ),
    "tracks": (_tracks, "infill only: tracks to regenerate, e.g. 1,3 (default all)"),
    "parts": (
        _parts,
        f"arrange only: parts to add, e.g. bass,drums: "
        f"{', '.join(PART_NAMES)} or a GM program 0-127",
    ),
    "part": (
        _text,
        "POST /api/generate only: full (default), or the new material alone: "
        "continuation (continue) or part (infill, arrange)",
    ),
}
FILE_FIELD = "midi"


@dataclass
class Request:
    """One generation request: the mode, its bars (continue: how many; infill and arrange:
    (first, last) counted from 1, or None for arrange's whole piece), the tracks to regenerate
    (infill), the parts to add (arrange), the engine options and the part to return."""

    mode: str = "continue"
    bars: int | tuple[int, int] | None = 8
    options: dict = field(default_factory=dict)
    part: str = "full"
    tracks: list[int] | None = None
    parts: list[str] | None = None

    def summary(self) -> dict:
        """What the request asked for, as JSON for the job listing."""
        out: dict = {"mode": self.mode}
        if self.bars is not None:
            out["bars"] = list(self.bars) if isinstance(self.bars, tuple) else self.bars
        if self.tracks is not None:
            out["tracks"] = self.tracks
        if self.parts is not None:
            out["parts"] = self.parts
        return {**out, **self.options}


def unavailable_modes(checkpoint_name: str, has_controls: bool) -> dict[str, str]:
    """Mode -> why this checkpoint cannot do it (empty when it does them all)."""
    if has_controls:
        return {}
    return {
        mode: f"mode {mode!r} needs a checkpoint trained with bar plans and infilling, and "
        f"checkpoint {checkpoint_name} is not: use mode continue, or start the studio with "
        "--checkpoint of one (`musegen info CHECKPOINT` says 'infill')"
        for mode in FILL_MODES
    }


def parse_request(
    form: Mapping[str, str], styles: list[str], moods: list[str], *,
    has_controls: bool = False, checkpoint_name: str = "this",
) -> Request:  # fmt: skip
    """Parse the text fields of a form; raises InputError with one sentence on the first fault.

    Empty values mean "the default", so a page can send every field of its form.
    `has_controls`: the checkpoint has bar plans and infilling (infill, arrange, density...).
    """
    unknown = sorted(k for k in form if k not in ENGINE_FIELDS and k not in REQUEST_FIELDS)
    if unknown:
        valid = ", ".join([FILE_FIELD, *REQUEST_FIELDS, *ENGINE_FIELDS])
        raise InputError(f"unknown option {unknown[0]!r}: valid fields are {valid}")
    mode = form.get("mode", "").strip() or "continue"
    if mode not in MODES:
        raise InputError(f"mode {mode!r} is unknown: use {', '.join(MODES)}")
    refused = unavailable_modes(checkpoint_name, has_controls)
    if mode in refused:
        raise InputError(refused[mode])
    values = {}
    for name, text in form.items():
        if not text.strip() or name == "mode":
            continue
        _check_applies(name, mode, has_controls)
        if name == "bars":
            values[name] = _int("bars", "8")(text) if mode == "continue" else _bar_range(text)
        else:
            values[name] = (ENGINE_FIELDS.get(name) or REQUEST_FIELDS[name])[0](text)
    req = Request(
        mode=mode,
        bars=values.pop("bars", 8 if mode == "continue" else None),
        part=values.pop("part", "full"),
        tracks=values.pop("tracks", None),
        parts=values.pop("parts", None),
        options=values,
    )
    if mode == "infill" and req.bars is None:
        raise InputError("bars is missing: mode infill needs the bars to regenerate, "
                         "FIRST-LAST, e.g. 5-8")  # fmt: skip
    if mode == "arrange" and not req.parts:
        raise InputError("parts is missing: mode arrange needs the parts to add, e.g. bass,drums")
    if req.part not in PARTS[mode]:
        raise InputError(f"part {req.part!r} is invalid for mode {mode}: use "
                         f"{' or '.join(PARTS[mode])}")  # fmt: skip
    for kind, valid in (("style", styles), ("mood", moods)):
        value = values.get(kind)
        if value is not None and value not in valid:
            raise InputError(f"unknown {kind} {value!r}: this checkpoint knows {', '.join(valid)}")
    _check_ranges(req)
    return req


def _check_applies(name: str, mode: str, has_controls: bool) -> None:
    """Refuse, by name, a field that the mode or the checkpoint does not use."""
    if name == "tracks" and mode != "infill":
        raise InputError(f"tracks applies to mode infill only, not {mode}: leave it out")
    if name == "parts" and mode != "arrange":
        raise InputError(f"parts applies to mode arrange only, not {mode}: leave it out")
    if name in CONTINUE_ONLY and mode != "continue":
        raise InputError(
            f"{name} applies to mode continue only, not {mode}: leave it out"
            + (" (name the parts to add in `parts`)" if name == "programs" else "")
        )
    if name in PLAN_FIELDS and not has_controls:
        raise InputError(f"{name} needs a checkpoint trained with bar plans, and this one is "
                         "not: leave it out")  # fmt: skip


def _check_ranges(req: Request) -> None:
    """Check ranges with the engine's own request class, so the sentences are the CLI's."""
    ContinueRequest(bars=req.bars if req.mode == "continue" else 1, **req.options)


def check_against_seed(req: Request, score) -> None:
    """Bars and tracks that the seed has (counted as the engine counts them), checked before
    the job is queued so that the answer is a 400 rather than a failed job."""
    if req.mode == "continue":
        return
    tracks = len(score.tracks)
    for n in req.tracks or []:
        if n > tracks:
            raise InputError(f"tracks: the piece has tracks 1-{tracks}, not {n}")
    if req.bars is not None:
        bars = len(timeline.bar_lines(score, max(timeline.end_tick(score), 1))) - 1
        first, last = req.bars
        if bars and last > bars:  # a seed without notes is refused by the engine itself
            raise InputError(f"bars {first}-{last} is outside the piece's bars 1-{bars}: "
                             "choose bars within it")  # fmt: skip


def describe() -> dict:
    """The fields for GET /api/info: name -> help."""
    return {
        FILE_FIELD: "the seed: a Standard MIDI File (.mid)",
        **{k: h for k, (_, h) in REQUEST_FIELDS.items()},
        **{k: h for k, (_, h) in ENGINE_FIELDS.items()},
    }
