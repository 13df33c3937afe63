"""The studio's HTTP API (`musegen serve`): every endpoint and every error, with real generation
by the shipped default checkpoint (1-2 bars, a few tenths of a second each), and infill and
arrange with the tiny checkpoint trained with bar plans and infilling (slow: it is trained)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("python_multipart")
from starlette.testclient import TestClient  # noqa: E402
from symusic import Score  # noqa: E402

from musegen.serve import create_app, is_loopback  # noqa: E402
from musegen.serve.upload import safe_name  # noqa: E402

SEEDS = Path(__file__).resolve().parent.parent / "examples" / "seeds"
CHORALE = (SEEDS / "chorale_opening.mid").read_bytes()
BAR = 1440  # the chorale's 3/4 bar at 480 ticks per quarter
LONG = "256"  # bars: about half a minute of decoding, to have a job to cancel
URL = "http://127.0.0.1:8765"  # the address the studio prints; the Host it accepts


@pytest.fixture(scope="module")
def model():
    from musegen import MuseGen

    return MuseGen.from_pretrained(None)


@pytest.fixture(scope="module")
def client(model, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("studio")
    with TestClient(create_app(model=model, workdir=workdir), base_url=URL) as c:
        yield c
    assert not workdir.exists(), "the studio's folder is deleted when it stops"


def post(client, path="/api/jobs", data=b"", name="chorale_opening.mid", **fields):
    files = {"midi": (name, data or CHORALE, "audio/midi")}
    return client.post(path, files=files, data={k: str(v) for k, v in fields.items()})


def wait(client, job_id: str, timeout: float = 60.0, until=("done", "failed", "cancelled")):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}?roll=0").json()
        if job["status"] in until:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")


def running(client, job_id: str) -> dict:
    """Wait until a job decodes (tokens > 0)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}?roll=0").json()
        if job["status"] == "running" and job["progress"]["tokens"] > 0:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never ran")


def assert_keeps_seed(midi: bytes, new_start: int, bars: int) -> None:
    """The seed's notes are all there unchanged, and the new ones lie in the new bars."""
    full, seed = Score.from_midi(midi), Score.from_midi(CHORALE)
    assert full.tpq == seed.tpq
    old = {t.name: sorted((n.time, n.duration, n.pitch, n.velocity) for n in t.notes)
           for t in seed.tracks}  # fmt: skip
    for track in full.tracks:
        notes = sorted((n.time, n.duration, n.pitch, n.velocity) for n in track.notes)
        assert [n for n in notes if n[0] < new_start] == old.get(track.name, [])
        assert all(new_start <= n[0] < new_start + bars * BAR for n in notes if n[0] >= new_start)


# ---------------------------------------------------------------------- page and info


def test_page_and_its_files_are_served_with_no_outside_address(client):
    page = client.get("/")
    assert page.status_code == 200 and "musegen studio" in page.text
    for name in ("studio.js", "roll.js", "studio.css"):
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200, name
        assert "http://" not in asset.text and "https://" not in asset.text, "no CDN"
    assert "http" not in page.text.replace("http-equiv", "")


@pytest.fixture(scope="module")
def planless_client(planless_checkpoint, tmp_path_factory):
    from musegen import MuseGen

    model = MuseGen.from_pretrained(planless_checkpoint)
    workdir = tmp_path_factory.mktemp("studio-planless")
    with TestClient(create_app(model=model, workdir=workdir), base_url=URL) as c:
        yield c


def test_info_of_a_checkpoint_without_plans_offers_continue_only(planless_client):
    info = planless_client.get("/api/info").json()
    assert info["modes"] == ["continue"] and info["controls"] is False  # no bar plans
    assert set(info["modes_unavailable"]) == {"infill", "arrange"}
    assert "checkpoint planless is not" in info["modes_unavailable"]["infill"]


