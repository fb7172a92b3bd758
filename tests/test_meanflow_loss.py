"""MeanFlow's JVP target (no Lightning): the total derivative against finite differences,
analytic cases, and no derivative leaking across tokens through the recurrence."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from algorithms.flow_forcing.meanflow_loss import (
    meanflow_loss,
    meanflow_target,
    meanflow_times,
)
from algorithms.flow_forcing.shortcut_loss import lerp
from algorithms.flow_forcing.time_sampler import sample_times
from algorithms.networks.context import shift_right
from algorithms.networks.flow_network import FlowNetwork
from tests.test_config_checks import check as check_config
from tests.test_network_and_sampler import STATS
from utils.config_checks import ConfigError


def make_network(backbone: str = "gru") -> FlowNetwork:
    cfg = OmegaConf.create({
        "token_space": "relative", "context": {"features": ["position", "delta"]},
        "backbone": {"name": backbone, "hidden_size": 12, "num_layers": 2, "dropout": 0.0},
        "head": {"width": 16, "depth": 2, "time_dim": 8, "prediction": "endpoint"},
    })
    torch.manual_seed(0)
    return FlowNetwork(cfg, 2, STATS).double().eval()


def targets(network: FlowNetwork, x: torch.Tensor, z: torch.Tensor, v: torch.Tensor,
            s: torch.Tensor, tau: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    h = network.encode(shift_right(x))
    return meanflow_target(lambda zz, a, b: network.velocity(h, zz, a, b), z, v, s, tau)


def test_jvp_total_derivative_matches_finite_differences() -> None:
    """target − v = (τ − s)·d/ds u(z + ε·v, s + ε, τ) at ε = 0, by central differences
    (float64; the error shrinks as ε², 1e-7 leaves about 1e-9 of the largest entry)."""
    network = make_network()
    torch.manual_seed(1)
    x, z, v = (torch.randn(3, 8, 2, dtype=torch.float64) for _ in range(3))
    s = 0.6 * torch.rand(3, 8, dtype=torch.float64)
    tau = s + 0.4 * torch.rand(3, 8, dtype=torch.float64)
    with torch.no_grad():
        u, target = targets(network, x, z, v, s, tau)
        h = network.encode(shift_right(x))
        eps = 1e-7
        plus = network.velocity(h, z + eps * v, s + eps, tau)
        minus = network.velocity(h, z - eps * v, s - eps, tau)
        du_ds = (plus - minus) / (2 * eps)
        assert torch.allclose(u, network.velocity(h, z, s, tau))
    assert du_ds.abs().max() > 1e-3, "a non-trivial derivative"
    finite_differences = v + (tau - s).unsqueeze(-1) * du_ds
    assert (target - finite_differences).abs().max() < 1e-7 * finite_differences.abs().max()


def test_no_derivative_leaks_across_tokens() -> None:
    """Perturbing token j's noisy token z (or its times) changes only token j's target."""
    network = make_network("lstm")
    torch.manual_seed(2)
    x, z, v = (torch.randn(2, 10, 2, dtype=torch.float64) for _ in range(3))
    s = 0.5 * torch.rand(2, 10, dtype=torch.float64)
    tau = s + 0.5 * torch.rand(2, 10, dtype=torch.float64)
    with torch.no_grad():
        _, base = targets(network, x, z, v, s, tau)
        for j in (0, 4, 9):
            z2, s2 = z.clone(), s.clone()
            z2[:, j] += 0.3
            s2[:, j] += 0.05
            _, moved = targets(network, x, z2, v, s2, tau)
            changed = (moved - base).abs().amax(dim=(0, 2)) > 0
            assert changed.tolist() == [k == j for k in range(10)], j


def test_exact_average_velocity_of_a_straight_path_has_zero_loss() -> None:
    """For one data point y, u(z, s, τ) = (y − z)/(1 − s) is the exact average velocity of
    the path z_s = (1 − s)e + s·y (d/ds u = 0 along it), so the target is u itself."""
    torch.manual_seed(3)
    y, e = torch.randn(4, 6, 2, dtype=torch.float64), torch.randn(4, 6, 2, dtype=torch.float64)
    s = 0.9 * torch.rand(4, 6, dtype=torch.float64)
    tau = s + (1 - s) * torch.rand(4, 6, dtype=torch.float64)
    field = lambda z, a, b: (y - z) / (1 - a).unsqueeze(-1)  # noqa: E731
    loss, parts = meanflow_loss(field, y, e, s, tau)
    assert loss.item() < 1e-20 and set(parts) == {"meanflow_mse"}
    loss, _ = meanflow_loss(field, y, e, s, tau, adaptive_p=1.0)
    assert loss.item() < 1e-20


def test_linear_field_target() -> None:
    """u(z, s, τ) = −z: d/ds u = −v, so the target is v − (τ − s)·v."""
    z, v = torch.randn(3, 5, 2), torch.randn(3, 5, 2)
    s, tau = torch.rand(3, 5) * 0.5, 0.5 + torch.rand(3, 5) * 0.5
    _, target = meanflow_target(lambda zz, a, b: -zz, z, v, s, tau)
    assert torch.allclose(target, (1 - (tau - s)).unsqueeze(-1) * v, atol=1e-6)


def test_loss_trains_the_head_and_the_recurrence_and_stops_the_target() -> None:
    network = make_network().float().train()
    torch.manual_seed(4)
    x = torch.randn(2, 7, 2)
    h = network.encode(shift_right(x))
    e = torch.randn_like(x)
    s, tau = meanflow_times(sample_times((2, 7), full_jump_prob=0.5), 1.0)
    loss, _ = meanflow_loss(lambda z, a, b: network.velocity(h, z, a, b), x, e, s, tau,
                            adaptive_p=0.5)
    loss.backward()
    assert torch.isfinite(loss)
    for name, p in network.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    # plain MSE when p = 0, against a hand-computed target
    field = lambda z, a, b: 2 * z  # noqa: E731  d/ds u = 2v
    loss, parts = meanflow_loss(field, x, e, s, tau)
    v = x - e
    expected = (2 * lerp(e, x, s) - v - (tau - s).unsqueeze(-1) * 2 * v).square().mean()
    assert torch.allclose(loss, expected) and torch.allclose(parts["meanflow_mse"], expected)


def test_distinct_share() -> None:
    torch.manual_seed(5)
    times = sample_times((400, 50))
    s, tau = meanflow_times(times, 0.25)
    distinct = (s != tau).float().mean().item()
    assert abs(distinct - 0.25) < 0.01 and (s <= tau).all()
    s, tau = meanflow_times(times, 0.0)
    assert torch.equal(s, times["t0"]) and torch.equal(tau, times["t0"])



MEANFLOW = ["algorithm.loss.objective=meanflow", "algorithm.head.time_scale=10"]


def test_meanflow_config_is_valid() -> None:
    check_config(*MEANFLOW, "algorithm.loss.adaptive_p=1")


@pytest.mark.parametrize("override,message", [
    ("algorithm.loss.objective=jvp", "objective=jvp: must be one of shortcut, meanflow"),
    ("algorithm.loss.meanflow_distinct_prob=2", "meanflow_distinct_prob=2: must be in [0, 1]"),
    ("algorithm.loss.adaptive_p=-1", "algorithm.loss.adaptive_p=-1: must be a non-negative number"),
    ("algorithm.loss.adaptive_c=0", "algorithm.loss.adaptive_c=0: must be a positive number"),
    ("algorithm.head.time_scale=1000", "algorithm.head.time_scale=1000: must be at most 100 with "
                                       "algorithm.loss.objective=meanflow"),
])
def test_bad_objective_keys_name_their_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        check_config(*MEANFLOW, override)
    assert message in str(error.value) and "\n" not in str(error.value)
