"""Does each rollout keep its circle? Scalar summaries and per-horizon curves for circle data."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from datasets.circular_arcs.circle_fit import window_statistics
from datasets.circular_arcs.coverage import uniform_coverage_ratio


def _finite_or_nan(x: Tensor) -> Tensor:
    """Map inf to NaN so that nan-aware reductions skip every non-finite entry."""
    x = x.to(torch.float64)
    return torch.where(torch.isfinite(x), x, torch.full_like(x, math.nan))


def _nanmedian(x: Tensor) -> float:
    """Median over finite entries; NaN only when no entry is finite."""
    x = _finite_or_nan(x).flatten()
    return float(x.nanmedian()) if x.numel() else math.nan


def _finite_rows(x: Tensor) -> Tensor:
    """Rows of ``[N, D]`` whose entries are all finite."""
    return x[torch.isfinite(x).all(dim=1)]


def drift_direction_coherence(centre_first: Tensor, centre_last: Tensor) -> float:
    """Does every centre drift the same way? ``‖mean(c_last − c_first)‖ / mean‖c_last − c_first‖``
    over the rows ``[N, 2]`` with finite centres: 1 when every centre moves by the same vector
    (a shared bias of the sampler), near 0 when the drifts point every way and cancel (a random
    walk, or an error fixed in each trajectory's own frame), about 1/sqrt(N) for N random
    directions. NaN when no centre is finite or none moves."""
    drift = (centre_last - centre_first).to(torch.float64)
    drift = drift[torch.isfinite(drift).all(dim=-1)]
    if drift.shape[0] == 0:
        return math.nan
    mean_length = drift.norm(dim=-1).mean()
    if not mean_length > 0:
        return math.nan
    return float(drift.mean(dim=0).norm() / mean_length)


def circle_rollout_metrics(
    samples: Tensor,
    radius: float,
    angular_step: float,
    centre_low: float,
    centre_high: float,
    window: int = 64,
    generator: torch.Generator | None = None,
    radius_tol: float = 0.1,
    drift_tol: float = 0.1,
    residual_tol: float = 0.05,
    angular_tol: float = 0.2,
) -> dict[str, float]:
    """Summarise whether rollouts stay on their circle, from the first and the last window.

    The first window is steps ``[0, window)``, the last ``[T - window, T)`` (identical when T == window).
    Per sample (fits from ``window_statistics``): radius error ``|r_hat - radius|``, centre drift
    ``||c_last - c_first||``, RMS radial residual, angular step about the fitted centre. A sample keeps
    its circle iff on the last window ``radius error < radius_tol·radius``, ``drift < drift_tol·radius``,
    ``rms_residual < residual_tol·radius`` and ``|angular_step - target| < angular_tol·|target|``, and
    its whole trajectory is finite. The criteria scale with the circle: at ``radius = 1`` and a step of
    0.1 rad they are 0.1, 0.1, 0.05 and 0.02 rad; a 0.5-radius circle may drift by 0.05.
    Diversity: ``coverage_ratio`` (``uniform_coverage_ratio`` of the fitted first-window centres
    against U(centre_low, centre_high)^2; ~1 if diverse, >> 1 if collapsed).

    Robustness: medians/means are over finite values only (a sample with NaN/inf is excluded there,
    and counted as not kept; ``nonfinite_share`` reports how many). Coverage uses finite centres only.
    A value is NaN only when no finite answer exists (e.g. every sample non-finite).

    Args:
        samples: ``[N, T, 2]`` rollouts.
        radius: true radius (1 for the circle task).
        angular_step: true signed angle per step (0.1 rad, counter-clockwise positive).
        centre_low, centre_high: box of the true centre distribution (-2, 2).
        window: window length for the fits.
        generator: RNG for the coverage ratio; defaults to a fixed seed (0) so the same samples always
            score the same.
        radius_tol, drift_tol, residual_tol: thresholds of ``keep_circle_share`` as fractions of
            ``radius``.
        angular_tol: the angular-step threshold as a fraction of ``|angular_step|``.

    Returns:
        dict of Python floats/ints: ``num_samples``, ``horizon``, ``window``, ``radius_error_median``,
        ``radius_error_first_median``, ``centre_drift_median``, ``centre_drift_mean``,
        ``rms_residual_median``, ``angular_step_median``, ``angular_step_error_median``,
        ``step_length_mean``, ``step_length_std``, ``keep_circle_share``, ``nonfinite_share``,
        ``coverage_ratio``, ``coverage_ratio_last``, ``centre_std``,
        ``drift_direction_coherence`` (``drift_direction_coherence``: 1 for a shared bias,
        ~0 for drifts that cancel).
    """
    n, horizon = samples.shape[0], samples.shape[1]
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    # stride T - window yields exactly the windows [0, window) and [T - window, T).
    stats = window_statistics(samples, window=window, stride=max(horizon - window, 1))
    centre = stats["centre"].to(torch.float64)
    centre_first, centre_last = centre[:, 0], centre[:, -1]
    radius_err = (stats["radius"][:, -1].to(torch.float64) - radius).abs()
    radius_err_first = (stats["radius"][:, 0].to(torch.float64) - radius).abs()
    drift = (centre_last - centre_first).norm(dim=-1)
    residual = stats["rms_residual"][:, -1].to(torch.float64)
    ang = stats["angular_step"][:, -1].to(torch.float64)
    ang_err = (ang - angular_step).abs()

    finite_sample = torch.isfinite(samples).flatten(1).all(dim=1)
    # NaN comparisons are False, so a NaN statistic already fails; finite_sample also rejects rollouts
    # that blow up between the two windows.
    kept = (
        finite_sample
        & (radius_err < radius_tol * radius)
        & (drift < drift_tol * radius)
        & (residual < residual_tol * radius)
        & (ang_err < angular_tol * abs(angular_step))
    )

    last = samples[:, horizon - window :].to(torch.float64)
    steps = last.diff(dim=1).norm(dim=-1).flatten()
    steps = steps[torch.isfinite(steps)]

    def coverage(c: Tensor) -> float:
        c = _finite_rows(c)
        if c.shape[0] < 2:
            return math.nan
        return uniform_coverage_ratio(c, centre_low, centre_high, generator=generator)

    first_finite = _finite_rows(centre_first)
    centre_std = float(first_finite.std(dim=0).mean()) if first_finite.shape[0] >= 2 else math.nan

    return {
        "num_samples": int(n),
        "horizon": int(horizon),
        "window": int(window),
        "radius_error_median": _nanmedian(radius_err),
        "radius_error_first_median": _nanmedian(radius_err_first),
        "centre_drift_median": _nanmedian(drift),
        "centre_drift_mean": float(drift[torch.isfinite(drift)].mean()) if torch.isfinite(drift).any() else math.nan,
        "rms_residual_median": _nanmedian(residual),
        "angular_step_median": _nanmedian(ang),
        "angular_step_error_median": _nanmedian(ang_err),
        "step_length_mean": float(steps.mean()) if steps.numel() else math.nan,
        "step_length_std": float(steps.std(correction=0)) if steps.numel() else math.nan,
        "keep_circle_share": float(kept.to(torch.float64).mean()) if n else math.nan,
        "nonfinite_share": float((~finite_sample).to(torch.float64).mean()) if n else math.nan,
        "coverage_ratio": coverage(centre_first),
        "coverage_ratio_last": coverage(centre_last),
        "centre_std": centre_std,
        "drift_direction_coherence": drift_direction_coherence(centre_first, centre_last),
    }


def circle_metric_curves(
    samples: Tensor,
    radius: float,
    angular_step: float,
    window: int = 64,
    stride: int | None = None,
) -> dict[str, list[float]]:
    """Per-window medians over samples, to plot how rollouts drift off their circle over the horizon.

    Windows as in ``window_statistics`` with ``stride`` defaulting to ``window // 2``. For window k
    (median over the N samples, finite values only): ``|r_hat_k - radius|``,
    ``||c_k - c_0||`` (drift from the first window), RMS radial residual, ``|angular_step_k - target|``.

    Args:
        samples: ``[N, T, 2]`` rollouts.
        radius: true radius.
        angular_step: true signed angle per step.
        window: window length.
        stride: distance between window starts.

    Returns:
        dict of equal-length lists: ``window_end`` (exclusive end index of each window),
        ``radius_error_median``, ``centre_drift_median``, ``rms_residual_median``,
        ``angular_step_error_median``.
    """
    stride = max(window // 2, 1) if stride is None else stride
    stats = window_statistics(samples, window=window, stride=stride)
    centre = stats["centre"].to(torch.float64)
    per_sample = {
        "radius_error_median": (stats["radius"].to(torch.float64) - radius).abs(),
        "centre_drift_median": (centre - centre[:, :1]).norm(dim=-1),
        "rms_residual_median": stats["rms_residual"].to(torch.float64),
        "angular_step_error_median": (stats["angular_step"].to(torch.float64) - angular_step).abs(),
    }
    curves: dict[str, list[float]] = {"window_end": (stats["start"] + window).tolist()}
    for key, value in per_sample.items():  # value: [N, Wn] -> median over samples, per window
        curves[key] = _finite_or_nan(value).nanmedian(dim=0).values.tolist()
    return curves
