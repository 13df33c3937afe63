"""The studio's routes: the page, and the JSON API that the page and DAW scripts use.

Every error is a status code and {"error": sentence}, the sentence the CLI prints for the
same mistake. Generation runs on the JobQueue's one worker; the handlers only wait on it.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from musegen.errors import InputError, MuseGenError, RenderError

from . import options, seedinfo
from .jobs import DONE, FAILED, Busy, Job, JobQueue
from .upload import MAX_UPLOAD, HttpError, SameSite, read_upload

STATIC = Path(__file__).parent / "static"
FILES = {  # name in the URL -> (media type, suffix of the download's name; {done} per mode)
    "full.mid": ("audio/midi", "-{done}.mid"),
    "continuation.mid": ("audio/midi", "-new.mid"),
    "part.mid": ("audio/midi", "-part.mid"),
    "audio.wav": ("audio/wav", "-{done}.wav"),
    "pianoroll.png": ("image/png", "-pianoroll.png"),
    "generation.json": ("application/json", "-generation.json"),
}
DONE_WORD = {"continue": "continued", "infill": "infilled", "arrange": "arranged"}
NOT_IN_MODE = {"continue": "part.mid", "infill": "continuation.mid", "arrange": "continuation.mid"}


def create_app(
    checkpoint: str | None = None,
    *,
    model=None,
    workdir: str | Path | None = None,
    ttl: float = 3600.0,
    max_kept: int = 50,
    max_waiting: int = 32,
    max_upload: int = MAX_UPLOAD,
    local_only: bool = True,
) -> Starlette:
    """The studio as an ASGI app. Loads `checkpoint` (None: the shipped default) unless a
    loaded `model` (a MuseGen) is given; files go to `workdir` (default: a new temporary
    folder made at start-up), which is deleted when the app shuts down."""
    if model is None:
        from musegen import MuseGen

        model = MuseGen.from_pretrained(checkpoint)
    jobs = JobQueue(model, workdir, ttl=ttl, max_kept=max_kept, max_waiting=max_waiting)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        jobs.start()
        try:
            yield
        finally:
            await run_in_threadpool(jobs.close)

    routes = [
        Route("/", index),
        Route("/api/info", info),
        Route("/api/seed", seed, methods=["POST"]),
        Route("/api/jobs", list_jobs),
        Route("/api/jobs", submit, methods=["POST"]),
        Route("/api/jobs/{id}", job_state),
        Route("/api/jobs/{id}", cancel, methods=["DELETE"]),
        Route("/api/jobs/{id}/{file}", job_file),
        Route("/api/generate", generate, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    handlers = {
        HttpError: lambda r, e: _error(e.status, str(e)),
        Busy: lambda r, e: _error(503, str(e)),
        RenderError: lambda r, e: _error(503, str(e)),
        MuseGenError: lambda r, e: _error(400, str(e)),
        HTTPException: _http_error,
    }
    middleware = [Middleware(SameSite, local=local_only)]
    app = Starlette(
        routes=routes, exception_handlers=handlers, middleware=middleware, lifespan=lifespan
    )
    app.state.jobs = jobs
    app.state.model = model
    app.state.max_upload = max_upload
    return app


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    if exc.status_code == 404:
        return _error(404, f"no such page or endpoint: {request.url.path} (see GET /api/info)")
    if exc.status_code == 405:
        return _error(405, f"{request.method} is not allowed on {request.url.path}")
    return _error(exc.status_code, str(exc.detail))


def _jobs(request: Request) -> JobQueue:
    return request.app.state.jobs


# ---------------------------------------------------------------------- page and info


async def index(request: Request) -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def info(request: Request) -> JSONResponse:
    """The model, the modes, the options and the limits: what a client may ask for."""
    from musegen import __version__

    model, jobs = request.app.state.model, _jobs(request)
    checkpoint = getattr(model, "checkpoint", None)
    refused = _unavailable(model)
    return JSONResponse({
        "musegen": __version__,
        "checkpoint": getattr(checkpoint, "name", None),
        "modes": [m for m in options.MODES if m not in refused],
        "modes_unavailable": refused,
        "controls": _has_controls(model),
        "parts": list(options.PART_NAMES),
        "styles": list(model.styles),
        "moods": list(model.moods),
        "fields": options.describe(),
        "limits": {"max_upload_bytes": request.app.state.max_upload,
                   "max_waiting": jobs.max_waiting, "results_kept_seconds": jobs.ttl,
                   "results_kept": jobs.max_kept},
        "queue": jobs.counts(),
    })  # fmt: skip


async def seed(request: Request) -> JSONResponse:
    """Describe an uploaded MIDI file: tracks, bars, meter, tempo, key and its notes."""
    upload = await read_upload(request, request.app.state.max_upload)
    if upload.fields:
        raise InputError(f"unknown option {sorted(upload.fields)[0]!r}: send only the file")
    score = await run_in_threadpool(seedinfo.read_score, upload.data)
    return JSONResponse(await run_in_threadpool(seedinfo.describe, score, upload.name))


# ---------------------------------------------------------------------- jobs


def _has_controls(model) -> bool:
    """The checkpoint has bar plans and infilling: infill, arrange, density... work."""
    checkpoint = getattr(model, "checkpoint", None)
    return bool(getattr(getattr(checkpoint, "tokenizer", None), "has_controls", False))


def _checkpoint_name(model) -> str:
    return getattr(getattr(model, "checkpoint", None), "name", None) or "this"


def _unavailable(model) -> dict[str, str]:
    return options.unavailable_modes(_checkpoint_name(model), _has_controls(model))


async def _submit(request: Request) -> Job:
    model = request.app.state.model
    upload = await read_upload(request, request.app.state.max_upload)
    req = options.parse_request(upload.fields, model.styles, model.moods,
                                has_controls=_has_controls(model),
                                checkpoint_name=_checkpoint_name(model))  # fmt: skip
    score = await run_in_threadpool(seedinfo.read_score, upload.data)  # a damaged file fails now
    options.check_against_seed(req, score)
    return _jobs(request).submit(req, upload.data, upload.name)


async def submit(request: Request) -> JSONResponse:
    """Queue a generation; answer at once with the job (poll GET /api/jobs/{id})."""
    job = await _submit(request)
    body = job.as_json(_jobs(request).position(job))
    return JSONResponse(body, status_code=202, headers={"Location": f"/api/jobs/{job.id}"})


async def list_jobs(request: Request) -> JSONResponse:
    jobs = _jobs(request)
    return JSONResponse({"jobs": [j.as_json(jobs.position(j)) for j in jobs.all()]})


def _job(request: Request) -> Job:
    job = _jobs(request).get(request.path_params["id"])
    if job is None:
        raise HttpError(
            404,
            f"job {request.path_params['id']!r} is unknown or has expired (results are kept "
            f"{_jobs(request).ttl / 60:.0f} minutes): generate it again",
        )
    return job


async def job_state(request: Request) -> JSONResponse:
    """A job's status, queue position, progress, error or result (with its notes when done)."""
    job = _job(request)
    with_roll = request.query_params.get("roll", "1") != "0"
    return JSONResponse(job.as_json(_jobs(request).position(job), with_roll=with_roll))


