"""The discriminative style loss (musegen.contrast); its use in training: test_training.py."""

from __future__ import annotations

import math

import pytest
import torch

from musegen.train import contrast

IGNORE = -100
STYLES = torch.tensor([3, 4, 5])  # three styles; 9 is "any", 10 a mood, 20+ music


def test_swap_labels_changes_every_style_token_and_nothing_else():
    x = torch.tensor(
        [[3, 10, 20, 21, 4, 10, 22, 9, 10, 23], [5, 10, 24, 25, 26, 3, 10, 27, 28, 29]]
    )
    seen = set()
    for seed in range(40):
        swapped = contrast.swap_labels(x, STYLES, torch.Generator().manual_seed(seed))
        is_style = torch.isin(x, STYLES)
        assert torch.equal(swapped[~is_style], x[~is_style])  # "any", moods and music stay
        assert torch.isin(swapped[is_style], STYLES).all()
        assert (swapped[is_style] != x[is_style]).all()
        seen.add(int(swapped[0, 0]))
    assert seen == {4, 5}  # both other styles are drawn


def test_piece_log_ratios_average_each_labelled_piece_over_its_own_targets():
    # Row: piece A (style 3) with 3 music targets, piece B ("any" 9) skipped, piece C (style 4).
    x = torch.tensor([[3, 10, 20, 21, 22, 9, 10, 23, 4, 10, 24, 25]])
    y = torch.tensor([[IGNORE, 20, 21, 22, IGNORE, IGNORE, 23, IGNORE, IGNORE, 24, 25, IGNORE]])
    nats = torch.zeros(1, 12)
    gap = torch.tensor([[7.0, 0.1, 0.2, 0.3, 7.0, 7.0, 5.0, 7.0, 7.0, -0.4, 0.0, 7.0]])
    starts = torch.cat([STYLES, torch.tensor([9])])
    ratios = contrast.piece_log_ratios(nats, nats + gap, x, y, STYLES, starts, IGNORE)
    # A: mean(0.1, 0.2, 0.3); C: mean(-0.4, 0.0); ignored targets and the "any" piece never count
    assert ratios.tolist() == pytest.approx([0.2, -0.2])


def test_piece_log_ratios_keep_rows_apart():
    x = torch.tensor([[3, 10, 20, 21], [4, 10, 22, 23]])
    y = torch.tensor([[IGNORE, 20, 21, IGNORE], [IGNORE, 22, 23, IGNORE]])
    gap = torch.tensor([[0.0, 1.0, 1.0, 0.0], [0.0, -1.0, -3.0, 0.0]])
    starts = torch.cat([STYLES, torch.tensor([9])])
    ratios = contrast.piece_log_ratios(torch.zeros(2, 4), gap, x, y, STYLES, starts, IGNORE)
    assert ratios.tolist() == pytest.approx([1.0, -2.0])


def test_loss_is_log_2_when_the_styles_do_not_matter_and_falls_as_they_do():
    assert float(contrast.contrast_loss(torch.zeros(4))) == pytest.approx(math.log(2))
    assert float(contrast.contrast_loss(torch.full((4,), 1.0))) < 1e-4
    assert float(contrast.contrast_loss(torch.full((4,), -1.0))) > 9.9
    assert float(contrast.contrast_loss(torch.zeros(0))) == 0.0
