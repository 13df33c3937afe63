"""What the new bars' plans may say: the user's key and levels, and mood through them.

Mood is a documented mapping onto the plans (musegen.music.attributes.MOOD_ATTRIBUTES): its
mode picks the keys a bar may be in (any tonic of that mode: the model chooses, e.g. the
relative minor of a major seed for "sad"), its arousal moves the density one level from the
seed's own median. An explicit `key` or level overrides what the mood would ask.
"""

from __future__ import annotations

from collections.abc import Sequence

from musegen.generate.request import SEED_KEY, ContinueRequest
from musegen.music import labels
from musegen.music.attributes import MOOD_ATTRIBUTES, median_level
from musegen.tokens.controls import ANY, DENSITY, KEY, POLYPHONY, REGISTER, key_value
from musegen.tokens.plan_grammar import AllowedPlan

Plan = dict[str, str]


def asked_levels(request: ContinueRequest, seed_plans: Sequence[Plan]) -> dict[str, list]:
    """Per kind, the asked value of every new bar (a set of allowed values, or None)."""
    bars = request.bars
    asked: dict[str, list] = {kind: [None] * bars for kind in (KEY, DENSITY, POLYPHONY, REGISTER)}
    target = MOOD_ATTRIBUTES.get(request.mood) if request.mood else None
    if target is not None:
        asked[KEY] = [{key_value(t, target.mode) for t in range(12)}] * bars
        seed = [int(p[DENSITY]) for p in seed_plans if p.get(DENSITY, "any").isdigit()]
        median = median_level(seed) or 3
        level = min(6, max(1, median + target.density_offset))
        asked[DENSITY] = [{str(level)}] * bars
    if request.key == SEED_KEY:
        last = next((p[KEY] for p in reversed(seed_plans) if p.get(KEY, ANY) != ANY), None)
        if last is not None:
            asked[KEY] = [{last}] * bars
    elif request.key:
        tonic, mode = labels.parse_key(request.key)  # major or minor
        asked[KEY] = [{key_value(tonic, mode)}] * bars
    for kind, name in ((DENSITY, "density"), (POLYPHONY, "polyphony"), (REGISTER, "register")):
        levels = getattr(request, name)
        if levels is None:
            continue
        per_bar = levels if isinstance(levels, list) else [levels] * bars
        asked[kind] = [asked[kind][b] if v is None else {str(v)} for b, v in enumerate(per_bar)]
    return asked


def allowed_plans(request: ContinueRequest, seed_plans: Sequence[Plan]) -> AllowedPlan:
    """The PlanGrammar's `allowed(bar, kind)` for this request."""
    asked = asked_levels(request, seed_plans)

    def allowed(bar: int, kind: str) -> set[str] | None:
        values = asked[kind]
        return values[bar] if bar < len(values) else None

    return allowed
