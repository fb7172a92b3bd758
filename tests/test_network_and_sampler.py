"""Network, token space and samplers on analytic cases (no Lightning)."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from algorithms.generation.sampler import StreamingSampler, rollout
from algorithms.generation.solvers import euler_solve
from algorithms.networks.backbones import BACKBONES
from algorithms.networks.context import ContextFeatures, shift_right
from algorithms.networks.flow_network import FlowNetwork
from algorithms.networks.token_space import TokenSpace

STATS = {
    "token_mean": torch.tensor([0.1, -0.2]), "token_std": torch.tensor([1.3, 1.4]),
    "first_mean": torch.tensor([0.0, 0.1]), "first_std": torch.tensor([1.2, 1.1]),
    "step_mean": torch.tensor([0.01, 0.0]), "step_std": torch.tensor([0.07, 0.08]),
}


def make_network(backbone: str = "gru", token_space: str = "relative",
                 prediction: str = "endpoint") -> FlowNetwork:
    cfg = OmegaConf.create({
        "token_space": token_space,
        "context": {"features": ["position", "delta"]},
        "backbone": {"name": backbone, "hidden_size": 12, "num_layers": 2, "dropout": 0.0},
        "head": {"width": 16, "depth": 2, "time_dim": 8, "prediction": prediction},
    })
    torch.manual_seed(0)
    return FlowNetwork(cfg, 2, STATS).eval()


@pytest.mark.parametrize("kind", ["absolute", "relative"])
def test_token_space_round_trip(kind: str) -> None:
    space = TokenSpace(kind, STATS)
    x = torch.randn(3, 9, 2)
    context = shift_right(x + 0.01 * torch.randn_like(x))
    assert torch.allclose(space.decode(space.encode(x, context), context), x, atol=1e-6)


def test_relative_tokens_are_steps_from_the_context() -> None:
    space = TokenSpace("relative", STATS)
    x = torch.randn(2, 5, 2)
    y = space.encode(x, shift_right(x))
    assert torch.allclose(y[:, 0], (x[:, 0] - STATS["first_mean"]) / STATS["first_std"])
    steps = (x[:, 1:] - x[:, :-1] - STATS["step_mean"]) / STATS["step_std"]
    assert torch.allclose(y[:, 1:], steps, atol=1e-5)


def test_context_features_sequence_matches_steps() -> None:
    features = ContextFeatures(["position", "delta"], 2, STATS)
    context = shift_right(torch.randn(3, 6, 2))
    seq = features.sequence(context)
    assert seq.shape == (3, 6, features.size)
    for j in range(6):
        previous = context[:, j - 1] if j >= 1 else torch.zeros(3, 2)
        assert torch.allclose(features.step(context[:, j], previous, j), seq[:, j], atol=1e-6)
    assert (seq[:, 0] == 0).all(), "token 0 has no context"


@pytest.mark.parametrize("backbone", BACKBONES)
def test_step_mode_matches_sequence_mode(backbone: str) -> None:
    """Generation (one token at a time, carried state) sees what training (whole sequence) sees."""
    net = make_network(backbone)
    x = torch.randn(4, 10, 2)
    context = shift_right(x)
    with torch.no_grad():
        whole = net.encode(context)
        state = None
        for j in range(10):
            previous = context[:, j - 1] if j >= 1 else torch.zeros(4, 2)
            c, state = net.encode_step(context[:, j], previous, j, state)
            assert torch.allclose(c, whole[:, j], atol=1e-5)


def test_euler_lands_on_the_target_of_a_straight_field() -> None:
    target = torch.randn(6, 2)
    z = torch.randn(6, 2)
    for nfe in (1, 3, 8):
        out = euler_solve(lambda zz, a, b: (target - zz) / (1 - a).unsqueeze(-1), z, nfe)
        assert torch.allclose(out, target, atol=1e-5)


def test_euler_on_a_linear_field_is_exact_euler() -> None:
    """dz/dt = −z: K Euler steps multiply by (1 − 1/K)^K."""
    z = torch.randn(5, 2)
    for nfe in (1, 2, 4, 10):
        out = euler_solve(lambda zz, a, b: -zz, z, nfe)
        assert torch.allclose(out, z * (1 - 1 / nfe) ** nfe, atol=1e-6)
    with pytest.raises(ValueError):
        euler_solve(lambda zz, a, b: zz, z, 0)


@pytest.mark.parametrize("token_space", ["absolute", "relative"])
def test_one_nfe_sample_is_the_network_endpoint(token_space: str) -> None:
    net = make_network(token_space=token_space)
    sampler = StreamingSampler(net, nfe=1)
    sampler.reset(5)
    tokens, contexts, previous = [], [torch.zeros(5, 2)], torch.zeros(5, 2)
    state = None
    for j in range(4):
        noise = torch.randn(5, 2)
        token = sampler.step(noise)
        # by hand: conditioning from the generated context, the raw head output at (0, 1)
        with torch.no_grad():
            c, state = net.encode_step(contexts[-1], previous, j, state)
            head = net.head
            x = c + head.embed_token(noise) + head.embed_start(torch.zeros(5)) \
                + head.embed_end(torch.ones(5))
            endpoint = head.out(head.blocks(x))
        first = torch.full((5,), j == 0)
        expected = net.token_space.decode_step(endpoint, contexts[-1], first)
        assert torch.allclose(token, expected, atol=1e-5)
        previous = contexts[-1]
        contexts.append(token)
        tokens.append(token)


def test_k_step_sampler_is_euler_through_the_head() -> None:
    net = make_network(prediction="velocity")
    sampler = StreamingSampler(net, nfe=4)
    sampler.reset(3)
    noise = torch.randn(3, 2)
    token = sampler.step(noise)
    with torch.no_grad():
        c, _ = net.encode_step(torch.zeros(3, 2), torch.zeros(3, 2), 0, None)
        y = euler_solve(lambda z, a, b: net.velocity(c, z, a, b), noise, 4)
    expected = net.token_space.decode_step(y, torch.zeros(3, 2), torch.ones(3, dtype=torch.bool))
    assert torch.allclose(token, expected, atol=1e-6)


def test_rollout_shape_batches_and_reproducibility() -> None:
    net = make_network()
    a = rollout(net, 10, 30, nfe=2, batch_size=4, generator=torch.Generator().manual_seed(3))
    b = rollout(net, 10, 30, nfe=2, batch_size=4, generator=torch.Generator().manual_seed(3))
    assert a.shape == (10, 30, 2) and a.dtype == torch.float32
    assert torch.equal(a, b) and torch.isfinite(a).all()
    with pytest.raises(RuntimeError):
        StreamingSampler(net).step()
