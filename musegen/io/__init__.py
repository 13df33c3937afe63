"""Files in and out: reading seeds safely, DAW-safe MIDI, FluidSynth audio, piano-roll pictures.

Submodules are imported on use (audio loads the FluidSynth library, pianoroll matplotlib).
"""

__all__ = ["audio", "files", "midi", "pianoroll"]
