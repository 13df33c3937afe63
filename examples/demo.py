"""`make demo`: continue every seed in examples/seeds/ with the shipped default checkpoint
(or $MUSEGEN_CHECKPOINT), then infill and arrange the pop piano seed if the checkpoint can.

Writes MIDI (full + new bars alone), WAV (mix + stems), a piano roll and generation.json per
seed into out/<seed name>/, and prints, per seed, the new bars' fidelity measures (musegen's
`evaluate fidelity`) next to the seed's own figures.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from symusic import Score

from musegen import MuseGen
from musegen.evaluate import fidelity_measures as fm
from musegen.evaluate.fidelity import aligned
from musegen.generate.request import ContinueRequest
from musegen.generate.to_folder import write_continuations, write_filled
from musegen.music import labels, timeline

ROOT = Path(__file__).resolve().parents[1]
# Each seed with the style it comes from; the 7/8 groove is outside the corpus: no style.
# A style or mood the checkpoint does not know is left out. The drums-and-bass groove asks for
# no style: the default's rock and funk are the Groove corpus, drums alone.
SEEDS = {
    "chorale_opening.mid": {"style": "chorale", "mood": "calm"},
    "fiddle_jig.mid": {"style": "celtic-fiddle", "mood": "happy"},
    "groove_7_8.mid": {},
    "pop_piano.mid": {"style": "pop"},
    "drums_bass_groove.mid": {},
}
FIDELITY_BARS = 4  # the first new bars judged against the seed's last bars, as in #20
FILL_SEED = "pop_piano.mid"
INFILL_BARS = (3, 4)
ARRANGE_PARTS = ["bass", "drums"]


def known_options(mg: MuseGen, options: dict) -> dict:
    """The seed's options without a style or mood this checkpoint does not know."""
    known = {"style": mg.styles, "mood": mg.moods}
    return {k: v for k, v in options.items() if k not in known or v in known[k]}


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


def fidelity(seed_path: Path, folder: Path, bars: int = FIDELITY_BARS) -> str:
    """The first `bars` new bars against the seed's last `bars`, with the measures of
    `musegen evaluate fidelity`: per seed track, notes per bar (seed -> new) and the overlap of
    the onset-position-in-bar histograms; then tracks kept playing and key kept."""
    seed, new = Score(str(seed_path)), Score(str(folder / "continuation.mid"))
    new_start = timeline.next_bar_line(seed, timeline.end_tick(seed))
    lines = [b for b in timeline.bar_lines(seed, new_start) if b < new_start]
    bars = min(bars, len(lines))
    reference = timeline.cut(seed, lines[-bars], new_start, truncate=True)
    info: dict = {}
    new = aligned(
        timeline.cut(new, 0, int(fm.bar_starts(new, bars)[-1]), truncate=True), seed, info
    )
    counts = fm.compare(seed, reference, new, len(lines), bars)
    ref_lines, new_lines = fm.bar_starts(reference, bars), fm.bar_starts(new, bars)
    per_track = []
    for i, track in enumerate(seed.tracks):
        ref_t = reference.tracks[i].notes.numpy()["time"].astype("int64")
        new_t = new.tracks[i].notes.numpy()["time"].astype("int64")
        if not len(ref_t):
            continue
        hist = fm.overlap(
            fm.onset_histogram(ref_t, ref_lines), fm.onset_histogram(new_t, new_lines)
        )
        name = track.name or ("drums" if track.is_drum else f"program {track.program}")
        per_track.append(f"{name} {len(ref_t) / bars:.1f} -> {len(new_t) / bars:.1f}, {hist:.2f}")
    said = {True: "yes", False: "no", None: "-"}
    keys = ", ".join(
        f"{' -> '.join(str(k) for k in counts[f'{finder}_found'])} ({label}, kept: "
        f"{said[counts[finder]]})"
        for finder, label in (("key_music21", "music21"), ("key_kk", "find_key"))
    )
    added = len(new.tracks) - len(seed.tracks)
    head = (f"  fidelity, first {bars} new bars vs the seed's last {bars} "
            "(per track: notes/bar seed -> new, onset-grid overlap):")  # fmt: skip
    rows = [""]
    for item in per_track:  # a few tracks a line, never split inside one
        rows[-1] = f"{rows[-1]} | {item}" if rows[-1] else f"    {item}"
        if len(rows[-1]) > 70:
            rows.append("")
    summary = (
        f"    tracks kept playing {counts['keep_playing']}/{counts['tracks']}, notes/bar within "
        f"2x {counts['density_within_2x']}/{counts['tracks']}"
        + (f", {added} track(s) added" if added > 0 else "")
    )
    return "\n".join([head, *[r for r in rows if r], summary, f"    key seed -> new: {keys}"])


