"""Every backbone: the step mode (generation) computes what the sequence mode (training)
computes, and the state it carries has a fixed size (no Lightning)."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from algorithms.generation.sampler import StreamingSampler
from algorithms.networks.backbones import BACKBONES, build_backbone, state_numel
from algorithms.networks.build import build_network
from algorithms.networks.min_rnn import log_space_scan
from tests.test_network_and_sampler import STATS


def make(name: str, num_layers: int = 2, dropout: float = 0.0) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_backbone(name, input_size=5, hidden_size=12, num_layers=num_layers,
                          dropout=dropout).eval()


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("name", BACKBONES)
def test_step_mode_matches_sequence_mode(name: str, num_layers: int) -> None:
    backbone = make(name, num_layers)
    torch.manual_seed(1)
    inputs = 2 * torch.randn(3, 17, 5)
    with torch.no_grad():
        whole = backbone.sequence(inputs)
        assert whole.shape == (3, 17, 12)
        state = None
        for t in range(17):
            out, state = backbone.step(inputs[:, t], state)
            assert torch.allclose(out, whole[:, t], atol=1e-5, rtol=1e-4), (name, t)


@pytest.mark.parametrize("name", BACKBONES)
def test_carried_state_does_not_grow_with_the_horizon(name: str) -> None:
    backbone = make(name)
    with torch.no_grad():
        _, state = backbone.step(torch.randn(4, 5), None)
        size = state_numel(state)
        for _ in range(200):
            _, state = backbone.step(torch.randn(4, 5), state)
    assert state_numel(state) == size
    assert size <= 4 * 2 * 12 * 64, "a few vectors per layer, nothing per token"


@pytest.mark.parametrize("name", BACKBONES)
def test_sequence_mode_trains(name: str) -> None:
    """Gradients reach every parameter and are finite (dropout on, two layers)."""
    backbone = make(name, dropout=0.1).train()
    backbone.sequence(torch.randn(2, 9, 5)).square().mean().backward()
    for pname, p in backbone.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


def test_log_space_scan_is_the_linear_recurrence() -> None:
    torch.manual_seed(0)
    a, b = torch.rand(2, 30, 4) * 0.99 + 0.005, torch.rand(2, 30, 4) + 0.01
    h, expected = torch.zeros(2, 4), []
    for t in range(30):
        h = a[:, t] * h + b[:, t]
        expected.append(h)
    assert torch.allclose(log_space_scan(a.log(), b.log()), torch.stack(expected, 1), rtol=1e-4)


def test_unknown_backbone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("transformer", 5, 12, 1, 0.0)


@pytest.mark.parametrize("kind", ["split", "seed"])
@pytest.mark.parametrize("name", BACKBONES)
def test_generation_holds_a_fixed_size_state(name: str, kind: str) -> None:
    """What a generation stream holds between tokens (recurrent state, context, previous token)
    is the same size after 3 tokens as after 150."""
    cfg = OmegaConf.create({
        "network": {"kind": kind}, "token_space": "relative",
        "context": {"features": ["position", "delta"]},
        "backbone": {"name": name, "hidden_size": 12, "num_layers": 2, "dropout": 0.0},
        "head": {"width": 16, "depth": 1, "time_dim": 8, "prediction": "endpoint"},
    })
    torch.manual_seed(0)
    sampler = StreamingSampler(build_network(cfg, 2, STATS).eval(), nfe=2)
    sampler.reset(4)

    def held() -> int:
        return state_numel(sampler.state) + sampler.context.numel() + sampler.previous.numel()

    for _ in range(3):
        sampler.step()
    size = held()
    for _ in range(147):
        token = sampler.step()
    assert held() == size and torch.isfinite(token).all()


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("name", BACKBONES)
def test_scan_carries_the_state_across_a_split(name: str, num_layers: int) -> None:
    """scan over a sequence = scan over its first part, then over the rest from the state it
    returned (the burn-in's premise); that state is the one the step mode carries."""
    backbone = make(name, num_layers)
    torch.manual_seed(2)
    inputs = 2 * torch.randn(3, 17, 5)
    with torch.no_grad():
        whole = backbone.sequence(inputs)
        for split in (1, 2, 6, 16):
            first, state = backbone.scan(inputs[:, :split], None)
            rest, _ = backbone.scan(inputs[:, split:], state)
            assert torch.allclose(torch.cat([first, rest], 1), whole, atol=1e-5, rtol=1e-4)
            stepped = None
            for t in range(split):
                _, stepped = backbone.step(inputs[:, t], stepped)
            assert state_numel(stepped) == state_numel(state)
            out, _ = backbone.step(inputs[:, split], stepped)
            assert torch.allclose(out, whole[:, split], atol=1e-5, rtol=1e-4), (name, split)


def test_log_space_scan_from_a_carried_state() -> None:
    torch.manual_seed(0)
    a, b = torch.rand(2, 30, 4) * 0.99 + 0.005, torch.rand(2, 30, 4) + 0.01
    h0 = torch.rand(2, 4) + 0.1
    h, expected = h0, []
    for t in range(30):
        h = a[:, t] * h + b[:, t]
        expected.append(h)
    assert torch.allclose(log_space_scan(a.log(), b.log(), h0), torch.stack(expected, 1),
                          rtol=1e-4)
