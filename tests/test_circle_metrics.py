"""Analytic tests for utils.metrics and utils.plotting (circle task: r = 1, 0.1 rad/step CCW)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from datasets.circular_arcs.circle_fit import fit_circle, window_statistics
from datasets.circular_arcs.circle_metrics import (
    circle_metric_curves,
    circle_rollout_metrics,
)
from datasets.circular_arcs.coverage import uniform_coverage_ratio
from datasets.circular_arcs.plots import plot_centres
from utils.metrics import sliced_wasserstein
from utils.plotting import plot_metric_curves, plot_trajectories

OMEGA_DT = 0.1


def make_circles(
    n: int,
    horizon: int,
    seed: int = 0,
    radius: float = 1.0,
    clockwise: bool = False,
    centres: torch.Tensor | None = None,
) -> torch.Tensor:
    """x_t = c + r (cos(theta0 + s w dt t), sin(...)), c ~ U(-2, 2)^2; returns [n, horizon, 2] float64."""
    g = torch.Generator().manual_seed(seed)
    c = torch.rand(n, 2, generator=g, dtype=torch.float64) * 4 - 2 if centres is None else centres
    theta0 = torch.rand(n, 1, generator=g, dtype=torch.float64) * 2 * math.pi
    sign = -1.0 if clockwise else 1.0
    theta = theta0 + sign * OMEGA_DT * torch.arange(horizon, dtype=torch.float64)
    return c[:, None, :] + radius * torch.stack((theta.cos(), theta.sin()), dim=-1)


# ---------------------------------------------------------------- fit_circle


@pytest.mark.parametrize("arc", [2 * math.pi, 1.0, 0.3])
def test_fit_circle_recovers_batched_circles(arc: float) -> None:
    g = torch.Generator().manual_seed(1)
    centre = torch.randn(3, 4, 2, generator=g, dtype=torch.float64) * 5
    radius = torch.rand(3, 4, generator=g, dtype=torch.float64) * 3 + 0.5
    phase = torch.rand(3, 4, 1, generator=g, dtype=torch.float64) * 2 * math.pi
    theta = phase + torch.linspace(0, arc, 40, dtype=torch.float64)
    pts = centre[..., None, :] + radius[..., None, None] * torch.stack((theta.cos(), theta.sin()), -1)
    c_hat, r_hat = fit_circle(pts)
    assert c_hat.shape == (3, 4, 2) and r_hat.shape == (3, 4)
    torch.testing.assert_close(c_hat, centre, atol=1e-5, rtol=0)
    torch.testing.assert_close(r_hat, radius, atol=1e-5, rtol=0)


def test_fit_circle_keeps_float32_dtype() -> None:
    theta = torch.linspace(0, 2, 30)
    pts = torch.stack((theta.cos() * 2 + 1, theta.sin() * 2 - 3), -1)
    c_hat, r_hat = fit_circle(pts)
    assert c_hat.dtype == torch.float32 and r_hat.dtype == torch.float32
    torch.testing.assert_close(c_hat, torch.tensor([1.0, -3.0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(r_hat, torch.tensor(2.0), atol=1e-5, rtol=0)


def test_fit_circle_degenerate_windows_are_finite() -> None:
    t = torch.linspace(-1, 1, 20)
    collinear = torch.stack((t, 2 * t + 1), -1)
    identical = torch.full((20, 2), 0.7)
    axis_line = torch.stack((t, torch.zeros_like(t)), -1)
    c_hat, r_hat = fit_circle(torch.stack((collinear, identical, axis_line)))
    assert torch.isfinite(c_hat).all() and torch.isfinite(r_hat).all()
    torch.testing.assert_close(c_hat[1], torch.tensor([0.7, 0.7]))
    assert r_hat[1] == 0


def test_fit_circle_rejects_too_few_points() -> None:
    with pytest.raises(ValueError):
        fit_circle(torch.zeros(2, 2))


# ---------------------------------------------------------------- window_statistics


def test_window_statistics_exact_circles() -> None:
    x = make_circles(32, 256, seed=2)
    stats = window_statistics(x, window=64)
    assert stats["start"].dtype == torch.long
    assert stats["start"].tolist() == [0, 64, 128, 192]
    wn = len(stats["start"])
    assert stats["centre"].shape == (32, wn, 2)
    for key in ("radius", "rms_residual", "angular_step", "step_length_mean", "step_length_std"):
        assert stats[key].shape == (32, wn)
    # the centre is the same in every window
    torch.testing.assert_close(stats["centre"], stats["centre"][:, :1].expand(-1, wn, -1), atol=1e-8, rtol=0)
    torch.testing.assert_close(stats["radius"], torch.ones(32, wn, dtype=torch.float64), atol=1e-8, rtol=0)
    assert stats["rms_residual"].abs().max() < 1e-8
    torch.testing.assert_close(stats["angular_step"], torch.full((32, wn), 0.1, dtype=torch.float64))
    step = 2 * math.sin(OMEGA_DT / 2)
    torch.testing.assert_close(stats["step_length_mean"], torch.full((32, wn), step, dtype=torch.float64))
    assert stats["step_length_std"].max() < 1e-8


def test_window_statistics_centres_match_truth_and_last_window_alignment() -> None:
    g = torch.Generator().manual_seed(3)
    centres = torch.rand(8, 2, generator=g, dtype=torch.float64) * 4 - 2
    x = make_circles(8, 250, seed=3, centres=centres)
    stats = window_statistics(x, window=64, stride=64)
    assert stats["start"].tolist() == [0, 64, 128, 186]  # final window is [T - 64, T)
    torch.testing.assert_close(stats["centre"], centres[:, None].expand(-1, 4, -1), atol=1e-8, rtol=0)
    stats = window_statistics(x.float(), window=64, stride=30)
    assert stats["start"].tolist()[-1] == 250 - 64
    assert stats["radius"].dtype == torch.float32


def test_window_statistics_clockwise_is_negative() -> None:
    stats = window_statistics(make_circles(32, 256, seed=4, clockwise=True), window=64)
    torch.testing.assert_close(stats["angular_step"], torch.full_like(stats["angular_step"], -0.1))


def test_window_statistics_validates_arguments() -> None:
    x = make_circles(2, 50)
    with pytest.raises(ValueError, match="shorter than the window"):
        window_statistics(x, window=64)
    with pytest.raises(ValueError, match="window must be >= 3"):
        window_statistics(x, window=2)


# ---------------------------------------------------------------- sliced_wasserstein / coverage


def test_sliced_wasserstein_identical_is_zero_and_symmetric() -> None:
    g = torch.Generator().manual_seed(5)
    a = torch.randn(100, 2, generator=g)
    b = torch.randn(100, 2, generator=g) + 0.5
    assert float(sliced_wasserstein(a, a.clone(), generator=torch.Generator().manual_seed(0))) == pytest.approx(0.0, abs=1e-12)
    ab = sliced_wasserstein(a, b, generator=torch.Generator().manual_seed(0))
    ba = sliced_wasserstein(b, a, generator=torch.Generator().manual_seed(0))
    assert ab.ndim == 0 and float(ab) > 0.1
    assert float(ab) == pytest.approx(float(ba), rel=1e-12)


def test_sliced_wasserstein_shift_in_1d_is_exact() -> None:
    a = torch.randn(77, 1, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    assert float(sliced_wasserstein(a, a + 0.37, num_projections=4)) == pytest.approx(0.37, abs=1e-12)
    # unequal sizes: a sample vs the same sample repeated twice is the same distribution
    assert float(sliced_wasserstein(a, torch.cat((a, a)) - 1.5, num_projections=4)) == pytest.approx(1.5, abs=1e-12)


def test_sliced_wasserstein_unequal_sizes_matches_closed_form() -> None:
    # 1-D: {0, 1} vs {0, 1/2, 1}; quantile functions differ by 1/2 on q in (1/3, 1/2) and (1/2, 2/3):
    # W2^2 = 2 * (1/6) * (1/2)^2 = 1/12.
    a = torch.tensor([[0.0], [1.0]])
    b = torch.tensor([[0.0], [0.5], [1.0]])
    assert float(sliced_wasserstein(a, b, num_projections=3)) == pytest.approx(math.sqrt(1 / 12), abs=1e-12)
    g = torch.Generator().manual_seed(7)
    c = torch.randn(50, 2, generator=g)
    d = torch.randn(80, 2, generator=g) + 3.0
    assert 1.5 < float(sliced_wasserstein(c, d, generator=g)) < 4.0


def test_uniform_coverage_ratio_uniform_vs_collapsed() -> None:
    g = torch.Generator().manual_seed(8)
    uniform = torch.rand(512, 2, generator=g) * 4 - 2
    assert 0.5 < uniform_coverage_ratio(uniform, -2.0, 2.0, generator=g) < 1.6
    assert uniform_coverage_ratio(torch.zeros(512, 2), -2.0, 2.0, generator=g) > 3
    corner = torch.rand(512, 2, generator=g) - 2  # only a quarter-width corner of the box
    assert uniform_coverage_ratio(corner, -2.0, 2.0, generator=g) > 3


# ---------------------------------------------------------------- circle_rollout_metrics


EXPECTED_KEYS = {
    "num_samples", "horizon", "window", "radius_error_median", "radius_error_first_median",
    "centre_drift_median", "centre_drift_mean", "rms_residual_median", "angular_step_median",
    "angular_step_error_median", "step_length_mean", "step_length_std", "keep_circle_share",
    "coverage_ratio", "coverage_ratio_last", "centre_std",
}  # fmt: skip


def rollout(samples: torch.Tensor) -> dict[str, float]:
    return circle_rollout_metrics(samples, radius=1.0, angular_step=0.1, centre_low=-2.0, centre_high=2.0)


def test_rollout_metrics_exact_circles() -> None:
    x = make_circles(512, 256, seed=9).float()
    m = rollout(x)
    assert EXPECTED_KEYS <= set(m)
    json.dumps(m, allow_nan=False)
    assert (m["num_samples"], m["horizon"], m["window"]) == (512, 256, 64)
    assert m["keep_circle_share"] == 1.0
    assert m["radius_error_median"] < 1e-5 and m["radius_error_first_median"] < 1e-5
    assert m["centre_drift_median"] < 1e-5 and m["centre_drift_mean"] < 1e-5
    assert m["rms_residual_median"] < 1e-5
    assert m["angular_step_median"] == pytest.approx(0.1, abs=1e-5)
    assert m["angular_step_error_median"] < 1e-5
    assert m["step_length_mean"] == pytest.approx(2 * math.sin(0.05), abs=1e-5)
    assert m["step_length_std"] < 1e-5
    assert 0.5 < m["coverage_ratio"] < 1.6 and 0.5 < m["coverage_ratio_last"] < 1.6
    assert m["centre_std"] == pytest.approx(4 / math.sqrt(12), abs=0.1)
    assert rollout(x) == m  # default generator is seeded: deterministic


def test_rollout_metrics_collapsed_samples_have_bad_coverage() -> None:
    same_circle = make_circles(1, 128, seed=10).expand(256, -1, -1)
    m = rollout(same_circle)
    assert m["keep_circle_share"] == 1.0  # every rollout is a perfect circle ...
    assert m["coverage_ratio"] > 3 and m["coverage_ratio_last"] > 3  # ... but all the same one
    assert m["centre_std"] < 1e-6
    at_origin = make_circles(256, 128, seed=11, centres=torch.zeros(256, 2, dtype=torch.float64))
    assert rollout(at_origin)["coverage_ratio"] > 3


def test_rollout_metrics_shrinking_spiral_fails() -> None:
    g = torch.Generator().manual_seed(12)
    centre = torch.rand(64, 1, 2, generator=g, dtype=torch.float64) * 4 - 2
    theta = 0.1 * torch.arange(256, dtype=torch.float64)
    r = torch.exp(-torch.arange(256, dtype=torch.float64) / 100)[:, None]  # r(t) = exp(-t / 100)
    spiral = centre + r * torch.stack((theta.cos(), theta.sin()), -1)
    m = rollout(spiral)
    assert m["keep_circle_share"] == 0.0
    assert m["radius_error_median"] > 0.5
    assert m["radius_error_first_median"] < m["radius_error_median"]


def test_rollout_metrics_nan_sample_counts_as_not_kept() -> None:
    x = make_circles(64, 256, seed=13)
    x[0, 200] = float("nan")  # inside the last window
    x[1, 100] = float("nan")  # between the windows: fits are fine, rollout is still broken
    x[2] = float("inf")
    m = rollout(x)
    assert m["keep_circle_share"] == pytest.approx(61 / 64)
    for key in EXPECTED_KEYS:
        assert math.isfinite(m[key]), key
    assert m["radius_error_median"] < 1e-8


def test_rollout_metrics_accepts_horizon_equal_window() -> None:
    m = rollout(make_circles(64, 64, seed=14))
    assert m["keep_circle_share"] == 1.0 and m["centre_drift_median"] == 0.0


# ---------------------------------------------------------------- circle_metric_curves


def test_metric_curves_lengths_and_drift() -> None:
    x = make_circles(16, 256, seed=15)
    curves = circle_metric_curves(x, radius=1.0, angular_step=0.1, window=64)
    lengths = {len(v) for v in curves.values()}
    assert lengths == {len(range(0, 256 - 64 + 1, 32))}
    assert curves["window_end"][0] == 64 and curves["window_end"][-1] == 256
    assert max(curves["centre_drift_median"]) < 1e-8 and max(curves["radius_error_median"]) < 1e-8

    velocity = torch.tensor([0.004, -0.002], dtype=torch.float64)
    drifting = x + torch.arange(256, dtype=torch.float64)[:, None] * velocity
    curves = circle_metric_curves(drifting, radius=1.0, angular_step=0.1, window=64, stride=64)
    drift = curves["centre_drift_median"]
    assert curves["window_end"] == [64, 128, 192, 256]
    assert drift[0] == 0.0
    assert all(b > a + 0.1 for a, b in zip(drift, drift[1:]))
    # centre moves ~|v| * 64 per window; circle fit about a moving centre is not exact, hence loose tol
    assert drift[-1] == pytest.approx(float(velocity.norm()) * 192, rel=0.2)


# ---------------------------------------------------------------- plotting


def _is_png(path) -> bool:
    return path.exists() and path.stat().st_size > 1000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plotting_writes_pngs(tmp_path) -> None:
    x = make_circles(20, 128, seed=16)
    p = plot_trajectories(x, tmp_path / "traj.png", ground_truth=x.numpy(), title="t", train_length=64)
    assert _is_png(p)
    assert _is_png(plot_trajectories(x.numpy(), tmp_path / "sub" / "traj_gen.png", max_samples=4))
    centres = window_statistics(x, window=64)["centre"][:, 0]
    assert _is_png(plot_centres(centres, tmp_path / "centres.png", low=-2.0, high=2.0, title="c"))
    curves = circle_metric_curves(x, radius=1.0, angular_step=0.1, window=32)
    assert _is_png(plot_metric_curves(curves, tmp_path / "curves.png", train_length=64, title="curves"))
    assert isinstance(np.asarray(curves["window_end"]), np.ndarray)


def test_coverage_band_of_uniform_points() -> None:
    from datasets.circular_arcs.calibrate_coverage import coverage_band

    band = coverage_band(num_points=256, sets=12)
    assert 0.6 < band["median"] < 1.3 and band["median"] <= band["p95"] <= band["max"]


# ---------------------------------------------------------------- the criteria scale with the circle


def arcs(n: int, horizon: int, radius: float, step: float, seed: int = 20) -> torch.Tensor:
    """Exact arcs ``[n, horizon, 2]`` of any radius and signed angular step, centres in (-2, 2)^2."""
    g = torch.Generator().manual_seed(seed)
    centre = torch.rand(n, 1, 2, generator=g, dtype=torch.float64) * 4 - 2
    theta = torch.rand(n, 1, generator=g, dtype=torch.float64) * 2 * math.pi
    theta = theta + step * torch.arange(horizon, dtype=torch.float64)
    return centre + radius * torch.stack((theta.cos(), theta.sin()), -1)


def test_keep_circle_drift_threshold_is_relative_to_the_radius() -> None:
    # the last window jumps by 0.08: 8% of a unit circle, but 16% of a 0.5-radius one
    for radius, kept in ((1.0, 1.0), (0.5, 0.0)):
        x = arcs(32, 128, radius, 0.1)
        x[:, 64:] += torch.tensor([0.08, 0.0], dtype=torch.float64)
        m = circle_rollout_metrics(x, radius=radius, angular_step=0.1, centre_low=-2.0, centre_high=2.0)
        assert m["centre_drift_median"] == pytest.approx(0.08, abs=1e-9)
        assert m["keep_circle_share"] == kept, radius


def test_keep_circle_radius_threshold_is_relative_to_the_radius() -> None:
    # a radius 7% too large is kept and 12% too large is not, whatever the circle's size
    for radius in (1.0, 0.5, 3.0):
        x = arcs(32, 128, radius * 1.07, 0.1)
        m = circle_rollout_metrics(x, radius=radius, angular_step=0.1, centre_low=-2.0, centre_high=2.0)
        assert m["keep_circle_share"] == 1.0, radius
        x = arcs(32, 128, radius * 1.12, 0.1)
        m = circle_rollout_metrics(x, radius=radius, angular_step=0.1, centre_low=-2.0, centre_high=2.0)
        assert m["keep_circle_share"] == 0.0, radius


def test_keep_circle_angular_threshold_is_relative_to_the_step() -> None:
    # 0.0125 rad too fast: within 20% of a 0.1-rad step, not of a 0.05-rad one
    for step, kept in ((0.1, 1.0), (0.05, 0.0)):
        x = arcs(32, 128, 1.0, step + 0.0125)
        m = circle_rollout_metrics(x, radius=1.0, angular_step=step, centre_low=-2.0, centre_high=2.0)
        assert m["angular_step_error_median"] == pytest.approx(0.0125, abs=1e-9)
        assert m["keep_circle_share"] == kept, step


# ---------------------------------------------------------------- drift direction coherence


def test_drift_coherence_shared_shift_is_one() -> None:
    from datasets.circular_arcs.circle_metrics import drift_direction_coherence

    g = torch.Generator().manual_seed(30)
    first = torch.rand(100, 2, generator=g, dtype=torch.float64) * 4 - 2
    assert drift_direction_coherence(first, first + torch.tensor([0.3, -0.1])) == pytest.approx(1.0)


def test_drift_coherence_opposite_drifts_is_zero() -> None:
    from datasets.circular_arcs.circle_metrics import drift_direction_coherence

    g = torch.Generator().manual_seed(31)
    first = torch.rand(64, 2, generator=g, dtype=torch.float64)
    angle = 2 * math.pi * torch.rand(32, generator=g, dtype=torch.float64)
    moves = 0.2 * torch.stack((angle.cos(), angle.sin()), -1)
    moves = torch.cat([moves, -moves])  # every drift has its opposite
    assert drift_direction_coherence(first, first + moves) == pytest.approx(0.0, abs=1e-12)
    # Drifts on a circle of directions, equal lengths (symmetric about the origin): 0 as well.
    ring = 2 * math.pi * torch.arange(12, dtype=torch.float64) / 12
    ring = torch.stack((ring.cos(), ring.sin()), -1)
    assert drift_direction_coherence(torch.zeros(12, 2), ring) == pytest.approx(0.0, abs=1e-12)
    # Half shared, half cancelling: the shared part over the mean length.
    mixed = torch.cat([torch.tensor([[1.0, 0.0]] * 2), torch.tensor([[0.0, 1.0], [0.0, -1.0]])])
    assert drift_direction_coherence(torch.zeros(4, 2), mixed) == pytest.approx(0.5)


def test_drift_coherence_edge_cases_and_rollout_key() -> None:
    from datasets.circular_arcs.circle_metrics import drift_direction_coherence

    still = torch.zeros(5, 2)
    assert math.isnan(drift_direction_coherence(still, still))  # nothing moves
    assert math.isnan(drift_direction_coherence(still, torch.full((5, 2), math.nan)))
    shifted = torch.ones(5, 2)
    shifted[0] = math.inf  # a non-finite centre is left out
    assert drift_direction_coherence(still, shifted) == pytest.approx(1.0)
    # In the rollout metrics: circles whose centres all move by (0.2, 0) over the horizon.
    x = make_circles(64, 256, seed=32)
    x = x + torch.linspace(0, 0.2, 256, dtype=x.dtype)[None, :, None] * torch.tensor([1.0, 0.0])
    m = rollout(x)
    assert m["drift_direction_coherence"] == pytest.approx(1.0, abs=1e-3)  # fits of moving arcs
    assert m["centre_drift_median"] == pytest.approx(0.2 * 192 / 255, rel=0.05)
