"""Errors a user can fix. The CLI prints their message on one line and exits with status 2."""

from __future__ import annotations


class MuseGenError(Exception):
    """A user-facing problem: the message says what is wrong and what to do."""


class InputError(MuseGenError, ValueError):
    """A seed, option or file given by the user cannot be used."""


class CheckpointError(MuseGenError):
    """A checkpoint folder is missing, incomplete, corrupt or unsafe."""


class RenderError(MuseGenError):
    """Audio cannot be rendered (no FluidSynth library, bad soundfont, ...)."""
