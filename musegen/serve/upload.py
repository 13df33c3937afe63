"""The HTTP edge: uploads read under a size cap, and requests from other sites refused.

The seed's own limits (tracks, notes, length, bytes) are the engine's, applied when it reads
the seed; here the body is capped before it is parsed, so a huge upload costs nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from musegen.errors import InputError

from .options import FILE_FIELD

MAX_UPLOAD = 16 * 1024 * 1024  # the CLI's default seed limit (midi_io.Limits.max_bytes)
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the option fields
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


class HttpError(Exception):
    """An error with its HTTP status; its message is the one sentence returned as JSON."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    """A seed as sent: its bytes, a safe name for downloads, and the other form fields."""

    data: bytes
    name: str
    fields: dict[str, str]


def safe_name(filename: str | None) -> str:
    """The upload's file name without folder or extension, safe in a Content-Disposition."""
    stem = re.split(r"[\\/]", filename or "")[-1].rsplit(".", 1)[0]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:60]
    return stem or "seed"


async def read_upload(request: Request, max_bytes: int = MAX_UPLOAD) -> Upload:
    """Read a multipart form with the seed in field `midi`; the body is capped while it comes."""
    kind = request.headers.get("content-type", "")
    if not kind.startswith("multipart/form-data"):
        raise HttpError(
            415,
            f"send a multipart/form-data form with the MIDI file in the field {FILE_FIELD!r}, "
            f"e.g. curl -F {FILE_FIELD}=@seed.mid",
        )
    cap = max_bytes + FORM_OVERHEAD
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > cap:
        raise HttpError(413, _too_large(int(length), max_bytes))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise HttpError(413, _too_large(len(body), max_bytes))

    async def replay() -> dict:
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=2, max_fields=64)
    except Exception as err:  # python-multipart's and starlette's parse errors
        detail = getattr(err, "detail", None) or str(err) or type(err).__name__
        raise HttpError(400, f"the upload is not a valid multipart form ({detail})") from None
    files = [v for v in form.values() if isinstance(v, UploadFile)]
    upload = form.get(FILE_FIELD)
    if not isinstance(upload, UploadFile) or len(files) > 1:
        raise InputError(
            f"send exactly one MIDI file, in the field {FILE_FIELD!r}: "
            f"e.g. curl -F {FILE_FIELD}=@seed.mid"
        )
    data = await upload.read()
    await form.close()
    if len(data) > max_bytes:
        raise HttpError(413, _too_large(len(data), max_bytes))
    if not data:
        raise InputError("the uploaded MIDI file is empty: give a Standard MIDI File (.mid)")
    fields = {k: v for k, v in form.multi_items() if k != FILE_FIELD}
    return Upload(data, safe_name(upload.filename), fields)


def _too_large(size: int, limit: int) -> str:
    return (
        f"the upload is {size:,} bytes, over the limit of {limit:,} bytes for a seed "
        "(the CLI's --max-bytes default): send a shorter MIDI file"
    )


def host_of(value: str) -> str:
    """'[::1]:8765' -> '::1', 'localhost:8765' -> 'localhost'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class SameSite:
    """Refuse requests from other web sites (an Origin that is not the studio's own host), and,
    when serving on loopback, requests whose Host is not this machine (DNS rebinding)."""

    def __init__(self, app: ASGIApp, local: bool = True) -> None:
        self.app = app
        self.local = local

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._allowed(scope):
            where = "http://127.0.0.1 (the address it printed)" if self.local else "its address"
            response = JSONResponse(
                {"error": f"requests from other sites or host names are refused: open the "
                          f"studio at {where}"},
                status_code=403,
            )  # fmt: skip
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = host_of(headers.get("host", ""))
        if self.local and host not in LOOPBACK_NAMES:
            return False
        origin = headers.get("origin")
        if origin is None:  # curl, scripts, same-origin GETs
            return True
        origin_host = host_of(origin.split("://", 1)[-1])
        return origin_host == host or (self.local and origin_host in LOOPBACK_NAMES)
