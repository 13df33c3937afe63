"""Write the development set: folders of held-out songs for `musegen evaluate fidelity/infill`.

    .venv/bin/python tools/dev_set.py [--shards data/cache-all] [--out data/dev]

From the shards' fixed split, links the test songs of each multitrack source into its own
folder (the corpus MIDI files, so the songs are exactly what training left out):
data/dev/pop909-test (POP909 piano arrangements), data/dev/band-test (their MMA band versions),
data/dev/groove-test (the Groove MIDI test split: drums). The game music of freedink-data
(`apt-get install freedink-data`: /usr/share/games/dink/dink/Sound) is the fourth folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from musegen.data.manifest import read_manifest

SOURCES = {  # dev folder -> (corpus folder, id prefix)
    "pop909-test": ("data/corpus-pop909", "pop909-"),
    "band-test": ("data/corpus-band", "pop909-band-"),
    "groove-test": ("data/corpus-groove", "groove-"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=Path, default=Path("data/cache-all"))
    parser.add_argument("--out", type=Path, default=Path("data/dev"))
    args = parser.parse_args()
    split = {
        p["id"]: p["split"] for p in json.loads((args.shards / "index.json").read_text())["pieces"]
    }
    for name, (corpus, prefix) in SOURCES.items():
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        rows = [r for r in read_manifest(Path(corpus)) if split.get(r["id"]) == "test"]
        rows = [
            r
            for r in rows
            if r["id"].startswith(prefix)
            and not (prefix == "pop909-" and r["id"].startswith("pop909-band-"))
        ]
        for r in rows:
            link = folder / f"{r['id']}.mid"
            if not link.exists():
                link.symlink_to((Path(corpus) / r["path"]).resolve())
        print(f"{folder}: {len(rows)} test songs")


if __name__ == "__main__":
    main()
