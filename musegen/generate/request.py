"""What to generate: one typed request, built once by the CLI or the API and validated once.

The same object travels down to the sampler and is written to generation.json as it is.
Errors name the parameter in backticks (`bars`); the CLI shows its flag (--bars) instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from musegen.errors import InputError
from musegen.model.sampling import SamplingConfig
from musegen.music import labels

MAX_BARS = 256
SEED_KEY = "seed"  # `key`: keep the key the seed ends in
MAX_VARIATIONS = 64
MAX_MOOD_CANDIDATES = 16
MAX_ADAPT_STEPS = 50
# Classifier-free guidance when a style is asked for and no guidance is given: the evaluation
# (docs/evaluation.md) finds the asked style recognised far more often than at 1 (off), with
# the continuations of real seeds about as realistic.
STYLE_GUIDANCE = 5.0
# What guidance moves away from; the first is the default. On the default checkpoint "any"
# (classic classifier-free guidance) recognises the asked style more often than the mixture of
# the other styles, with 2 rows per decoding step instead of one per style.
GUIDE_AGAINST = ("any", "other-styles")


@dataclass
class ContinueRequest:
    """Continue a seed by `bars` bars; every option of `musegen continue` and `continue_midi`."""

    bars: int = 8
    style: str | None = None
    mood: str | None = None
    temperature: float = 0.95
    top_k: int | None = None
    top_p: float = 0.95
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    guidance: float | None = None  # None: STYLE_GUIDANCE with a style, else 1 (off)
    variations: int = 1
    seed: int = 0
    # e.g. "C:major": the new bars' key plan (without plans: a scale mask); "seed": the key of
    # the seed's last bar (checkpoints with plans)
    key: str | None = None
    pitch_range: tuple[int, int] | None = None
    programs: list[int] | None = None  # GM programs (0-127) for the new material, -1 = drums
    # Bar plans (checkpoints with controls): a level for every new bar, or one per new bar
    # (None in a list: that bar's level is the model's own); None: the model plans it.
    density: int | list[int | None] | None = None  # 1 (whole notes) .. 6 (fills)
    polyphony: int | list[int | None] | None = None  # notes sounding together, 1 .. 6
    register: int | list[int | None] | None = None  # 1 (bass) .. 5 (above C6)
    mood_candidates: int = 1  # with a mood: candidates decoded per variation (rejection, opt-in)
    adapt_steps: int = 0  # gradient steps on the seed before sampling (generate.adapt); 0 = off
    guide_against: str = GUIDE_AGAINST[0]  # see continuation.negative_conditions
    sampling: SamplingConfig = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _in_range("bars", self.bars, 1, MAX_BARS)
        _in_range("variations", self.variations, 1, MAX_VARIATIONS)
        _in_range("mood_candidates", self.mood_candidates, 1, MAX_MOOD_CANDIDATES, "1 (off)")
        _in_range("adapt_steps", self.adapt_steps, 0, MAX_ADAPT_STEPS, "0 (off)")
        if self.guidance is None:
            self.guidance = STYLE_GUIDANCE if self.style is not None else 1.0
        if self.guidance < 0 or not math.isfinite(self.guidance):
            raise InputError(f"`guidance` {self.guidance} is invalid: use a value >= 0 (1 = off)")
        if self.guide_against not in GUIDE_AGAINST:
            raise InputError(f"`guide_against` {self.guide_against!r} is invalid: use "
                             f"{' or '.join(GUIDE_AGAINST)}")  # fmt: skip
        if self.key is not None and self.key != SEED_KEY:
            try:
                labels.parse_key(self.key)
            except ValueError as exc:
                raise InputError(f"`key`: {exc}") from None
        if self.pitch_range is not None:
            self.pitch_range = tuple(self.pitch_range)
            low, high = self.pitch_range
            if not 0 <= low <= high <= 127:
                raise InputError(
                    f"`pitch_range` {low}-{high} is invalid: use LOW-HIGH within 0-127"
                )
        for name, top in (("density", 6), ("polyphony", 6), ("register", 5)):
            levels = getattr(self, name)
            if isinstance(levels, (list, tuple)):
                if len(levels) != self.bars:
                    raise InputError(f"`{name}` lists {len(levels)} levels for {self.bars} bars: "
                                     "give one level, or one per new bar")  # fmt: skip
                setattr(self, name, levels := list(levels))
            for level in levels if isinstance(levels, list) else [levels]:
                if level is not None and not (isinstance(level, int) and 1 <= level <= top):
                    raise InputError(f"`{name}` {level!r} is out of range: use 1 to {top}")
        for p in self.programs or []:
            if not -1 <= p <= 127:
                raise InputError(f"`programs`: {p} is not a GM program (0-127, or -1 for drums)")
        try:
            self.sampling = SamplingConfig(
                temperature=self.temperature, top_k=self.top_k, top_p=self.top_p,
                min_p=self.min_p, repetition_penalty=self.repetition_penalty,
                guidance=self.guidance,
            )  # fmt: skip
        except ValueError as exc:
            raise InputError(str(exc)) from None

    @property
    def candidates(self) -> int:
        """Rows decoded per variation: mood_candidates when a mood with a mode is asked."""
        return self.mood_candidates if self.mood in labels.MODE_OF_MOOD else 1

    def as_dict(self) -> dict:
        """The request as generation.json records it (every field given or defaulted)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__
                if name != "sampling"}  # fmt: skip


def _in_range(name: str, value: int, low: int, high: int, low_text: str | None = None) -> None:
    if not low <= value <= high:
        raise InputError(f"`{name}` {value} is out of range: use {low_text or low} to {high}")


__all__ = ["GUIDE_AGAINST", "MAX_BARS", "SEED_KEY", "STYLE_GUIDANCE", "ContinueRequest"]
