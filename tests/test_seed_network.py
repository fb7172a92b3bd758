"""The first seed's architecture (`algorithm.network.kind=seed`) without Lightning: the noisy
token enters the recurrence, every loss pass reruns it, and generation carries its state."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from algorithms.flow_forcing.shortcut_loss import shortcut_flow_loss
from algorithms.flow_forcing.time_sampler import sample_times
from algorithms.generation.sampler import StreamingSampler, rollout
from algorithms.generation.solvers import euler_solve
from algorithms.networks.backbones import BACKBONES
from algorithms.networks.build import build_network
from algorithms.networks.context import shift_right
from algorithms.networks.flow_network import FlowNetwork
from algorithms.networks.seed_network import SeedFlowNetwork
from tests.test_config_checks import check as check_config
from tests.test_network_and_sampler import STATS
from utils.config_checks import ConfigError


def make_network(kind: str = "seed", backbone: str = "gru", token_space: str = "absolute"):
    cfg = OmegaConf.create({
        "network": {"kind": kind}, "token_space": token_space,
        "context": {"features": ["position", "delta"]},
        "backbone": {"name": backbone, "hidden_size": 12, "num_layers": 2, "dropout": 0.0},
        "head": {"width": 16, "depth": 1, "time_dim": 8, "prediction": "endpoint"},
    })
    torch.manual_seed(0)
    return build_network(cfg, 2, STATS).eval()


def test_kind_picks_the_network() -> None:
    assert isinstance(make_network("seed"), SeedFlowNetwork)
    assert isinstance(make_network("split"), FlowNetwork)
    with pytest.raises(ValueError, match="unknown network kind"):
        make_network("transformer")


def count_recurrence_calls(network) -> list[int]:
    calls = [0]
    sequence = network.backbone.sequence

    def counted(inputs: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        return sequence(inputs)

    network.backbone.sequence = counted
    return calls


@pytest.mark.parametrize("kind,expected", [("seed", 4), ("split", 1)])
def test_the_shortcut_loss_reruns_the_seed_recurrence_per_pass(kind: str, expected: int) -> None:
    network = make_network(kind)
    calls = count_recurrence_calls(network)
    x, e = torch.randn(2, 6, 2), torch.randn(2, 6, 2)
    context = shift_right(x)
    h = network.encode(context)
    shortcut_flow_loss(lambda z, a, b: network.velocity(h, z, a, b),
                       network.token_space.encode(x, context), e, sample_times((2, 6)))
    assert calls[0] == expected


def test_the_noisy_token_reaches_later_tokens() -> None:
    """Seed: perturbing token j's noisy input moves every token from j on (the leak a JVP
    would see). Split: only token j moves."""
    z, t = torch.randn(2, 8, 2), torch.rand(2, 8)
    context = shift_right(torch.randn(2, 8, 2))
    for kind, moved in (("seed", [k >= 3 for k in range(8)]),
                        ("split", [k == 3 for k in range(8)])):
        network = make_network(kind)
        with torch.no_grad():
            h = network.encode(context)
            base = network.velocity(h, z, t, t + 0.1)
            z2 = z.clone()
            z2[:, 3] += 0.5
            changed = (network.velocity(h, z2, t, t + 0.1) - base).abs().amax(dim=(0, 2)) > 0
        assert changed.tolist() == moved, kind


@pytest.mark.parametrize("backbone", BACKBONES)
def test_step_mode_matches_sequence_mode(backbone: str) -> None:
    network = make_network(backbone=backbone)
    z, t0, t1 = torch.randn(3, 9, 2), torch.rand(3, 9), torch.rand(3, 9)
    context = shift_right(torch.randn(3, 9, 2))
    with torch.no_grad():
        whole = network.velocity(network.encode(context), z, t0, t1)
        state = None
        for j in range(9):
            previous = context[:, j - 1] if j >= 1 else torch.zeros(3, 2)
            c, state = network.encode_step(context[:, j], previous, j, state)
            v, state = network.velocity_step(c, z[:, j], t0[:, j], t1[:, j], state)
            assert torch.allclose(v, whole[:, j], atol=1e-5), (backbone, j)


@pytest.mark.parametrize("nfe", [1, 3])
def test_generation_carries_the_state_of_the_last_call(nfe: int) -> None:
    network = make_network()
    sampler = StreamingSampler(network, nfe)
    sampler.reset(4)
    context, previous, state = torch.zeros(4, 2), torch.zeros(4, 2), None
    for j in range(5):
        noise = torch.randn(4, 2)
        token = sampler.step(noise)
        with torch.no_grad():
            c, _ = network.encode_step(context, previous, j, None)
            z, start = noise, state
            for k in range(nfe):
                a, b = torch.full((4,), k / nfe), torch.full((4,), (k + 1) / nfe)
                v, state = network.velocity_step(c, z, a, b, start)
                z = z + v / nfe
        expected = network.token_space.decode_step(z, context, torch.full((4,), j == 0))
        assert torch.allclose(token, expected, atol=1e-6)
        previous, context = context, token
    out = rollout(network, 6, 20, nfe, batch_size=4, generator=torch.Generator().manual_seed(0))
    assert out.shape == (6, 20, 2) and torch.isfinite(out).all()


def test_the_solver_is_pluggable() -> None:
    """diffusion_forcing with the seed's network samples with its own solver."""
    network = make_network()
    seen = []

    def solver(velocity, z, nfe):
        seen.append(nfe)
        return euler_solve(velocity, z, nfe)

    sampler = StreamingSampler(network, 2, solver=solver)
    sampler.reset(3)
    sampler.step()
    assert seen == [2]


@pytest.mark.parametrize("algorithm", ["flow_forcing", "predictive", "diffusion_forcing"])
def test_seed_network_configs_are_valid(algorithm: str) -> None:
    check_config(f"algorithm={algorithm}", "algorithm.network.kind=seed", "algorithm.frame=global")


@pytest.mark.parametrize("overrides,message", [
    (["algorithm.network.kind=rnn"], "algorithm.network.kind=rnn: must be one of split, seed"),
    (["algorithm.network.kind=seed", "algorithm.frame=global", "algorithm.loss.objective=meanflow",
      "algorithm.head.time_scale=10"],
     "algorithm.loss.objective=meanflow: needs algorithm.network.kind=split"),
    (["algorithm=diffusion_forcing", "algorithm.network.kind=seed",
      "algorithm.sampling.schedule=pyramid"],
     "algorithm.sampling.schedule=pyramid: needs algorithm.network.kind=split"),
    (["algorithm.network.kind=seed", "algorithm.frame=global", "experiment.training.compile=true"],
     "algorithm.network.kind=seed: experiment.training.compile=true"),
])
def test_bad_combinations_name_their_key(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        check_config(*overrides)
    assert message in str(error.value) and "\n" not in str(error.value)
