"""`make demo`: continue every seed in examples/seeds/ with the shipped default checkpoint.

Writes MIDI (full + new bars alone), WAV (mix + stems), a piano roll and generation.json per
seed into out/<seed name>/, then prints where they are.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from musegen.workflow import continue_file

ROOT = Path(__file__).resolve().parents[1]
# Each seed with the style it comes from; the 7/8 groove is outside the corpus: no style.
SEEDS = {
    "chorale_opening.mid": {"style": "chorale", "mood": "calm"},
    "fiddle_jig.mid": {"style": "celtic-fiddle", "mood": "happy"},
    "groove_7_8.mid": {},
}


def main() -> int:
    out_root = ROOT / "out"
    for name, options in SEEDS.items():
        seed = ROOT / "examples" / "seeds" / name
        started = time.perf_counter()
        written = continue_file(seed, out_root / seed.stem, bars=8, options={**options, "seed": 7},
                                force=True)  # fmt: skip
        took = time.perf_counter() - started
        print(f"{name}: {len(written)} files in {took:.1f} s -> {out_root / seed.stem}/")
    print(f"\nOpen the piano rolls: {out_root}/*/pianoroll.png; listen: {out_root}/*/full.wav")
    return 0


if __name__ == "__main__":
    sys.exit(main())
