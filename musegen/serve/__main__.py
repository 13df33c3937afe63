"""`python -m musegen.serve [--host H] [--port P] [--checkpoint C]`: the studio, without the CLI."""

from __future__ import annotations

import argparse
import sys

from musegen.errors import MuseGenError
from musegen.serve import DEFAULT_PORT, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m musegen.serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--checkpoint", default=None, help="checkpoint folder or name")
    args = parser.parse_args(argv)
    try:
        serve(args.host, args.port, args.checkpoint)
    except MuseGenError as err:
        print(f"musegen: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
