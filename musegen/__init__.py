"""musegen: continue a MIDI seed by style or mood.

from musegen import MuseGen
mg = MuseGen.from_pretrained()
result = mg.continue_midi("seed.mid", bars=8, style="chorale", mood="calm", seed=7)
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Continuation", "MidiResult", "MuseGen", "Options", "__version__"]


def __getattr__(name: str):
    # Lazy: `import musegen` (and `musegen --help`) must not import torch.
    if name in ("MuseGen", "Continuation", "MidiResult"):
        from musegen import api

        return getattr(api, name)
    if name == "Options":
        from musegen.continuation import Options

        return Options
    raise AttributeError(f"module 'musegen' has no attribute {name!r}")
