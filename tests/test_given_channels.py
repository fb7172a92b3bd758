"""Given channels and generation from a real context, in every algorithm, without Lightning's
Trainer: given channels come back exactly as given and are read by the network; a real context
sets the recurrence exactly where teacher forcing on the same tokens puts it."""

from __future__ import annotations

import pytest
import torch

from algorithms import ALGORITHM_REGISTRY
from algorithms.generation.sampler import StreamingSampler, rollout
from algorithms.networks.context import shift_right
from benchmarks.recipes import compose

G, C = 2, 2  # generated and given channels
STATS = {
    "token_mean": torch.tensor([0.1, -0.2]), "token_std": torch.tensor([1.3, 1.4]),
    "first_mean": torch.tensor([0.0, 0.1]), "first_std": torch.tensor([1.2, 1.1]),
    "step_mean": torch.tensor([0.01, 0.0]), "step_std": torch.tensor([0.07, 0.08]),
    "given_mean": torch.tensor([15.0, 0.5]), "given_std": torch.tensor([5.0, 0.5]),
}
SMALL = ("algorithm.backbone.hidden_size=12", "algorithm.head.width=16",
         "algorithm.head.time_dim=8")
ALGORITHMS = {
    "one_step": ("algorithm=flow_forcing",),
    "meanflow": ("algorithm=meanflow",),
    "df_autoregressive": ("algorithm=diffusion_forcing",),
    "df_pyramid": ("algorithm=diffusion_forcing", "algorithm.sampling.schedule=pyramid",
                   "algorithm.sampling.chunk=3"),
    "predictive": ("algorithm=predictive",),
}


def build(name: str, stats: dict[str, torch.Tensor] = STATS):
    """The algorithm at a small size, on data with G generated and C given channels."""
    cfg = compose("dataset=elecdemand", *ALGORITHMS[name], *SMALL)
    torch.manual_seed(0)
    algo = ALGORITHM_REGISTRY[cfg.algorithm.name](cfg.algorithm, cfg.experiment.training, G, stats)
    return algo.eval()


def given_sequence(num: int, horizon: int) -> torch.Tensor:
    """Plausible covariates `[num, horizon, C]`: a temperature and a 0/1 flag."""
    temperature = 15 + 5 * torch.randn(num, horizon, 1)
    flag = (torch.rand(num, horizon, 1) > 0.5).float()
    return torch.cat([temperature, flag], dim=-1)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_given_channels_come_back_exactly_and_change_the_samples(name: str) -> None:
    algo = build(name)
    given = given_sequence(5, 7)
    nfe = 2 if name.startswith("df") else 1
    samples = algo.generate(5, 7, nfe, seed=3, given=given)
    assert samples.shape == (5, 7, G + C)
    assert torch.equal(samples[..., G:], given)  # bit for bit: never generated
    again = algo.generate(5, 7, nfe, seed=3, given=given)
    assert torch.equal(samples, again)
    other = given.clone()
    other[:, 2:, 0] += 10.0  # a warmer future from token 2 on
    changed = algo.generate(5, 7, nfe, seed=3, given=other)
    assert torch.equal(changed[:, :2, :G], samples[:, :2, :G])  # the past cannot see the future
    assert not torch.allclose(changed[:, 2:, :G], samples[:, 2:, :G])  # the network reads them


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_training_loss_reads_the_given_channels(name: str) -> None:
    algo = build(name)
    batch = torch.cat([torch.randn(4, 9, G), given_sequence(4, 9)], dim=-1)
    torch.manual_seed(1)
    loss, _ = algo.batch_loss(algo.network, batch)
    shifted = batch.clone()
    shifted[..., G] += 10.0
    torch.manual_seed(1)
    other, _ = algo.batch_loss(algo.network, shifted)
    assert torch.isfinite(loss) and loss.item() != other.item()
    loss.backward()
    assert all(p.grad is not None for p in algo.network.parameters() if p.requires_grad)


def test_missing_or_unexpected_given_channels_are_refused() -> None:
    algo = build("one_step")
    with pytest.raises(ValueError, match="2 given channels"):
        algo.generate(3, 4)
    with pytest.raises(ValueError, match="2 given channels"):
        algo.generate(3, 4, given=torch.zeros(3, 5, C))  # one token too many
    plain = build("one_step", {k: v for k, v in STATS.items() if not k.startswith("given")})
    with pytest.raises(ValueError, match="reads none"):
        plain.generate(3, 4, given=torch.zeros(3, 4, C))