def test_info_lists_modes_styles_fields_and_limits(client, model):
    info = client.get("/api/info").json()
    planned = model.checkpoint.tokenizer.has_controls
    assert info["controls"] is planned
    assert info["modes"] == (["continue", "infill", "arrange"] if planned else ["continue"])
    assert info["styles"] == model.styles and info["moods"] == model.moods
    assert {"midi", "mode", "bars", "style", "temperature", "seed"} <= set(info["fields"])
    assert info["limits"]["max_upload_bytes"] == 16 * 1024 * 1024
    assert info["queue"] == {"running": 0, "waiting": 0}


def test_seed_is_described_with_tracks_bars_meter_tempo_and_notes(client):
    seed = post(client, "/api/seed").json()
    assert [t["name"] for t in seed["tracks"]] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert seed["tracks"][0]["instrument"] == "Choir Aahs" and seed["tracks"][0]["program"] == 52
    assert (seed["bars"], seed["meters"], seed["tempos_qpm"]) == (4, ["3/4"], [80.0])
    assert seed["keys"] == ["G:major"] and seed["name"] == "chorale_opening"
    assert seed["roll"]["notes_shown"] == 43 == len(seed["roll"]["pitch"])
    assert seed["roll"]["bar_lines"] == [0, 1440, 2880, 4320]


# ---------------------------------------------------------------------- jobs


def test_job_queues_runs_and_serves_its_files(client):
    answer = post(client, bars=1, seed=5)
    assert answer.status_code == 202 and answer.headers["location"].endswith(answer.json()["id"])
    job = wait(client, answer.json()["id"])
    assert job["status"] == "done", job["error"]
    assert job["request"] == {"mode": "continue", "bars": 1, "seed": 5}
    result = client.get(f"/api/jobs/{job['id']}").json()["result"]
    assert result["provenance"]["seed_file"] == "chorale_opening"
    assert result["roll"]["split"] == result["new_start_tick"] == 4 * BAR
    full = client.get(result["files"]["full"])
    assert full.headers["content-type"] == "audio/midi"
    assert 'filename="chorale_opening-continued.mid"' in full.headers["content-disposition"]
    assert_keeps_seed(full.content, result["new_start_tick"], bars=1)
    new = client.get(result["files"]["continuation"])
    assert 'filename="chorale_opening-new.mid"' in new.headers["content-disposition"]
    assert min(n.time for t in Score.from_midi(new.content).tracks for n in t.notes) < BAR
    picture = client.get(result["files"]["pianoroll"])
    assert picture.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(result["files"]["provenance"]).json()["seed_file"] == "chorale_opening"
    audio = client.get(result["files"]["audio"])
    if audio.status_code == 200:
        assert audio.content[:4] == b"RIFF" and audio.content[8:12] == b"WAVE"
    else:  # no FluidSynth library here: the render error's sentence, and the server goes on
        assert audio.status_code == 503 and audio.json()["error"]
    assert job["id"] in [j["id"] for j in client.get("/api/jobs").json()["jobs"]]
    assert client.delete(f"/api/jobs/{job['id']}").json()["status"] == "discarded"
    assert client.get(f"/api/jobs/{job['id']}").status_code == 404


