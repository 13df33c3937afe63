"""Offline FluidSynth rendering: WAV format, timing, channels, stems, soundfont lookup, errors."""

from __future__ import annotations

import io
import sys
import wave
from pathlib import Path

import mido
import numpy as np
import pytest
from symusic import ControlChange, Note, PitchBend, Score, Tempo, TimeSignature, Track

from musegen.errors import InputError, RenderError
from musegen.io import audio, soundfont
from musegen.io.audio import render
from musegen.io.midi import midi_bytes
from musegen.io.soundfont import SOUNDFONT_ENV, find_soundfont
from musegen.io.synth import fluidsynth_available
from musegen.io.wav import write_wav

needs_fluidsynth = pytest.mark.skipif(
    not fluidsynth_available(), reason="FluidSynth library not installed"
)
TAIL = 0.5


def _score(qpm: float = 120.0) -> Score:
    score = Score(480)
    score.tempos.append(Tempo(0, qpm))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    return score


@pytest.fixture
def band() -> Score:
    """C-major scale (quarters), a held chord and a drum beat: 2 bars, 4 s at 120 qpm."""
    score = _score()
    scale = Track("Melody", 0, False)
    for i, pitch in enumerate([60, 62, 64, 65, 67, 69, 71, 72]):
        scale.notes.append(Note(i * 480, 480, pitch, 90))
    chord = Track("Pads/Chord", 48, False)
    for pitch in (48, 52, 55):
        chord.notes.append(Note(0, 8 * 480, pitch, 70))
    drums = Track("Drums", 0, True)
    for i in range(8):
        drums.notes.append(Note(i * 480, 120, 36 if i % 2 == 0 else 38, 100))
    score.tracks.extend([scale, chord, drums])
    return score


def _fake_sf2(path: Path) -> Path:
    """A file with a valid RIFF/sfbk header (enough for lookup, not for FluidSynth)."""
    path.write_bytes(b"RIFF" + (100).to_bytes(4, "little") + b"sfbk" + bytes(100))
    return path


def _read(path: Path) -> tuple[wave._wave_params, np.ndarray]:
    """Parameters and (frames, 2) float samples in [-1, 1] of a 16- or 24-bit WAV."""
    with wave.open(str(path), "rb") as w:
        params, raw = w.getparams(), w.readframes(w.getnframes())
    if params.sampwidth == 2:
        ints = np.frombuffer(raw, "<i2").astype(np.int32)
    else:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
    full = 2 ** (8 * params.sampwidth - 1)
    return params, (ints / full).reshape(-1, params.nchannels)


# --- soundfont lookup (no FluidSynth needed) ------------------------------------------------


def test_find_soundfont_order(tmp_path, monkeypatch):
    explicit, env = _fake_sf2(tmp_path / "a.sf2"), _fake_sf2(tmp_path / "b.sf2")
    system = _fake_sf2(tmp_path / "system.sf2")
    monkeypatch.setattr(
        soundfont, "SYSTEM_SOUNDFONTS", (str(tmp_path / "missing.sf2"), str(system))
    )
    monkeypatch.setenv(SOUNDFONT_ENV, str(env))
    assert find_soundfont(explicit) == explicit
    assert find_soundfont() == env
    monkeypatch.delenv(SOUNDFONT_ENV)
    assert find_soundfont() == system
    monkeypatch.setattr(soundfont, "SYSTEM_SOUNDFONTS", ())
    bundled = find_soundfont()
    assert bundled.name == "TimGM6mb.sf2" and bundled.parent.name == "pretty_midi"


@pytest.mark.parametrize("origin", ["argument", "env"])
def test_not_a_soundfont_raises(tmp_path, monkeypatch, origin):
    text = tmp_path / "notes.sf2"
    text.write_text("this is not a soundfont\n")
    monkeypatch.setenv(SOUNDFONT_ENV, str(text))
    with pytest.raises(RenderError, match="not an SF2 soundfont"):
        find_soundfont(text if origin == "argument" else None)
    with pytest.raises(RenderError, match="is not a file"):
        find_soundfont(tmp_path)
    with pytest.raises(RenderError, match="does not exist"):
        find_soundfont(tmp_path / "nowhere.sf2")


def test_missing_library_says_how_to_install(monkeypatch, band, tmp_path):
    monkeypatch.setitem(sys.modules, "fluidsynth", None)  # makes `import fluidsynth` fail
    assert not fluidsynth_available()
    with pytest.raises(RenderError, match="apt-get install libfluidsynth3") as info:
        render(band, tmp_path / "x.wav")
    assert "brew install fluid-synth" in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "x.wav").exists()


# --- rendering --------------------------------------------------------------------------------


