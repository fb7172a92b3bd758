"""Forecast scores of sample ensembles and long-horizon statistics (utils/metrics/probabilistic.py)
on cases with a known answer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scoringrules as sr
import torch
from scipy.stats import norm

from utils.metrics.probabilistic import (
    autocorrelation,
    crps_ensemble,
    forecast_scores,
    long_horizon_statistics,
)


def gaussian_crps(y: float, sigma: float) -> float:
    """Closed-form CRPS of N(0, σ²) at y."""
    z = y / sigma
    return sigma * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / math.sqrt(math.pi))


def test_single_sample_crps_is_the_absolute_error() -> None:
    g = torch.Generator().manual_seed(0)
    truth = torch.randn(4, 3, 2, generator=g, dtype=torch.float64)
    sample = torch.randn(4, 1, 3, 2, generator=g, dtype=torch.float64)
    scores = forecast_scores(sample, truth)
    error = (sample[:, 0] - truth).abs()
    assert scores["crps"] == pytest.approx(float(error.mean()), rel=1e-12)
    assert scores["median_abs_error"] == pytest.approx(float(error.mean()), rel=1e-12)
    assert scores["crps_norm"] == pytest.approx(float(error.sum() / truth.abs().sum()), rel=1e-12)


def test_quantile_estimator_equals_the_energy_form() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(5, 7, 3, 2)), rng.normal(size=(5, 3, 2))
    nrg = sr.crps_ensemble(y, x, m_axis=1, estimator="nrg", backend="numpy")
    np.testing.assert_allclose(crps_ensemble(x, y), nrg, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("y", [0.0, 0.7, -1.5, 3.0])
def test_large_gaussian_ensemble_matches_the_closed_form(y: float) -> None:
    # `crps_ensemble` is what forecast_scores averages (whose energy score would need M² pairs)
    sigma, m = 2.0, 40_000
    samples = sigma * np.random.default_rng(2).normal(size=(1, m))
    crps = float(crps_ensemble(samples, np.array([y]))[0])
    exact = gaussian_crps(y, sigma)
    assert exact == pytest.approx(float(sr.crps_normal(y, 0.0, sigma, backend="numpy")), rel=1e-9)
    # Monte Carlo error of an M-sample ensemble CRPS: about σ/√M = 0.01; 3 of those, plus the
    # O(σ/M) bias of the empirical distribution.
    assert crps == pytest.approx(exact, abs=0.03)
    if y == 0.0:
        assert exact == pytest.approx(sigma * (math.sqrt(2) - 1) / math.sqrt(math.pi), rel=1e-12)


def test_coverage_of_truth_from_the_forecast_distribution() -> None:
    g = torch.Generator().manual_seed(3)
    samples = torch.randn(200, 200, 5, 2, generator=g)
    truth = torch.randn(200, 5, 2, generator=g)
    scores = forecast_scores(samples, truth)
    # 2 000 truth values: a binomial share has std ≤ 0.011; the interval between empirical
    # quantiles of 200 samples holds a new draw with probability 0.9 · 199/201 = 0.891
    assert scores["coverage_50"] == pytest.approx(0.5, abs=0.04)
    assert scores["coverage_90"] == pytest.approx(0.9, abs=0.03)
    too_narrow = forecast_scores(0.3 * samples, truth)
    assert too_narrow["coverage_90"] < 0.5 and too_narrow["crps"] > scores["crps"]


def test_point_mass_at_the_truth_scores_zero() -> None:
    truth = torch.randn(6, 4, 3, generator=torch.Generator().manual_seed(4))
    scores = forecast_scores(truth[:, None].expand(6, 5, 4, 3), truth)
    for key in ("crps", "crps_norm", "crps_sum_norm", "energy_score", "median_abs_error",
                "median_abs_error_norm"):
        assert scores[key] == pytest.approx(0.0, abs=1e-12), key
    assert scores["coverage_50"] == 1.0 and scores["coverage_90"] == 1.0


def test_crps_sum_of_one_channel_is_the_normalised_crps() -> None:
    g = torch.Generator().manual_seed(5)
    scores = forecast_scores(torch.randn(8, 30, 6, 1, generator=g), torch.randn(8, 6, 1, generator=g))
    assert scores["crps_sum_norm"] == pytest.approx(scores["crps_norm"], rel=1e-12)


def test_normalised_scores_by_hand() -> None:
    """One window, one step, channels (1, 1), one sample (2, 3): CRPS 1 and 2, sum 5 against 2."""
    truth = torch.tensor([[[1.0, 1.0]]])
    scores = forecast_scores(torch.tensor([[[[2.0, 3.0]]]]), truth)
    assert scores["crps"] == pytest.approx(1.5)
    assert scores["crps_norm"] == pytest.approx(3 / 2)
    assert scores["crps_sum_norm"] == pytest.approx(3 / 2)
    assert scores["median_abs_error_norm"] == pytest.approx(3 / 2)
    assert math.isnan(forecast_scores(torch.ones(1, 1, 1, 1), torch.zeros(1, 1, 1))["crps_norm"])


def test_energy_score_in_units_of_each_channels_std() -> None:
    """Truth std 1 in channel 0 and 100 in channel 1: one sample off by one std in either channel
    scores 1, the distance in std units."""
    truth = torch.tensor([[[0.0, 0.0]], [[2.0, 200.0]]])  # [W=2, H=1, G=2], stds 1 and 100
    off_0 = truth + torch.tensor([1.0, 0.0])
    off_1 = truth + torch.tensor([0.0, 100.0])
    for off in (off_0, off_1):
        assert forecast_scores(off[:, None], truth)["energy_score"] == pytest.approx(1.0, rel=1e-12)


def test_energy_score_of_a_shifted_ensemble_is_larger() -> None:
    g = torch.Generator().manual_seed(6)
    truth = torch.randn(20, 8, 3, generator=g)
    right = torch.randn(20, 64, 8, 3, generator=g)
    assert forecast_scores(right + 1.0, truth)["energy_score"] \
        > forecast_scores(right, truth)["energy_score"] + 0.5


def test_energy_score_chunks_give_the_same_number(monkeypatch: pytest.MonkeyPatch) -> None:
    from utils.metrics import probabilistic

    g = torch.Generator().manual_seed(7)
    samples, truth = torch.randn(9, 10, 4, 2, generator=g), torch.randn(9, 4, 2, generator=g)
    whole = forecast_scores(samples, truth)["energy_score"]
    monkeypatch.setattr(probabilistic, "ENERGY_CHUNK_NUMBERS", 1)  # one window at a time
    assert forecast_scores(samples, truth)["energy_score"] == pytest.approx(whole, rel=1e-12)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="samples"):
        forecast_scores(torch.zeros(2, 3, 4, 1), torch.zeros(2, 5, 1))
    with pytest.raises(ValueError, match="max_lag"):
        autocorrelation(torch.zeros(2, 5, 1), 5)


def ar1(n: int, t: int, phi: float, seed: int) -> torch.Tensor:
    """`[n, t, 1]` stationary AR(1) paths with unit innovations."""
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(n, t))
    x = np.empty((n, t))
    x[:, 0] = e[:, 0] / math.sqrt(1 - phi ** 2)
    for i in range(1, t):
        x[:, i] = phi * x[:, i - 1] + e[:, i]
    return torch.from_numpy(x)[..., None]


def test_autocorrelation_of_an_ar1() -> None:
    acf = autocorrelation(ar1(40, 2000, 0.8, seed=8), max_lag=6)
    assert acf.shape == (6, 1)
    expected = 0.8 ** torch.arange(1, 7, dtype=torch.float64)
    torch.testing.assert_close(acf[:, 0], expected, atol=0.03, rtol=0.0)


def test_autocorrelation_of_a_constant_and_an_alternating_sequence() -> None:
    alternating = torch.tensor([1.0, -1.0] * 50)
    x = torch.stack([torch.full((100,), 3.0), alternating], dim=-1)[None]  # [1, 100, 2]
    acf = autocorrelation(x, 2)
    torch.testing.assert_close(acf[:, 0], torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(acf[:, 1], torch.tensor([-0.99, 0.98], dtype=torch.float64))


def test_long_horizon_statistics_of_identical_and_shifted_data() -> None:
    reference = ar1(10, 500, 0.5, seed=9)
    same = long_horizon_statistics(reference, reference, max_lag=5)
    assert same["marginal_wasserstein"] == pytest.approx(0.0, abs=1e-12)
    assert same["marginal_std_ratio"] == pytest.approx(1.0, rel=1e-12)
    assert same["acf_error"] == pytest.approx(0.0, abs=1e-12)
    shifted = long_horizon_statistics(reference + 0.5, reference, max_lag=5)
    std = float(reference.std(unbiased=False))
    assert shifted["marginal_wasserstein"] == pytest.approx(0.5 / std, rel=1e-9)
    assert shifted["acf_error"] == pytest.approx(0.0, abs=1e-12)  # each sequence's mean removed
    white = torch.randn(10, 400, 1, generator=torch.Generator().manual_seed(10),
                        dtype=torch.float64)
    assert long_horizon_statistics(white, reference, max_lag=3)["acf_error"] \
        == pytest.approx((0.5 + 0.25 + 0.125) / 3, abs=0.04)  # white noise vs AR(1) φ = 0.5
    doubled = long_horizon_statistics(2 * reference, reference, max_lag=2)
    assert doubled["marginal_std_ratio"] == pytest.approx(2.0, rel=1e-12)
