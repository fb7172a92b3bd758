"""The one-step objective on analytic velocity fields (no Lightning)."""

from __future__ import annotations

import pytest
import torch

from algorithms.flow_forcing.shortcut_loss import (
    lerp,
    shortcut_flow_loss,
    shortcut_target,
)
from algorithms.flow_forcing.time_sampler import sample_times


def test_times_are_ordered_and_in_range() -> None:
    torch.manual_seed(0)
    for kind in ("smoothstep", "uniform"):
        t = sample_times((64, 32), kind)
        assert all(v.shape == (64, 32) for v in t.values())
        assert (t["t1"] <= t["tm"]).all() and (t["tm"] <= t["t2"]).all()
        assert (t["t1"] >= 0).all() and (t["t2"] <= 1).all() and (t["t0"] >= 0).all()
        assert torch.allclose(t["tm"], (t["t1"] + t["t2"]) / 2)


def test_full_jump_share() -> None:
    torch.manual_seed(0)
    t = sample_times((400, 50), full_jump_prob=1.0)
    assert (t["t1"] == 0).all() and (t["t2"] == 1).all()
    t = sample_times((400, 50), full_jump_prob=0.25)
    share = ((t["t1"] == 0) & (t["t2"] == 1)).float().mean().item()
    assert abs(share - 0.25) < 0.01


def test_smoothstep_pushes_times_to_the_ends() -> None:
    torch.manual_seed(0)
    t0 = sample_times((100_000,), "smoothstep")["t0"]
    # s(u) = 3u² − 2u³ has density 1/(6u(1−u)) at s(u): more mass near 0 and 1 than uniform.
    assert ((t0 < 0.1) | (t0 > 0.9)).float().mean() > 0.25


def test_straight_line_field_has_zero_loss() -> None:
    """v ≡ y − e is the exact flow of the linear path, and it is self-consistent."""
    torch.manual_seed(0)
    y, e = torch.randn(4, 10, 2), torch.randn(4, 10, 2)
    times = sample_times((4, 10))
    loss, parts = shortcut_flow_loss(lambda z, a, b: y - e, y, e, times)
    assert loss.item() < 1e-12 and set(parts) == {"flow", "shortcut"}


def test_shortcut_target_on_a_linear_field() -> None:
    """v(z) = −z: two half steps of size d/2 give −z − (1 − d/2)·z = −(2 − d/2)·z."""
    z1 = torch.randn(5, 7, 2)
    t1, t2 = torch.rand(5, 7) * 0.5, 0.5 + torch.rand(5, 7) * 0.5
    target = shortcut_target(lambda z, a, b: -z, z1, t1, (t1 + t2) / 2, t2)
    expected = -(2 - (t2 - t1) / 2).unsqueeze(-1) * z1
    assert torch.allclose(target, expected, atol=1e-6)


def test_loss_value_and_gradients() -> None:
    """v ≡ 0: flow = E‖y − e‖², shortcut = 0; the target carries no gradient."""
    y, e = torch.randn(3, 6, 2), torch.randn(3, 6, 2)
    scale = torch.ones((), requires_grad=True)
    loss, parts = shortcut_flow_loss(lambda z, a, b: scale * 0 * z, y, e, sample_times((3, 6)),
                                     flow_weight=2.0, shortcut_weight=5.0)
    assert torch.allclose(loss, 2 * ((y - e) ** 2).mean())
    assert parts["shortcut"].item() == 0.0
    loss.backward()
    assert scale.grad is not None


def test_shortcut_weight_zero_skips_the_term() -> None:
    calls = []
    y, e = torch.randn(2, 3, 2), torch.randn(2, 3, 2)

    def field(z: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return z

    _, parts = shortcut_flow_loss(field, y, e, sample_times((2, 3)), shortcut_weight=0.0)
    assert len(calls) == 1 and set(parts) == {"flow"}


def test_lerp_endpoints() -> None:
    a, b = torch.randn(2, 3, 2), torch.randn(2, 3, 2)
    assert torch.equal(lerp(a, b, torch.zeros(2, 3)), a)
    assert torch.equal(lerp(a, b, torch.ones(2, 3)), b)


def test_token_mse_weights_tokens_and_keeps_the_scale() -> None:
    from algorithms.flow_forcing.shortcut_loss import start_weights, token_mse

    assert start_weights(8, 1.0) is None
    w = start_weights(8, 4.0)
    assert w.tolist() == [4, 4, 1, 1, 1, 1, 1, 1]
    target = torch.zeros(3, 8, 2)
    every = torch.ones(3, 8, 2)
    assert token_mse(every, target, w).item() == pytest.approx(1.0)  # ÷ the mean weight
    assert token_mse(every, target, None).item() == pytest.approx(1.0)
    first = torch.zeros(3, 8, 2)
    first[:, 0] = 1.0  # an error on token 0 only: 1/8 of the plain loss, times 4 / mean(w) = 4/1.75
    assert token_mse(first, target, w).item() == pytest.approx(1 / 8 * 4 / 1.75)
    assert token_mse(first, target).item() == pytest.approx(1 / 8)