@needs_fluidsynth
def test_render_wav_reads_back(band, tmp_path):
    fractions: list[float] = []
    info = render(band, tmp_path / "mix.wav", tail_seconds=TAIL, progress=fractions.append)
    params, audio = _read(tmp_path / "mix.wav")
    assert (params.nchannels, params.sampwidth, params.framerate) == (2, 2, 44100)
    assert abs(params.nframes / 44100 - (4.0 + TAIL)) < 0.005
    assert info["samples"] == params.nframes and info["seconds"] == pytest.approx(4.0 + TAIL)
    rms_notes = np.sqrt(np.mean(audio[: 4 * 44100] ** 2))
    assert rms_notes > 0.01, "silent while notes play"
    peak = np.abs(audio).max()
    assert 0.85 < peak <= 1.0 and info["peak_db"] == pytest.approx(-1.0, abs=0.05)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert Path(info["soundfont"]).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix.wav"]  # no temp files left


@needs_fluidsynth
def test_24_bit_matches_16_bit_and_48k_from_path(band, tmp_path):
    render(band, tmp_path / "16.wav", tail_seconds=TAIL)
    info = render(band, tmp_path / "24.wav", bit_depth=24, tail_seconds=TAIL)
    p16, a16 = _read(tmp_path / "16.wav")
    p24, a24 = _read(tmp_path / "24.wav")
    assert (p24.sampwidth, info["bit_depth"], p24.nframes) == (3, 24, p16.nframes)
    assert np.abs(a24 - a16).max() < 2 / 32768  # same audio, finer steps
    midi = tmp_path / "band.mid"
    band.dump_midi(midi)
    render(midi, tmp_path / "48k.wav", sample_rate=48000, bit_depth=24, tail_seconds=0)
    params, audio = _read(tmp_path / "48k.wav")
    assert (params.framerate, params.nframes) == (48000, 4 * 48000)
    assert 0.85 < np.abs(audio).max() <= 1.0 and np.sqrt(np.mean(audio**2)) > 0.01


@needs_fluidsynth
def test_drum_track_uses_the_drum_kit(band, tmp_path):
    drums = band.tracks[2]
    band.tracks = [drums]
    render(band, tmp_path / "kit.wav", tail_seconds=0)
    drums.is_drum = False  # the same notes as bass-register piano
    render(band, tmp_path / "piano.wav", tail_seconds=0)
    kit, piano = _read(tmp_path / "kit.wav")[1][:, 0], _read(tmp_path / "piano.wav")[1][:, 0]
    assert abs(np.corrcoef(kit, piano)[0, 1]) < 0.5


@needs_fluidsynth
def test_each_track_plays_on_the_channel_it_has_in_the_midi_file(tmp_path, monkeypatch):
    """The synth hears every note on the channel `midi_bytes` writes it on, shared channels
    included: 17 melodic tracks (so two share one), two drum kits (both on channel 9), and
    preferred channels given by a Score's caller or read from a file."""
    import fluidsynth

    score = _score()
    for i in range(19):
        track = Track(f"t{i}", i % 3, i >= 17)  # tracks 17 and 18 are drums
        track.notes.append(Note(0, 240, 30 + i, 90))
        score.tracks.append(track)
    preferred = {0: 9, 1: 4, 2: 4, 5: 12}  # 9 is for drums; 2 wants a channel 1 already has
    data = midi_bytes(score, channels=preferred)
    written = mido.MidiFile(file=io.BytesIO(data))
    in_file = {m.note: m.channel for t in written.tracks for m in t if m.type == "note_on"}
    assert len(in_file) == 19 and len(set(in_file.values())) == 16
    heard: dict[int, int] = {}
    noteon = fluidsynth.fluid_synth_noteon

    def listen(synth, channel, key, velocity):
        heard[key] = channel
        return noteon(synth, channel, key, velocity)

    monkeypatch.setattr(fluidsynth, "fluid_synth_noteon", listen)
    render(score, tmp_path / "score.wav", channels=preferred, tail_seconds=0)
    assert heard == in_file
    heard.clear()
    (tmp_path / "band.mid").write_bytes(data)
    render(tmp_path / "band.mid", tmp_path / "file.wav", tail_seconds=0)  # the file's channels
    assert heard == in_file


@needs_fluidsynth
def test_stems_one_per_track_same_length_sum_to_mix(band, tmp_path):
    info = render(band, tmp_path / "mix.wav", tail_seconds=TAIL, stems_dir=tmp_path / "stems")
    names = [Path(p).name for p in info["stems"]]
    assert names == ["00-Melody.wav", "01-Pads_Chord.wav", "02-Drums.wav"]
    _, mix = _read(tmp_path / "mix.wav")
    stems = [_read(Path(p)) for p in info["stems"]]
    assert all(p.nframes == len(mix) for p, _ in stems)
    assert all(np.abs(a).max() > 0.01 for _, a in stems), "a stem is silent"
    total = sum(a for _, a in stems)
    assert np.abs(total - mix).max() < 4 / 32768  # rounding only


