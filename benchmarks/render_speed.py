"""Rendering speed: musegen.render.render against pretty_midi's fluidsynth(), side by side.

Both render the same MIDI files with the same soundfont at 44.1 kHz, in one process, taking
turns so that machine noise hits both alike. pretty_midi's output is written with the same WAV
code (as stereo) so both include file writing. Both use a 1 s tail. Prints medians of the
real-time factor (audio seconds / wall seconds) and writes benchmarks/results/render_speed.json.

musegen renders a mix as time slices side by side on every core (musegen.render.PASS_SECONDS,
RENDER_THREADS); pretty_midi uses one core. The row "musegen, one pass" is the same render in
a single pass on one core, so the ratio that does not come from the cores shows as well.
"core scaling" measures what the cores give: the same FluidSynth work (reverb and chorus on
silence, one synth per thread) done on RENDER_THREADS threads at once against one after the
other; time slices cannot beat that factor over one pass. "FluidSynth alone" is the floor of
any renderer built on FluidSynth's synthesis: one synth loads the soundfont and renders the
piece's notes (read by pretty_midi beforehand) into memory on one core, with no conversion and
no file; pretty_midi's time over it is the most one pass on one core can gain, and what is
left of a goal beyond it has to come from the cores.

    python benchmarks/render_speed.py [--repeats 5] [--soundfont PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.io import audio as render_module
from musegen.io.audio import render
from musegen.io.soundfont import find_soundfont
from musegen.io.synth import RENDER_THREADS, write_float_fn
from musegen.io.wav import write_wav

RESULTS = Path(__file__).parent / "results" / "render_speed.json"
TPQ = 480


def _score(qpm: float) -> Score:
    score = Score(TPQ)
    score.tempos.append(Tempo(0, qpm))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    return score


def chorale(bars: int = 32) -> Score:
    """Four voices (choir-like organ), one chord per beat, fermata-free, 72 qpm."""
    rng = np.random.default_rng(1)
    score = _score(72.0)
    ranges = [(60, 79), (55, 74), (48, 67), (40, 60)]
    names = ["Soprano", "Alto", "Tenor", "Bass"]
    tracks = [Track(n, 19, False) for n in names]  # church organ
    scale = [0, 2, 4, 5, 7, 9, 11]
    for beat in range(bars * 4):
        root = scale[int(rng.integers(0, 7))]
        for (lo, hi), track, offset in zip(ranges, tracks, (4, 7, 0, 0), strict=True):
            pitch = lo + (root + offset - lo) % 12
            pitch += 12 * int(rng.integers(0, max(1, (hi - pitch) // 12 + 1)))
            track.notes.append(Note(beat * TPQ, TPQ, min(pitch, hi), 80))
    score.tracks.extend(tracks)
    return score


def reel(bars: int = 32) -> Score:
    """A fast single line of eighth notes (fiddle), 200 qpm."""
    rng = np.random.default_rng(2)
    score = _score(200.0)
    track = Track("Fiddle", 40, False)
    pitch = 67
    for i in range(bars * 8):
        pitch = int(np.clip(pitch + rng.choice([-2, -1, 1, 2, 3, -3]), 55, 84))
        track.notes.append(Note(i * TPQ // 2, TPQ // 2, pitch, 100 if i % 4 == 0 else 80))
    score.tracks.append(track)
    return score


def piano_drums(bars: int = 16) -> Score:
    """Piano chords and bass plus a rock beat with eighth-note hi-hats, 110 qpm."""
    rng = np.random.default_rng(3)
    score = _score(110.0)
    piano, drums = Track("Piano", 0, False), Track("Drums", 0, True)
    for bar in range(bars):
        root = 48 + int(rng.choice([0, 5, 7, 9]))
        for beat in range(4):
            t = (bar * 4 + beat) * TPQ
            for interval in (12, 16, 19):
                piano.notes.append(Note(t, TPQ, root + interval, 70))
            drums.notes.append(Note(t, TPQ // 4, 36 if beat % 2 == 0 else 38, 100))
            for half in (0, TPQ // 2):
                drums.notes.append(Note(t + half, TPQ // 4, 42, 80))
        piano.notes.append(Note(bar * 4 * TPQ, 4 * TPQ, root, 90))
    score.tracks.extend([piano, drums])
    return score


def _pretty_midi(path: Path, sf2: Path, out: Path) -> float:
    """pretty_midi's own fluidsynth() plus a WAV write; returns audio seconds."""
    import pretty_midi

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        audio = pretty_midi.PrettyMIDI(str(path)).fluidsynth(fs=44100, synthesizer=str(sf2))
    stereo = np.repeat(audio.astype(np.float32)[:, None] * 0.89, 2, axis=1)
    write_wav(out, stereo, 44100, 16)
    return len(audio) / 44100


