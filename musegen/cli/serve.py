"""`musegen serve`: the local studio, a page and a JSON HTTP API (docs/studio.md)."""

from __future__ import annotations

import typer

from musegen.cli.app import app

# Library imports sit inside the commands: `musegen --help` must not import torch.


@app.command()
def serve(
    host: str = typer.Option(
        "127.0.0.1",
        help="address to bind; any but loopback opens the studio to the network, with no "
        "password (a warning says so)",
    ),
    port: int = typer.Option(8765, min=1, max=65535, help="port of the page and the API"),
    checkpoint: str | None = typer.Option(None, help="checkpoint folder or name"),
) -> None:
    """Open the studio: a page and a JSON HTTP API on this machine (docs/studio.md); Ctrl-C
    stops it."""
    from musegen.serve import serve as run_studio

    run_studio(host, port, checkpoint, say=lambda line: typer.echo(line, err=True))
