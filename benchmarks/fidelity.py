"""Fidelity of a checkpoint on a folder of real multitrack songs: the table, printed.

The first SEED_BARS bars of each song are continued by NEW_BARS; the new bars are judged, per
seed track, against the seed's last bars, beside the song's own next bars (the ceiling) and a
loop of the seed (the copy floor). Writes OUT/report.md, report.json and fidelity.png.
Usage: python benchmarks/fidelity.py FOLDER [--checkpoint checkpoints/default] [--songs 20]
       [--seed-bars 8] [--new-bars 4] [--seed 0] [--quick] [--out out/fidelity]
Example: python benchmarks/fidelity.py /usr/share/games/dink/dink/Sound   (apt-get install
freedink-data: 12 game-music MIDI files, zlib-style, GPL-3+, CC-BY-SA and public-domain terms)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from musegen.evaluate.fidelity import fidelity_command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a folder of MIDI songs (searched recursively)")
    parser.add_argument("--checkpoint", default=None, help="folder or name; default: default")
    parser.add_argument("--seed-bars", type=int, default=None, help="bars of seed (8; quick 4)")
    parser.add_argument("--new-bars", type=int, default=None, help="bars continued (4; quick 2)")
    parser.add_argument("--songs", type=int, default=None, help="at most this many (20; quick 2)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--quick", action="store_true", help="2 songs, 4 + 2 bars: a smoke test")
    parser.add_argument("--out", type=Path, default=Path("out/fidelity"), help="report folder")
    args = parser.parse_args()
    report = fidelity_command(
        args.folder,
        checkpoint=args.checkpoint,
        seed_bars=args.seed_bars,
        new_bars=args.new_bars,
        songs=args.songs,
        quick=args.quick,
        out=args.out,
        seed=args.seed,
    )
    print(f"reproduce: {report['command']}")


if __name__ == "__main__":
    main()
