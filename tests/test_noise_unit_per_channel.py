"""`algorithm.context.noise_unit=rms_step_per_channel` (context.py), without Lightning: each
channel's corruption in units of its own RMS step, on analytic statistics; the number path
(every other unit) left bit for bit as it was; the stabilisation noise per channel in the
batch sampler, the pyramid sampler and the streaming generator alike."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from algorithms.generation.sampler import StreamingSampler
from algorithms.networks.context import (
    gaussian_corruption,
    generation_noise,
    has_noise,
    noise_unit,
    unit_scale,
)
from tests.test_burn_in import build
from tests.test_given_channels import STATS

# channels whose steps differ 100x: a joint angle beside a velocity
WIDE = {"step_mean": torch.tensor([0.0, 3.0]), "step_std": torch.tensor([0.03, 4.0])}


def test_the_unit_is_each_channels_rms_step() -> None:
    unit = noise_unit(OmegaConf.create({"noise_unit": "rms_step_per_channel"}), WIDE)
    assert torch.allclose(unit, torch.tensor([0.03, 5.0]))
    # one number: the root mean square over channels, which is rms_step_per_dim's value
    per_dim = noise_unit(OmegaConf.create({"noise_unit": "rms_step_per_dim"}), WIDE)
    assert unit_scale(unit) == pytest.approx(per_dim, rel=1e-6)
    assert unit_scale(0.25) == 0.25


def test_per_channel_corruption_scales_each_channel_by_its_unit() -> None:
    torch.manual_seed(0)
    x = torch.zeros(4000, 50, 2)
    unit = torch.tensor([0.03, 5.0])
    corrupted, sigma = gaussian_corruption(x, 0.5 * unit)
    # channel d: u_j · 0.5 · unit_d · ε with u ~ U(0, 1): E[(u · 0.5 · unit_d)²] = 0.25 · unit_d² / 3
    spread = corrupted.pow(2).mean(dim=(0, 1)).sqrt()
    assert torch.allclose(spread, 0.5 * unit / 3 ** 0.5, rtol=0.02)
    assert sigma.shape == (4000, 50, 1)
    # the level: u · unit_scale(noise_max), noise_max = 0.5 · unit
    assert sigma.max() <= 0.5 * unit_scale(unit) and sigma.mean() == pytest.approx(
        0.25 * unit_scale(unit), rel=0.02)
    # the channels share one draw per token: their noise ratios are ε ratios, σ cancels
    torch.manual_seed(1)
    u = torch.rand(4000, 50, 1)
    eps = torch.randn(4000, 50, 2)
    torch.manual_seed(1)
    again, _ = gaussian_corruption(x, 0.5 * unit)
    assert torch.allclose(again, u * 0.5 * unit * eps, atol=1e-6)


def test_a_number_unit_corrupts_as_before_bit_for_bit() -> None:
    x = torch.randn(3, 9, 2)
    torch.manual_seed(2)
    corrupted, sigma = gaussian_corruption(x, 0.07)
    torch.manual_seed(2)
    old_sigma = 0.07 * torch.rand(3, 9, 1)
    assert torch.equal(sigma, old_sigma)
    assert torch.equal(corrupted, x + old_sigma * torch.randn_like(x))


def test_generation_noise_per_channel_and_as_a_number() -> None:
    unit = torch.tensor([0.03, 5.0])
    noise, level = generation_noise(0.2, None, unit)
    assert torch.allclose(noise, 0.2 * unit) and level == pytest.approx(0.2 * unit_scale(unit))
    noise, level = generation_noise(0.0, 0.1, unit)
    assert noise == 0.0 and not has_noise(noise) and level == pytest.approx(0.1 * unit_scale(unit))
    assert generation_noise(0.2, None, 0.5) == (0.1, None)  # a number: as before
    assert has_noise(torch.tensor([0.0, 1e-3])) and not has_noise(torch.zeros(2))


@pytest.mark.parametrize("name", ["one_step", "df_autoregressive", "df_pyramid"])
def test_stabilisation_noise_is_per_channel_in_every_sampler(name: str) -> None:
    """The fed-back noise follows the unit: with the second channel's unit 10^4 times the
    first's, the rollouts differ from the noiseless ones, and a per-channel training loss is
    finite and trains every parameter."""
    unit = ("algorithm.context.noise_unit=rms_step_per_channel",
            "algorithm.context.corruption=gaussian")
    algo = build(name, *unit)
    assert isinstance(algo.noise_unit, torch.Tensor) and algo.noise_unit.shape == (2,)
    given = torch.randn(6, 12, 2)
    quiet = algo.generate(6, 12, nfe=2, seed=3, given=given)
    algo.cfg.sampling.stabilization_noise = 0.5
    noisy = algo.generate(6, 12, nfe=2, seed=3, given=given)
    assert torch.isfinite(noisy).all() and not torch.equal(quiet, noisy)
    x = torch.cat([torch.randn(4, 16, 2).cumsum(1) * 0.1, torch.randn(4, 16, 2)], dim=-1)
    loss, _ = algo.batch_loss(algo.network, x, train=True)
    loss.backward()
    assert torch.isfinite(loss)
    for pname, p in algo.network.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


def test_streaming_feeds_back_per_channel_noise() -> None:
    """StreamingSampler with a `[D]` noise scale: the context it keeps is the token plus that
    noise, channel by channel (a zero channel stays exactly the token)."""
    network = build("one_step").network.eval()
    scale = torch.tensor([0.0, 0.3])
    sampler = StreamingSampler(network, 1, context_noise=scale)
    sampler.reset(500)
    given = torch.zeros(500, 2)
    token = sampler.step(given=given, generator=torch.Generator().manual_seed(0))
    fed_back = sampler.context - token
    assert torch.equal(fed_back[:, 0], torch.zeros(500))
    assert fed_back[:, 1].std().item() == pytest.approx(0.3, rel=0.1)