def _musegen(path: Path, sf2: Path, out: Path) -> float:
    return render(path, out, soundfont=sf2, sample_rate=44100, tail_seconds=1.0)["seconds"]


def _musegen_one_pass(path: Path, sf2: Path, out: Path) -> float:
    slices = render_module.PASS_SECONDS
    render_module.PASS_SECONDS = 10**9  # one slice: one synth, one core
    try:
        return _musegen(path, sf2, out)
    finally:
        render_module.PASS_SECONDS = slices


def fluidsynth_alone(path: Path) -> Callable[[Path, Path, Path], float]:
    """The floor: one synth loads the soundfont and renders the notes into memory. The MIDI is
    read (by pretty_midi) now, untimed; no conversion, no file."""
    import pretty_midi

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm = pretty_midi.PrettyMIDI(str(path))
    programs, events = [], []  # events: (frame, on, channel, pitch, velocity), offs first
    for channel, inst in enumerate(pm.instruments):
        channel = 9 if inst.is_drum else channel + (channel >= 9)
        programs.append((channel, 128 if inst.is_drum else 0, inst.program))
        for n in inst.notes:
            events.append((round(n.start * 44100), 1, channel, n.pitch, n.velocity))
            events.append((round(n.end * 44100), 0, channel, n.pitch, 0))
    total = round((pm.get_end_time() + 1.0) * 44100)  # the same 1 s tail
    events = sorted(events) + [(total, -1, 0, 0, 0)]

    def run(_path: Path, sf2: Path, _out: Path) -> float:
        import fluidsynth

        synth = fluidsynth.Synth(samplerate=44100.0)
        try:
            sfid = synth.sfload(str(sf2))
            for channel, bank, program in programs:
                synth.program_select(channel, sfid, bank, program)
            audio = np.zeros((total, 2), np.float32)
            write, pos = write_float_fn(fluidsynth), 0
            for frame, on, channel, pitch, velocity in events:
                if frame > pos:
                    address = audio[pos:].ctypes.data
                    write(synth.synth, frame - pos, address, 0, 2, address, 1, 2)
                    pos = frame
                if on == 1:
                    synth.noteon(channel, pitch, velocity)
                elif on == 0:
                    synth.noteoff(channel, pitch)
        finally:
            synth.delete()
        return total / 44100

    return run


def per_round(times: dict[str, list[float]], audio: dict[str, float], label: str) -> float:
    """label's speed-up over pretty_midi, as the median over rounds of the ratio within a
    round: steadier than the ratio of the medians on a machine whose load drifts."""
    scale = audio[label] / audio["pretty_midi"]
    pairs = zip(times["pretty_midi"], times[label], strict=True)
    return statistics.median(theirs / ours * scale for theirs, ours in pairs)


