"""`musegen continue`, `render`, `info`, `styles`, `moods`: using a checkpoint."""

from __future__ import annotations

from pathlib import Path

import typer

from musegen.cli.app import app, fail
from musegen.music.labels import MOODS

# Library imports sit inside the commands: `musegen --help` must not import torch.

DENSITY_HELP = "notes per bar, 1 (whole notes) .. 6 (fills); default: the model's own plan"
POLYPHONY_HELP = "notes sounding together, 1 .. 6; default: the model's own plan"
REGISTER_HELP = "1 bass, 2 tenor, 3 alto, 4 soprano, 5 high; default: the model's own plan"


@app.command()
def info(
    checkpoint: str | None = typer.Argument(None, help="folder or name; default: default"),
) -> None:
    """Print a checkpoint's card and the styles and moods it knows."""
    from musegen import checkpoint as ckpt

    loaded = ckpt.load(checkpoint)
    typer.echo(loaded.card)
    typer.echo(f"styles: {', '.join(loaded.tokenizer.styles)}")
    typer.echo(f"moods: {', '.join(loaded.tokenizer.moods)}")
    if loaded.tokenizer.has_controls:
        typer.echo("controls: bar plans (key, density, polyphony, register); infill and arrange")
    typer.echo(
        f"parameters: {loaded.model.num_parameters():,}; weights sha256 {loaded.sha256[:16]}"
    )


