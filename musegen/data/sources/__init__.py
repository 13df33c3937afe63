"""Corpus sources beyond the music21 package: each module turns a folder the user obtained with
one documented command (`HOW_TO_GET`) into normalised MIDI files and manifest rows.

Every module exposes the same small interface, which the corpus builder calls:

- `NAME`: the source name (also the manifest's `repertory`);
- `LICENCE_NOTE`, `COMMERCIAL_USE` ("yes" / "no" / "unknown");
- `HOW_TO_GET`: the shell command that puts the folder on disk (nothing is downloaded at run time);
- `find(folder, limit)`: sorted, deterministic source keys (file paths);
- `convert(key, out_dir)`: write one MIDI file at 480 ticks per quarter under `out_dir` and
  return its manifest row (exactly the keys of `musegen.data.manifest.MANIFEST_FIELDS`; `mood`
  and `arousal` are left for the builder); raises with a one-line reason when the piece cannot
  be converted;
- `split_of(key)`: the split the source itself fixes for a piece ("train", "validation",
  "test"), or None when the builder assigns it.

`mma` adds `song_of(key)`: its pieces share their notes with `pop909`'s and must share a split.
"""

__all__ = ["groove", "mma", "pop909"]
