"""Forecast scores of sample ensembles, and how a long generated stretch compares in law with
held-out real data. Torch tensors in, python floats out; everything is computed in float64 numpy.

The exact scores come from `scoringrules` (numpy backend, requirements/timeseries.txt) rather
than hand-written code: it has the exact ensemble CRPS and the energy score, each with a named
choice of estimator, tested against closed forms, and it is a small install (numpy and scipy
only). Both use the **energy ("nrg") form**, the score of the empirical distribution of the M
samples, i.e. of the forecast actually issued: ``CRPS = mean_m |x_m - y| - 1/(2M²) Σ_mm' |x_m - x_m'|``
(a V-statistic). It is 0 for a point mass at the truth, ``|x - y|`` for a single sample, and
what the GluonTS/TimeGrad papers score (quantiles of the empirical sample distribution). The
"fair" estimator (``M(M-1)`` in the spread term) would instead be an unbiased estimate of the
CRPS of the model behind the samples; it is undefined for M = 1 and rewards no ensemble for
collapsing onto the truth. The CRPS is computed with scoringrules' ``"qd"`` (quantile
decomposition) estimator, which is algebraically the same number as ``"nrg"`` in O(M log M) time
and O(M) memory instead of O(M²) (tests/test_probabilistic_scores.py checks the equality).
"""

from __future__ import annotations

import numpy as np
import scoringrules as sr
import torch
from scipy.stats import wasserstein_distance
from torch import Tensor

#: float64 numbers held at once by the energy score's [w, M, M, H·G] pairwise differences
ENERGY_CHUNK_NUMBERS = 2 ** 25


def _numpy(x: Tensor) -> np.ndarray:
    return x.detach().to("cpu", torch.float64).numpy()


def _check_forecast(samples: Tensor, truth: Tensor) -> None:
    if samples.ndim != 4 or truth.ndim != 3 or samples.shape[0] != truth.shape[0] \
            or samples.shape[2:] != truth.shape[1:]:
        raise ValueError(f"expected samples [W, M, H, G] and truth [W, H, G], got "
                         f"{tuple(samples.shape)} and {tuple(truth.shape)}")
    if samples.shape[0] == 0 or samples.shape[1] == 0 or truth.numel() == 0:
        raise ValueError("forecast_scores needs at least one window, sample, step and channel")


def crps_ensemble(samples: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Exact CRPS of the empirical ensemble distribution: samples ``[W, M, ...]``, truth
    ``[W, ...]`` -> ``[W, ...]`` (scoringrules, the ``"qd"`` estimator = ``"nrg"``)."""
    return sr.crps_ensemble(truth, samples, m_axis=1, estimator="qd", backend="numpy")


def energy_score(samples: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Energy score (``"nrg"``) of each window: samples ``[W, M, F]``, truth ``[W, F]`` -> ``[W]``.

    Computed a few windows at a time: scoringrules holds all ``[w, M, M, F]`` differences."""
    w, m, f = samples.shape
    chunk = max(1, ENERGY_CHUNK_NUMBERS // max(1, m * m * f))
    return np.concatenate([
        sr.energy_score(truth[i:i + chunk], samples[i:i + chunk], m_axis=-2, v_axis=-1,
                        estimator="nrg", backend="numpy")
        for i in range(0, w, chunk)])


def _coverage(samples: np.ndarray, truth: np.ndarray, level: float) -> float:
    """Share of truth values inside the central ``level`` interval of the samples (inclusive)."""
    low, high = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2], axis=1)
    return float(np.mean((truth >= low) & (truth <= high)))


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


