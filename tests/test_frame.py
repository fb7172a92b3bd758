"""The moving frame (algorithms/networks/frame.py), without Lightning: exact rotation and
translation equivariance at one network evaluation, step mode = sequence mode, the token
space's inverse, the default left alone, and the data's declared symmetries."""

from __future__ import annotations

import math

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from algorithms.generation.sampler import StreamingSampler, rollout
from algorithms.networks.build import build_network
from algorithms.networks.context import shift_right
from algorithms.networks.flow_network import FlowNetwork
from algorithms.networks.frame import HeadingFlowNetwork, from_frame, heading, to_frame
from datasets import DATASET_REGISTRY
from datasets.base import SequenceDataModule
from experiments import command_line as main
from experiments.components import resolve_auto as resolve_frame
from experiments.run_config import validate_config
from utils.config_checks import ConfigError


def composed(*overrides: str):
    with initialize_config_dir(str(main.CONFIG_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides))


STATS = {k: torch.tensor(v) for k, v in {
    "token_mean": [0.05, -0.02], "token_std": [1.4, 1.3], "first_mean": [0.1, -0.1],
    "first_std": [1.5, 1.4], "step_mean": [0.001, -0.002], "step_std": [0.07, 0.072]}.items()}


def network(seed: int = 0, **overrides) -> HeadingFlowNetwork:
    cfg = OmegaConf.load(main.CONFIG_DIR / "algorithm" / "flow_forcing.yaml")
    cfg.frame = "heading"
    cfg.backbone.hidden_size, cfg.head.width, cfg.head.time_dim = 32, 32, 16
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value)
    torch.manual_seed(seed)
    net = build_network(cfg, 2, STATS).double().eval()
    # Non-trivial weights everywhere (a fresh LayerNorm/bias is too symmetric to test much).
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return net


