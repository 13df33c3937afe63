"""The `musegen` command line: thin commands that parse flags into a request and call the library.

One module per verb group; importing them registers their commands on `app`.
"""

from musegen.cli import corpus, evaluate, fill, generate, serve, train  # noqa: F401 (registers)
from musegen.cli.app import app, main

__all__ = ["app", "main"]
