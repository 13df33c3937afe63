"""Continue a seed file into a folder: full.mid, continuation.mid, audio, piano roll, JSON.

Every file is written to a temporary name and renamed, and a failure part-way removes what
this run wrote, so a folder never holds a half-finished set.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from musegen.data.originality import OriginalityIndex
from musegen.errors import InputError, RenderError
from musegen.generate.api import MuseGen
from musegen.generate.request import ContinueRequest
from musegen.io.files import atomic_write_bytes
from musegen.io.seed import Limits, read_seed
from musegen.io.soundfont import find_soundfont
from musegen.progress import progress_bar


def output_names(variations: int) -> list[dict[str, str]]:
    """File names per variation: no suffix for one, -1, -2, ... for several."""
    names = []
    for i in range(variations):
        sfx = "" if variations == 1 else f"-{i + 1}"
        names.append({
            "full": f"full{sfx}.mid", "continuation": f"continuation{sfx}.mid",
            "wav": f"full{sfx}.wav", "stems": f"stems{sfx}", "plot": f"pianoroll{sfx}.png",
            "json": f"generation{sfx}.json",
        })  # fmt: skip
    return names


def write_continuations(
    seed_file: str | os.PathLike,
    out: str | os.PathLike,
    request: ContinueRequest,
    *,
    checkpoint: str | None = None,
    soundfont: str | os.PathLike | None = None,
    audio: bool = True,
    force: bool = False,
    limits: Limits | None = None,
    progress: bool = True,
    say=print,
    check_originality: bool = False,
    corpus: str | os.PathLike = "data/corpus",
) -> list[Path]:
    """Continue a seed file and write all outputs; returns the paths written.

    With `check_originality`, the longest passage of each continuation that also occurs in
    the training pieces of `corpus` goes into generation.json (index built once, cached).
    """
    out = Path(out)
    names = output_names(request.variations)
    seed = _prepare(seed_file, out, names, soundfont, audio, force, limits)
    index = _originality_index(corpus, progress) if check_originality else None
    mg = MuseGen.from_pretrained(checkpoint)
    started = time.perf_counter()
    results = _generate(mg, seed, request, progress, say)
    generation_seconds = time.perf_counter() - started
    matches = [index.longest_match(r.continuation.score) for r in results] if index else []
    if matches:
        say(_originality_line(matches, index.k))
    extras = [{"originality": {**m, "k": index.k, "corpus": str(corpus)}} for m in matches]
    title = f"{Path(seed_file).name} + {request.bars} bars"
    return _write_set(results, names, out, seed, title, generation_seconds, audio, soundfont,
                      say, extras)  # fmt: skip


def write_filled(
    seed_file: str | os.PathLike,
    out: str | os.PathLike,
    fill: Callable[[MuseGen, object], object],
    title: str,
    *,
    checkpoint: str | None = None,
    soundfont: str | os.PathLike | None = None,
    audio: bool = True,
    force: bool = False,
    limits: Limits | None = None,
    progress: bool = True,
    say=print,
) -> list[Path]:
    """Infill or arrange a seed file: `fill(mg, seed)` returns the Infilled result; writes
    full.mid, part.mid (the new notes alone, at their own bars), audio, piano roll, JSON."""
    out = Path(out)
    names = [{"full": "full.mid", "continuation": "part.mid", "wav": "full.wav",
              "stems": "stems", "plot": "pianoroll.png", "json": "generation.json"}]  # fmt: skip
    seed = _prepare(seed_file, out, names, soundfont, audio, force, limits)
    mg = MuseGen.from_pretrained(checkpoint)
    started = time.perf_counter()
    with progress_bar(progress, transient=True) as bar:
        bar.add_task("generating", total=None)
        result = fill(mg, seed)
    seconds = time.perf_counter() - started
    return _write_set([result], names, out, seed, title, seconds, audio, soundfont, say, [])


def _prepare(seed_file, out: Path, names, soundfont, audio: bool, force: bool, limits):
    """Refuse to overwrite, check the soundfont and the folder, read the seed: all before
    any generating, so a mistake costs nothing and writes nothing."""
    existing = [out / n[k] for n in names for k in n if (out / n[k]).exists()]
    if existing and not force:
        raise InputError(
            f"{existing[0]} already exists; pass `force` to overwrite or choose another `out`"
        )
    if soundfont is not None and audio:
        find_soundfont(soundfont)  # a bad soundfont fails now, not after generating
    seed = read_seed(seed_file, limits)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".musegen-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(
            f"cannot write to {out} ({exc.strerror}); choose a writable folder as `out`"
        ) from None
    return seed


def _write_set(results, names, out: Path, seed, title: str, generation_seconds: float,
               audio: bool, soundfont, say, extras: list[dict]) -> list[Path]:  # fmt: skip
    """Write every result's files; a failure part-way removes what this run wrote."""
    written: list[Path] = []
    try:
        for k, (result, n) in enumerate(zip(results, names, strict=True)):
            written.append(result.save(out / n["full"], overwrite=True))
            written.append(result.continuation.save(out / n["continuation"], overwrite=True))
            written.append(result.plot(out / n["plot"], title=title))
            timings = {"generation_seconds": round(generation_seconds, 3)}
            if audio:
                timings.update(_render(result, out, n, soundfont, written, say))
            if not audio or "render_seconds" not in timings:
                _remove_stale(out, n)  # --force over a run with audio: no old WAVs left behind
            record = {
                **result.provenance,
                "seed_sha256": hashlib.sha256(seed.data).hexdigest(),
                "outputs": {key: v for key, v in n.items() if (out / v).exists()},
                "timings": timings,
                **(extras[k] if k < len(extras) else {}),
            }
            written.append(_write_json(out / n["json"], record))
    except BaseException as exc:  # a bug or Ctrl-C part-way must not leave half a set either
        for path in written:
            _remove(path)
        if not isinstance(exc, OSError):
            raise
        if exc.errno == errno.ENOSPC:
            raise InputError(
                f"the disk holding {out} is full; free space or choose another -o"
            ) from None
        raise InputError(
            f"could not write into {out} ({exc.strerror or exc}); nothing was kept"
        ) from None
    return written


