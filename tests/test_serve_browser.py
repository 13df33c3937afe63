"""End to end: `python -m musegen.serve` in its own process, driven by headless Chromium.

Uploads an example seed, generates twice, downloads the full MIDI through the browser and
checks it with two parsers; then stops the server with Ctrl-C (SIGINT) and checks that it
left no files. MUSEGEN_STUDIO_SCREENSHOT=docs/studio.png also saves the page as a picture.
Needs Debian's `chromium` and `chromium-driver` (the Makefile installs them) and selenium.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "seeds" / "chorale_opening.mid"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1440,1250")  # fmt: skip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM and DRIVER),
        reason="no chromium/chromedriver: apt-get install chromium chromium-driver "
        "(`make test` does it where it can) to run the studio's browser test",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """The studio in a subprocess with its own TMPDIR; yields (url, process, tmpdir)."""
    port, tmp = free_port(), tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "MUSEGEN_NO_PROGRESS": "1"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "musegen.serve", "--port", str(port)], cwd=ROOT, env=env,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=1) as page:
                if page.status == 200:
                    break
        except OSError:
            if proc.poll() is not None or time.perf_counter() - started > 60:
                raise AssertionError(f"the studio did not start: {proc.stderr.read()}") from None
            time.sleep(0.05)
    print(f"\nstudio start-up: {time.perf_counter() - started:.2f} s to the first 200 on the page")
    yield url, proc, tmp
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.fixture
def browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.downloads = downloads
    yield driver
    driver.quit()


def test_upload_generate_download_in_chromium_then_ctrl_c(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import Select, WebDriverWait

    url, proc, tmp = server
    wait = WebDriverWait(browser, 60)
    browser.get(url)
    wait.until(lambda d: "checkpoint" in d.find_element(By.ID, "model").text)
    not_midi = browser.downloads.parent / "notes.mid"
    not_midi.write_text("not a MIDI file")
    browser.find_element(By.ID, "file").send_keys(str(not_midi))
    wait.until(lambda d: d.find_element(By.ID, "seed-error").is_displayed())
    assert "not a Standard MIDI File" in browser.find_element(By.ID, "seed-error").text
    assert not browser.find_element(By.ID, "generate").is_enabled()
    browser.find_element(By.ID, "file").send_keys(str(SEED))
    wait.until(ready.element_to_be_clickable((By.ID, "generate")))
    summary = browser.find_element(By.ID, "seed-summary").text
    assert "4 bars" in summary and "3/4" in summary and "80" in summary
    tracks = browser.find_elements(By.CSS_SELECTOR, "#tracks tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in tracks] == [
        "Soprano", "Alto", "Tenor", "Bass"]  # fmt: skip

    bars = browser.find_element(By.NAME, "bars")
    bars.clear()
    bars.send_keys("2")
    Select(browser.find_element(By.NAME, "style")).select_by_value("chorale")
    for seed in ("7", "8"):  # two results, side by side
        field = browser.find_element(By.NAME, "seed")
        field.clear()
        field.send_keys(seed)
        browser.find_element(By.ID, "generate").click()
    done = '.card[data-status="done"]'
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, done)) == 2)
    assert not browser.find_element(By.ID, "form-error").is_displayed()

    first = browser.find_elements(By.CSS_SELECTOR, done)[-1]  # newest first: seed 7 is last
    assert "seed 7" in first.find_element(By.CSS_SELECTOR, ".options").text
    first.find_element(By.CSS_SELECTOR, "a.download-full").click()
    target = browser.downloads / "chorale_opening-continued.mid"
    deadline = time.monotonic() + 20
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert target.exists(), list(browser.downloads.iterdir())
    check_keeps_seed(target)

    if shot := os.environ.get("MUSEGEN_STUDIO_SCREENSHOT"):
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(shot)

    proc.send_signal(signal.SIGINT)  # Ctrl-C
    assert proc.wait(20) == 0
    assert "stopped" in proc.stderr.read()
    assert not list(tmp.glob("musegen-studio-*")), "the studio deletes its files when it stops"


def check_keeps_seed(path: Path) -> None:
    """A valid type-1 MIDI (mido, symusic) whose first bars are the seed, note for note."""
    import mido
    from symusic import Score

    midi = mido.MidiFile(path, clip=False)
    assert midi.type == 1 and midi.ticks_per_beat == 480 and len(midi.tracks) >= 5
    full, seed = Score(str(path)), Score(str(SEED))
    new_start = seed.end()
    by_name = {t.name: t for t in full.tracks}
    for track in seed.tracks:
        old = sorted((n.time, n.duration, n.pitch, n.velocity) for n in track.notes)
        kept = sorted(
            (n.time, n.duration, n.pitch, n.velocity)
            for n in by_name[track.name].notes
            if n.time < new_start
        )
        assert kept == old, track.name
    assert sum(n.time >= new_start for t in full.tracks for n in t.notes) > 0
