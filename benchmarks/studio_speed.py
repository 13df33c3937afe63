"""Measure the studio against the CLI: `python -m musegen.serve.speed [--runs 3] [--json OUT]`.

Side by side in one run: the studio's start-up (process start to the first 200 on the page),
one continuation of a seed through POST /api/generate, and `musegen continue SEED -o OUT
--bars 4 --no-audio` on the same seed (a new process that loads the model each time).
Prints medians and their ratio; machines here are shared, so read ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SEED = Path(__file__).resolve().parents[2] / "examples" / "seeds" / "chorale_opening.mid"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> tuple[subprocess.Popen, float]:
    """Start `python -m musegen.serve`; return it and the seconds to the first 200 on /."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "musegen.serve", "--port", str(port)],
                            stderr=subprocess.DEVNULL)  # fmt: skip
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as page:
                if page.status == 200:
                    return proc, time.perf_counter() - started
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("the studio did not start") from None
            time.sleep(0.02)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(30)


def api_continue(port: int, seed: Path, bars: int) -> float:
    """POST the seed to /api/generate; the seconds until the MIDI has arrived."""
    boundary = "musegen-speed"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="bars"\r\n\r\n{bars}\r\n',
             f'--{boundary}\r\nContent-Disposition: form-data; name="midi"; '
             f'filename="{seed.name}"\r\nContent-Type: audio/midi\r\n\r\n']  # fmt: skip
    body = "".join(parts).encode() + seed.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/generate", data=body, method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )  # fmt: skip
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as answer:
        assert answer.read(4) == b"MThd"
    return time.perf_counter() - started


def cli_continue(seed: Path, bars: int, out: Path) -> float:
    musegen = shutil.which("musegen", path=str(Path(sys.executable).parent)) or "musegen"
    started = time.perf_counter()
    done = subprocess.run([musegen, "continue", str(seed), "-o", str(out), "--bars", str(bars),
                           "--no-audio", "--force"], capture_output=True, text=True)  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"musegen continue failed: {done.stderr.strip()[-2000:]}")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bars", type=int, default=4)
    parser.add_argument("--seed", type=Path, default=SEED)
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    os.environ.setdefault("MUSEGEN_NO_PROGRESS", "1")
    startups, api, cli = [], [], []
    for _ in range(args.runs):  # start-ups, alternating with the CLI so noise hits both
        port = _free_port()
        proc, seconds = start_server(port)
        startups.append(seconds)
        try:
            api_continue(port, args.seed, args.bars)  # warm-up: the first request's imports
            api += [api_continue(port, args.seed, args.bars) for _ in range(3)]
        finally:
            stop(proc)
        with tempfile.TemporaryDirectory() as out:
            cli.append(cli_continue(args.seed, args.bars, Path(out)))
    rows = {
        "studio start-up (to first 200)": statistics.median(startups),
        f"API continuation, {args.bars} bars": statistics.median(api),
        f"CLI continuation, {args.bars} bars": statistics.median(cli),
    }
    print(f"{'measure (median)':40} {'seconds':>8}")
    for name, value in rows.items():
        print(f"{name:40} {value:8.2f}")
    ratio = statistics.median(cli) / statistics.median(api)
    print(f"CLI / API: {ratio:.1f}x (the CLI starts a process and loads the model each time)")
    if args.json:
        args.json.write_text(json.dumps({"seconds": rows, "startups": startups, "api": api,
                                         "cli": cli}, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
