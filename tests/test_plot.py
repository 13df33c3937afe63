"""Piano-roll pictures: PNG written atomically, seed/generated colours, empty scores."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread
from symusic import Note, Score, Tempo, TimeSignature, Track

from musegen.errors import InputError
from musegen.io.pianoroll import GENERATED_COLOUR, SEED_COLOUR, plot_pianoroll

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def piece() -> Score:
    """Two bars of seed (scale + chord) and two generated bars, plus drums, in 3/4."""
    score = Score(480)
    score.tempos.append(Tempo(0, 100.0))
    score.time_signatures.append(TimeSignature(0, 3, 4))
    melody, drums = Track("Melody", 0, False), Track("Drums", 0, True)
    for i, pitch in enumerate([60, 62, 64, 65, 67, 69, 71, 72, 74, 76, 77, 79]):
        melody.notes.append(Note(i * 480, 480, pitch, 90))
        drums.notes.append(Note(i * 480, 60, 36 if i % 3 == 0 else 42, 100))
    for pitch in (48, 52, 55):
        melody.notes.append(Note(0, 6 * 480, pitch, 70))
    score.tracks.extend([melody, drums])
    return score


def _has_colour(png, colour: str) -> bool:
    pixels = imread(png)[..., :3]
    return bool((np.abs(pixels - np.array(to_rgb(colour))).max(axis=-1) < 0.02).any())


def _check_png(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert 5_000 < len(data) < 2_000_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert 600 <= width <= 2600 and 300 <= height <= 800
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left
    return width, height


def test_split_colours_seed_and_generated(piece, tmp_path):
    out = plot_pianoroll(piece, tmp_path / "roll.png", split_tick=6 * 480, title="seed | new")
    assert out == tmp_path / "roll.png"
    _check_png(out)
    assert _has_colour(out, SEED_COLOUR) and _has_colour(out, GENERATED_COLOUR)


def test_without_split_from_path_in_seconds(piece, tmp_path):
    midi = tmp_path / "midi" / "piece.mid"
    midi.parent.mkdir()
    piece.tracks.pop()  # melody only: one colour, no "generated"
    piece.dump_midi(midi)
    out = plot_pianoroll(midi, tmp_path / "pics" / "roll.png", seconds=True)
    _check_png(out)
    assert _has_colour(out, SEED_COLOUR) and not _has_colour(out, GENERATED_COLOUR)


def test_empty_score_is_a_clear_error(tmp_path):
    score = Score(480)
    score.tracks.append(Track("Empty", 0, False))
    with pytest.raises(InputError, match="no notes"):
        plot_pianoroll(score, tmp_path / "empty.png")
    assert not list(tmp_path.iterdir())
