"""Infill and arrange (musegen.generate.infill, MuseGen.infill/add_part/arrange, `musegen
infill` / `musegen arrange`) on a 4-track piece built in code.

What must hold whatever the model writes is checked on a real model with random weights (fast)
and on the tiny model trained with plans and infilling (slow): outside the chosen bars and
tracks nothing changes in the written MIDI, read back by mido and pretty_midi, not symusic.
"""

from __future__ import annotations

import json
from pathlib import Path

import mido
import pretty_midi
import pytest
import torch
from symusic import KeySignature, Note, Score, Tempo, TimeSignature, Track

from musegen import checkpoint
from musegen.cli.app import main
from musegen.errors import InputError
from musegen.generate.api import FILLED_NOTICE, MuseGen
from musegen.generate.infill import BASS_RANGE
from musegen.io.midi import write_midi
from musegen.io.synth import fluidsynth_available
from musegen.model.transformer import ModelConfig, MuseTransformer
from musegen.tokens.tokenizer import MuseTokenizer

TPQ = 480
# Bars 1-9 and 11-12 in 4/4, bar 10 in 3/4; tempo changes at bars 7 and 11.
METERS = [3 if b == 9 else 4 for b in range(12)]
LINES = [0]
for _beats in METERS:
    LINES.append(LINES[-1] + _beats * TPQ)  # LINES[k]: start of bar k + 1; LINES[12]: the end
ROOTS = [60, 65, 67, 60, 57, 62, 67, 60, 65, 67, 60, 60]
NAMES = ["Piano chords", "Bass", "Flute melody", "Drum kit"]
CHANNELS = {0: 0, 1: 4, 2: 2, 3: 9}  # the bass on channel 5, not where a writer would put it


