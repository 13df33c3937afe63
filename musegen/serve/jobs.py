"""The generation queue: one generation at a time per model, with progress, cancel and expiry.

One worker thread runs the jobs in order, so the model is never used by two requests at once
and a burst of requests waits in line instead of slowing every one down. Each finished job
keeps its files in its own folder under the server's temporary folder until it expires.
Three modes: continue (MuseGen.continue_midi), infill (MuseGen.infill) and arrange
(MuseGen.arrange); each reports its tokens as it decodes, and a cancel stops it at the next.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from musegen.errors import MuseGenError

from .options import Request
from .seedinfo import read_score, roll

WAITING, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)


class Cancelled(Exception):
    """Raised from the engine's progress callback to stop a job that was cancelled."""


class Busy(MuseGenError):
    """The queue is full or the server is stopping: the request is refused (HTTP 503)."""


@dataclass
class Job:
    """One request in the queue and, once done, its files."""

    id: str
    request: Request
    seed: bytes
    seed_name: str
    folder: Path
    status: str = WAITING
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    tokens: int = 0
    error: str | None = None
    error_status: int = 400  # 500 when the failure is a bug rather than the request
    provenance: dict | None = None
    new_start: int | None = None  # continue: where the new bars start
    region: tuple[int, int] | None = None  # infill, arrange: the ticks regenerated
    roll: dict | None = None
    result: object | None = None  # the engine's Continuation or Infilled: audio, picture

    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)  # for files made on demand

    def as_json(self, position: int | None = None, with_roll: bool = False) -> dict:
        """The job's state for GET /api/jobs/{id}."""
        now = time.time()
        started = self.started or (now if self.status == WAITING else self.finished or now)
        out = {
            "id": self.id,
            "status": self.status,
            "request": self.request.summary(),
            "seed_name": self.seed_name,
            "queue_position": position,
            "waited_seconds": round(started - self.created, 3),
            "times": {"created": self.created, "started": self.started, "finished": self.finished},
            "progress": {
                "tokens": self.tokens,
                "seconds": round((self.finished or now) - self.started, 3) if self.started else 0,
            },
            "cancel_requested": self.cancel.is_set(),
            "error": self.error,
        }
        if self.status == DONE:
            base = f"/api/jobs/{self.id}"
            files = {"full": f"{base}/full.mid"}
            if self.request.mode == "continue":
                where = {"new_start_tick": self.new_start}
                files["continuation"] = f"{base}/continuation.mid"
            else:
                where = {"region_ticks": list(self.region)}
                files["part"] = f"{base}/part.mid"
            files.update(audio=f"{base}/audio.wav", pianoroll=f"{base}/pianoroll.png",
                         provenance=f"{base}/generation.json")  # fmt: skip
            out["result"] = {**where, "provenance": self.provenance, "files": files}
            if with_roll:
                out["result"]["roll"] = self.roll
        return out