async def cancel(request: Request) -> JSONResponse:
    """Cancel a waiting or running job; a finished job is discarded with its files."""
    job = _job(request)
    finished_before = job.status in ("done", "failed", "cancelled")
    _jobs(request).cancel(job)
    status = "discarded" if finished_before else ("cancelling" if job.status == "running"
                                                  else job.status)  # fmt: skip
    return JSONResponse({"id": job.id, "status": status})


async def job_file(request: Request) -> Response:
    """The result's files; audio and the piano-roll picture are made on first request."""
    job, name = _job(request), request.path_params["file"]
    mode = job.request.mode
    if name not in FILES or name == NOT_IN_MODE[mode]:
        valid = ", ".join(f for f in FILES if f != NOT_IN_MODE[mode])
        raise HttpError(404, f"no file {name!r} for mode {mode}: use one of {valid}")
    if job.status != DONE:
        raise HttpError(409, f"job {job.id} is {job.status}, it has no files yet")
    path = job.folder / name
    await run_in_threadpool(_make, job, name, path)
    if not path.exists():  # expired while being made
        raise HttpError(404, f"job {job.id} has expired: generate it again")
    return FileResponse(path, media_type=FILES[name][0], filename=_download_name(job, name))


def _download_name(job: Job, name: str) -> str:
    """SEED-continued.mid, SEED-infilled.mid, SEED-part.mid, ..."""
    return job.seed_name + FILES[name][1].format(done=DONE_WORD[job.request.mode])


def _title(job: Job) -> str:
    req = job.request
    if req.mode == "infill":
        first, last = req.bars
        return f"{job.seed_name}: bars {first}-{last} regenerated"
    if req.mode == "arrange":
        return f"{job.seed_name} + {', '.join(req.parts)}"
    return f"{job.seed_name} + {req.bars} new bars"


def _make(job: Job, name: str, path: Path) -> None:
    with job.lock:
        if path.exists() or not job.folder.exists():
            return
        if name == "audio.wav":
            job.result.render(path)
        elif name == "pianoroll.png":
            job.result.plot(path, title=_title(job))
        elif name == "generation.json":
            import json

            path.write_text(json.dumps(job.provenance, indent=2, sort_keys=True, default=str))


async def generate(request: Request) -> Response:
    """Queue a generation and wait for it: the answer is the MIDI file itself (for scripts)."""
    job = await _submit(request)
    jobs = _jobs(request)
    try:
        while not job.done.is_set():
            await asyncio.sleep(0.05)
            if await request.is_disconnected():
                jobs.cancel(job)  # nobody is waiting for it any more
                return Response(status_code=499)
    except asyncio.CancelledError:  # the server stops and gave up waiting for this request
        jobs.cancel(job)
        raise
    if job.status == FAILED:
        return _error(400 if job.error_status == 400 else 500, job.error)
    if job.status != DONE:
        why = "the server is shutting down" if jobs.closing else "it was cancelled"
        return _error(503 if jobs.closing else 409, f"job {job.id} stopped: {why}")
    name = f"{job.request.part}.mid"  # full, continuation or part (options.PARTS)
    headers = {"X-Musegen-Job": job.id}
    if job.request.mode == "continue":
        headers["X-Musegen-New-Start-Tick"] = str(job.new_start)
    else:
        headers["X-Musegen-Region-Ticks"] = "{}-{}".format(*job.region)
    return FileResponse(job.folder / name, media_type=FILES[name][0],
                        filename=_download_name(job, name), headers=headers)  # fmt: skip