def _generate(mg: MuseGen, seed, request: ContinueRequest, progress: bool, say):
    with progress_bar(progress, transient=True) as bar:
        task = bar.add_task("generating", total=None)
        return mg.generate(
            seed, request,  # the seed was read once, with the user's limits
            notice=lambda m: say(f"note: {m}"),
            progress=lambda n, _: bar.update(task, completed=n),
        )  # fmt: skip


def _originality_index(corpus, progress: bool):
    """The training corpus's originality index (built on first use, then read from its cache)."""
    with progress_bar(progress, transient=True) as bar:
        task = bar.add_task("indexing the training corpus", total=None)
        return OriginalityIndex.for_corpus(
            corpus, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )


def _originality_line(matches: list[dict], k: int) -> str:
    """One line: the longest passage any variation shares with the training corpus."""
    longest = max(matches, key=lambda m: (m["notes"], m["bars"]))
    if not longest["notes"]:
        return f"originality: no passage of {k} notes or more is shared with the training corpus"
    return (f"originality: longest passage shared with the training corpus: {longest['notes']} "
            f"notes, {longest['bars']:g} bars ({longest['piece']})")  # fmt: skip


def _render(result, out: Path, n: dict, soundfont, written: list[Path], say) -> dict:
    """Full mix and stems; a missing FluidSynth library is one line, not a failure."""
    try:
        info = result.render(out / n["wav"], soundfont=soundfont, stems_dir=out / n["stems"])
    except RenderError as exc:
        say(f"note: no audio written: {exc}")
        return {}
    written.append(out / n["wav"])
    written.extend(Path(p) for p in info.get("stems", []))
    return {"render_seconds": info.get("render_seconds")}


def _remove_stale(out: Path, names: dict) -> None:
    """Remove audio a previous run left under this run's names (only reached with --force)."""
    _remove(out / names["wav"])
    shutil.rmtree(out / names["stems"], ignore_errors=True)


def _write_json(path: Path, record: dict) -> Path:
    text = json.dumps(record, indent=2, sort_keys=True, default=str)
    return atomic_write_bytes(path, text.encode("utf-8"))


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


__all__ = ["output_names", "write_continuations", "write_filled"]