def test_generate_answers_with_the_midi_and_the_same_seed_gives_the_same_file(client):
    first = post(client, "/api/generate", bars=2, seed=11, part="continuation")
    again = post(client, "/api/generate", bars=2, seed=11, part="continuation")
    other = post(client, "/api/generate", bars=2, seed=12, part="continuation")
    assert first.status_code == 200 and first.headers["x-musegen-job"]
    assert first.content == again.content != other.content
    full = post(client, "/api/generate", name="my seed (v2).mid", bars=2, seed=11)
    assert 'filename="my_seed_v2-continued.mid"' in full.headers["content-disposition"]
    assert_keeps_seed(full.content, int(full.headers["x-musegen-new-start-tick"]), bars=2)


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "fields, status, words",
    [
        ({"foo": "1"}, 400, "unknown option 'foo'"),
        ({"parts": "bass"}, 400, "parts applies to mode arrange only, not continue"),
        ({"tracks": "1"}, 400, "tracks applies to mode infill only, not continue"),
        ({"mode": "remix"}, 400, "mode 'remix' is unknown: use continue, infill, arrange"),
        ({"bars": "x"}, 400, "bars 'x' is invalid"),
        ({"bars": "0"}, 400, "0 is out of range"),
        ({"bars": "9999"}, 400, "out of range"),
        ({"temperature": "nan"}, 400, "temperature 'nan' is invalid"),
        ({"top_p": "2"}, 400, "top_p"),
        ({"guidance": "-1"}, 400, "guidance"),
        ({"key": "H:major"}, 400, "key"),
        ({"pitch_range": "a-b"}, 400, "pitch_range 'a-b' is invalid"),
        ({"pitch_range": "90-20"}, 400, "90-20 is invalid"),
        ({"programs": "piano"}, 400, "programs 'piano' is invalid"),
        ({"programs": "200"}, 400, "200 is not a GM program"),
        ({"style": "klezmer"}, 400, "unknown style 'klezmer': this checkpoint knows"),
        ({"mood": "angry"}, 400, "unknown mood 'angry'"),
        ({"part": "drums"}, 400, "part 'drums' is invalid"),
    ],
)
def test_bad_options_get_one_sentence(client, fields, status, words):
    answer = post(client, **fields)
    assert answer.status_code == status and words in answer.json()["error"], answer.json()


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"mode": "infill", "bars": "1-2"}, "mode 'infill' needs a checkpoint trained"),
        ({"mode": "arrange", "parts": "bass"}, "mode 'arrange' needs a checkpoint trained"),
        ({"density": "3"}, "density needs a checkpoint trained with bar plans"),
    ],
)
def test_plan_options_are_refused_by_a_checkpoint_without_plans(planless_client, fields, words):
    answer = post(planless_client, **fields)
    assert answer.status_code == 400 and words in answer.json()["error"], answer.json()


def test_infill_and_arrange_are_refused_by_a_checkpoint_without_plans(planless_client):
    client = planless_client
    for fields in ({"mode": "infill", "bars": "1-2"}, {"mode": "arrange", "parts": "bass"}):
        answer = post(client, "/api/generate", **fields)
        assert answer.status_code == 400, answer.content
        assert "needs a checkpoint trained with bar plans and infilling" in answer.json()["error"]
    assert client.get("/api/info").json()["queue"] == {"running": 0, "waiting": 0}


@pytest.mark.parametrize(
    "body, words",
    [
        (dict(files={"midi": ("a.mid", b"hello")}), "not a Standard MIDI File"),
        (dict(files={"midi": ("a.mid", CHORALE[:40])}), "truncated or damaged"),
        (dict(files={"midi": ("a.mid", b"")}), "empty"),
        (dict(files={"song": ("a.mid", CHORALE)}), "in the field 'midi'"),
        (dict(files=[("midi", ("a.mid", CHORALE)), ("x", ("b.mid", CHORALE))]), "exactly one"),
        (dict(data={"bars": "1"}), "multipart/form-data"),
        (dict(content=b"not a form", headers={"content-type": "multipart/form-data; "
                                                  "boundary=zz"}), "not a valid multipart"),
    ],
)  # fmt: skip
def test_malformed_uploads_get_one_sentence_and_the_server_goes_on(client, body, words):
    for path in ("/api/jobs", "/api/seed", "/api/generate"):
        answer = client.post(path, **body)
        assert answer.status_code in (400, 415) and words in answer.json()["error"], path
    assert post(client, "/api/generate", bars=1).status_code == 200