def _range(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    low, sep, high = text.partition("-")
    try:
        return int(low), int(high) if sep else int(low)
    except ValueError:
        fail(f"--pitch-range {text!r} is invalid: use LOW-HIGH, e.g. 36-96")


def _programs(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        fail(f"--programs {text!r} is invalid: use GM program numbers, e.g. 0,40 (-1 = drums)")


@app.command("continue")
def continue_(
    seed_file: Path = typer.Argument(..., help="the seed MIDI file"),
    out: Path = typer.Option(..., "-o", "--out", help="output folder"),
    bars: int = typer.Option(8, help="new bars to add"),
    style: str | None = typer.Option(None, help="see `musegen styles`"),
    mood: str | None = typer.Option(None, help=" | ".join(MOODS)),
    temperature: float = typer.Option(0.95),
    top_k: int | None = typer.Option(None),
    top_p: float = typer.Option(0.95),
    min_p: float = typer.Option(0.0),
    repetition_penalty: float = typer.Option(1.0),
    guidance: float | None = typer.Option(
        None, help="classifier-free guidance; 1 = off; default 5 with --style, else 1"
    ),
    guide_against: str = typer.Option(
        "any",
        help="with --style: guidance moves away from the unconditioned model (any, classic "
        "classifier-free guidance) or from the other styles (other-styles)",
    ),
    variations: int = typer.Option(1),
    mood_candidates: int = typer.Option(
        1,
        help="with --mood: continuations tried per variation, keeping one in the mood's "
        "mode (major for happy/calm, minor for sad/tense); 1 = off (rejection, opt-in)",
    ),
    seed: int = typer.Option(0, help="random seed: the same seed gives the same files"),
    adapt_steps: int = typer.Option(
        0,
        help="gradient steps on the seed before sampling, for seeds far from the corpus "
        "(dynamic evaluation; about 0.3 s each on 2 cores); 0 = off",
    ),
    key: str | None = typer.Option(
        None, help="key of the new bars, e.g. C:major (a plan; older checkpoints: the scale)"
    ),
    density: int | None = typer.Option(None, help=DENSITY_HELP),
    polyphony: int | None = typer.Option(None, help=POLYPHONY_HELP),
    register: int | None = typer.Option(None, help=REGISTER_HELP),
    pitch_range: str | None = typer.Option(None, help="LOW-HIGH MIDI pitches, e.g. 36-96"),
    programs: str | None = typer.Option(None, help="GM programs for new material, e.g. 0,40"),
    checkpoint: str | None = typer.Option(None, help="checkpoint folder or name"),
    soundfont: Path | None = typer.Option(None, help="SF2 for audio (default: see docs/cli.md)"),
    no_audio: bool = typer.Option(False, "--no-audio", help="skip WAV rendering"),
    force: bool = typer.Option(False, help="overwrite existing outputs"),
    max_notes: int | None = typer.Option(None, help="raise the seed note limit"),
    max_tracks: int | None = typer.Option(None, help="raise the seed track limit"),
    max_bytes: int | None = typer.Option(None, help="raise the seed size limit"),
    max_seconds: float | None = typer.Option(None, help="raise the seed length limit"),
    check_originality: bool = typer.Option(
        False, "--check-originality", help="report the longest passage copied from the corpus"
    ),
    corpus_dir: Path = typer.Option(
        Path("data/corpus"), "--corpus", help="training corpus for --check-originality"
    ),
) -> None:
    """Continue SEED_FILE: writes full.mid, continuation.mid, full.wav, stems/, pianoroll.png
    and generation.json into OUT (with -1, -2, ... suffixes for variations)."""
    from musegen.generate.request import ContinueRequest
    from musegen.generate.to_folder import write_continuations
    from musegen.io.seed import Limits

    request = ContinueRequest(
        bars=bars, variations=variations, style=style, mood=mood, temperature=temperature,
        top_k=top_k, top_p=top_p, min_p=min_p, repetition_penalty=repetition_penalty,
        guidance=guidance, seed=seed, key=key, pitch_range=_range(pitch_range),
        programs=_programs(programs), mood_candidates=mood_candidates,
        guide_against=guide_against, density=density, polyphony=polyphony, register=register,
        adapt_steps=adapt_steps,
    )  # fmt: skip
    given = dict(max_notes=max_notes, max_tracks=max_tracks, max_bytes=max_bytes,
                 max_seconds=max_seconds)  # fmt: skip
    limits = Limits(**{k: v for k, v in given.items() if v is not None})
    written = write_continuations(
        seed_file, out, request, checkpoint=checkpoint, soundfont=soundfont, audio=not no_audio,
        force=force, limits=limits, check_originality=check_originality, corpus=corpus_dir,
    )  # fmt: skip
    for path in written:
        typer.echo(str(path))


@app.command()
def render(
    midi: Path = typer.Argument(..., help="MIDI file to render"),
    out: Path = typer.Option(..., "-o", "--out", help="WAV file to write"),
    soundfont: Path | None = typer.Option(None),
    stems: bool = typer.Option(False, help="also write one WAV per track into OUT_stems/"),
    sample_rate: int = typer.Option(44100, help="44100 or 48000"),
    bit_depth: int = typer.Option(16, help="16 or 24"),
    force: bool = typer.Option(False, help="overwrite OUT"),
) -> None:
    """Render a MIDI file to WAV with FluidSynth, offline and sample-accurate."""
    from musegen.io.audio import render as render_wav
    from musegen.io.seed import read_seed

    if out.exists() and not force:
        fail(f"{out} exists; pass --force to overwrite it")
    seed = read_seed(midi)
    stems_dir = out.with_name(out.stem + "_stems") if stems else None
    info = render_wav(seed.score, out, soundfont=soundfont, sample_rate=sample_rate,
                      bit_depth=bit_depth, stems_dir=stems_dir, channels=seed.channels)  # fmt: skip
    typer.echo(f"{out} ({info['seconds']:.1f} s audio in {info['render_seconds']:.2f} s)")


@app.command()
def styles(checkpoint: str | None = typer.Option(None)) -> None:
    """List the styles a checkpoint knows."""
    from musegen import checkpoint as ckpt
    from musegen.tokens.tokenizer import MuseTokenizer

    typer.echo("\n".join(MuseTokenizer.load(ckpt.resolve(checkpoint) / "tokenizer.json").styles))


@app.command()
def moods(checkpoint: str | None = typer.Option(None)) -> None:
    """List the moods a checkpoint knows (valence/arousal quadrants)."""
    from musegen import checkpoint as ckpt
    from musegen.tokens.tokenizer import MuseTokenizer

    typer.echo("\n".join(MuseTokenizer.load(ckpt.resolve(checkpoint) / "tokenizer.json").moods))
