"""Which General MIDI soundfont to render with: the caller's, $MUSEGEN_SOUNDFONT, a system one,
or the TimGM6mb.sf2 inside the pretty_midi package, each checked to be an SF2 file first.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from musegen.errors import RenderError

SOUNDFONT_ENV = "MUSEGEN_SOUNDFONT"
# General MIDI soundfonts that distributions and Homebrew install, most complete first.
SYSTEM_SOUNDFONTS: tuple[str, ...] = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/opt/homebrew/share/soundfonts/default.sf2",
    "/opt/homebrew/share/fluid-synth/sf2/VintageDreamsWaves-v2.sf2",
    "/usr/local/share/soundfonts/default.sf2",
    "/usr/local/share/fluid-synth/sf2/VintageDreamsWaves-v2.sf2",
)


def _check_soundfont(path: Path, origin: str) -> Path:
    """Return `path` if it is a readable SF2 file (RIFF form type `sfbk`), else raise."""
    hint = f"pass soundfont=PATH or set {SOUNDFONT_ENV} to a General MIDI .sf2 file"
    if not path.exists():
        raise RenderError(f"Soundfont {path} (from {origin}) does not exist: {hint}.")
    if not path.is_file():
        raise RenderError(f"Soundfont {path} (from {origin}) is not a file: {hint}.")
    try:
        with path.open("rb") as f:
            head = f.read(12)
    except OSError as e:
        raise RenderError(f"Soundfont {path} cannot be read ({e.strerror}): {hint}.") from e
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise RenderError(
            f"{path} (from {origin}) is not an SF2 soundfont (no RIFF/sfbk header): {hint}."
        )
    return path


def _pretty_midi_soundfont() -> Path | None:
    """The TimGM6mb.sf2 shipped inside the pretty_midi package, found without importing it."""
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "TimGM6mb.sf2"
        if candidate.is_file():
            return candidate
    return None


def find_soundfont(explicit: str | Path | None = None) -> Path:
    """The soundfont to use: `explicit`, else $MUSEGEN_SOUNDFONT, else a system GM soundfont,
    else pretty_midi's TimGM6mb.sf2. An explicit or environment choice that is invalid raises
    rather than silently falling back."""
    if explicit is not None:
        return _check_soundfont(Path(explicit).expanduser(), "the soundfont argument")
    env = os.environ.get(SOUNDFONT_ENV, "").strip()
    if env:
        return _check_soundfont(Path(env).expanduser(), f"${SOUNDFONT_ENV}")
    for candidate in SYSTEM_SOUNDFONTS:
        path = Path(candidate)
        if path.is_file():
            try:
                return _check_soundfont(path, "the system")
            except RenderError:
                continue
    bundled = _pretty_midi_soundfont()
    if bundled is not None:
        return _check_soundfont(bundled, "pretty_midi")
    raise RenderError(
        f"No General MIDI soundfont found: pass soundfont=PATH, set {SOUNDFONT_ENV}, "
        "or install one (`apt-get install fluid-soundfont-gm`, or `pip install pretty_midi`)."
    )
