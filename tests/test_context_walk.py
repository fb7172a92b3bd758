"""`algorithm.context.walk_max` (issue 29's lever, off by default), without Lightning: the
context's corruption also carries a random walk whose step scale is drawn per sequence, so the
model meets slow drifts of its context with the data as the target."""

from __future__ import annotations

import pytest
import torch

from algorithms.networks.context import gaussian_corruption
from tests.test_burn_in import build


def test_the_walk_is_a_random_walk_with_a_per_sequence_scale() -> None:
    torch.manual_seed(0)
    x = torch.randn(20000, 30, 2)
    corrupted, sigma = gaussian_corruption(x, 0.0, walk_max=0.2)
    walk = corrupted - x
    assert (sigma == 0).all(), "the level leaves the walk out"
    # E[w_j²] = (j + 1)·E[s²] with s ~ U(0, 0.2): (j + 1)·0.04 / 3
    var = walk.pow(2).mean(dim=(0, 2))
    expected = torch.arange(1, 31) * 0.04 / 3
    assert torch.allclose(var, expected, rtol=0.05)
    # one scale per sequence: the increments' spread differs between sequences, not tokens
    steps = walk.diff(dim=1)
    ratio = steps[:, :15].std(dim=(1, 2)) / steps[:, 15:].std(dim=(1, 2))
    assert ratio.median().item() == pytest.approx(1.0, abs=0.05)
    assert steps.std(dim=(1, 2)).max() > 5 * steps.std(dim=(1, 2)).min()


def test_per_channel_walk_follows_the_unit() -> None:
    torch.manual_seed(1)
    corrupted, _ = gaussian_corruption(torch.zeros(20000, 10, 2), 0.0,
                                       walk_max=torch.tensor([0.01, 1.0]))
    spread = corrupted[:, -1].std(dim=0)
    assert spread[1] / spread[0] == pytest.approx(100, rel=0.05)


def test_off_draws_nothing_and_on_changes_the_loss() -> None:
    x = torch.randn(4, 16, 2).cumsum(1) * 0.1
    torch.manual_seed(2)
    plain = gaussian_corruption(x, 0.05)
    torch.manual_seed(2)
    off = gaussian_corruption(x, 0.05, walk_max=0.0)
    assert torch.equal(plain[0], off[0]) and torch.equal(plain[1], off[1])
    batch = torch.cat([x, torch.randn(4, 16, 2)], dim=-1)
    losses = []
    for walk in (0.0, 0.5):
        algo = build("one_step", f"algorithm.context.walk_max={walk}")
        torch.manual_seed(3)
        losses.append(algo.batch_loss(algo.network, batch, train=True)[0])
    assert torch.isfinite(losses[1]) and not torch.equal(losses[0], losses[1])