def test_the_engine_limits_apply_to_uploads_as_in_the_cli(client):
    import io

    import mido

    long = mido.MidiFile(type=1, ticks_per_beat=480)
    long.tracks.append(mido.MidiTrack([
        mido.Message("note_on", note=60, velocity=80, time=0),
        mido.Message("note_off", note=60, velocity=0, time=480 * 2 * 3700),  # 3700 s at 120 BPM
    ]))  # fmt: skip
    data = io.BytesIO()
    long.save(file=data)
    answer = post(client, "/api/generate", data=data.getvalue(), bars=1)
    assert answer.status_code == 400 and "more than the limit of 3600 s" in answer.json()["error"]
    job = wait(client, post(client, data=data.getvalue(), bars=1).json()["id"])
    assert job["status"] == "failed" and "3600 s" in job["error"]


def test_uploads_over_the_limit_are_refused_before_parsing(model, tmp_path):
    app = create_app(model=model, workdir=tmp_path / "w", max_upload=1000)
    with TestClient(app, base_url=URL) as small:
        answer = post(small, data=CHORALE + bytes(1000))
        assert (
            answer.status_code == 413 and "over the limit of 1,000 bytes" in answer.json()["error"]
        )
        huge = {"content-type": "multipart/form-data; boundary=zz", "content-length": "10000000"}
        assert small.post("/api/jobs", content=b"x", headers=huge).status_code == 413
        assert post(small, "/api/seed").status_code == 200  # 589 bytes: under the limit


def test_unknown_jobs_files_routes_and_methods(client):
    assert "unknown or has expired" in client.get("/api/jobs/nope").json()["error"]
    assert client.delete("/api/jobs/nope").status_code == 404
    assert client.get("/api/nothing").json()["error"].startswith("no such page or endpoint")
    assert client.put("/api/jobs").status_code == 405
    job = wait(client, post(client, bars=1).json()["id"])
    assert "no file 'x.exe'" in client.get(f"/api/jobs/{job['id']}/x.exe").json()["error"]


def test_other_sites_and_host_names_are_refused(client):
    assert client.get("/api/info", headers={"host": "evil.example"}).status_code == 403
    refused = client.post("/api/jobs", headers={"origin": "http://evil.example"})
    assert refused.status_code == 403 and "other sites" in refused.json()["error"]
    assert client.get("/api/info", headers={"origin": URL}).status_code == 200
    assert client.get("/api/info", headers={"origin": "http://localhost:8765"}).status_code == 200
    lan = TestClient(create_app(model=client.app.state.model, local_only=False),
                     base_url="http://studio.lan:8765")  # fmt: skip
    assert lan.get("/api/info").status_code == 200
    assert lan.get("/api/info", headers={"origin": "http://studio.lan:8765"}).status_code == 200
    assert lan.get("/api/info", headers={"origin": "http://evil.example"}).status_code == 403
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")
    assert safe_name("C:\\music\\take 1.mid") == "take_1" and safe_name("../..") == "seed"


# ---------------------------------------------------------------------- cancel, expiry, shutdown


def test_cancel_a_running_and_a_waiting_job(client):
    long = post(client, bars=LONG).json()["id"]
    waiting = post(client, bars=1).json()
    assert waiting["queue_position"] >= 1
    running(client, long)
    assert client.get(f"/api/jobs/{waiting['id']}/full.mid").status_code == 409
    assert client.delete(f"/api/jobs/{waiting['id']}").json()["status"] == "cancelled"
    started = time.monotonic()
    assert client.delete(f"/api/jobs/{long}").json()["status"] == "cancelling"
    assert wait(client, long)["status"] == "cancelled"
    assert time.monotonic() - started < 5, "a running job stops at its next token"
    assert wait(client, waiting["id"])["status"] == "cancelled"
    assert post(client, "/api/generate", bars=1).status_code == 200


def test_a_full_queue_refuses_with_503_and_goes_on(model, tmp_path):
    app = create_app(model=model, workdir=tmp_path / "w", max_waiting=1)
    with TestClient(app, base_url=URL) as c:
        long = post(c, bars=LONG).json()["id"]
        running(c, long)
        waiting = post(c, bars=1).json()["id"]
        refused = post(c, bars=1)
        assert refused.status_code == 503 and "queue is full" in refused.json()["error"]
        c.delete(f"/api/jobs/{long}")
        assert wait(c, waiting)["status"] == "done"


