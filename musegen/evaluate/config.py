"""What `musegen evaluate` measures and on how much."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from musegen.errors import InputError
from musegen.generate.request import STYLE_GUIDANCE


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
