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

# The generation modes the engine has today; infill and arrange join this tuple when they land.
MODES = ("continue",)
PLANNED_MODES = ("infill", "arrange")
PARTS = ("full", "continuation")


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


def _programs(text: str) -> list[int]:
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise InputError(
            f"programs {text!r} is invalid: use GM program numbers, e.g. 0,40 (-1 = drums)"
        ) from None


# name -> (parser, help). Engine options are passed to MuseGen.continue_midi as they are.
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
}
REQUEST_FIELDS: dict[str, tuple[Callable[[str], object], str]] = {
    "mode": (_text, f"what to do: {', '.join(MODES)} (default continue)"),
    "bars": (_int("bars", "8"), "new bars to add (default 8)"),
    "part": (_text, "POST /api/generate only: full (default) or continuation"),
}
FILE_FIELD = "midi"


@dataclass
class Request:
    """One generation request: the mode, the bars, the engine options and the part to return."""

    mode: str = "continue"
    bars: int = 8
    options: dict = field(default_factory=dict)
    part: str = "full"

    def summary(self) -> dict:
        """What the request asked for, as JSON for the job listing."""
        return {"mode": self.mode, "bars": self.bars, **self.options}


def parse_request(form: Mapping[str, str], styles: list[str], moods: list[str]) -> Request:
    """Parse the text fields of a form; raises InputError with one sentence on the first fault.

    Empty values mean "the default", so a page can send every field of its form.
    """
    unknown = sorted(k for k in form if k not in ENGINE_FIELDS and k not in REQUEST_FIELDS)
    if unknown:
        valid = ", ".join([FILE_FIELD, *REQUEST_FIELDS, *ENGINE_FIELDS])
        raise InputError(f"unknown option {unknown[0]!r}: valid fields are {valid}")
    values = {}
    for name, text in form.items():
        if text.strip():
            parser = (ENGINE_FIELDS.get(name) or REQUEST_FIELDS[name])[0]
            values[name] = parser(text)
    req = Request(
        mode=values.pop("mode", "continue"),
        bars=values.pop("bars", 8),
        part=values.pop("part", "full"),
        options=values,
    )
    if req.mode not in MODES:
        later = " (not in this version yet)" if req.mode in PLANNED_MODES else ""
        raise InputError(f"mode {req.mode!r} is unknown{later}: use {' or '.join(MODES)}")
    if req.part not in PARTS:
        raise InputError(f"part {req.part!r} is invalid: use {' or '.join(PARTS)}")
    for kind, valid in (("style", styles), ("mood", moods)):
        value = values.get(kind)
        if value is not None and value not in valid:
            raise InputError(f"unknown {kind} {value!r}: this checkpoint knows {', '.join(valid)}")
    _check_ranges(req)
    return req


def _check_ranges(req: Request) -> None:
    """Check ranges with the engine's own request class, so the sentences are the CLI's."""
    ContinueRequest(bars=req.bars, **req.options)


def describe() -> dict:
    """The fields for GET /api/info: name -> help."""
    return {
        FILE_FIELD: "the seed: a Standard MIDI File (.mid)",
        **{k: h for k, (_, h) in REQUEST_FIELDS.items()},
        **{k: h for k, (_, h) in ENGINE_FIELDS.items()},
    }
