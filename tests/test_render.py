"""Offline FluidSynth rendering: WAV format, timing, stems, soundfont lookup, errors."""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from symusic import ControlChange, Note, PitchBend, Score, Tempo, TimeSignature, Track

from musegen.errors import InputError, RenderError
from musegen.io import audio as R

needs_fluidsynth = pytest.mark.skipif(
    not R.fluidsynth_available(), reason="FluidSynth library not installed"
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
    monkeypatch.setattr(R, "SYSTEM_SOUNDFONTS", (str(tmp_path / "missing.sf2"), str(system)))
    monkeypatch.setenv(R.SOUNDFONT_ENV, str(env))
    assert R.find_soundfont(explicit) == explicit
    assert R.find_soundfont() == env
    monkeypatch.delenv(R.SOUNDFONT_ENV)
    assert R.find_soundfont() == system
    monkeypatch.setattr(R, "SYSTEM_SOUNDFONTS", ())
    bundled = R.find_soundfont()
    assert bundled.name == "TimGM6mb.sf2" and bundled.parent.name == "pretty_midi"


@pytest.mark.parametrize("origin", ["argument", "env"])
def test_not_a_soundfont_raises(tmp_path, monkeypatch, origin):
    text = tmp_path / "notes.sf2"
    text.write_text("this is not a soundfont\n")
    monkeypatch.setenv(R.SOUNDFONT_ENV, str(text))
    with pytest.raises(RenderError, match="not an SF2 soundfont"):
        R.find_soundfont(text if origin == "argument" else None)
    with pytest.raises(RenderError, match="is not a file"):
        R.find_soundfont(tmp_path)
    with pytest.raises(RenderError, match="does not exist"):
        R.find_soundfont(tmp_path / "nowhere.sf2")


def test_missing_library_says_how_to_install(monkeypatch, band, tmp_path):
    monkeypatch.setitem(sys.modules, "fluidsynth", None)  # makes `import fluidsynth` fail
    assert not R.fluidsynth_available()
    with pytest.raises(RenderError, match="apt-get install libfluidsynth3") as info:
        R.render(band, tmp_path / "x.wav")
    assert "brew install fluid-synth" in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "x.wav").exists()


# --- rendering --------------------------------------------------------------------------------


@needs_fluidsynth
def test_render_wav_reads_back(band, tmp_path):
    fractions: list[float] = []
    info = R.render(band, tmp_path / "mix.wav", tail_seconds=TAIL, progress=fractions.append)
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
    R.render(band, tmp_path / "16.wav", tail_seconds=TAIL)
    info = R.render(band, tmp_path / "24.wav", bit_depth=24, tail_seconds=TAIL)
    p16, a16 = _read(tmp_path / "16.wav")
    p24, a24 = _read(tmp_path / "24.wav")
    assert (p24.sampwidth, info["bit_depth"], p24.nframes) == (3, 24, p16.nframes)
    assert np.abs(a24 - a16).max() < 2 / 32768  # same audio, finer steps
    midi = tmp_path / "band.mid"
    band.dump_midi(midi)
    R.render(midi, tmp_path / "48k.wav", sample_rate=48000, bit_depth=24, tail_seconds=0)
    params, audio = _read(tmp_path / "48k.wav")
    assert (params.framerate, params.nframes) == (48000, 4 * 48000)
    assert 0.85 < np.abs(audio).max() <= 1.0 and np.sqrt(np.mean(audio**2)) > 0.01


@needs_fluidsynth
def test_drum_track_uses_the_drum_kit(band, tmp_path):
    drums = band.tracks[2]
    band.tracks = [drums]
    R.render(band, tmp_path / "kit.wav", tail_seconds=0)
    drums.is_drum = False  # the same notes as bass-register piano
    R.render(band, tmp_path / "piano.wav", tail_seconds=0)
    kit, piano = _read(tmp_path / "kit.wav")[1][:, 0], _read(tmp_path / "piano.wav")[1][:, 0]
    assert abs(np.corrcoef(kit, piano)[0, 1]) < 0.5


@needs_fluidsynth
def test_stems_one_per_track_same_length_sum_to_mix(band, tmp_path):
    info = R.render(band, tmp_path / "mix.wav", tail_seconds=TAIL, stems_dir=tmp_path / "stems")
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
    R.render(score, tmp_path / "one.wav", tail_seconds=TAIL)
    _, audio = _read(tmp_path / "one.wav")
    first = int(np.argmax(np.abs(audio).max(axis=1) > 1e-3))
    assert 44100 <= first <= 44100 + 441, first  # within 10 ms, never early
    assert len(audio) == round((1.5 + TAIL) * 44100)