class JobQueue:
    """Runs jobs one at a time on a worker thread; keeps results for `ttl` seconds, at most
    `max_kept` of them; refuses new jobs beyond `max_waiting` or once closing."""

    def __init__(
        self,
        model,
        root: Path | None = None,
        ttl: float = 3600.0,
        max_kept: int = 50,
        max_waiting: int = 32,
    ) -> None:
        self.model = model
        self.root = Path(root) if root else None  # None: a new temporary folder at start()
        self.ttl = ttl
        self.max_kept = max_kept
        self.max_waiting = max_waiting
        self.jobs: dict[str, Job] = {}
        self.waiting: deque[Job] = deque()
        self.closing = False
        self._cond = threading.Condition()
        self._worker = threading.Thread(target=self._run, name="musegen-jobs", daemon=True)

    def start(self) -> None:
        """Make the folder for results and start the worker."""
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="musegen-studio-"))
        self._worker.start()

    def submit(self, request: Request, seed: bytes, seed_name: str) -> Job:
        """Queue a generation; raises Busy when the queue is full or the server is stopping."""
        with self._cond:
            if self.closing:
                raise Busy("the server is shutting down: start it again and resend the request")
            if self.root is None:
                raise Busy("the server has not started its queue yet: try again in a moment")
            if len(self.waiting) >= self.max_waiting:
                raise Busy(
                    f"the queue is full ({self.max_waiting} requests waiting): "
                    "try again when one has finished"
                )
            self._expire()
            job_id = secrets.token_hex(8)
            job = Job(job_id, request, seed, seed_name, self.root / job_id)
            self.jobs[job_id] = job
            self.waiting.append(job)
            self._cond.notify()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._cond:
            self._expire()
            return self.jobs.get(job_id)

    def all(self) -> list[Job]:
        with self._cond:
            self._expire()
            return list(self.jobs.values())

    def counts(self) -> dict:
        """Jobs running and waiting now."""
        with self._cond:
            running = sum(j.status == RUNNING for j in self.jobs.values())
            return {"running": running, "waiting": len(self.waiting)}

    def position(self, job: Job) -> int | None:
        """1 for the next job to run, None when it is not waiting."""
        with self._cond:
            return next((i + 1 for i, j in enumerate(self.waiting) if j is job), None)

    def cancel(self, job: Job) -> None:
        """Cancel a waiting or running job; a finished one is discarded with its files."""
        with self._cond:
            if job.status == WAITING:
                self.waiting.remove(job)
                self._finish(job, CANCELLED)
            elif job.status == RUNNING:
                job.cancel.set()  # the worker stops at the next token
            else:
                self._discard(job)

    def shut(self) -> None:
        """Refuse new jobs and cancel the others, without waiting (on Ctrl-C, so that requests
        waiting for a result are answered at once)."""
        with self._cond:
            self.closing = True
            while self.waiting:
                self._finish(self.waiting.popleft(), CANCELLED)
            for job in self.jobs.values():
                job.cancel.set()
            self._cond.notify_all()

    def close(self, timeout: float = 10.0) -> None:
        """Shut, wait for the worker, delete every file."""
        self.shut()
        if self._worker.is_alive():
            self._worker.join(timeout)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ worker

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self.waiting and not self.closing:
                    self._cond.wait(timeout=60)
                    self._expire()
                if self.closing:
                    return
                job = self.waiting.popleft()
                job.status, job.started = RUNNING, time.time()
            status, error = DONE, None
            try:
                self._generate(job)
            except Cancelled:
                status = CANCELLED
            except MuseGenError as err:
                status, error = FAILED, str(err)
            except Exception as err:  # a bug, not the user's fault: say so, keep serving
                status, error = FAILED, f"generation failed ({type(err).__name__}: {err})"
                job.error_status = 500
            with self._cond:
                self._finish(job, CANCELLED if job.cancel.is_set() else status, error)

    def _generate(self, job: Job) -> None:
        def progress(tokens: int, total: int) -> None:
            job.tokens = tokens
            if job.cancel.is_set():
                raise Cancelled

        req = job.request
        if req.mode == "infill":
            result = self.model.infill(job.seed, bars=req.bars, tracks=req.tracks,
                                       progress=progress, **req.options)  # fmt: skip
        elif req.mode == "arrange":
            result = self.model.arrange(job.seed, req.parts, bars=req.bars, progress=progress,
                                        **req.options)  # fmt: skip
        else:
            result = self.model.continue_midi(job.seed, req.bars, progress=progress,
                                              **req.options)  # fmt: skip
        if job.cancel.is_set():
            raise Cancelled
        job.folder.mkdir(parents=True)
        result.save(job.folder / "full.mid")
        job.provenance = {**result.provenance, "seed_file": job.seed_name}
        if req.mode == "continue":
            result.continuation.save(job.folder / "continuation.mid")
            job.new_start = result.new_start
            marks = {"split": result.new_start}
        else:
            result.part.save(job.folder / "part.mid")
            job.region = tuple(result.region)
            new_tracks = [t - 1 for t in result.provenance["tracks"]]  # the roll counts from 0
            marks = {"region": job.region, "new_tracks": new_tracks}
        score = read_score((job.folder / "full.mid").read_bytes())
        job.roll = roll(score, **marks)
        job.result = result
        job.seed = b""  # the upload is no longer needed

    # ------------------------------------------------------------------ bookkeeping

    def _finish(self, job: Job, status: str, error: str | None = None) -> None:
        job.status, job.error, job.finished = status, error, time.time()
        if status != DONE:
            shutil.rmtree(job.folder, ignore_errors=True)
        job.done.set()

    def _discard(self, job: Job) -> None:
        self.jobs.pop(job.id, None)
        shutil.rmtree(job.folder, ignore_errors=True)

    def _expire(self) -> None:
        """Forget finished jobs older than ttl, and the oldest beyond max_kept (lock held)."""
        now = time.time()
        finished = sorted(
            (j for j in self.jobs.values() if j.status in FINISHED), key=lambda j: j.finished
        )
        for i, job in enumerate(finished):
            if now - job.finished > self.ttl or len(finished) - i > self.max_kept:
                self._discard(job)
