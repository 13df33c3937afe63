"""Generation: a typed request in, continuations with provenance out; the public MuseGen API."""

__all__ = ["api", "continuation", "to_folder"]
