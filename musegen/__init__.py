"""musegen: continue a MIDI seed by style or mood.

from musegen import MuseGen
mg = MuseGen.from_pretrained()
result = mg.continue_midi("seed.mid", bars=8, style="chorale", mood="calm", seed=7)
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("musegen")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["Continuation", "ContinueRequest", "MidiResult", "MuseGen", "__version__"]


def __getattr__(name: str):
    # Lazy: `import musegen` (and `musegen --help`) must not import torch.
    if name in ("MuseGen", "Continuation", "MidiResult"):
        from musegen.generate import api

        return getattr(api, name)
    if name == "ContinueRequest":
        from musegen.generate.request import ContinueRequest

        return ContinueRequest
    raise AttributeError(f"module 'musegen' has no attribute {name!r}")
