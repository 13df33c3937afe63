"""`musegen infill` (regenerate chosen bars) and `musegen arrange` (add parts)."""

from __future__ import annotations

from pathlib import Path

import typer

from musegen.cli.app import app, fail
from musegen.cli.generate import DENSITY_HELP, POLYPHONY_HELP, REGISTER_HELP, _range
from musegen.music.labels import MOODS


def _numbers(text: str | None, flag: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        fail(f"{flag} {text!r} is invalid: use numbers counted from 1, e.g. 1,3")


def _options(style, mood, temperature, top_p, seed, key, pitch_range, density, polyphony,
             register, adapt_steps) -> dict:  # fmt: skip
    return dict(style=style, mood=mood, temperature=temperature, top_p=top_p, seed=seed,
                key=key, pitch_range=_range(pitch_range), density=density,
                polyphony=polyphony, register=register, adapt_steps=adapt_steps)  # fmt: skip


ADAPT_HELP = "gradient steps on the piece before generating (about 0.3 s each); 0 = off"


@app.command()
def infill(
    seed_file: Path = typer.Argument(..., help="the MIDI file"),
    bars: str = typer.Option(..., help="bars to regenerate, FIRST-LAST counted from 1: 5-8"),
    tracks: str | None = typer.Option(None, help="tracks to regenerate, e.g. 1,3 (default all)"),
    out: Path = typer.Option(..., "-o", "--out", help="output folder"),
    style: str | None = typer.Option(None, help="see `musegen styles`"),
    mood: str | None = typer.Option(None, help=" | ".join(MOODS)),
    temperature: float = typer.Option(0.95),
    top_p: float = typer.Option(0.95),
    seed: int = typer.Option(0, help="random seed: the same seed gives the same files"),
    key: str | None = typer.Option(None, help="key of the new bars, e.g. C:major"),
    pitch_range: str | None = typer.Option(None, help="LOW-HIGH MIDI pitches, e.g. 36-96"),
    density: int | None = typer.Option(None, help=DENSITY_HELP),
    polyphony: int | None = typer.Option(None, help=POLYPHONY_HELP),
    register: int | None = typer.Option(None, help=REGISTER_HELP),
    adapt_steps: int = typer.Option(0, help=ADAPT_HELP),
    checkpoint: str | None = typer.Option(None, help="checkpoint folder or name"),
    soundfont: Path | None = typer.Option(None, help="SF2 for audio (default: see docs/cli.md)"),
    no_audio: bool = typer.Option(False, "--no-audio", help="skip WAV rendering"),
    force: bool = typer.Option(False, help="overwrite existing outputs"),
) -> None:
    """Regenerate bars of SEED_FILE (all tracks, or --tracks), keeping everything else: writes
    full.mid, part.mid (the new notes alone), full.wav, stems/, pianoroll.png, generation.json."""
    from musegen.generate.to_folder import write_filled

    chosen = _numbers(tracks, "--tracks")
    options = _options(style, mood, temperature, top_p, seed, key, pitch_range, density,
                       polyphony, register, adapt_steps)  # fmt: skip
    written = write_filled(
        seed_file, out, lambda mg, s: mg.infill(s, bars=bars, tracks=chosen, **options),
        f"{seed_file.name}: bars {bars} regenerated", checkpoint=checkpoint,
        soundfont=soundfont, audio=not no_audio, force=force,
    )  # fmt: skip
    for path in written:
        typer.echo(str(path))


@app.command()
def arrange(
    seed_file: Path = typer.Argument(..., help="the MIDI file"),
    add: str = typer.Option(..., help="parts to add, e.g. bass,drums or 33 (GM program)"),
    bars: str | None = typer.Option(None, help="only these bars, FIRST-LAST: 1-8"),
    out: Path = typer.Option(..., "-o", "--out", help="output folder"),
    style: str | None = typer.Option(None, help="see `musegen styles`"),
    mood: str | None = typer.Option(None, help=" | ".join(MOODS)),
    temperature: float = typer.Option(0.95),
    top_p: float = typer.Option(0.95),
    seed: int = typer.Option(0, help="random seed: the same seed gives the same files"),
    key: str | None = typer.Option(None, help="key of the new part, e.g. C:major"),
    pitch_range: str | None = typer.Option(None, help="LOW-HIGH MIDI pitches, e.g. 28-60"),
    density: int | None = typer.Option(None, help=DENSITY_HELP),
    polyphony: int | None = typer.Option(None, help=POLYPHONY_HELP),
    register: int | None = typer.Option(None, help=REGISTER_HELP),
    adapt_steps: int = typer.Option(0, help=ADAPT_HELP),
    checkpoint: str | None = typer.Option(None, help="checkpoint folder or name"),
    soundfont: Path | None = typer.Option(None, help="SF2 for audio (default: see docs/cli.md)"),
    no_audio: bool = typer.Option(False, "--no-audio", help="skip WAV rendering"),
    force: bool = typer.Option(False, help="overwrite existing outputs"),
) -> None:
    """Add parts to SEED_FILE that fit its tracks (one after another, each hearing the ones
    before): writes full.mid, part.mid (the new parts alone), audio, pianoroll.png, JSON."""
    from musegen.generate.to_folder import write_filled
    from musegen.music.instruments import program_from_name

    parts = [p.strip() for p in add.split(",") if p.strip()]
    if not parts:
        fail("--add is empty: name the parts to add, e.g. bass,drums")
    for part in parts:
        try:
            program_from_name(part)
        except ValueError as exc:
            fail(f"--add: {exc}")
    options = _options(style, mood, temperature, top_p, seed, key, pitch_range, density,
                       polyphony, register, adapt_steps)  # fmt: skip
    written = write_filled(
        seed_file, out, lambda mg, s: mg.arrange(s, parts, bars=bars, **options),
        f"{seed_file.name} + {', '.join(parts)}",
        checkpoint=checkpoint, soundfont=soundfont, audio=not no_audio, force=force,
    )  # fmt: skip
    for path in written:
        typer.echo(str(path))