def band(parts: tuple[str, ...] = ("piano", "bass", "melody", "drums")) -> Score:
    """Piano chords, bass, a flute melody and drums on 12 bars, a 3/4 bar and tempo changes."""
    s = Score(TPQ)
    s.tempos.extend([Tempo(0, 120.0), Tempo(LINES[6], 96.0), Tempo(LINES[10], 132.0)])
    s.time_signatures.extend(
        [TimeSignature(0, 4, 4), TimeSignature(LINES[9], 3, 4), TimeSignature(LINES[10], 4, 4)]
    )
    s.key_signatures.append(KeySignature(0, 0, 0))
    tracks = {
        "piano": Track(name=NAMES[0], program=0),
        "bass": Track(name=NAMES[1], program=33),
        "melody": Track(name=NAMES[2], program=73),
        "drums": Track(name=NAMES[3], program=0, is_drum=True),
    }
    for start, beats, root in zip(LINES, METERS, ROOTS, strict=False):
        for half in range(0, beats, 2):
            for pitch in (root, root + 4, root - 5):
                tracks["piano"].notes.append(
                    Note(start + half * TPQ, min(2, beats - half) * TPQ, pitch, 70)
                )
        tracks["bass"].notes.extend(
            [
                Note(start, 2 * TPQ - 10, root - 24, 90),
                Note(start + 2 * TPQ, TPQ - 10, root - 17, 85),
            ]
        )
        for q in range(beats):
            tracks["melody"].notes.append(
                Note(start + q * TPQ, TPQ // 2, root + 12 + (0, 2, 4, 7)[q], 100 - 5 * q)
            )
            tracks["drums"].notes.append(Note(start + q * TPQ, 60, 36 if q % 2 == 0 else 38, 110))
    s.tracks.extend(tracks[p] for p in parts)
    return s


def write_seed(
    path: Path,
    parts: tuple[str, ...] = ("piano", "bass", "melody", "drums"),
    channels: dict[int, int] | None = None,
) -> Path:
    full = ("piano", "bass", "melody", "drums")
    chans = channels or {i: CHANNELS[full.index(p)] for i, p in enumerate(parts)}
    return write_midi(band(parts), path, channels=chans)


# --------------------------------------------------------------------------- reading back


def read_back(path: Path) -> dict:
    """Conductor maps and per-track name, programs, channels and notes, parsed by mido."""
    midi = mido.MidiFile(str(path), clip=True)
    out = {
        "tpq": midi.ticks_per_beat,
        "type": midi.type,
        "tempos": [],
        "meters": [],
        "keys": [],
        "tracks": [],
    }
    for k, track in enumerate(midi.tracks):
        tick, name, programs, channels, notes, open_ = 0, None, [], set(), [], {}
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                out["tempos"].append((tick, msg.tempo))
            elif msg.type == "time_signature":
                out["meters"].append((tick, msg.numerator, msg.denominator))
            elif msg.type == "key_signature":
                out["keys"].append((tick, msg.key))
            elif msg.type == "track_name":
                name = msg.name
            elif msg.type == "program_change":
                programs.append((tick, msg.program))
                channels.add(msg.channel)
            elif msg.type == "note_on" and msg.velocity > 0:
                open_.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
                channels.add(msg.channel)
            elif msg.type in ("note_off", "note_on"):
                start, velocity = open_[(msg.channel, msg.note)].pop(0)
                notes.append((start, tick - start, msg.note, velocity))
        assert not any(open_.values()), f"{path} track {k}: a note is never released"
        if k:  # track 0 is the conductor
            out["tracks"].append(
                {"name": name, "programs": programs, "channels": channels, "notes": sorted(notes)}
            )
    return out


def track_messages(path: Path) -> list[list[tuple[int, bytes]]]:
    """Every track's messages as (delta time, bytes): equal lists are equal track chunks."""
    return [[(m.time, bytes(m.bytes())) for m in t] for t in mido.MidiFile(str(path)).tracks[1:]]


def inside(notes, start: int, end: int) -> list:
    return [n for n in notes if start <= n[0] < end]


def outside(notes, start: int, end: int) -> list:
    return [n for n in notes if not start <= n[0] < end]


def assert_same_frame(seed: dict, out: dict, channels: bool = True) -> None:
    """Tempo map, meters, key, and every seed track's name, program and channel kept."""
    assert out["type"] == 1 and out["tpq"] == seed["tpq"] == TPQ
    assert out["tempos"] == seed["tempos"] and len(seed["tempos"]) == 3
    assert out["meters"] == seed["meters"] == [(0, 4, 4), (LINES[9], 3, 4), (LINES[10], 4, 4)]
    assert out["keys"] == seed["keys"] == [(0, "C")]
    for s, o in zip(seed["tracks"], out["tracks"], strict=False):
        assert (o["name"], o["programs"]) == (s["name"], s["programs"])
        assert not channels or o["channels"] == s["channels"], o["name"]


def assert_fills_only(
    seed: dict, out: dict, part: dict, first: int, last: int, tracks: list[int]
) -> int:
    """Bars first..last (from 1) of `tracks` (from 0) regenerated, the rest as it was; the new
    notes (also alone in `part`) start in the region and end by its end. Returns their count."""
    start, end = LINES[first - 1], LINES[last]
    assert len(out["tracks"]) == len(seed["tracks"])
    new = 0
    for i, (s, o) in enumerate(zip(seed["tracks"], out["tracks"], strict=True)):
        assert outside(o["notes"], start, end) == outside(s["notes"], start, end), s["name"]
        if i not in tracks:
            assert o["notes"] == s["notes"], s["name"]
            continue
        fresh = inside(o["notes"], start, end)
        assert all(t + d <= end for t, d, _, _ in fresh), (
            f"{s['name']}: a note crosses bar {last + 1}"
        )
        assert all(d > 0 for _, d, _, _ in fresh)
        assert part["tracks"][i]["notes"] == fresh, s["name"]
        new += len(fresh)
    for i, p in enumerate(part["tracks"]):
        if i not in tracks:
            assert p["notes"] == [], p["name"]
    return new


# --------------------------------------------------------------------------- checkpoints


def _random_checkpoint(folder: Path, controls: bool) -> Path:
    """A real checkpoint folder: the tiny network with random weights, a big enough context."""
    tok = MuseTokenizer.create(["chorale"], controls=controls)
    torch.manual_seed(0)
    cfg = ModelConfig.from_name(
        "tiny", tok.vocab_size, context=1024, condition_groups=tok.condition_groups()
    )
    return checkpoint.save(folder, MuseTransformer(cfg), tok, name=folder.name, dtype="float32")


@pytest.fixture(scope="module")
def random_ckpt(tmp_path_factory) -> Path:
    return _random_checkpoint(tmp_path_factory.mktemp("ck") / "random-plans", controls=True)


@pytest.fixture(scope="module")
def no_plans_ckpt(tmp_path_factory) -> Path:
    return _random_checkpoint(tmp_path_factory.mktemp("ck") / "random-no-plans", controls=False)


@pytest.fixture(scope="module")
def mg(random_ckpt) -> MuseGen:
    return MuseGen.from_pretrained(random_ckpt)


@pytest.fixture
def seed_file(tmp_path) -> Path:
    return write_seed(tmp_path / "seed.mid")


# --------------------------------------------------------------------------- infill


def _infill_keeps_the_rest(
    model: MuseGen, seed_file: Path, tmp: Path, first: int, last: int, tracks: list[int] | None
) -> dict:
    result = model.infill(seed_file, bars=(first, last), tracks=tracks, seed=1)
    full, part = result.save(tmp / "full.mid"), result.part.save(tmp / "part.mid")
    seed, out, alone = read_back(seed_file), read_back(full), read_back(part)
    assert_same_frame(seed, out)
    assert_same_frame(seed, alone)
    chosen = list(range(4)) if tracks is None else [t - 1 for t in tracks]
    new = assert_fills_only(seed, out, alone, first, last, chosen)
    assert new == result.provenance["new_notes"] > 0
    assert result.region == (LINES[first - 1], LINES[last])
    info = result.provenance
    assert (info["mode"], info["bars"], info["tracks"]) == (
        "infill",
        [first, last],
        [t + 1 for t in chosen],
    )
    assert info["statement"] == FILLED_NOTICE and info["checkpoint"]["sha256"]
    return {"seed": seed, "out": out, "full": full}


def test_infill_of_all_tracks_changes_nothing_outside_bars_5_to_8(mg, seed_file, tmp_path):
    got = _infill_keeps_the_rest(mg, seed_file, tmp_path, 5, 8, None)
    # a second parser agrees on the kept notes (seconds here, so the tempo map counts too)
    before, after = pretty_midi.PrettyMIDI(str(seed_file)), pretty_midi.PrettyMIDI(str(got["full"]))
    region = (before.tick_to_time(LINES[4]), before.tick_to_time(LINES[8]))
    assert [i.name for i in after.instruments] == NAMES
    assert [(i.program, i.is_drum) for i in after.instruments] == [
        (0, False),
        (33, False),
        (73, False),
        (0, True),
    ]
    for b, a in zip(before.instruments, after.instruments, strict=True):

        def kept(inst):
            return sorted(
                (round(n.start, 6), round(n.end, 6), n.pitch, n.velocity)
                for n in inst.notes
                if not region[0] - 1e-6 <= n.start < region[1] - 1e-6
            )

        assert kept(a) == kept(b) and len(kept(b)) >= 16  # 8 bars of 2 bass notes, or more


def test_infill_of_one_track_leaves_the_others_byte_for_byte(mg, seed_file, tmp_path):
    got = _infill_keeps_the_rest(mg, seed_file, tmp_path, 5, 6, [2])
    before, after = track_messages(seed_file), track_messages(got["full"])
    assert [after[i] for i in (0, 2, 3)] == [before[i] for i in (0, 2, 3)]
    assert after[1] != before[1]  # the bass itself was regenerated
    # tracks numbered from 1: the bass regenerated, nothing else touched
    assert got["out"]["tracks"][1]["channels"] == {4}


def test_infill_marks_its_region_in_the_file(mg, seed_file, tmp_path):
    result = mg.infill(seed_file, bars=(3, 4), seed=0)
    path = result.save(tmp_path / "full.mid")
    markers = [(t, m.text) for t, m in _conductor_events(path) if m.type == "marker"]
    assert len(markers) == 1 and markers[0][0] == LINES[2]
    assert "musegen" in markers[0][1] and "random-plans" in markers[0][1]


def _conductor_events(path: Path):
    tick = 0
    for msg in mido.MidiFile(str(path)).tracks[0]:
        tick += msg.time
        yield tick, msg


def test_the_same_seed_gives_the_same_bytes(mg, seed_file):
    one = mg.infill(seed_file, bars=(2, 3), seed=7).to_bytes()
    two = mg.infill(seed_file, bars=(2, 3), seed=7).to_bytes()
    assert one == two and one != Path(seed_file).read_bytes()


def test_adapting_to_the_piece_changes_the_infill_not_the_rest(mg, seed_file):
    weights = {k: v.clone() for k, v in mg.checkpoint.model.state_dict().items()}
    plain = mg.infill(seed_file, bars=(2, 3), seed=7)
    tuned = mg.infill(seed_file, bars=(2, 3), seed=7, adapt_steps=3)
    assert tuned.part.to_bytes() != plain.part.to_bytes()
    assert tuned.provenance["request"]["adapt_steps"] == 3
    outside = [(t.name, [(n.time, n.pitch) for n in t.notes if not LINES[1] <= n.time < LINES[3]])
               for t in tuned.score.tracks]  # fmt: skip
    assert outside == [(t.name, [(n.time, n.pitch) for n in t.notes
                                 if not LINES[1] <= n.time < LINES[3]])
                       for t in plain.score.tracks]  # fmt: skip
    model = mg.checkpoint.model.state_dict()
    assert all(torch.equal(v, model[k]) for k, v in weights.items())


# --------------------------------------------------------------------------- add a part


@pytest.fixture
def no_bass(tmp_path) -> Path:
    return write_seed(tmp_path / "no-bass.mid", ("piano", "melody", "drums"))


@pytest.mark.parametrize(
    ("options", "low", "high"), [({}, *BASS_RANGE), ({"pitch_range": (40, 50)}, 40, 50)]
)
def test_add_part_writes_a_bass_in_range_and_keeps_the_piece(
    mg, no_bass, tmp_path, options, low, high
):
    result = mg.add_part(no_bass, program=33, bars=(1, 4), seed=3, **options)
    path = result.save(tmp_path / "full.mid")
    seed, out = read_back(no_bass), read_back(path)
    assert_same_frame(seed, out)
    assert track_messages(path)[:3] == track_messages(no_bass)
    assert len(out["tracks"]) == 4
    bass = out["tracks"][3]
    assert bass["name"] == "Electric Bass (finger) (generated)"
    assert bass["programs"] == [(0, 33)] and len(bass["channels"]) == 1
    assert bass["channels"].isdisjoint({0, 2, 9})  # its own channel, not a kept track's
    assert bass["notes"], "no bass note written"
    assert all(0 <= t and t + d <= LINES[4] for t, d, _, _ in bass["notes"])  # bars 1-4 only
    assert all(low <= p <= high for _, _, p, _ in bass["notes"])
    info = result.provenance
    assert (info["mode"], info["bars"], info["tracks"]) == ("add_part", [1, 4], [4])


def test_add_part_writes_a_note_in_every_bar_asked(mg, no_bass):
    for seed in range(3):
        result = mg.add_part(no_bass, program=33, bars=(2, 4), seed=seed)
        notes = [n.time for n in result.part.score.tracks[3].notes]
        per_bar = [len(inside([(t,) for t in notes], LINES[b], LINES[b + 1])) for b in (1, 2, 3)]
        assert all(per_bar), f"seed {seed}: new notes per bar {per_bar}"


def test_add_part_drums_goes_to_channel_10(mg, tmp_path):
    seed = write_seed(tmp_path / "seed.mid", ("piano", "bass", "melody"))
    result = mg.add_part(seed, program="drums", bars=(9, 11), seed=0)
    out = read_back(result.save(tmp_path / "full.mid"))
    drums = out["tracks"][3]
    assert drums["channels"] == {9} and drums["name"] == "Drums (generated)"
    assert drums["notes"] and all(
        LINES[8] <= t and t + d <= LINES[11] for t, d, _, _ in drums["notes"]
    )
    assert [t["channels"] for t in out["tracks"][:3]] == [{0}, {4}, {2}]


def test_arrange_adds_bass_and_drums_after_the_tracks(mg, tmp_path):
    seed = write_seed(tmp_path / "seed.mid", ("piano", "melody"))
    result = mg.arrange(seed, ["bass", "drums"], bars=(1, 4), seed=2)
    path, part = result.save(tmp_path / "full.mid"), result.part.save(tmp_path / "part.mid")
    before, out, alone = read_back(seed), read_back(path), read_back(part)
    assert_same_frame(before, out, channels=False)  # see test_arrange_keeps_the_seed_channels
    assert [t["name"] for t in out["tracks"]] == [
        NAMES[0],
        NAMES[2],
        "Electric Bass (finger) (generated)",
        "Drums (generated)",
    ]
    assert [t["notes"] for t in out["tracks"][:2]] == [t["notes"] for t in before["tracks"]]
    bass, drums = out["tracks"][2], out["tracks"][3]
    assert bass["programs"] == [(0, 33)] and 9 not in bass["channels"] and bass["notes"]
    assert drums["channels"] == {9} and drums["notes"]
    # the new parts alone, the kept tracks empty
    assert [t["notes"] for t in alone["tracks"]] == [[], [], bass["notes"], drums["notes"]]
    info = result.provenance
    assert (info["mode"], info["added"], info["tracks"]) == ("arrange", ["bass", "drums"], [3, 4])
    assert info["new_notes"] == len(bass["notes"]) + len(drums["notes"])


def test_arrange_keeps_the_seed_channels(mg, tmp_path):
    seed = write_seed(tmp_path / "seed.mid", ("piano", "melody"))  # channels 1 and 3
    result = mg.arrange(seed, ["bass", "drums"], bars=(1, 2), seed=2)
    out = read_back(result.save(tmp_path / "full.mid"))
    assert [t["channels"] for t in out["tracks"][:2]] == [{0}, {2}]


# --------------------------------------------------------------------------- refusals


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert text and "\n" not in text
    return text


def test_a_kept_track_sharing_the_program_is_refused(mg, tmp_path):
    s = band(("piano", "melody"))
    twin = s.tracks[0].copy()
    twin.name = "Second piano"
    s.tracks.append(twin)
    seed = write_midi(s, tmp_path / "twins.mid")
    with pytest.raises(InputError) as exc:
        mg.infill(seed, bars=(5, 6), tracks=[1])
    assert "track 3 (Second piano)" in _one_line(exc)
    result = mg.infill(seed, bars=(5, 6), tracks=[1, 3], seed=0)  # choosing both is fine
    assert result.provenance["tracks"] == [1, 3]


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda m, s: m.infill(s, bars=(11, 14)), "outside the piece's bars 1-12"),
        (lambda m, s: m.infill(s, bars=(13, 13)), "outside the piece's bars 1-12"),
        (lambda m, s: m.infill(s, bars=(0, 2)), "bars count from 1"),
        (lambda m, s: m.infill(s, bars=(6, 5)), "FIRST <= LAST"),
        (lambda m, s: m.infill(s, bars="five"), "FIRST-LAST"),
        (lambda m, s: m.infill(s, bars=(1, 2), tracks=[5]), "tracks 1-4, not 5"),
        (lambda m, s: m.infill(s, bars=(1, 2), tracks=[0]), "tracks count from 1"),
        (lambda m, s: m.add_part(s, program="kazoo"), "not a part"),
        (lambda m, s: m.add_part(s, program=128), "not a part"),
        (lambda m, s: m.add_part(s, program=33, bars=(10, 13)), "outside the piece's bars 1-12"),
        (lambda m, s: m.arrange(s, []), "`parts` is empty"),
    ],
)
def test_bad_requests_are_one_line_input_errors(mg, seed_file, call, words):
    with pytest.raises(InputError) as exc:
        call(mg, seed_file)
    assert words in _one_line(exc)