def fill_demos(mg: MuseGen, out_root: Path) -> None:
    """One infill and one arrange of the pop piano seed, through the CLI's folder writer."""
    if not mg.checkpoint.tokenizer.has_controls:
        print(f"infill/arrange: skipped: they need a checkpoint with bar plans; "
              f"{mg.checkpoint.name} has none")  # fmt: skip
        return
    seed_path = ROOT / "examples" / "seeds" / FILL_SEED
    seed = Score(str(seed_path))
    first, last = INFILL_BARS
    runs = {
        "infill": (lambda m, s: m.infill(s, bars=INFILL_BARS, seed=7),
                   f"{FILL_SEED}: bars {first}-{last} regenerated"),
        "arrange": (lambda m, s: m.arrange(s, ARRANGE_PARTS, seed=7),
                    f"{FILL_SEED} + {', '.join(ARRANGE_PARTS)}"),
    }  # fmt: skip
    for mode, (fill, title) in runs.items():
        folder = out_root / f"{seed_path.stem}-{mode}"
        started = time.perf_counter()
        write_filled(seed_path, folder, fill, title, checkpoint=str(mg.checkpoint.path),
                     force=True)  # fmt: skip
        took = time.perf_counter() - started
        record = json.loads((folder / "generation.json").read_text())
        if mode == "infill":
            start, end = record["region_ticks"]
            before = sum(start <= n.time < end for t in seed.tracks for n in t.notes)
            what = f"bars {first}-{last}: {before} notes before, {record['new_notes']} after"
        else:
            part = Score(str(folder / "part.mid"))
            added = [f"{t.name or t.program} ({len(t.notes)} notes)" for t in part.tracks
                     if len(t.notes)]  # fmt: skip
            what = f"+ {', '.join(ARRANGE_PARTS)}: tracks added: {', '.join(added) or 'none'}"
        print(f"{mode} {FILL_SEED} {what}; {took:.1f} s -> {folder}/")


def main() -> int:
    out_root = ROOT / "out"
    mg = MuseGen.from_pretrained()  # the shipped default, or $MUSEGEN_CHECKPOINT
    checkpoint = str(mg.checkpoint.path)
    print(f"checkpoint: {mg.checkpoint.name} ({checkpoint})")
    for name, options in SEEDS.items():
        seed = ROOT / "examples" / "seeds" / name
        started = time.perf_counter()
        request = ContinueRequest(bars=8, seed=7, **known_options(mg, options))
        written = write_continuations(seed, out_root / seed.stem, request,
                                      checkpoint=checkpoint, force=True)  # fmt: skip
        took = time.perf_counter() - started
        style = f"style {request.style}" if request.style else "no style"
        print(f"{name} ({style}): {len(written)} files in {took:.1f} s -> {out_root / seed.stem}/")
        print(compare(seed, out_root / seed.stem))
        print(fidelity(seed, out_root / seed.stem))
    fill_demos(mg, out_root)
    print(f"\nOpen the piano rolls: {out_root}/*/pianoroll.png; listen: {out_root}/*/full.wav")
    return 0


if __name__ == "__main__":
    sys.exit(main())
