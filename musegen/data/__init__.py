"""Training data: corpus sources and manifest (licences, opt-out), token shards, augmentations."""

__all__ = ["augment", "corpus", "originality", "shards", "sources"]
