"""`make demo`: continue every seed in examples/seeds/ with the shipped default checkpoint.

Writes MIDI (full + new bars alone), WAV (mix + stems), a piano roll and generation.json per
seed into out/<seed name>/, then prints where they are.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from symusic import Score

from musegen.generate.request import ContinueRequest
from musegen.generate.to_folder import write_continuations
from musegen.music import labels, timeline

ROOT = Path(__file__).resolve().parents[1]
# Each seed with the style it comes from; the 7/8 groove is outside the corpus: no style.
SEEDS = {
    "chorale_opening.mid": {"style": "chorale", "mood": "calm"},
    "fiddle_jig.mid": {"style": "celtic-fiddle", "mood": "happy"},
    "groove_7_8.mid": {},
}


def describe(score: Score, start: int = 0, end: int | None = None) -> str:
    """Notes per bar, pitch range and key of the notes between two ticks."""
    end = timeline.end_tick(score) if end is None else end
    notes = [n for t in score.tracks if not t.is_drum for n in t.notes if start <= n.time < end]
    bars = max(1, len([b for b in timeline.bar_lines(score, end) if start <= b < end]))
    if not notes:
        return "no pitched notes"
    hist = labels.pitch_class_histogram([n.pitch for n in notes], [n.duration for n in notes])
    key = labels.key_name(*labels.find_key(hist)[:2])
    low, high = min(n.pitch for n in notes), max(n.pitch for n in notes)
    return f"{len(notes) / bars:.1f} notes/bar, pitches {low}-{high}, key {key}"


def compare(seed_path: Path, folder: Path) -> str:
    """One line: the seed against its continuation, and whether tempo and meter were kept."""
    seed, full = Score(str(seed_path)), Score(str(folder / "full.mid"))
    new_start = timeline.next_bar_line(seed, timeline.end_tick(seed))
    kept = [(t.time, round(t.qpm, 2)) for t in full.tempos] == [
        (t.time, round(t.qpm, 2)) for t in seed.tempos
    ] and [(t.time, t.numerator, t.denominator) for t in full.time_signatures] == [
        (t.time, t.numerator, t.denominator) for t in seed.time_signatures
    ]
    return (
        f"  seed: {describe(seed)}\n  new:  {describe(full, new_start)}\n"
        f"  tempo map and meter kept: {'yes' if kept else 'NO'}"
    )


def main() -> int:
    out_root = ROOT / "out"
    for name, options in SEEDS.items():
        seed = ROOT / "examples" / "seeds" / name
        started = time.perf_counter()
        request = ContinueRequest(bars=8, seed=7, **options)
        written = write_continuations(seed, out_root / seed.stem, request, force=True)
        took = time.perf_counter() - started
        print(f"{name}: {len(written)} files in {took:.1f} s -> {out_root / seed.stem}/")
        print(compare(seed, out_root / seed.stem))
    print(f"\nOpen the piano rolls: {out_root}/*/pianoroll.png; listen: {out_root}/*/full.wav")
    return 0


if __name__ == "__main__":
    sys.exit(main())