@needs_fluidsynth
def test_onset_is_sample_accurate_across_tempo_change(tmp_path):
    # 120 qpm for one beat (0.5 s), then 60 qpm: tick 720 is at exactly 1.0 s.
    score = _score()
    score.tempos.append(Tempo(480, 60.0))
    track = Track("Piano", 0, False)
    track.notes.append(Note(720, 240, 60, 110))
    score.tracks.append(track)
    render(score, tmp_path / "one.wav", tail_seconds=TAIL)
    _, audio = _read(tmp_path / "one.wav")
    first = int(np.argmax(np.abs(audio).max(axis=1) > 1e-3))
    assert 44100 <= first <= 44100 + 441, first  # within 10 ms, never early
    assert len(audio) == round((1.5 + TAIL) * 44100)


@needs_fluidsynth
def test_empty_score_renders_silence(tmp_path):
    score = _score()
    score.tracks.append(Track("Nothing", 0, False))
    info = render(score, tmp_path / "silence.wav", tail_seconds=TAIL)
    _, audio = _read(tmp_path / "silence.wav")
    assert len(audio) == round(TAIL * 44100) and not audio.any() and info["peak_db"] is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sample_rate": 22050}, "44100"),
        ({"bit_depth": 8}, "16, 24"),
        ({"tail_seconds": -1.0}, "0 to 60"),
    ],
)
def test_bad_options_raise_input_error(band, tmp_path, kwargs, message):
    with pytest.raises(InputError, match=message):
        render(band, tmp_path / "x.wav", **kwargs)
    assert not list(tmp_path.iterdir())


@needs_fluidsynth
def test_failures_leave_no_partial_file(band, tmp_path, monkeypatch):
    out = tmp_path / "out.wav"
    out.write_bytes(b"previous render")
    text = tmp_path / "text.sf2"
    text.write_text("not a soundfont")
    with pytest.raises(RenderError):
        render(band, out, soundfont=text)
    with pytest.raises(RenderError, match="could not load"):  # header fine, body broken
        render(band, out, soundfont=_fake_sf2(tmp_path / "broken.sf2"))

    def explode(self, data):
        raise OSError("disk full")

    monkeypatch.setattr(wave.Wave_write, "writeframes", explode)  # fails half-way through
    with pytest.raises(OSError, match="disk full"):
        render(band, out, tail_seconds=TAIL)
    assert out.read_bytes() == b"previous render"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.sf2", "out.wav", "text.sf2"]


def _long_piece(seconds: int = 7) -> Score:
    """Notes held across the slice cuts, a sustain pedal and a pitch bend: what slices share."""
    score = _score()
    piano, strings = Track("Piano", 0, False), Track("Strings", 48, False)
    rng = np.random.default_rng(3)
    for beat in range(seconds * 2):
        piano.notes.append(Note(beat * 480, 360, int(rng.integers(55, 80)), 90))
        if beat % 4 == 0:
            strings.notes.append(Note(beat * 480, 4 * 480 + 240, int(rng.integers(43, 55)), 70))
    for bar in range(seconds // 2):
        piano.controls.append(ControlChange(bar * 1920, 64, 127))  # pedal down for the bar,
        piano.controls.append(ControlChange(bar * 1920 + 1800, 64, 0))  # up just before the next
    strings.pitch_bends.append(PitchBend(3 * 1920, 1024))
    score.tracks.extend([piano, strings])
    return score


def _render_sliced(score, path, monkeypatch, seconds):
    monkeypatch.setattr(audio, "PASS_SECONDS", seconds)
    render(score, path, tail_seconds=TAIL)
    return _read(path)[1]


@pytest.fixture
def dry(monkeypatch) -> list[int]:
    """Real FluidSynth synths without chorus and reverb, whose modulation would differ per
    synth: then slices and stems can be compared with one pass sample by sample. Yields a
    one-item list counting the synths made (one per pass)."""
    if not fluidsynth_available():
        pytest.skip("FluidSynth library not installed")
    import fluidsynth

    made = [0]

    class Dry(fluidsynth.Synth):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made[0] += 1
            self.setting("synth.chorus.active", 0)
            self.setting("synth.reverb.active", 0)

    monkeypatch.setattr(fluidsynth, "Synth", Dry)
    return made


def _rms_db(audio: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(audio**2)))