def test_results_expire_by_count_and_by_age(model, tmp_path):
    app = create_app(model=model, workdir=tmp_path / "w", max_kept=1, ttl=1.0)
    with TestClient(app, base_url=URL) as c:
        first = wait(c, post(c, bars=1).json()["id"])
        second = wait(c, post(c, bars=1, seed=1).json()["id"])
        assert c.get(f"/api/jobs/{first['id']}").status_code == 404
        assert not (tmp_path / "w" / first["id"]).exists()
        assert c.get(f"/api/jobs/{second['id']}/full.mid").status_code == 200
        time.sleep(1.1)
        assert "expired" in c.get(f"/api/jobs/{second['id']}").json()["error"]
        assert not (tmp_path / "w" / second["id"]).exists()


def test_requests_during_shutdown_are_refused_and_waiting_ones_told(model, tmp_path):
    app = create_app(model=model, workdir=tmp_path / "w")
    with TestClient(app, base_url=URL) as c:
        answers = []
        waiter = threading.Thread(
            target=lambda: answers.append(post(c, "/api/generate", bars=LONG)), daemon=True
        )
        waiter.start()
        while not c.get("/api/info").json()["queue"]["running"]:
            time.sleep(0.02)
        queued = post(c, bars=1).json()["id"]
        app.state.jobs.close()  # what the lifespan does on Ctrl-C
        waiter.join(10)
        assert answers[0].status_code == 503 and "shutting down" in answers[0].json()["error"]
        refused = post(c, bars=1)
        assert refused.status_code == 503 and "shutting down" in refused.json()["error"]
        assert c.get(f"/api/jobs/{queued}").json()["status"] == "cancelled"
        assert not (tmp_path / "w").exists()


# ---------------------------------------------------------------------- load


def test_twenty_concurrent_requests_are_all_answered_one_at_a_time_unmixed(client):
    asked = [{"bars": 1 + i % 2, "seed": 100 + i} for i in range(20)]
    started = time.perf_counter()
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda f: post(client, "/api/generate", **f), asked))
    total = time.perf_counter() - started
    assert [a.status_code for a in answers] == [200] * 20
    jobs = [client.get(f"/api/jobs/{a.headers['x-musegen-job']}?roll=0").json() for a in answers]
    assert len({j["id"] for j in jobs}) == 20
    for fields, answer, job in zip(asked, answers, jobs, strict=True):
        assert job["request"] == {"mode": "continue", **fields}
        assert_keeps_seed(answer.content, int(answer.headers["x-musegen-new-start-tick"]),
                          bars=fields["bars"])  # fmt: skip
    spans = sorted((j["times"]["started"], j["times"]["finished"]) for j in jobs)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), (
        "one generation at a time"
    )
    for i in (0, 7, 19):  # the same request alone gives the same file: nothing was mixed up
        alone = post(client, "/api/generate", **asked[i])
        assert alone.content == answers[i].content
    waits = [j["waited_seconds"] for j in jobs]
    print(f"\n20 concurrent requests: all answered in {total:.2f} s, "
          f"max queue wait {max(waits):.2f} s, median {sorted(waits)[10]:.2f} s")  # fmt: skip


# ---------------------------------------------------------------------- infill and arrange


@pytest.fixture(scope="module")
def planned(tiny_checkpoint, tmp_path_factory):
    """The studio on the tiny checkpoint trained with bar plans and infilling."""
    from musegen import MuseGen

    workdir = tmp_path_factory.mktemp("studio-planned")
    model = MuseGen.from_pretrained(tiny_checkpoint)
    with TestClient(create_app(model=model, workdir=workdir), base_url=URL) as c:
        yield c
    assert not workdir.exists()


def notes_by_name(midi: bytes) -> dict[str, list[tuple]]:
    return {t.name: sorted((n.time, n.duration, n.pitch, n.velocity) for n in t.notes)
            for t in Score.from_midi(midi).tracks}  # fmt: skip


