"""`musegen serve`: a local studio (a browser page and a JSON HTTP API) for the generator.

from musegen.serve import serve
serve(port=8765)                 # http://127.0.0.1:8765, Ctrl-C stops it

The web stack (starlette, uvicorn, python-multipart) is imported only here, so the rest of
musegen, and `musegen --help`, never load it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
import threading
import time

__all__ = ["DEFAULT_PORT", "create_app", "is_loopback", "serve"]

DEFAULT_PORT = 8765
INSTALL_HINT = "pip install 'starlette>=0.40' 'uvicorn>=0.30' 'python-multipart>=0.0.9'"


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def create_app(*args, **kwargs):
    """The studio as an ASGI app; see musegen.serve.app.create_app."""
    from musegen.serve.app import create_app as make

    return make(*args, **kwargs)


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    checkpoint: str | None = None,
    *,
    say=None,
    log_level: str = "warning",
) -> None:
    """Load the model once, serve the studio until Ctrl-C, then delete its files.

    Another host than loopback makes the studio reachable from the network, with no
    password: a warning says so.
    """
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    started = time.perf_counter()
    try:
        import uvicorn

        from musegen.serve.app import create_app as make
    except ImportError as err:
        from musegen.errors import MuseGenError

        raise MuseGenError(f"the studio needs {err.name}: {INSTALL_HINT}") from None
    local = is_loopback(host)
    if not local:
        say(
            f"musegen studio: warning: serving on {host}: anyone who can reach this machine can "
            "use the studio (there is no password); use --host 127.0.0.1 to keep it private"
        )
    app = make(checkpoint, local_only=local)
    shown = f"[{host}]" if ":" in host else host

    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=3,
        lifespan="on",
    )  # fmt: skip

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            # Cancel the jobs now: requests waiting for one get their answer before uvicorn
            # waits for open connections. A thread, as a signal handler must not block.
            threading.Thread(target=app.state.jobs.shut, daemon=True).start()
            super().handle_exit(sig, frame)

    server = Server(config)

    async def announce_when_ready() -> None:
        while not server.started and not server.should_exit:
            await asyncio.sleep(0.05)
        if server.started:
            seconds = time.perf_counter() - started
            say(f"musegen studio: http://{shown}:{port}  (ready in {seconds:.1f} s; Ctrl-C stops)")

    async def main() -> None:
        watcher = asyncio.ensure_future(announce_when_ready())
        try:
            await server.serve()
        finally:
            watcher.cancel()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # uvicorn stopped cleanly, then passed Ctrl-C on
        pass
    except SystemExit:  # uvicorn exits when it cannot bind
        pass
    if not server.started:
        from musegen.errors import MuseGenError

        raise MuseGenError(
            f"cannot serve on {shown}:{port} (in use, or not an address of this machine): "
            "choose another with --port or --host"
        )
    say("musegen studio: stopped; its temporary files are deleted")
