"""DAW-safe MIDI writing (io.midi) checked with four parsers; safe seed reading (io.seed)."""

from __future__ import annotations

import io
import random
import struct
from pathlib import Path

import mido
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from symusic import KeySignature, Note, Score, Tempo, TextMeta, TimeSignature, Track

from musegen.errors import InputError
from musegen.io.midi import midi_bytes, write_midi
from musegen.io.seed import MAX_MSPQ, MIN_MSPQ, Limits, SeedFile, read_seed

M, MM = mido.Message, mido.MetaMessage


# ----------------------------------------------------------------------------- builders


def smf(tracks: list[list], *, type_: int = 1, tpq: int = 480) -> bytes:
    """A Standard MIDI File built with mido from lists of messages (delta times)."""
    midi = mido.MidiFile(type=type_, ticks_per_beat=tpq)
    for messages in tracks:
        midi.tracks.append(mido.MidiTrack(messages))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def note(channel: int, pitch: int, length: int, gap: int = 0, velocity: int = 90) -> list:
    return [
        M("note_on", channel=channel, note=pitch, velocity=velocity, time=gap),
        M("note_off", channel=channel, note=pitch, time=length),
    ]


def demo_score(tpq: int = 480) -> Score:
    """Piano, bass and drums; two tempos, 7/8 then 6/8, two keys, a marker."""
    score = Score(tpq)
    bar78 = tpq * 7 // 2  # ticks in a bar of 7/8
    score.tempos.extend([Tempo(0, qpm=100), Tempo(2 * bar78, qpm=140)])
    score.time_signatures.extend([TimeSignature(0, 7, 8), TimeSignature(2 * bar78, 6, 8)])
    score.key_signatures.extend([KeySignature(0, -3, 0), KeySignature(2 * bar78, 1, 1)])
    score.markers.append(TextMeta(bar78, "B section"))
    piano, bass = Track("Piano", 0, False), Track("Bass", 33, False)
    drums = Track("Kit", 0, True)
    eighth = tpq // 2
    for i in range(14 + 12):
        piano.notes.append(Note(i * eighth, eighth, 60 + i % 12, 40 + i))
        piano.notes.append(Note(i * eighth, eighth * 2, 64 + i % 5, 70))  # overlaps its successor
        drums.notes.append(Note(i * eighth, eighth // 2, 36 + i % 3 * 2, 100))
    for i in range(4):
        bass.notes.append(Note(i * bar78 // 2, bar78 // 2, 36 + i, 80))
    score.tracks.extend([piano, bass, drums])
    return score


def note_tuples(track) -> list[tuple[int, int, int, int]]:
    return sorted((n.time, n.duration, n.pitch, n.velocity) for n in track.notes)


def absolute(track: mido.MidiTrack) -> list[tuple[int, mido.Message]]:
    tick, out = 0, []
    for msg in track:
        tick += msg.time
        out.append((tick, msg))
    return out


def expected_notes(track) -> list[tuple[int, int, int, int]]:
    """What the writer should keep: same-pitch overlaps cut, zero lengths dropped."""
    notes = sorted((n.time, n.time + n.duration, n.pitch, n.velocity) for n in track.notes)
    out = []
    for i, (start, end, pitch, vel) in enumerate(notes):
        later = [s for s, _, p, _ in notes[i + 1 :] if p == pitch]
        end = min([end, *later])
        if end > start:
            out.append((start, end - start, pitch, vel))
    return sorted(out)


# ----------------------------------------------------------------------------- writing


@pytest.mark.parametrize("tpq", [96, 480, 960])
def test_written_file_follows_the_guide_in_mido_and_symusic(tmp_path: Path, tpq: int) -> None:
    score = demo_score(tpq)
    path = write_midi(score, tmp_path / "out.mid", marker="musegen test v0", marker_tick=tpq)
    midi = mido.MidiFile(path, clip=False)
    assert midi.type == 1 and midi.ticks_per_beat == tpq and len(midi.tracks) == 4

    conductor = absolute(midi.tracks[0])
    assert not [m for _, m in conductor if m.type.startswith("note")]
    at0 = {m.type for t, m in conductor if t == 0}
    assert {"track_name", "set_tempo", "time_signature", "key_signature"} <= at0
    assert (tpq, "musegen test v0") in [(t, m.text) for t, m in conductor if m.type == "marker"]
    assert (tpq, "musegen test v0") in [(t, m.text) for t, m in conductor if m.type == "text"]

    for index, track in enumerate(midi.tracks):
        assert track[0].type == "track_name" and track[0].name
        assert track[-1].type == "end_of_track"
        if index == 0:
            continue
        events = absolute(track)
        programs = [(t, m.channel) for t, m in events if m.type == "program_change"]
        channels = {m.channel for _, m in events if hasattr(m, "channel")}
        assert programs and programs[0][0] == 0 and len(channels) == 1
        assert (channels == {9}) == (index == 3)  # drums on 9, nothing melodic there
        sounding: dict[int, int] = {}
        seen_on_at: dict[int, int] = {}
        for tick, msg in events:
            if msg.type == "note_on":
                assert msg.velocity > 0 and msg.note not in sounding  # no same-pitch overlap
                sounding[msg.note] = tick
                seen_on_at[tick] = 1
            elif msg.type == "note_off":
                assert tick not in seen_on_at  # offs come before ons at a tick
                assert tick > sounding.pop(msg.note)  # no zero-length note
        assert not sounding

    back = Score.from_file(path)
    assert back.ticks_per_quarter == tpq
    assert [(t.time, t.mspq) for t in back.tempos] == [(t.time, t.mspq) for t in score.tempos]
    meters = [(t.time, t.numerator, t.denominator) for t in back.time_signatures]
    assert meters == [(t.time, t.numerator, t.denominator) for t in score.time_signatures]
    keys = [(k.time, k.key, k.tonality) for k in back.key_signatures]
    assert keys == [(k.time, k.key, k.tonality) for k in score.key_signatures]
    assert [(t.name, t.program, t.is_drum) for t in back.tracks] == [
        (t.name, t.program, t.is_drum) for t in score.tracks
    ]
    for got, want in zip(back.tracks, score.tracks, strict=True):
        assert note_tuples(got) == expected_notes(want)
    piano_in, piano_out = score.tracks[0], back.tracks[0]
    assert len(piano_out.notes) < len(piano_in.notes) or note_tuples(piano_out) != note_tuples(
        piano_in
    )  # the demo's overlaps really were shortened


def test_pretty_midi_and_music21_read_the_same_music(tmp_path: Path) -> None:
    pretty_midi = pytest.importorskip("pretty_midi")
    music21 = pytest.importorskip("music21")
    score = demo_score(480)
    path = write_midi(score, tmp_path / "out.mid", marker="musegen")

    pm = pretty_midi.PrettyMIDI(str(path))
    assert [(i.name, i.program, i.is_drum) for i in pm.instruments] == [
        (t.name, t.program, t.is_drum) for t in score.tracks
    ]
    for inst, track in zip(pm.instruments, score.tracks, strict=True):
        got = sorted(
            (pm.time_to_tick(n.start), pm.time_to_tick(n.end) - pm.time_to_tick(n.start), n.pitch)
            for n in inst.notes
        )
        assert got == [(s, d, p) for s, d, p, _ in expected_notes(track)]
    assert [(t.numerator, t.denominator) for t in pm.time_signature_changes] == [(7, 8), (6, 8)]

    parsed = music21.converter.parse(str(path))
    assert len(parsed.parts) == 3
    meters = {m.ratioString for m in parsed.recurse().getElementsByClass("TimeSignature")}
    assert {"7/8", "6/8"} <= meters
    bass = parsed.parts[1].flatten().notes  # music21 ties notes across bar lines
    pitches = sorted(n.pitch.midi for n in bass if n.tie is None or n.tie.type == "start")
    assert pitches == sorted(n.pitch for n in score.tracks[1].notes)


def test_notes_are_cleaned_and_events_ordered() -> None:
    score = Score(480)
    track = Track("lead", 5, False)
    track.notes.extend(
        [
            Note(0, 480, 60, 0),  # velocity 0 becomes 1
            Note(240, 480, 60, 90),  # overlaps the first: the first ends at 240
            Note(720, 0, 62, 90),  # zero length: dropped
            Note(720, 240, 62, 90),  # starts where the C ends
            Note(960, 100, 64, 90),
            Note(960, 100, 64, 80),  # same start, same pitch: the first becomes zero, dropped
            Note(1200, 480, 67, 90),
            Note(1300, 0, 67, 90),  # zero length inside a longer note: dropped, cuts nothing
        ]
    )
    score.tracks.append(track)
    back = Score.from_midi(midi_bytes(score))
    assert note_tuples(back.tracks[0]) == [
        (0, 240, 60, 1),
        (240, 480, 60, 90),
        (720, 240, 62, 90),
        (960, 100, 64, 80),
        (1200, 480, 67, 90),
    ]


def test_channels_drums_and_many_tracks() -> None:
    score = Score(480)
    for i in range(18):
        track = Track(f"t{i}", 1 if i == 16 else i, i == 2)
        track.notes.append(Note(0, 100, 40 + i, 90))
        score.tracks.append(track)
    preferred = {0: 9, 1: 4, 3: 4, 4: 7}  # 9 is for drums; 3 wants a channel 1 already has
    midi = mido.MidiFile(file=io.BytesIO(midi_bytes(score, channels=preferred)))
    used = [next(m.channel for m in t if m.type == "note_on") for t in midi.tracks[1:]]
    assert used[2] == 9 and used.count(9) == 1
    assert used[1] == 4 and used[4] == 7 and used[0] not in (9, 4, 7) and used[3] != 4
    assert len(set(used[:16]) - {9}) == 15  # the first 15 melodic tracks get their own channel
    assert used[16] == used[1]  # past 15, a track shares the channel of one with its program


def test_pedals_controls_and_bends_are_kept() -> None:
    from symusic import ControlChange, Pedal, PitchBend

    score = Score(480)
    track = Track("keys", 0, False)
    track.notes.append(Note(0, 960, 60, 90))
    track.pedals.append(Pedal(0, 480))
    track.controls.append(ControlChange(10, 7, 100))
    track.pitch_bends.append(PitchBend(20, -300))
    score.tracks.append(track)
    back = Score.from_midi(midi_bytes(score)).tracks[0]
    assert [(c.time, c.number, c.value) for c in back.controls] == [
        (0, 64, 127),
        (10, 7, 100),
        (480, 64, 0),
    ]
    assert [(b.time, b.value) for b in back.pitch_bends] == [(20, -300)]
    assert [(p.time, p.duration) for p in back.pedals] == [(0, 480)]


def test_defaults_at_tick_zero_for_a_bare_score() -> None:
    score = Score(480)
    score.tempos.append(Tempo(960, qpm=90))
    track = Track("", 0, False)
    track.notes.append(Note(0, 10, 60, 90))
    score.tracks.append(track)
    midi = mido.MidiFile(file=io.BytesIO(midi_bytes(score, key_signatures=False)))
    conductor = absolute(midi.tracks[0])
    assert (0, 500_000) in [(t, m.tempo) for t, m in conductor if m.type == "set_tempo"]
    assert [(t, m.numerator) for t, m in conductor if m.type == "time_signature"] == [(0, 4)]
    assert midi.tracks[1][0].name == "Track 1"


def test_output_is_deterministic_and_overwrite_is_refused(tmp_path: Path) -> None:
    score = demo_score()
    first = midi_bytes(score, marker="m")
    assert first == midi_bytes(demo_score(), marker="m")
    path = write_midi(score, tmp_path / "sub" / "out.mid", marker="m")
    assert path.read_bytes() == first
    with pytest.raises(InputError, match="already exists.*`force`"):
        write_midi(score, path)
    write_midi(Score(480), path, overwrite=True)
    assert path.read_bytes() != first
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.mid"]  # no temp file left


# ----------------------------------------------------------------------------- reading


def seed_file() -> bytes:
    return smf(
        [
            [MM("track_name", name="song"), MM("set_tempo", tempo=400_000)],
            [MM("track_name", name="lead"), M("program_change", channel=3, program=40)]
            + note(3, 72, 240)
            + note(3, 74, 240, gap=10),
            [MM("track_name", name="drums")] + note(9, 36, 60) + note(9, 38, 60, gap=60),
        ]
    )


def test_every_kind_of_seed_gives_the_same_notes(tmp_path: Path) -> None:
    import pretty_midi

    data = seed_file()
    path = tmp_path / "seed.mid"
    path.write_bytes(data)
    reference = read_seed(path)
    assert isinstance(reference, SeedFile) and reference.name == "seed.mid"
    assert reference.data == data and reference.channels == {0: 3, 1: 9}
    kinds = [
        str(path),
        data,
        Score.from_midi(data),
        Score.from_midi(data).to("quarter"),
        pretty_midi.PrettyMIDI(str(path)),
        mido.MidiFile(path),
    ]
    for kind in kinds:
        seed = read_seed(kind)
        got = [(t.program, t.is_drum, note_tuples(t)) for t in seed.score.tracks]
        assert got == [(t.program, t.is_drum, note_tuples(t)) for t in reference.score.tracks]
        assert Score.from_midi(seed.data).note_num() == reference.score.note_num()
        assert sorted(seed.channels.values()).count(9) == 1


def test_channels_follow_symusic_track_split() -> None:
    data = smf(
        [
            # one MIDI track, two channels and a program change: symusic makes three tracks
            [MM("track_name", name="mix"), M("program_change", channel=5, program=7)]
            + note(5, 60, 100)
            + note(2, 61, 100)
            + [M("program_change", channel=5, program=3)]
            + note(5, 62, 100)
            + [MM("lyrics", text="la")],
            [MM("track_name", name="kit")] + note(9, 36, 50),
            [MM("track_name", name="solo")] + note(11, 80, 50),
        ]
    )
    seed = read_seed(data)
    midi = mido.MidiFile(file=io.BytesIO(data))
    truth = {}  # (tick, pitch) -> channel, from mido
    for track in midi.tracks:
        for tick, msg in absolute(track):
            if msg.type == "note_on" and msg.velocity:
                truth[tick, msg.note] = msg.channel
    for index, track in enumerate(seed.score.tracks):
        for n in track.notes:
            assert seed.channels[index] == truth[n.time, n.pitch]
    assert len(seed.channels) == 5 and len(seed.score.tracks) == 6  # the lyrics track has none
    # symusic stops a track at its first end_of_track; mido reads on to the chunk's end
    early_end = b"\x00\x92\x3c\x50\x10\x82\x3c\x00\x00\xff\x2f\x00\x00\x95\x40\x50\x10\x85\x40\x00"
    raw = smf([note(7, 60, 10)])
    chunk = b"MTrk" + struct.pack(">I", len(early_end)) + early_end
    raw = raw[:8] + struct.pack(">HHH", 1, 2, 480) + chunk + raw[14:]
    assert [t.notes[0].pitch for t in read_seed(raw).score.tracks] == [60, 60]
    assert read_seed(raw).channels == {0: 2, 1: 7}
    type0 = smf([note(4, 60, 10) + note(0, 62, 10) + note(9, 40, 10)], type_=0)
    assert read_seed(type0).channels == {0: 0, 1: 4, 2: 9}


def test_channels_when_symusic_splits_tracks_otherwise_than_the_replay() -> None:
    """Lyrics that are not UTF-8 give symusic a notes-free track the replay does not expect; the
    tracks are then matched by name, program and drum, and keep the file's channels."""
    data = smf(
        [
            [MM("track_name", name="a"), MM("lyrics", text="\xff\xfe")]
            + note(4, 60, 10)
            + note(2, 61, 10),
            [MM("track_name", name="k")] + note(9, 36, 10),
            [MM("track_name", name="b"), M("program_change", channel=6, program=5)]
            + note(6, 62, 10),
        ]
    )
    seed = read_seed(data)
    assert len(seed.score.tracks) == 5  # a on 2, a on 4, a's lyrics, k, b
    by_pitch = {n.pitch: seed.channels[i] for i, t in enumerate(seed.score.tracks) for n in t.notes}
    assert by_pitch == {60: 4, 61: 2, 36: 9, 62: 6}


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_seed(tmp_path / "nope.mid")
    with pytest.raises(InputError, match="is a folder"):
        read_seed(tmp_path)
    with pytest.raises(TypeError, match="path, bytes"):
        read_seed(42)


def _header(data: bytes, fmt: int | None = None, tracks: int | None = None, div: int | None = None):
    old = struct.unpack(">HHH", data[8:14])
    new = (old[0] if fmt is None else fmt, old[1] if tracks is None else tracks)
    return data[:8] + struct.pack(">HHH", *new, old[2] if div is None else div) + data[14:]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", ["is empty", "Standard MIDI File"]),
        (b"X:1\nT:tune\nK:C\nCDEF|\n", ["not a MIDI file", "ABC", ".mid"]),
        (b"hello, this is text\n", ["not a MIDI file", "text"]),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(20), ["not a MIDI file", "RIFF/WAV", "'RIFF'"]),
        (b"MThd\x00\x00", ["cut short", "export it again"]),
        (_header(seed_file(), fmt=2), ["type 2", "export as type 0 or 1"]),
        (_header(seed_file(), div=0xE728), ["SMPTE", "25 frames", "PPQ"]),
        (_header(seed_file(), div=0), ["ticks per quarter note is 0"]),
        (_header(seed_file(), tracks=7), ["track 4 of 7 is missing"]),
        (_header(seed_file(), tracks=0), ["no tracks"]),
        (seed_file()[:-9], ["declares", "remain", "truncated"]),
        (seed_file().replace(b"\x93HZ", b"\x93H\xda"), ["damaged MIDI data", "data byte"]),
        (smf([[MM("track_name", name="empty")]]), ["has no notes to continue"]),
        (smf([[M("note_on", note=60, velocity=9)]]), ["has no notes"]),  # never ends
        (
            smf([[MM("text", text="x", time=0x0FFFFFFF)] * 9 + note(0, 60, 10, gap=0x0FFFFFFF)]),
            ["beyond", "damaged"],
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_seeds_say_what_is_wrong(data: bytes, words: list[str]) -> None:
    with pytest.raises(InputError) as info:
        read_seed(data)
    message = str(info.value)
    assert "\n" not in message and message.startswith("seed: ")
    for word in words:
        assert word in message


def test_limits_name_the_flag(tmp_path: Path) -> None:
    data = seed_file()
    cases = [
        (Limits(max_notes=3), ["4 notes", "limit of 3", "`max_notes` 4"]),
        (Limits(max_tracks=2), ["3 tracks", "`max_tracks` 3"]),
        (Limits(max_bytes=100), ["bytes", "`max_bytes`"]),
        (Limits(max_seconds=0.25), ["lasts 0.4 s", "`max_seconds` 1"]),
        (Limits(max_ticks_per_quarter=240), ["480 ticks per quarter", "240"]),
    ]
    for limits, words in cases:
        with pytest.raises(InputError) as info:
            read_seed(data, limits)
        assert all(w in str(info.value) for w in words), str(info.value)
    path = tmp_path / "big.mid"
    path.write_bytes(data)
    with pytest.raises(InputError, match=r"big.mid: has \d+ bytes.*`max_bytes`"):
        read_seed(path, Limits(max_bytes=10))
    split = smf([note(c, 60, 10) for c in range(2)] + [note(0, 61, 10) + note(1, 62, 10)])
    with pytest.raises(InputError, match="4 instrument tracks.*`max_tracks` 4"):
        read_seed(split, Limits(max_tracks=3))  # 3 MIDI tracks, 4 after symusic's split


@pytest.mark.parametrize(
    "data",
    [
        smf([note(9, 36, 30) + note(9, 42, 30)]),  # only drums
        smf([note(0, 60, 1)], tpq=24),  # one note, PPQ 24
        smf([note(0, 60, 0) + note(0, 62, 10)], tpq=1920),  # a zero-length note
        smf([note(0, 60, 10)], tpq=32767),
        smf(
            [[MM("set_tempo", tempo=300_000 + i * 997, time=7) for i in range(500)]]
            + [note(0, 60, 4000)]
        ),
        smf(
            [
                [
                    MM("time_signature", numerator=5, denominator=4),
                    MM("time_signature", numerator=7, denominator=8, time=2400),
                    MM("time_signature", numerator=13, denominator=16, time=1680),
                ],
                note(0, 60, 5000),
            ]
        ),
        smf([[MM("set_tempo", tempo=0xFFFFFF)], note(0, 60, 10)]),  # slowest MIDI tempo
        smf([[MM("set_tempo", tempo=60_000)], note(0, 60, 10)]),  # 1000 BPM
        b"RIFF\x00\x00\x00\x00RMIDdata\x00\x00\x00\x00" + smf([note(0, 60, 10)]),
    ],
    ids="drums ppq24 zero-length ppq32767 500tempos meters slow fast rmid".split(),
)
def test_odd_but_valid_seeds_are_accepted(data: bytes) -> None:
    seed = read_seed(data)
    assert seed.score.note_num() >= 1 and seed.warnings == ()


def test_tempo_zero_is_clamped_with_a_warning() -> None:
    tempos = [MM("set_tempo", tempo=0), MM("set_tempo", tempo=500_000, time=480)]
    data = smf([tempos, note(0, 60, 960)])
    seed = read_seed(data)
    assert [t.qpm for t in seed.score.tempos] == [1000.0, 120.0]
    assert "faster than 1000 BPM clamped" in seed.warnings[0]
    assert seed.data == data  # the bytes stay the user's


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=4))
def test_score_seed_tempos_are_clamped_not_wrapped(mspqs: list[int]) -> None:
    """A symusic Score seed with tempos MIDI cannot hold: each becomes the nearest tempo MIDI
    can hold (3.58 to 1000 BPM). symusic's writer keeps only the low 24 bits, so 3.5 BPM used
    to turn into 1000 BPM."""
    score = Score(480)
    for i, mspq in enumerate(mspqs):
        score.tempos.append(Tempo(i * 480, mspq=mspq))
    track = Track("p", 0, False)
    track.notes.extend(Note(i * 480, 480, 60 + i, 80) for i in range(len(mspqs)))
    score.tracks.append(track)
    seed = read_seed(score)
    got = sorted((t.time, t.mspq) for t in seed.score.tempos)
    want = [(i * 480, min(max(m, MIN_MSPQ), MAX_MSPQ)) for i, m in enumerate(mspqs)]
    assert got == want
    assert [t.mspq for t in score.tempos] == mspqs  # the caller's Score is not changed


# ----------------------------------------------------------------------------- fuzzing


def _mutations(data: bytes, count: int, rng: random.Random) -> list[bytes]:
    """Truncations, byte flips, insertions and corrupted chunk-length fields."""
    lengths = [i + 4 for i in range(len(data) - 7) if data[i : i + 4] in (b"MThd", b"MTrk")]
    out = []
    for k in range(count):
        b = bytearray(data)
        kind = k % 4
        if kind == 0:
            b = b[: rng.randrange(len(b))]
        elif kind == 1:
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif kind == 2:
            at = rng.choice(lengths)
            value = rng.choice([0, 1, 5, len(b) * 2, rng.randrange(2**32)])
            b[at : at + 4] = struct.pack(">I", value)
        else:
            at = rng.randrange(len(b))
            b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 5)))
        out.append(bytes(b))
    return out


def _seed_or_input_error(data: bytes) -> str:
    try:
        seed = read_seed(data)
    except InputError as err:
        assert str(err) and "\n" not in str(err)
        return "refused"
    assert seed.score.note_num() > 0
    assert all(n.time >= 0 for t in seed.score.tracks for n in t.notes)
    return "read"


def test_mutation_fuzz_gives_a_seed_or_an_input_error() -> None:
    data = midi_bytes(demo_score(96), marker="fuzz")
    outcomes = [_seed_or_input_error(b) for b in _mutations(data, 500, random.Random(2024))]
    assert outcomes.count("read") > 10 and outcomes.count("refused") > 100


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=64), st.integers(0, 400))
def test_hypothesis_fuzz_spliced_bytes(junk: bytes, at: int) -> None:
    data = seed_file()
    _seed_or_input_error(data[:at] + junk + data[at + len(junk) :])