@pytest.mark.parametrize("name", ["one_step", "df_autoregressive", "predictive"])
def test_a_real_context_puts_the_recurrence_where_teacher_forcing_does(name: str) -> None:
    """After observing tokens 0..N−1, the conditioning of token N is that of the sequence encode
    of the same tokens (the training path): warm-up and teacher forcing agree."""
    algo = build(name)
    network = algo.network
    real = torch.cat([torch.randn(3, 6, G), given_sequence(3, 6)], dim=-1)
    N = 5
    sampler = StreamingSampler(network)
    sampler.reset(3)
    for j in range(N):
        sampler.observe(real[:, j, :G], real[:, j, G:])
    c_stream, _ = sampler._encode(real[:, N, G:])
    c_sequence = network.encode(shift_right(real[..., :G]), None, real[..., G:])[:, N]
    assert torch.allclose(c_stream, c_sequence, atol=1e-5)
    # ... and the token generated next decodes from the last real token (relative token space)
    noise = torch.randn(3, G)
    token = sampler.step(noise=noise, given=real[:, N, G:])
    first = torch.zeros(3, dtype=torch.bool)
    expected_y, _ = network.solve_step(c_sequence, noise, sampler.solver, 1, None)
    expected = network.token_space.decode_step(expected_y, real[:, N - 1, :G], first)
    assert torch.allclose(token, expected, atol=1e-5)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_generation_continues_its_context(name: str) -> None:
    algo = build(name)
    real = torch.cat([torch.cumsum(0.05 * torch.randn(4, 9, G), 1), given_sequence(4, 9)], -1)
    nfe = 2 if name.startswith("df") else 1
    out = algo.generate(4, 3, nfe, seed=0, context=real[:, :6], given=real[:, 6:, G:])
    assert out.shape == (4, 3, G + C) and torch.equal(out[..., G:], real[:, 6:, G:])
    moved = real.clone()
    moved[:, :6, :G] += 5.0  # the same past, elsewhere
    out_moved = algo.generate(4, 3, nfe, seed=0, context=moved[:, :6], given=real[:, 6:, G:])
    assert not torch.allclose(out_moved[..., :G], out[..., :G])
    with pytest.raises(ValueError, match="context must be"):
        algo.generate(4, 3, nfe, context=real[:, :6, :G], given=real[:, 6:, G:])


def test_pyramid_of_chunk_one_equals_autoregressive_from_a_context() -> None:
    """The pyramid schedule warms up like the streaming sampler: a chunk of 1 gives the same
    tokens as the autoregressive sampler, context and given channels included."""
    from algorithms.diffusion_forcing.sampling import pyramid_rollout
    from algorithms.generation.solvers import flow_euler_solve

    network = build("df_autoregressive").network
    real = torch.cat([torch.randn(3, 8, G), given_sequence(3, 8)], dim=-1)
    kwargs = {"context": real[:, :4], "given": real[:, 4:, G:]}
    a = rollout(network, 3, 4, 3, generator=torch.Generator().manual_seed(0),
                solver=flow_euler_solve, **kwargs)
    b = pyramid_rollout(network, 3, 4, 3, 1, generator=torch.Generator().manual_seed(0), **kwargs)
    assert torch.allclose(a, b, atol=1e-5)


def test_the_seed_network_refuses_a_real_context() -> None:
    cfg = compose("dataset=elecdemand", "algorithm=flow_forcing_seed", *SMALL)
    stats = {k: v for k, v in STATS.items() if not k.startswith("given")}
    algo = ALGORITHM_REGISTRY[cfg.algorithm.name](cfg.algorithm, cfg.experiment.training, G, stats)
    with pytest.raises(ValueError, match="cannot read a real context"):
        algo.generate(2, 3, context=torch.zeros(2, 4, G))
    with pytest.raises(ValueError, match="given channels"):
        ALGORITHM_REGISTRY[cfg.algorithm.name](cfg.algorithm, cfg.experiment.training, G, STATS)
