"""Control tokens: per-bar attribute plans and the fill-in-the-middle markers.

Before every Bar the stream carries the bar's plan, four tokens in a fixed order:

    Key_<tonic>-<mode>  Density_<level>  Polyphony_<level>  Register_<level>  Bar ...

each computed from the music itself (musegen.music.attributes) or "any" (trained with dropout,
so each can be left to the model). A plan sits before the bar it describes, so the model reads
it as a plan, as in MIDI-GPT/MMM's bar attributes and FIGARO's bar descriptions.

Infilling moves the region to the end (fill-in-the-middle, as MMM and code models do):

    conditions  bars before  Hole bar(rest of the tracks)  ...  bars after  Infill  plan Bar ...

A Hole token marks each bar whose chosen tracks (all, or some) were taken out; after Infill
the model writes those bars' missing notes, one plan and one Bar per hole, then EOS.

These tokens are not miditok's: they get the ids after miditok's vocabulary
(MuseTokenizer.extra), so a trained BPE vocabulary keeps its ids and a model grows its
embedding by these rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from musegen.music.attributes import (
    DENSITY_EDGES,
    POLYPHONY_MAX,
    REGISTER_EDGES,
    BarAttributes,
)

ANY = "any"
KEY, DENSITY, POLYPHONY, REGISTER = "Key", "Density", "Polyphony", "Register"
PLAN_KINDS = (KEY, DENSITY, POLYPHONY, REGISTER)  # the order of a bar's plan
HOLE, INFILL = "Hole_None", "Infill_None"

TONICS = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
MODES = ("major", "minor")
DENSITY_LEVELS = range(len(DENSITY_EDGES) + 2)  # 0 (silent) .. 6
POLYPHONY_LEVELS = range(POLYPHONY_MAX + 1)  # 0 .. 6
REGISTER_LEVELS = range(len(REGISTER_EDGES) + 2)  # 0 (no pitched notes) .. 5


def key_value(tonic: int | None, mode: str | None) -> str:
    """The value of a Key token: "C-major", "A-minor", or "any" where there is no key."""
    return ANY if tonic is None or mode is None else f"{TONICS[tonic % 12]}-{mode}"


def parse_key(value: str) -> tuple[int, str] | None:
    """(tonic pitch class, mode) of a Key value, None for "any"; key_value's inverse."""
    if value == ANY:
        return None
    tonic, mode = value.split("-")
    return TONICS.index(tonic), mode


def plan_values() -> dict[str, list[str]]:
    """Every value of every plan kind, "any" last."""
    keys = [key_value(t, m) for m in MODES for t in range(12)]
    return {
        KEY: [*keys, ANY],
        DENSITY: [*map(str, DENSITY_LEVELS), ANY],
        POLYPHONY: [*map(str, POLYPHONY_LEVELS), ANY],
        REGISTER: [*map(str, REGISTER_LEVELS), ANY],
    }


def control_tokens() -> list[str]:
    """Names of every control token, in id order after miditok's vocabulary."""
    names = [f"{kind}_{value}" for kind, values in plan_values().items() for value in values]
    return [*names, HOLE, INFILL]


def plan_of(bar: BarAttributes) -> dict[str, str]:
    """The plan values the music of one bar has."""
    return {
        KEY: key_value(bar.tonic, bar.mode),
        DENSITY: str(bar.density),
        POLYPHONY: str(bar.polyphony),
        REGISTER: str(bar.register),
    }


def plan_tokens(plan: dict[str, str]) -> list[str]:
    """The four token names of a plan (a kind it lacks is "any")."""
    return [f"{kind}_{plan.get(kind, ANY)}" for kind in PLAN_KINDS]


def kind_of(token: str) -> str:
    """A control token's kind: Key, Density, Polyphony, Register, Hole or Infill."""
    return token.split("_", 1)[0]


def plans_of(bars: Sequence[BarAttributes]) -> list[dict[str, str]]:
    return [plan_of(bar) for bar in bars]
