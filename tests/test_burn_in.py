"""`algorithm.burn_in.loss_tokens` (issue 29's lever), without Lightning: the loss on one drawn
window of the training sequence, the tokens before it read by the recurrence without gradient.

Analytic cases: the recurrence after a burn-in computes exactly what it computes on the whole
sequence; no gradient reaches the tokens the burn-in read; one window spanning the sequence is
the default loss bit for bit; windows are drawn among the sequence's n-token windows."""

from __future__ import annotations

import pytest
import torch

from algorithms import ALGORITHM_REGISTRY
from algorithms.networks.backbones import BACKBONES
from benchmarks.recipes import compose
from tests.test_given_channels import ALGORITHMS, SMALL, STATS, given_sequence

G = 2


def build(name: str, *overrides: str):
    """The algorithm at a small size on data with given channels (elecdemand's config)."""
    cfg = compose("dataset=elecdemand", *ALGORITHMS[name], *SMALL, *overrides)
    torch.manual_seed(0)
    return ALGORITHM_REGISTRY[cfg.algorithm.name](cfg.algorithm, cfg.experiment.training, G,
                                                  STATS)


def batch(num: int = 4, length: int = 24) -> torch.Tensor:
    torch.manual_seed(5)
    return torch.cat([torch.randn(num, length, G).cumsum(1) * 0.1, given_sequence(num, length)],
                     dim=-1)


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("name", ["one_step", "df_autoregressive"])
def test_burn_in_conditioning_is_the_whole_sequences(name: str, backbone: str) -> None:
    """encode(..., burn_in=s) is encode(...)[:, s:]: the state is carried, not restarted."""
    algo = build(name, f"algorithm.backbone.name={backbone}")
    network, x = algo.network.eval(), batch()
    context, given = x[..., :G], x[..., G:]
    with torch.no_grad():
        whole = network.encode(context, None, given)
        for s in (1, 7, 23):
            assert torch.allclose(network.encode(context, None, given, s), whole[:, s:],
                                  atol=1e-5, rtol=1e-4), s


def test_no_gradient_reaches_the_burnt_in_tokens() -> None:
    """Row j of the context enters rows j (position) and j + 1 (delta); after a burn-in of s
    rows the window's conditioning depends on rows ≥ s − 1 through gradients, on none before."""
    network, s = build("one_step").network, 10
    x = batch()
    context = x[..., :G].clone().requires_grad_()
    out = network.encode(context, None, x[..., G:], s)
    (grad,) = torch.autograd.grad(out.square().sum(), context)
    assert grad[:, : s - 1].abs().max() == 0
    assert (grad[:, s - 1:].abs().sum(-1) > 0).all()
    # without the burn-in the same window's conditioning reaches back through the recurrence
    full = network.encode(context, None, x[..., G:])[:, s:]
    (grad,) = torch.autograd.grad(full.square().sum(), context)
    assert (grad[:, 1: s - 1].abs().sum(-1) > 0).all()  # row 0 is no context (ignored)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_one_window_spanning_the_sequence_is_the_default_loss(name: str) -> None:
    """loss_tokens = the sequence length draws nothing and computes the default loss exactly;
    null (the default) covers the whole sequence."""
    x = batch()
    losses = []
    for overrides in [(), ("algorithm.burn_in.loss_tokens=24",)]:
        algo = build(name, *overrides)
        assert algo.loss_window(24) == (0, 24)
        torch.manual_seed(3)
        losses.append(algo.batch_loss(algo.network, x, train=True)[0])
    assert torch.equal(losses[0], losses[1])


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_a_window_loss_is_the_loss_of_its_tokens(name: str) -> None:
    """A burn-in loss is finite, trains every parameter, and differs from the whole sequence's;
    the validation loss (train=False) stays on the whole sequence."""
    algo = build(name, "algorithm.burn_in.loss_tokens=8")
    x = batch()
    torch.manual_seed(0)
    start, end = algo.loss_window(24)
    torch.manual_seed(0)
    loss, _ = algo.batch_loss(algo.network, x, train=True)
    torch.manual_seed(0)
    algo.loss_window(24)  # the same draw, then the same loss computed on the cropped batch
    again, _ = algo.training_loss(algo.network, x[:, :end, :G], x[:, :end, G:], burn_in=start)
    assert torch.equal(loss, again)
    loss.backward()
    for pname, p in algo.network.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
    torch.manual_seed(0)
    evaluated, _ = algo.batch_loss(algo.network, x)
    torch.manual_seed(0)
    plain, _ = algo.training_loss(algo.network, x[..., :G], x[..., G:])
    assert torch.equal(evaluated, plain)


def test_windows_are_the_sequences_n_token_windows_drawn_uniformly() -> None:
    algo = build("one_step", "algorithm.burn_in.loss_tokens=16")
    torch.manual_seed(0)
    draws = [algo.loss_window(70) for _ in range(800)]
    assert {d[1] - d[0] for d in draws} == {16}
    starts = torch.tensor([d[0] for d in draws])
    assert set(starts.tolist()) == {0, 16, 32, 48}  # 70 // 16 = 4 windows, the tail unused
    counts = torch.bincount(starts // 16).float()
    assert (counts / 800 - 0.25).abs().max() < 0.05
    with pytest.raises(Exception, match="algorithm.burn_in.loss_tokens=16: more than the 12"):
        algo.loss_window(12)