def assert_file(client, url: str, filename: str) -> bytes:
    answer = client.get(url)
    assert answer.status_code == 200, answer.content
    assert f'filename="{filename}"' in answer.headers["content-disposition"]
    return answer.content


def test_info_offers_infill_and_arrange_with_a_checkpoint_with_plans(planned):
    info = planned.get("/api/info").json()
    assert info["modes"] == ["continue", "infill", "arrange"] and info["modes_unavailable"] == {}
    assert info["controls"] is True and {"bass", "drums"} <= set(info["parts"])
    assert {"tracks", "parts", "density", "polyphony", "register"} <= set(info["fields"])


def test_infill_job_regenerates_the_bars_keeps_the_rest_and_serves_its_files(planned):
    answer = post(planned, mode="infill", bars="2-3", seed=3, density=3)
    assert answer.status_code == 202, answer.json()
    job = wait(planned, answer.json()["id"], timeout=120)
    assert job["status"] == "done", job["error"]
    assert job["request"] == {"mode": "infill", "bars": [2, 3], "seed": 3, "density": 3}
    result = planned.get(f"/api/jobs/{job['id']}").json()["result"]
    start, end = result["region_ticks"]
    assert (start, end) == (BAR, 3 * BAR) and "new_start_tick" not in result
    p = result["provenance"]
    assert (p["mode"], p["bars"], p["tracks"]) == ("infill", [2, 3], [1, 2, 3, 4])
    assert p["seed_file"] == "chorale_opening" and p["request"]["density"] == 3
    assert result["roll"]["region"] == [start, end] and result["roll"]["new_tracks"] == [0, 1, 2, 3]
    assert set(result["files"]) == {"full", "part", "audio", "pianoroll", "provenance"}

    full = notes_by_name(assert_file(planned, result["files"]["full"],
                                     "chorale_opening-infilled.mid"))  # fmt: skip
    seed = notes_by_name(CHORALE)
    assert list(full) == list(seed)
    for name, notes in seed.items():  # outside the region nothing changed
        keep = [n for n in notes if not start <= n[0] < end]
        assert [n for n in full[name] if not start <= n[0] < end] == keep, name
    inside = sum(start <= n[0] < end for notes in full.values() for n in notes)
    part = notes_by_name(assert_file(planned, result["files"]["part"], "chorale_opening-part.mid"))
    new = [n for notes in part.values() for n in notes]
    assert len(new) == inside == p["new_notes"] > 0
    assert all(start <= n[0] < end and n[0] + n[1] <= end for n in new)

    png = assert_file(planned, result["files"]["pianoroll"], "chorale_opening-pianoroll.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert planned.get(result["files"]["provenance"]).json()["mode"] == "infill"
    audio = planned.get(result["files"]["audio"])
    assert audio.status_code in (200, 503)  # 503: no FluidSynth library here
    if audio.status_code == 200:
        assert 'filename="chorale_opening-infilled.wav"' in audio.headers["content-disposition"]
    wrong = planned.get(f"/api/jobs/{job['id']}/continuation.mid")
    assert wrong.status_code == 404
    assert "for mode infill: use one of full.mid, part.mid" in wrong.json()["error"]
    # what only the engine can tell (the chorale's four voices share one program) is its sentence
    shared = post(planned, "/api/generate", mode="infill", bars="2", tracks="1")
    assert shared.status_code == 400 and "plays the same instrument" in shared.json()["error"]


def test_arrange_job_adds_parts_and_generate_answers_with_the_new_part(planned):
    job = wait(planned, post(planned, mode="arrange", parts="bass, Drums", seed=2).json()["id"],
               timeout=120)  # fmt: skip
    assert job["status"] == "done", job["error"]
    assert job["request"] == {"mode": "arrange", "parts": ["bass", "drums"], "seed": 2}
    result = planned.get(f"/api/jobs/{job['id']}").json()["result"]
    p = result["provenance"]
    assert (p["mode"], p["added"], p["tracks"]) == ("arrange", ["bass", "drums"], [5, 6])
    assert result["region_ticks"] == [0, 4 * BAR] and result["roll"]["new_tracks"] == [4, 5]
    full = notes_by_name(assert_file(planned, result["files"]["full"],
                                     "chorale_opening-arranged.mid"))  # fmt: skip
    seed = notes_by_name(CHORALE)
    assert {name: full[name] for name in seed} == seed  # the seed's tracks as they were
    added = [n for name, notes in full.items() if name not in seed for n in notes]
    assert len(added) == p["new_notes"] > 0 and all(n[0] < 4 * BAR for n in added)
    part = notes_by_name(assert_file(planned, result["files"]["part"], "chorale_opening-part.mid"))
    assert sorted(n for notes in part.values() for n in notes) == sorted(added)

    answer = post(planned, "/api/generate", mode="arrange", parts="33", bars="1-2", part="part")
    assert answer.status_code == 200, answer.content
    assert answer.headers["x-musegen-region-ticks"] == f"0-{2 * BAR}"
    assert 'filename="chorale_opening-part.mid"' in answer.headers["content-disposition"]
    bass = [n for notes in notes_by_name(answer.content).values() for n in notes]
    assert bass and all(n[0] < 2 * BAR for n in bass)


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"mode": "infill"}, "bars is missing: mode infill needs the bars to regenerate"),
        ({"mode": "infill", "bars": "x"}, "bars 'x' is invalid: give FIRST-LAST"),
        ({"mode": "infill", "bars": "3-2"}, "bars '3-2' is invalid: bars count from 1"),
        ({"mode": "infill", "bars": "0-2"}, "bars '0-2' is invalid"),
        ({"mode": "infill", "bars": "4-6"}, "bars 4-6 is outside the piece's bars 1-4"),
        ({"mode": "infill", "bars": "2", "tracks": "a"}, "tracks 'a' is invalid"),
        ({"mode": "infill", "bars": "2", "tracks": "0"}, "tracks: 0 is not a track number"),
        ({"mode": "infill", "bars": "2", "tracks": "1,5"}, "the piece has tracks 1-4, not 5"),
        ({"mode": "infill", "bars": "2", "parts": "bass"}, "parts applies to mode arrange only"),
        ({"mode": "infill", "bars": "2", "programs": "0"}, "programs applies to mode continue"),
        ({"mode": "infill", "bars": "2", "part": "continuation"},
         "part 'continuation' is invalid for mode infill: use full or part"),
        ({"mode": "infill", "bars": "2", "density": "9"}, "`density` 9 is out of range"),
        ({"mode": "infill", "bars": "2", "density": "x"}, "density 'x' is invalid"),
        ({"mode": "arrange"}, "parts is missing: mode arrange needs the parts to add"),
        ({"mode": "arrange", "parts": " , "}, "parts is missing"),
        ({"mode": "arrange", "parts": "bass,kazoo"}, "parts: 'kazoo' is not a part"),
        ({"mode": "arrange", "parts": "200"}, "parts: '200' is not a part"),
        ({"mode": "arrange", "parts": ",".join(["bass"] * 9)}, "add at most 8 at a time"),
        ({"mode": "arrange", "parts": "bass", "bars": "3-9"}, "bars 3-9 is outside the piece"),
        ({"mode": "arrange", "parts": "bass", "tracks": "1"}, "tracks applies to mode infill"),
        ({"mode": "arrange", "parts": "bass", "style": "jazz"}, "unknown style 'jazz'"),
    ],
)  # fmt: skip
def test_bad_infill_and_arrange_fields_get_one_sentence_naming_the_field(planned, fields, words):
    for path in ("/api/jobs", "/api/generate"):
        answer = post(planned, path, **fields)
        assert answer.status_code == 400 and words in answer.json()["error"], answer.json()
