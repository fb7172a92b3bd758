"""Analytic tests for utils.metrics.distribution (no Lightning): energy distance, sliced Wasserstein
and diversity per window, with their ground-truth reference; and the generic dataset evaluation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from datasets.base import SequenceDataModule
from utils.metrics import (
    energy_distance,
    mean_pairwise_distance,
    sliced_wasserstein,
    window_distribution_curves,
    window_distribution_metrics,
)
from utils.metrics.distribution import window_vectors


def gaussian_quantiles(n: int) -> torch.Tensor:
    """``[n, 1]`` points at the quantiles (i + 1/2)/n of N(0, 1): an empirical measure that is the
    standard normal up to O(1/n), without sampling noise."""
    return torch.special.ndtri((torch.arange(n, dtype=torch.float64) + 0.5) / n)[:, None]


def normal_cdf(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


# ---------------------------------------------------------------- energy distance


def test_energy_distance_of_point_masses_is_twice_their_distance() -> None:
    x = torch.tensor([[0.0, 0.0]]).expand(5, 2)
    y = torch.tensor([[3.0, 4.0]]).expand(7, 2)
    assert float(energy_distance(x, y)) == pytest.approx(10.0, abs=1e-12)  # 2·||x − y|| = 2·5


def test_energy_distance_identical_is_zero_symmetric_and_positive() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(64, 3, generator=g), torch.randn(80, 3, generator=g) + 0.3
    assert float(energy_distance(a, a.clone())) == 0.0
    assert float(energy_distance(a, b)) == pytest.approx(float(energy_distance(b, a)), rel=1e-12)
    assert float(energy_distance(a, b)) > 0


@pytest.mark.parametrize("mu", [0.5, 1.0, 2.0])
def test_energy_distance_between_shifted_gaussians_matches_closed_form(mu: float) -> None:
    # X ~ N(0, 1), Y ~ N(mu, 1): E|X − Y| = (2/√π)·exp(−mu²/4) + mu·(2Φ(mu/√2) − 1) and
    # E|X − X'| = 2/√π, so E = 2·E|X − Y| − 2·(2/√π).
    cross = 2 / math.sqrt(math.pi) * math.exp(-mu**2 / 4) + mu * (2 * normal_cdf(mu / math.sqrt(2)) - 1)
    exact = 2 * cross - 4 / math.sqrt(math.pi)
    q = gaussian_quantiles(2000)
    assert float(energy_distance(q, q + mu)) == pytest.approx(exact, rel=1e-4)
    # random draws: the same, up to sampling noise
    g = torch.Generator().manual_seed(1)
    a = torch.randn(3000, 1, generator=g, dtype=torch.float64)
    b = torch.randn(3000, 1, generator=g, dtype=torch.float64) + mu
    assert float(energy_distance(a, b)) == pytest.approx(exact, rel=0.2)


def test_sliced_wasserstein_between_gaussians_of_different_scale() -> None:
    # Every projection of N(0, I) vs N(0, 4I) is N(0, 1) vs N(0, 4): W2 = |1 − 2| = 1, so SW = 1.
    q = gaussian_quantiles(2000)
    assert float(sliced_wasserstein(q, 2 * q, num_projections=2)) == pytest.approx(1.0, abs=1e-3)
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(4000, 2, generator=g), 2 * torch.randn(4000, 2, generator=g)
    assert float(sliced_wasserstein(a, b, generator=g)) == pytest.approx(1.0, abs=0.1)


def test_mean_pairwise_distance() -> None:
    assert float(mean_pairwise_distance(torch.ones(10, 4))) == 0.0
    assert float(mean_pairwise_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0]]))) == 5.0
    with pytest.raises(ValueError):
        mean_pairwise_distance(torch.zeros(1, 2))


def test_window_vectors_give_rms_token_distance() -> None:
    x = torch.zeros(2, 10, 2)
    x[1] = torch.tensor([3.0, 4.0])  # every token 5 away
    v = window_vectors(x, start=2, window=4)
    assert v.shape == (2, 8) and float((v[1] - v[0]).norm()) == pytest.approx(5.0)


# ---------------------------------------------------------------- per window


def random_walks(n: int, horizon: int, seed: int, dim: int = 3) -> torch.Tensor:
    """A data set with no closed form: ``[n, horizon, dim]`` Gaussian random walks."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, horizon, dim, generator=g, dtype=torch.float64).mul(0.1).cumsum(dim=1)