def forecast_scores(samples: Tensor, truth: Tensor) -> dict[str, float]:
    """Scores of W probabilistic forecasts, each an ensemble of M sample paths.

    Args:
        samples: ``[W, M, H, G]`` M sample paths of H steps and G generated channels per window.
        truth: ``[W, H, G]`` what happened.

    Returns (python floats):
        crps: mean CRPS over windows, steps and channels, in data units.
        crps_norm: ``Σ CRPS / Σ |truth|`` (the normalised CRPS, ND-CRPS, of GluonTS/TimeGrad).
        crps_sum_norm: the CRPS of the sum over channels (samples and truth each summed over G)
            over ``Σ |truth summed over G|``: the papers' CRPS-sum. The papers approximate the
            CRPS with 19 quantile losses (GluonTS's MultivariateEvaluator, mean_wQuantileLoss);
            this is the exact ensemble CRPS, so the numbers are comparable but not identical.
        energy_score: energy score of each window's whole trajectory ``[H·G]`` as one
            multivariate observation, each channel divided first by the truth's std of that
            channel over all windows and steps (channels weigh alike; a constant channel is left
            in data units), averaged over windows.
        coverage_50, coverage_90: share of truth values inside the central 50% / 90% empirical
            interval of the samples (per window, step and channel).
        median_abs_error: mean ``|median of samples - truth|``, data units.
        median_abs_error_norm: ``Σ |median - truth| / Σ |truth|`` (the ND of the median).
        The normalised scores are NaN when the truth is all zeros.
    """
    _check_forecast(samples, truth)
    x, y = _numpy(samples), _numpy(truth)
    crps = crps_ensemble(x, y)  # [W, H, G]
    abs_truth = float(np.abs(y).sum())
    crps_sum = crps_ensemble(x.sum(-1), y.sum(-1))  # [W, H]
    std = y.reshape(-1, y.shape[-1]).std(axis=0)
    scale = np.where(std > 0, std, 1.0)
    w, m, h, g = x.shape
    es = energy_score((x / scale).reshape(w, m, h * g), (y / scale).reshape(w, h * g))
    median_error = np.abs(np.median(x, axis=1) - y)
    return {
        "crps": float(crps.mean()),
        "crps_norm": _ratio(float(crps.sum()), abs_truth),
        "crps_sum_norm": _ratio(float(crps_sum.sum()), float(np.abs(y.sum(-1)).sum())),
        "energy_score": float(es.mean()),
        "coverage_50": _coverage(x, y, 0.5),
        "coverage_90": _coverage(x, y, 0.9),
        "median_abs_error": float(median_error.mean()),
        "median_abs_error_norm": _ratio(float(median_error.sum()), abs_truth),
    }


def autocorrelation(x: Tensor, max_lag: int) -> Tensor:
    """Autocorrelation at lags ``1..max_lag`` per channel, averaged over sequences.

    Each sequence ``x[n, :, g]`` has its own mean removed, then
    ``r_k = Σ_t x_t x_{t+k} / Σ_t x_t²`` (the usual biased estimator, as `statsmodels.acf`);
    a constant sequence counts as 0 at every lag.

    Args:
        x: ``[N, T, G]`` sequences; ``max_lag`` in ``1..T-1``.

    Returns:
        ``[max_lag, G]`` float64.
    """
    if x.ndim != 3 or x.shape[0] == 0:
        raise ValueError(f"expected [N >= 1, T, G] sequences, got {tuple(x.shape)}")
    if not 1 <= max_lag < x.shape[1]:
        raise ValueError(f"max_lag={max_lag}: must be in 1..T-1 = 1..{x.shape[1] - 1}")
    z = x.detach().to("cpu", torch.float64)
    z = z - z.mean(dim=1, keepdim=True)
    power = (z * z).sum(dim=1)  # [N, G]
    lagged = torch.stack([(z[:, k:] * z[:, :-k]).sum(dim=1) for k in range(1, max_lag + 1)])
    acf = torch.where(power > 0, lagged / power.clamp_min(torch.finfo(torch.float64).tiny), 0.0)
    return acf.mean(dim=1)  # [max_lag, G]


def long_horizon_statistics(samples: Tensor, reference: Tensor, max_lag: int) -> dict[str, float]:
    """How a long generated stretch compares in law with held-out real data.

    Args:
        samples: ``[N, T, G]`` generated sequences.
        reference: ``[R, T2, G]`` real sequences (T2 may differ from T); ``max_lag < min(T, T2)``.

    Returns (python floats, each averaged over channels):
        marginal_wasserstein: Wasserstein-1 between the pooled values of samples and of
            reference in each channel (`scipy.stats.wasserstein_distance`), over the reference's
            std: 0 for the same values, ``|shift| / std`` for a shifted copy.
        marginal_std_ratio: std of the pooled samples over std of the pooled reference.
        acf_error: mean ``|ACF_samples(k) - ACF_reference(k)|`` over lags ``1..max_lag``
            (`autocorrelation`).
        A channel with a constant reference gives NaN in the two ratios.
    """
    if samples.ndim != 3 or reference.ndim != 3 or samples.shape[2] != reference.shape[2]:
        raise ValueError(f"expected samples [N, T, G] and reference [R, T2, G], got "
                         f"{tuple(samples.shape)} and {tuple(reference.shape)}")
    x = _numpy(samples).reshape(-1, samples.shape[2])
    r = _numpy(reference).reshape(-1, reference.shape[2])
    ref_std = r.std(axis=0)
    distances = np.array([wasserstein_distance(x[:, g], r[:, g]) for g in range(x.shape[1])])
    with np.errstate(divide="ignore", invalid="ignore"):
        wasserstein = np.where(ref_std > 0, distances / ref_std, np.nan)
        std_ratio = np.where(ref_std > 0, x.std(axis=0) / ref_std, np.nan)
    acf_error = (autocorrelation(samples, max_lag) - autocorrelation(reference, max_lag)).abs()
    return {
        "marginal_wasserstein": float(wasserstein.mean()),
        "marginal_std_ratio": float(std_ratio.mean()),
        "acf_error": float(acf_error.mean()),
    }