def test_a_checkpoint_without_plans_refuses_to_fill(no_plans_ckpt, seed_file):
    model = MuseGen.from_pretrained(no_plans_ckpt)
    for call in (
        lambda: model.infill(seed_file, bars=(5, 8)),
        lambda: model.add_part(seed_file, program=33),
    ):
        with pytest.raises(InputError) as exc:
            call()
        assert "was not trained to fill in bars" in _one_line(exc)


# --------------------------------------------------------------------------- the CLI


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main([*map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("infill", "{seed}", "--bars", "11-14"), "--bars 11-14 is outside"),
        (("infill", "{seed}", "--bars", "5-8", "--tracks", "1,x"), "--tracks '1,x' is invalid"),
        (("infill", "{seed}", "--bars", "5-8", "--tracks", "9"), "--tracks: the piece has"),
        (("infill", "{twins}", "--bars", "5-8", "--tracks", "1"), "plays the same instrument"),
        (("arrange", "{seed}", "--add", "bass,kazoo"), "--add: 'kazoo' is not a part"),
        (("arrange", "{seed}", "--add", "bass", "--bars", "3-99"), "--bars 3-99 is outside"),
    ],
)
def test_cli_refuses_with_one_line_and_writes_nothing(capsys, tmp_path, random_ckpt, args, words):
    seed = write_seed(tmp_path / "seed.mid")
    s = band(("piano",))
    s.tracks.append(s.tracks[0].copy())
    twins = write_midi(s, tmp_path / "twins.mid")
    out = tmp_path / "out"
    argv = [a.format(seed=seed, twins=twins) for a in args]
    code, stdout, stderr = cli(capsys, *argv, "-o", out, "--checkpoint", random_ckpt, "--no-audio")
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("musegen: error: "), stderr
    assert words in lines[0]
    assert stdout == ""
    assert not out.exists() or not any(out.iterdir())