def test_curves_of_a_perfect_generator_sit_on_the_reference() -> None:
    truth, reference, samples = (random_walks(256, 48, seed) for seed in (0, 1, 2))
    curves = window_distribution_curves(samples, truth, reference, window=16)
    assert curves["window_end"] == [16, 24, 32, 40, 48]
    assert {len(v) for v in curves.values()} == {5}
    for k in range(5):
        for name in ("energy_distance", "sliced_wasserstein"):
            assert curves[name][k] < 2 * curves[f"{name}_reference"][k], (name, k)
        assert curves["diversity_ratio"][k] == pytest.approx(1.0, abs=0.1)


def test_curves_of_a_collapsed_set() -> None:
    truth, reference = random_walks(256, 48, 0), random_walks(256, 48, 1)
    collapsed = truth[:1].expand(256, -1, -1)  # one real sequence, 256 times
    curves = window_distribution_curves(collapsed, truth, reference, window=16)
    assert curves["diversity_ratio"] == [0.0] * 5
    for name in ("energy_distance", "sliced_wasserstein"):
        assert all(d > 3 * r for d, r in zip(curves[name], curves[f"{name}_reference"]))


def test_drift_shows_as_a_growing_curve() -> None:
    truth, reference, samples = (random_walks(256, 64, seed, dim=2) for seed in (0, 1, 2))
    drifting = samples + 0.02 * torch.arange(64, dtype=torch.float64)[:, None]  # off by 0.02/token
    curves = window_distribution_curves(drifting, truth, reference, window=16, stride=16)
    distance = curves["energy_distance"]
    assert all(b > a for a, b in zip(distance, distance[1:]))
    assert distance[-1] > 5 * curves["energy_distance_reference"][-1]


def test_nonfinite_samples_are_left_out_and_all_nonfinite_is_nan() -> None:
    truth, reference, samples = (random_walks(32, 20, seed) for seed in (0, 1, 2))
    broken = samples.clone()
    broken[0, 5] = float("nan")
    clean = window_distribution_curves(samples[1:], truth, reference, window=10)
    with_nan = window_distribution_curves(broken, truth, reference, window=10)
    assert with_nan["energy_distance"][0] == pytest.approx(clean["energy_distance"][0])
    assert with_nan["energy_distance"][-1] != pytest.approx(clean["energy_distance"][-1])
    assert math.isnan(window_distribution_curves(torch.full_like(samples, math.inf), truth, reference,
                                                 window=10)["energy_distance"][0])


def test_metrics_are_the_first_and_last_windows() -> None:
    truth, reference, samples = (random_walks(64, 40, seed) for seed in (0, 1, 2))
    metrics = window_distribution_metrics(samples, truth, reference, window=16)
    curves = window_distribution_curves(samples, truth, reference, window=16)
    assert metrics["energy_distance_first"] == pytest.approx(curves["energy_distance"][0])
    assert metrics["energy_distance_last"] == pytest.approx(curves["energy_distance"][-1])
    assert metrics["sliced_wasserstein_last_reference"] == pytest.approx(
        curves["sliced_wasserstein_reference"][-1])
    assert metrics["diversity_ratio_last"] == pytest.approx(curves["diversity_ratio"][-1])
    assert len(metrics) == 10


def test_shapes_are_checked() -> None:
    x = random_walks(8, 20, 0)
    with pytest.raises(ValueError, match="share"):
        window_distribution_curves(x, x[:, :10], x, window=5)
    with pytest.raises(ValueError, match="window"):
        window_distribution_curves(x, x, x, window=30)


# ---------------------------------------------------------------- a new dataset gets them


class RandomWalks(SequenceDataModule):
    """A dataset that writes no metric of its own."""

    train_length = 16

    @property
    def token_dim(self) -> int:
        return 3

    def ground_truth(self, num: int, length: int) -> torch.Tensor:
        return random_walks(num, length, seed=10)


def test_a_new_dataset_gets_evaluate_curves_and_a_plot(tmp_path: Path) -> None:
    data = RandomWalks()
    samples = random_walks(64, 40, seed=11)
    metrics = data.evaluate(samples)
    assert metrics["diversity_ratio_last"] == pytest.approx(1.0, abs=0.2)
    assert metrics["energy_distance_last"] < 2 * metrics["energy_distance_last_reference"]
    curves = data.curves(samples)
    assert curves["window_end"] == [16, 24, 32, 40]
    plots = data.plot(samples, tmp_path, curves=curves)
    assert plots["metric_curves"].stat().st_size > 1000