@needs_fluidsynth
def test_empty_score_renders_silence(tmp_path):
    score = _score()
    score.tracks.append(Track("Nothing", 0, False))
    info = R.render(score, tmp_path / "silence.wav", tail_seconds=TAIL)
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
        R.render(band, tmp_path / "x.wav", **kwargs)
    assert not list(tmp_path.iterdir())


@needs_fluidsynth
def test_failures_leave_no_partial_file(band, tmp_path, monkeypatch):
    out = tmp_path / "out.wav"
    out.write_bytes(b"previous render")
    text = tmp_path / "text.sf2"
    text.write_text("not a soundfont")
    with pytest.raises(RenderError):
        R.render(band, out, soundfont=text)
    with pytest.raises(RenderError, match="could not load"):  # header fine, body broken
        R.render(band, out, soundfont=_fake_sf2(tmp_path / "broken.sf2"))

    def explode(audio, bit_depth):
        raise OSError("disk full")

    monkeypatch.setattr(R, "_pcm_bytes", explode)  # fails half-way through writing
    with pytest.raises(OSError, match="disk full"):
        R.render(band, out, tail_seconds=TAIL)
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
    monkeypatch.setattr(R, "PASS_SECONDS", seconds)
    R.render(score, path, tail_seconds=TAIL)
    return _read(path)[1]


@pytest.fixture
def dry(monkeypatch):
    """Real FluidSynth synths without chorus and reverb, whose modulation would differ per
    synth: then slices and stems can be compared with one pass sample by sample."""
    if not R.fluidsynth_available():
        pytest.skip("FluidSynth library not installed")
    import fluidsynth

    class Dry(fluidsynth.Synth):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.setting("synth.chorus.active", 0)
            self.setting("synth.reverb.active", 0)

    monkeypatch.setattr(fluidsynth, "Synth", Dry)


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
    run, passes = R._run, []
    monkeypatch.setattr(R, "_run", lambda fl, sf, rate, jobs, progress: (
        passes.append(len(jobs)), run(fl, sf, rate, jobs, progress)))  # fmt: skip
    score, stems = _long_piece(), {}
    for seconds in (1000, 1):
        monkeypatch.setattr(R, "PASS_SECONDS", seconds)
        info = R.render(score, tmp_path / f"{seconds}.wav", tail_seconds=TAIL,
                        stems_dir=tmp_path / f"stems-{seconds}")  # fmt: skip
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
def test_an_interrupt_stops_the_slices_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "PASS_SECONDS", 1)  # 7 slices

    def interrupt(fraction):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        R.render(_long_piece(), tmp_path / "out.wav", tail_seconds=TAIL, progress=interrupt)
    assert not list(tmp_path.iterdir())
    # a slice that finds the stop flag set gives up before writing a frame
    import threading

    import fluidsynth

    stop = threading.Event()
    stop.set()
    synth = fluidsynth.Synth()
    out = np.zeros((44100, 2), dtype=np.float32)
    job = R.Pass([(0, 0, False)], np.array([[100, R.ON, 0, 60, 90]]), 0, 44100, 44100)
    try:
        with pytest.raises(RenderError, match="stopped"):
            R._synthesise(fluidsynth, synth, R.find_soundfont(), job, out, 4410, lambda n: None,
                          stop)  # fmt: skip
    finally:
        synth.delete()


@needs_fluidsynth
def test_renders_on_several_threads_at_once_give_the_same_bytes(tmp_path, monkeypatch):
    """Passes load the soundfont on their own threads (one load at a time); three renders of
    seven slices each, side by side, write what one render alone writes."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(R, "PASS_SECONDS", 1)
    score = _long_piece()
    R.render(score, tmp_path / "alone.wav", tail_seconds=TAIL)
    paths = [tmp_path / f"together-{i}.wav" for i in range(3)]
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda p: R.render(score, p, tail_seconds=TAIL), paths))
    alone = (tmp_path / "alone.wav").read_bytes()
    assert all(p.read_bytes() == alone for p in paths)


@pytest.mark.parametrize("bit_depth", [16, 24])
def test_pcm_rounds_to_nearest_and_clips(bit_depth):
    full = 2 ** (bit_depth - 1) - 1
    audio = np.array([[-1.5, -1.0], [-0.5 / full, 0.5 / full], [0.6 / full, 1.49 / full],
                      [1.0, 2.0]], dtype=np.float32)  # fmt: skip
    raw = np.frombuffer(R._pcm_bytes(audio, bit_depth), np.uint8).reshape(-1, bit_depth // 8)
    wide = np.zeros((len(raw), 4), np.uint8)
    wide[:, 4 - raw.shape[1] :] = raw  # the sample in the top bytes of an int32
    ints = wide.view("<i4").ravel() >> (32 - bit_depth)
    assert ints.tolist() == [-full - 1, -full, 0, 0, 1, 1, full, full]
