"""musegen: continue a MIDI seed by style or mood."""

__version__ = "0.1.0"
