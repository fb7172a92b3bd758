"""The multi-step Diffusion Forcing baseline without Lightning: its solver, its schedules and
stabilisation, its loss and its config keys."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from algorithms.diffusion_forcing.module import DiffusionForcing
from algorithms.diffusion_forcing.sampling import pyramid_chunk, pyramid_rollout
from algorithms.generation.sampler import StreamingSampler, rollout
from algorithms.generation.solvers import flow_euler_solve
from tests.test_config_checks import check as check_config
from tests.test_network_and_sampler import STATS, make_network
from utils.config_checks import ConfigError


def test_flow_euler_lands_on_the_target_of_a_straight_path() -> None:
    """v(z, t → t) = (x − z)/(1 − t) is the straight path's velocity: any K lands on x."""
    target, z = torch.randn(6, 2), torch.randn(6, 2)
    for nfe in (1, 2, 5, 10):
        out = flow_euler_solve(lambda zz, a, b: (target - zz) / (1 - a).unsqueeze(-1), z, nfe)
        assert torch.allclose(out, target, atol=1e-5)
    with pytest.raises(ValueError):
        flow_euler_solve(lambda zz, a, b: zz, z, 0)


def test_flow_euler_uses_the_instantaneous_velocity() -> None:
    seen = []

    def field(z: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        seen.append((a[0].item(), b[0].item()))
        return z

    flow_euler_solve(field, torch.zeros(2, 2), 4)
    assert seen == [(0.0, 0.0), (0.25, 0.25), (0.5, 0.5), (0.75, 0.75)]


def test_stabilisation_feeds_back_a_noisy_copy() -> None:
    """The recurrence reads token + σ·ε; the token returned is the one generated."""
    net = make_network()
    sampler = StreamingSampler(net, nfe=3, solver=flow_euler_solve, context_noise=0.1)
    sampler.reset(4)
    generator = torch.Generator().manual_seed(0)
    tokens = [sampler.step(generator=generator) for _ in range(3)]
    replay = torch.Generator().manual_seed(0)
    context, previous, state = torch.zeros(4, 2), torch.zeros(4, 2), None
    for j in range(3):
        noise = torch.randn(4, 2, generator=replay)
        with torch.no_grad():
            c, state = net.encode_step(context, previous, j, state)
            y = flow_euler_solve(lambda z, a, b: net.velocity(c, z, a, b), noise, 3)
        token = net.token_space.decode_step(y, context, torch.full((4,), j == 0))
        assert torch.allclose(tokens[j], token, atol=1e-6)
        previous, context = context, token + 0.1 * torch.randn(4, 2, generator=replay)
    quiet = rollout(net, 4, 3, 3, generator=torch.Generator().manual_seed(0),
                    solver=flow_euler_solve)
    assert not torch.allclose(quiet, torch.stack(tokens, 1))


@pytest.mark.parametrize("context_noise", [0.0, 0.05])
def test_pyramid_of_one_token_is_the_autoregressive_sampler(context_noise: float) -> None:
    net = make_network()
    kwargs = dict(batch_size=3, context_noise=context_noise)
    auto = rollout(net, 5, 9, 4, generator=torch.Generator().manual_seed(1),
                   solver=flow_euler_solve, **kwargs)
    pyramid = pyramid_rollout(net, 5, 9, 4, 1, generator=torch.Generator().manual_seed(1), **kwargs)
    assert torch.allclose(auto, pyramid, atol=1e-6)


def test_pyramid_with_one_step_is_the_autoregressive_sampler() -> None:
    """K = 1: token i takes its only step at row i, after token i − 1 is final."""
    net = make_network()
    noise = torch.randn(5, 3, 2)
    with torch.no_grad():
        tokens, *_ = pyramid_chunk(net, noise, torch.zeros_like(noise), 1, 0, None,
                                   torch.zeros(3, 2), torch.zeros(3, 2))
    sampler = StreamingSampler(net, nfe=1, solver=flow_euler_solve)
    sampler.reset(3)
    expected = torch.stack([sampler.step(noise[i]) for i in range(5)])
    assert torch.allclose(tokens, expected, atol=1e-6)


def test_pyramid_costs_k_head_calls_and_k_recurrent_steps_per_token() -> None:
    net = make_network()
    calls = {"head": 0, "recurrence": 0}
    velocity, encode_step = net.velocity, net.encode_step

    def counted_velocity(*args):
        calls["head"] += 1
        return velocity(*args)

    def counted_encode_step(*args):
        calls["recurrence"] += 1
        return encode_step(*args)

    net.velocity, net.encode_step = counted_velocity, counted_encode_step
    out = pyramid_rollout(net, 4, 10, 3, 4, generator=torch.Generator().manual_seed(2),
                          context_noise=0.02)
    assert out.shape == (4, 10, 2) and torch.isfinite(out).all()
    assert calls == {"head": 30, "recurrence": 30}
    again = pyramid_rollout(net, 4, 10, 3, 4, generator=torch.Generator().manual_seed(2),
                            context_noise=0.02)
    assert torch.equal(out, again)


def make_algorithm(schedule: str = "autoregressive") -> DiffusionForcing:
    cfg = OmegaConf.create({
        "name": "diffusion_forcing", "token_space": "relative",
        "context": {"corruption": "gaussian", "noise_max": 0.05, "features": ["position", "delta"]},
        "backbone": {"name": "mingru", "hidden_size": 12, "num_layers": 1, "dropout": 0.0},
        "head": {"width": 16, "depth": 1, "time_dim": 8, "prediction": "endpoint"},
        "time_sampler": {"kind": "uniform"},
        "sampling": {"schedule": schedule, "chunk": 3, "stabilization_noise": 0.02},
        "ema": {"decay": None},
    })
    optim = OmegaConf.create({"lr": 1e-3})
    torch.manual_seed(0)
    return DiffusionForcing(cfg, optim, 2, STATS)


def test_loss_is_plain_flow_matching_and_trains_everything() -> None:
    algo = make_algorithm()
    x = torch.randn(3, 8, 2)
    loss, parts = algo.training_loss(algo.network, x)
    assert set(parts) == {"flow"} and torch.equal(loss.detach(), parts["flow"])
    loss.backward()
    for name, p in algo.network.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("schedule", ["autoregressive", "pyramid"])
def test_generate_uses_the_configured_schedule(schedule: str) -> None:
    algo = make_algorithm(schedule)
    samples = algo.generate(5, 7, nfe=2, seed=3)
    assert samples.shape == (5, 7, 2) and torch.isfinite(samples).all()
    assert torch.equal(samples, algo.generate(5, 7, nfe=2, seed=3))


def test_shipped_config_is_valid() -> None:
    check_config("algorithm=diffusion_forcing")
    check_config("algorithm=diffusion_forcing", "algorithm.backbone.name=selective_ssm",
                 "algorithm.sampling.schedule=pyramid")


@pytest.mark.parametrize("override,message", [
    ("algorithm.sampling.stabilization_noise=-1",
     "algorithm.sampling.stabilization_noise=-1: must be a non-negative number"),
    ("algorithm.sampling.schedule=zigzag", "algorithm.sampling.schedule=zigzag: must be one of"),
    ("algorithm.sampling.chunk=0", "algorithm.sampling.chunk=0: must be a positive integer"),
    ("algorithm.time_sampler.kind=beta", "algorithm.time_sampler.kind=beta"),
    ("algorithm.context.corruption=surrogate", "algorithm.context.corruption=surrogate"),
    ("algorithm.backbone.name=transformer", "algorithm.backbone.name=transformer: must be one of"),
])
def test_bad_values_name_their_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        check_config("algorithm=diffusion_forcing", override)
    assert message in str(error.value) and "\n" not in str(error.value)