def arcs(b: int, t: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    angle = 2 * math.pi * torch.rand(b, 1, generator=g) + 0.1 * torch.arange(t)
    centre = 4 * torch.rand(b, 1, 2, generator=g) - 2
    x = centre + torch.stack([angle.cos(), angle.sin()], -1)
    return (x + 0.02 * torch.randn(x.shape, generator=g)).double()


def rotation(angle: float) -> torch.Tensor:
    return torch.tensor([[math.cos(angle), -math.sin(angle)],
                         [math.sin(angle), math.cos(angle)]], dtype=torch.float64)


def test_frame_rotations_are_inverse_and_orthogonal() -> None:
    g = torch.Generator().manual_seed(0)
    v, d = torch.randn(50, 2, generator=g), torch.randn(50, 2, generator=g)
    u = heading(d)
    assert torch.allclose(u.norm(dim=-1), torch.ones(50))
    assert torch.allclose(from_frame(to_frame(v, u), u), v, atol=1e-6)
    assert torch.allclose(to_frame(v, u).norm(dim=-1), v.norm(dim=-1), atol=1e-6)
    assert torch.allclose(to_frame(d, u)[:, 1], torch.zeros(50), atol=1e-6)  # d is the 1st axis
    assert torch.equal(heading(torch.zeros(3, 2)), torch.tensor([[1.0, 0.0]] * 3))


def test_token_space_inverse_in_sequence_and_step_mode() -> None:
    net = network()
    x = arcs(6, 12)
    context = shift_right(x)
    y = net.token_space.encode(x, context)
    assert torch.allclose(net.token_space.decode(y, context), x, atol=1e-12)
    for j in range(12):
        previous = context[:, j - 1] if j else torch.zeros_like(context[:, 0])
        y_j = net.token_space.encode_step(x[:, j], context[:, j], previous, j)
        assert torch.allclose(y_j, y[:, j], atol=1e-12)
        assert torch.allclose(net.decode_token(y_j, context[:, j], previous, j), x[:, j],
                              atol=1e-12)
    # On a clean circle, the output from token 2 on is the step turned by ω·dt, of length ~1.
    turned = y[:, 2:]
    assert torch.allclose(turned.norm(dim=-1), torch.ones_like(turned[..., 0]), atol=0.7)


def test_step_mode_matches_sequence_mode() -> None:
    net = network()
    x = arcs(5, 10)
    context = shift_right(x)
    whole = net.encode(context)
    state = None
    for j in range(10):
        previous = context[:, j - 1] if j else torch.zeros_like(context[:, 0])
        c, state = net.encode_step(context[:, j], previous, j, state)
        assert torch.allclose(c, whole[:, j], atol=1e-10), j


def forced_stream(net, x: torch.Tensor, noise: torch.Tensor, nfe: int = 1) -> torch.Tensor:
    """Run the StreamingSampler with the context forced to x (teacher forcing) and the given
    noise `[B, T, 2]`; returns the token it generated at each index."""
    sampler = StreamingSampler(net, nfe=nfe)
    sampler.reset(x.shape[0], dtype=x.dtype)
    out = []
    for j in range(x.shape[1]):
        out.append(sampler.step(noise=noise[:, j]))
        sampler.context = x[:, j]  # what the stream shows next: the given token
    return torch.stack(out, 1)


@pytest.mark.parametrize("nfe", [1, 3])
def test_sampler_is_rotation_and_translation_equivariant(nfe: int) -> None:
    net = network()
    g = torch.Generator().manual_seed(3)
    x = arcs(8, 16)
    noise = torch.randn(x.shape, generator=g, dtype=x.dtype)
    q, b = rotation(2.3), torch.tensor([3.0, -1.5], dtype=torch.float64)
    tokens = forced_stream(net, x, noise, nfe)
    moved = forced_stream(net, x @ q.T + b, noise @ q.T, nfe)
    # From token 2 on (the start is drawn in the global frame on purpose): exact up to float error.
    assert torch.allclose(moved[:, 2:], tokens[:, 2:] @ q.T + b, atol=1e-10)
    # ... and the start is not equivariant (token 0 is an absolute position).
    assert not torch.allclose(moved[:, 0], tokens[:, 0] @ q.T + b, atol=1e-3)
    # The conditioning from token 2 on is invariant.
    c, c_moved = net.encode(shift_right(x)), net.encode(shift_right(x @ q.T + b))
    assert torch.allclose(c[:, 2:], c_moved[:, 2:], atol=1e-10)


def test_free_rollout_is_equivariant_after_the_first_two_tokens() -> None:
    """A free-running stream, started from the rotated first two tokens with rotated noise,
    stays the rotated stream. In float64: this random network's free dynamics amplify rounding,
    so float32 streams part after some tokens, and differently with the thread count."""
    net = network()
    g = torch.Generator().manual_seed(5)
    n, horizon = 6, 40
    noise = torch.randn(n, horizon, 2, generator=g, dtype=torch.float64)
    q, b = rotation(-0.7), torch.tensor([-2.0, 1.0], dtype=torch.float64)
    first, moved = StreamingSampler(net), StreamingSampler(net)
    first.reset(n, dtype=torch.float64)
    moved.reset(n, dtype=torch.float64)
    a_out, m_out = [], []
    for j in range(horizon):
        a_out.append(first.step(noise=noise[:, j]))
        m_out.append(moved.step(noise=noise[:, j] @ q.T))
        if j < 2:  # force the start, which the model draws in the global frame
            m_out[-1] = a_out[-1] @ q.T + b
            moved.context = m_out[-1]
    a, m = torch.stack(a_out, 1), torch.stack(m_out, 1)
    assert torch.allclose(m, a @ q.T + b, atol=1e-8)


def test_noise_scale_keeps_equivariance_and_zero_ignores_the_noise() -> None:
    net = network(frame_noise_scale=0.5)
    g = torch.Generator().manual_seed(4)
    x = arcs(6, 10)
    noise = torch.randn(x.shape, generator=g, dtype=x.dtype)
    q, b = rotation(0.9), torch.tensor([1.0, 2.0], dtype=torch.float64)
    tokens = forced_stream(net, x, noise)
    assert torch.allclose(forced_stream(net, x @ q.T + b, noise @ q.T)[:, 2:],
                          tokens[:, 2:] @ q.T + b, atol=1e-10)
    still = network(frame_noise_scale=0.0)
    other = torch.randn(x.shape, generator=g, dtype=x.dtype)
    a, c = forced_stream(still, x, noise), forced_stream(still, x, other)
    assert torch.equal(a[:, 2:], c[:, 2:]) and not torch.allclose(a[:, :2], c[:, :2])


def test_frame_start_none_has_no_start_layer_and_position_does() -> None:
    assert network(frame_start="none").start is None
    assert network().start is not None


def test_heading_rollout_and_training_loss_run() -> None:
    from algorithms.flow_forcing.module import OneStepDiffusionForcing
    from experiments.components import resolve_auto

    cfg = composed("algorithm.frame=heading", "algorithm.backbone.hidden_size=16",
                   "algorithm.head.width=16", "algorithm.head.time_dim=8")
    resolve_auto(cfg)  # as every run does: `auto` choices become the dataset's values
    model = OneStepDiffusionForcing(cfg.algorithm, cfg.experiment.training, 2, STATS)
    assert isinstance(model.network, HeadingFlowNetwork)
    loss, _ = model.training_loss(model.network, arcs(4, 12).float())
    loss.backward()
    assert torch.isfinite(loss)
    out = rollout(model.network, 4, 30, nfe=2, generator=torch.Generator().manual_seed(0))
    assert out.shape == (4, 30, 2) and torch.isfinite(out).all()


def test_default_network_is_unchanged() -> None:
    """No frame key (an old config) and frame=global build the same network, same draws."""
    cfg = composed("algorithm.frame=global").algorithm
    old = OmegaConf.create(OmegaConf.to_container(cfg))
    del old["frame"], old["frame_start"], old["frame_noise_scale"]
    nets = []
    for c in (cfg, old):
        torch.manual_seed(0)
        nets.append(build_network(c, 2, STATS))
    assert type(nets[0]) is FlowNetwork and not hasattr(nets[0], "frame")
    a, b = nets[0].state_dict(), nets[1].state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_circular_arcs_declare_rotation_and_translation() -> None:
    cfg = composed()
    data = DATASET_REGISTRY["circular_arcs"](cfg.dataset, seed=0, batch_size=4, max_steps=1)
    assert data.symmetries == {"rotation", "translation"}
    assert SequenceDataModule.SYMMETRIES == frozenset()
    validate_config(composed("algorithm.frame=heading"))
    validate_config(composed("algorithm=predictive", "algorithm.frame=heading"))


def test_heading_frame_refused_on_data_without_rotation(monkeypatch) -> None:
    class Plain(DATASET_REGISTRY["circular_arcs"]):
        SYMMETRIES = frozenset({"translation"})

    monkeypatch.setitem(DATASET_REGISTRY, "circular_arcs", Plain)
    validate_config(composed())  # the default (frame=auto: here global) still passes
    cfg = composed()
    resolve_frame(cfg)
    assert cfg.algorithm.frame == "global"
    with pytest.raises(ConfigError) as error:
        validate_config(composed("algorithm.frame=heading"))
    message = str(error.value)
    assert message.startswith("algorithm.frame=heading: dataset circular_arcs does not declare")
    assert "rotation" in message and "translation" not in message.split("(")[1]
    assert "\n" not in message


@pytest.mark.parametrize("overrides,message", [
    (["algorithm.frame=polar"], "algorithm.frame=polar: must be one of"),
    (["algorithm.frame=heading", "algorithm.token_space=absolute"],
     "algorithm.frame=heading: needs algorithm.token_space=relative"),
    (["algorithm.frame=heading", "algorithm.network.kind=seed"],
     "algorithm.frame=heading: needs algorithm.network.kind=split"),
    (["algorithm.frame_start=first"], "algorithm.frame_start=first: must be one of"),
    (["algorithm.frame_noise_scale=-1"], "algorithm.frame_noise_scale=-1: must be a non-negative"),
    (["algorithm=diffusion_forcing", "algorithm.frame=heading", "algorithm.sampling.schedule=pyramid"],
     "the pyramid schedule has no moving frame"),
])
def test_bad_frame_configs(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate_config(composed(*overrides))
    assert message in str(error.value)


def test_diffusion_forcing_samples_in_the_moving_frame() -> None:
    """Diffusion Forcing's autoregressive sampler (K flow Euler steps, stabilisation noise) runs
    through the same StreamingSampler, so the moving frame and its equivariance carry over."""
    from algorithms.generation.solvers import flow_euler_solve

    validate_config(composed("algorithm=diffusion_forcing", "algorithm.frame=heading"))
    net = network()
    x, g = arcs(4, 10), torch.Generator().manual_seed(5)
    noise = torch.randn(x.shape, generator=g, dtype=x.dtype)
    q, b = rotation(-0.7), torch.tensor([1.0, 2.0], dtype=torch.float64)

    def stream(x, noise):
        sampler = StreamingSampler(net, nfe=4, solver=flow_euler_solve)
        sampler.reset(x.shape[0], dtype=x.dtype)
        out = []
        for j in range(x.shape[1]):
            out.append(sampler.step(noise=noise[:, j]))
            sampler.context = x[:, j]
        return torch.stack(out, 1)

    assert torch.allclose(stream(x @ q.T + b, noise @ q.T)[:, 2:], stream(x, noise)[:, 2:] @ q.T + b,
                          atol=1e-10)


@pytest.mark.parametrize("overrides,frame", [
    ([], "heading"),                                    # the arcs declare both symmetries
    (["algorithm.frame=global"], "global"),
    (["algorithm.network.kind=seed"], "global"),        # the seed's network has no moving frame
    (["algorithm.token_space=absolute"], "global"),
    (["algorithm=flow_forcing_seed"], "global"),
    (["algorithm=diffusion_forcing", "algorithm.frame=auto"], "heading"),
    (["algorithm=diffusion_forcing", "algorithm.frame=auto", "algorithm.sampling.schedule=pyramid"],
     "global"),
])
def test_auto_frame_is_heading_where_data_and_model_allow(overrides: list[str], frame: str) -> None:
    cfg = composed(*overrides)
    validate_config(cfg)
    resolve_frame(cfg)
    assert cfg.algorithm.frame == frame