def test_cli_refuses_a_checkpoint_without_plans(capsys, tmp_path, no_plans_ckpt):
    seed = write_seed(tmp_path / "seed.mid")
    for verb in (["infill", seed, "--bars", "5-8"], ["arrange", seed, "--add", "bass"]):
        out = tmp_path / verb[0]
        code, _, stderr = cli(capsys, *verb, "-o", out, "--checkpoint", no_plans_ckpt, "--no-audio")
        assert code == 2
        assert stderr.count("\n") == 1 and "not trained to fill in bars" in stderr
        assert not out.exists() or not any(out.iterdir())


def test_cli_arrange_writes_midi_picture_and_record(capsys, tmp_path, random_ckpt):
    seed = write_seed(tmp_path / "seed.mid", ("piano", "melody"))
    out = tmp_path / "out"
    code, stdout, stderr = cli(
        capsys,
        "arrange",
        seed,
        "--add",
        "bass,drums",
        "--bars",
        "1-3",
        "-o",
        out,
        "--checkpoint",
        random_ckpt,
        "--no-audio",
        "--seed",
        "4",
    )
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "full.mid",
        "generation.json",
        "part.mid",
        "pianoroll.png",
    ]
    assert {Path(line).name for line in stdout.split()} == {p.name for p in out.iterdir()}
    record = json.loads((out / "generation.json").read_text())
    assert (record["mode"], record["added"], record["tracks"]) == (
        "arrange",
        ["bass", "drums"],
        [3, 4],
    )
    assert record["bars"] == [1, 3] and record["statement"] == FILLED_NOTICE
    assert record["request"]["seed"] == 4
    full = read_back(out / "full.mid")
    assert full["tracks"][3]["channels"] == {9} and 9 not in full["tracks"][2]["channels"]
    assert full["tracks"][2]["programs"] == [(0, 33)]
    assert (out / "pianoroll.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- the trained model


def test_trained_model_infills_bars_5_to_8_keeping_the_rest(tiny_checkpoint, seed_file, tmp_path):
    model = MuseGen.from_pretrained(tiny_checkpoint)
    assert model.checkpoint.tokenizer.has_controls and model.checkpoint.tokenizer.remi.is_trained
    _infill_keeps_the_rest(model, seed_file, tmp_path, 5, 8, None)


def test_trained_model_regenerates_one_track_only(tiny_checkpoint, seed_file, tmp_path):
    model = MuseGen.from_pretrained(tiny_checkpoint)
    got = _infill_keeps_the_rest(model, seed_file, tmp_path, 5, 6, [2])
    before, after = track_messages(seed_file), track_messages(got["full"])
    assert [after[i] for i in (0, 2, 3)] == [before[i] for i in (0, 2, 3)]


def test_trained_model_adds_a_bass_to_bars_1_to_8_with_a_note_in_each(tiny_checkpoint, no_bass):
    model = MuseGen.from_pretrained(tiny_checkpoint)
    result = model.add_part(no_bass, program=33, bars=(1, 8), seed=0)
    times = [n.time for n in result.part.score.tracks[3].notes]
    per_bar = [sum(LINES[b] <= t < LINES[b + 1] for t in times) for b in range(8)]
    assert all(per_bar), f"new bass notes per bar: {per_bar}"


@pytest.mark.skipif(not fluidsynth_available(), reason="FluidSynth library not installed")
def test_cli_infill_with_the_trained_model_writes_the_six_outputs(
    capsys, tiny_checkpoint, seed_file, tmp_path
):
    out = tmp_path / "out"
    code, stdout, stderr = cli(
        capsys,
        "infill",
        seed_file,
        "--bars",
        "5-6",
        "--tracks",
        "1,3",
        "-o",
        out,
        "--checkpoint",
        tiny_checkpoint,
    )
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "full.mid",
        "full.wav",
        "generation.json",
        "part.mid",
        "pianoroll.png",
        "stems",
    ]
    assert len(list((out / "stems").glob("*.wav"))) == 4
    record = json.loads((out / "generation.json").read_text())
    assert (record["mode"], record["bars"], record["tracks"]) == ("infill", [5, 6], [1, 3])
    assert (
        record["statement"] == FILLED_NOTICE
        and "generated by a machine-learning model" in (record["statement"])
    )
    assert record["checkpoint"]["name"] == "tiny-test"
    assert set(record["outputs"]) == {"full", "continuation", "wav", "stems", "plot"}
    seed, full, part = (
        read_back(seed_file),
        read_back(out / "full.mid"),
        read_back(out / "part.mid"),
    )
    assert_same_frame(seed, full)
    assert assert_fills_only(seed, full, part, 5, 6, [0, 2]) == record["new_notes"]
    # running again without --force refuses and keeps the files
    before = (out / "full.mid").read_bytes()
    code, _, stderr = cli(
        capsys, "infill", seed_file, "--bars", "5-6", "-o", out, "--checkpoint", tiny_checkpoint
    )
    assert code == 2 and "already exists" in stderr and "--force" in stderr
    assert (out / "full.mid").read_bytes() == before