def core_scaling(sf2: Path, repeats: int, seconds: float = 10.0) -> float:
    """How much faster RENDER_THREADS synths render side by side than one after the other."""
    import threading

    import fluidsynth

    threads = max(1, RENDER_THREADS)
    synths = [fluidsynth.Synth(samplerate=44100.0) for _ in range(threads)]
    try:
        for synth in synths:
            synth.sfload(str(sf2))
        write, frames = write_float_fn(fluidsynth), int(seconds * 44100)
        buffers = [np.zeros((frames, 2), np.float32) for _ in synths]

        def work(k: int) -> None:
            address = buffers[k].ctypes.data
            write(synths[k].synth, frames, address, 0, 2, address, 1, 2)

        ratios = []
        for _ in range(repeats):
            began = time.perf_counter()
            for k in range(threads):
                work(k)
            one_by_one = time.perf_counter() - began
            pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
            began = time.perf_counter()
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            ratios.append(one_by_one / (time.perf_counter() - began))
        return statistics.median(ratios)
    finally:
        for synth in synths:
            synth.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--soundfont", default=None)
    args = parser.parse_args()
    sf2 = find_soundfont(args.soundfont)
    pieces = {
        "chorale 4 voices, 32 bars": chorale(),
        "reel 1 voice, 32 bars": reel(),
        "piano+drums, 16 bars": piano_drums(),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, score in pieces.items():
            midi = folder / "piece.mid"
            score.dump_midi(midi)
            contenders = {
                "musegen": _musegen,
                "musegen_one_pass": _musegen_one_pass,
                "pretty_midi": _pretty_midi,
                "fluidsynth_alone": fluidsynth_alone(midi),
            }
            times: dict[str, list[float]] = {k: [] for k in contenders}
            audio: dict[str, float] = {}
            labels = list(contenders)
            for r in range(args.repeats):  # take turns, the order rotating: noise hits all alike
                for label in labels[r % len(labels) :] + labels[: r % len(labels)]:
                    began = time.perf_counter()
                    audio[label] = contenders[label](midi, sf2, folder / f"{label}.wav")
                    times[label].append(time.perf_counter() - began)
            med = {k: statistics.median(v) for k, v in times.items()}
            rtf = {k: audio[k] / med[k] for k in med}
            rows.append(
                {
                    "piece": name,
                    "tracks": len(score.tracks),
                    "notes": sum(len(t.notes) for t in score.tracks),
                    "audio_seconds": audio,
                    "median_wall_seconds": med,
                    "realtime_factor": rtf,
                    "speedup": rtf["musegen"] / rtf["pretty_midi"],
                    "speedup_one_pass": rtf["musegen_one_pass"] / rtf["pretty_midi"],
                    "speedup_fluidsynth_alone": rtf["fluidsynth_alone"] / rtf["pretty_midi"],
                    "speedup_per_round": {
                        k: per_round(times, audio, k) for k in labels if k != "pretty_midi"
                    },
                    "wall_seconds": times,
                }
            )
    header = (
        f"{'piece':28} {'audio s':>8} {'musegen x RT':>13} {'one pass x RT':>14} "
        f"{'pretty_midi x RT':>17} {'ratio':>12} {'one pass':>12} {'floor':>12}"
    )
    threads = RENDER_THREADS
    scaling = core_scaling(sf2, args.repeats)
    print(f"soundfont: {sf2}   repeats: {args.repeats}   render threads: {threads}   (medians)")
    print(
        f"core scaling: {threads} synths side by side run {scaling:.2f}x as fast as one "
        "after the other (the most time slices can gain over one pass here)"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['piece']:28} {r['audio_seconds']['musegen']:8.1f} "
            f"{r['realtime_factor']['musegen']:13.1f} "
            f"{r['realtime_factor']['musegen_one_pass']:14.1f} "
            f"{r['realtime_factor']['pretty_midi']:17.1f} "
            + " ".join(
                f"{r[key]:5.2f} ({r['speedup_per_round'][label]:4.2f})"
                for key, label in (
                    ("speedup", "musegen"),
                    ("speedup_one_pass", "musegen_one_pass"),
                    ("speedup_fluidsynth_alone", "fluidsynth_alone"),
                )
            )  # fmt: skip
        )
    print(
        "floor: FluidSynth alone (one synth, load and synthesis into memory, one core) against "
        "pretty_midi: the most one pass on one core can reach. Ratios: of the medians "
        "(median of the per-round ratios)"
    )
    for r in rows:  # the floor spread over the cores with nothing else to do
        r["ceiling"] = r["speedup_fluidsynth_alone"] * scaling
    print(
        "ceiling (floor x core scaling: FluidSynth's synthesis split perfectly over the cores, "
        "with no other work): " + ", ".join(f"{r['piece']} {r['ceiling']:.2f}x" for r in rows)
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "render_speed",
                "soundfont": str(sf2),
                "repeats": args.repeats,
                "render_threads": threads,
                "core_scaling": scaling,
                "pass_seconds": render_module.PASS_SECONDS,
                "machine": {"python": platform.python_version(), "machine": platform.machine()},
                "note": "ratio = realtime factor of musegen / that of pretty_midi (higher: "
                "musegen faster); "
                "both write a 16-bit WAV and use a 1 s tail; fluidsynth_alone (no conversion, "
                "no file) is the floor of a FluidSynth renderer on one core",
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