@needs_fluidsynth
def test_time_slices_sum_to_the_one_pass_mix_when_effects_are_off(tmp_path, monkeypatch, dry):
    score = _long_piece()
    whole = _render_sliced(score, tmp_path / "whole.wav", monkeypatch, 1000)
    sliced = _render_sliced(score, tmp_path / "sliced.wav", monkeypatch, 1)  # 7 slices
    assert len(whole) == len(sliced) and np.abs(whole).max() > 0.5
    # Only FluidSynth's onset transients differ (as between a one-pass mix and its stems);
    # a lost control change, note or tail would cost tens of dB more than this.
    assert _rms_db(whole - sliced) - _rms_db(whole) < -60
    assert np.abs(whole - sliced).max() < 0.02


@needs_fluidsynth
def test_stems_render_in_time_slices_and_still_sum_to_the_mix(tmp_path, monkeypatch, dry):
    score, stems, passes = _long_piece(), {}, []
    for seconds in (1000, 1):
        monkeypatch.setattr(audio, "PASS_SECONDS", seconds)
        synths = dry[0]
        info = render(score, tmp_path / f"{seconds}.wav", tail_seconds=TAIL,
                        stems_dir=tmp_path / f"stems-{seconds}")  # fmt: skip
        passes.append(dry[0] - synths)  # one synth per pass
        stems[seconds] = [_read(Path(p))[1] for p in info["stems"]]
        mix = _read(tmp_path / f"{seconds}.wav")[1]
        assert np.abs(sum(stems[seconds]) - mix).max() < 4 / 32768  # rounding only
    assert passes[0] == 2 and passes[1] > 2  # one pass per track, then slices of each
    for whole, sliced in zip(stems[1000], stems[1], strict=True):
        assert len(whole) == len(sliced) and np.abs(whole).max() > 0.05
        assert _rms_db(whole - sliced) - _rms_db(whole) < -60  # onset transients only


@needs_fluidsynth
def test_time_slices_keep_the_sound_with_effects(tmp_path, monkeypatch):
    """Chorus and reverb modulation restart with each slice's synth: other samples, the same
    length, onsets and loudness."""
    score = _long_piece()
    whole = _render_sliced(score, tmp_path / "whole.wav", monkeypatch, 1000)
    sliced = _render_sliced(score, tmp_path / "sliced.wav", monkeypatch, 1)
    assert len(whole) == len(sliced)
    assert abs(_rms_db(whole) - _rms_db(sliced)) < 1.0
    loud = np.abs(whole).max(axis=1) > 1e-3, np.abs(sliced).max(axis=1) > 1e-3
    assert np.argmax(loud[0]) == np.argmax(loud[1])


@needs_fluidsynth
def test_an_interrupt_stops_every_slice_and_writes_nothing(tmp_path, monkeypatch):
    """Ctrl-C in one pass (here in the progress callback) stops the passes running beside it at
    their next write, and those not started never start: a few writes, not the whole piece."""
    monkeypatch.setattr(audio, "PASS_SECONDS", 10)  # 6 slices of 40 writes (0.25 s) each
    calls: list[float] = []

    def interrupt(fraction):
        calls.append(fraction)
        if len(calls) == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render(_long_piece(60), tmp_path / "out.wav", tail_seconds=TAIL, progress=interrupt)
    assert not list(tmp_path.iterdir())
    assert len(calls) < 20, len(calls)


@needs_fluidsynth
def test_renders_on_several_threads_at_once_give_the_same_bytes(tmp_path, monkeypatch):
    """Passes load the soundfont on their own threads (one load at a time); three renders of
    seven slices each, side by side, write what one render alone writes."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(audio, "PASS_SECONDS", 1)
    score = _long_piece()
    render(score, tmp_path / "alone.wav", tail_seconds=TAIL)
    paths = [tmp_path / f"together-{i}.wav" for i in range(3)]
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda p: render(score, p, tail_seconds=TAIL), paths))
    alone = (tmp_path / "alone.wav").read_bytes()
    assert all(p.read_bytes() == alone for p in paths)


@pytest.mark.parametrize("bit_depth", [16, 24])
def test_wav_samples_round_to_nearest_and_clip(tmp_path, bit_depth):
    full = 2 ** (bit_depth - 1) - 1
    audio = np.array([[-1.5, -1.0], [-0.5 / full, 0.5 / full], [0.6 / full, 1.49 / full],
                      [1.0, 2.0]], dtype=np.float32)  # fmt: skip
    write_wav(tmp_path / "x.wav", audio, 44100, bit_depth)
    with wave.open(str(tmp_path / "x.wav"), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getnframes()) == (2, bit_depth // 8, 4)
        raw = np.frombuffer(w.readframes(4), np.uint8).reshape(-1, bit_depth // 8)
    wide = np.zeros((len(raw), 4), np.uint8)
    wide[:, 4 - raw.shape[1] :] = raw  # the sample in the top bytes of an int32
    ints = wide.view("<i4").ravel() >> (32 - bit_depth)
    assert ints.tolist() == [-full - 1, -full, 0, 0, 1, 1, full, full]
