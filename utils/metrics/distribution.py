"""Distances between generated and ground-truth windows, for any sequence data.

No closed form needed: the windows ``x[s : s + W]`` of N generated and M ground-truth sequences are
two point clouds, compared window by window so that drift over the horizon shows as a curve. Each
distance comes with its *reference*: the same distance between two independent ground-truth draws of
the same sizes, i.e. what a perfect generator scores with this many samples.

A window is the vector ``v = flatten(x[s : s + W]) / sqrt(W)`` (``W·D`` numbers), so that
``||v - v'|| = sqrt(mean_t ||x_t - x'_t||^2)``: an RMS distance per token, in data units, whatever W.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from utils.metrics.sliced_wasserstein import sliced_wasserstein
from utils.metrics.windows import window_starts


def _pairwise(a: Tensor, b: Tensor) -> Tensor:
    """Euclidean distances ``[N, M]`` between the rows of ``a [N, F]`` and ``b [M, F]`` (float64).

    The direct difference, not the matrix-product shortcut: identical rows give exactly 0.
    """
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


def energy_distance(a: Tensor, b: Tensor) -> Tensor:
    """Energy distance between the empirical distributions of ``a [N, F]`` and ``b [M, F]``.

    ``E(a, b) = 2·mean_ij ||a_i - b_j|| - mean_ii' ||a_i - a_i'|| - mean_jj' ||b_j - b_j'||``
    (Székely & Rizzo; V-statistics, so ``E >= 0`` and ``E = 0`` iff the two samples are the same
    multiset). It is an MMD with the distance kernel. Two point masses give ``E(δ_x, δ_y) = 2||x - y||``;
    for finite samples of one distribution ``E`` is positive, about ``(1/N + 1/M)·mean ||X - X'||``,
    which is why it should be read against a reference of two ground-truth draws.

    Returns:
        Scalar float64 tensor.
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected [N, F] and [M, F] point clouds, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    if a.shape[0] == 0 or b.shape[0] == 0:
        raise ValueError("energy_distance needs non-empty point clouds")
    a64 = a.to(torch.float64)
    b64 = b.to(a64.device, torch.float64)
    return 2 * _pairwise(a64, b64).mean() - _pairwise(a64, a64).mean() - _pairwise(b64, b64).mean()


def mean_pairwise_distance(a: Tensor) -> Tensor:
    """``mean_{i != i'} ||a_i - a_i'||`` over the rows of ``a [N, F]`` (N >= 2): 0 for a collapsed set."""
    n = a.shape[0]
    if a.ndim != 2 or n < 2:
        raise ValueError(f"mean_pairwise_distance needs [N >= 2, F] points, got {tuple(a.shape)}")
    a64 = a.to(torch.float64)
    return _pairwise(a64, a64).sum() / (n * (n - 1))


def window_vectors(x: Tensor, start: int, window: int) -> Tensor:
    """Windows ``[N, W·D]`` of sequences ``x [N, T, D]``: ``flatten(x[:, s : s + W]) / sqrt(W)``, float64."""
    return x[:, start : start + window].to(torch.float64).flatten(1) / math.sqrt(window)


def _finite_rows(x: Tensor) -> Tensor:
    return x[torch.isfinite(x).all(dim=1)]


def window_distribution_curves(
    samples: Tensor,
    truth: Tensor,
    reference: Tensor,
    window: int,
    stride: int | None = None,
    num_projections: int = 128,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Per window over the horizon: distances from generated to ground-truth windows, and diversity.

    Windows start at ``0, stride, 2·stride, ...`` plus ``T - W`` (as in ``window_statistics``; stride
    defaults to ``W // 2``). For window k, with ``G_k, R_k, R'_k`` the generated, ground-truth and
    reference window vectors (see ``window_vectors``):

    * ``energy_distance = E(G_k, R_k)`` and ``energy_distance_reference = E(R'_k, R_k)``;
    * ``sliced_wasserstein = SW(G_k, R_k)`` and ``sliced_wasserstein_reference = SW(R'_k, R_k)``, with
      the same ``num_projections`` directions (from ``seed``) for every window and both comparisons;
    * ``diversity_ratio = mean_pairwise(G_k) / mean_pairwise(R_k)``: ~1 as varied as the data, 0 when
      every sample is the same sequence.

    Generated windows with a non-finite value are left out (a value is NaN when fewer than two are
    finite). Ground truth and reference should be independent draws, the reference of the samples' size.

    Args:
        samples: ``[N, T, D]`` generated sequences.
        truth: ``[M, T, D]`` ground-truth sequences at the same time steps.
        reference: ``[K, T, D]`` a second, independent ground-truth draw (K = N for a fair reference).
        window: window length W (1 <= W <= T).
        stride: distance between window starts.
        num_projections: directions of the sliced Wasserstein distance.
        seed: seeds the directions.

    Returns:
        dict of equal-length lists: ``window_end`` (exclusive end of each window), ``energy_distance``,
        ``energy_distance_reference``, ``sliced_wasserstein``, ``sliced_wasserstein_reference``,
        ``diversity_ratio``.
    """
    if samples.ndim != 3 or truth.ndim != 3 or reference.ndim != 3:
        raise ValueError("expected samples, truth and reference of shape [N, T, D]")
    if truth.shape[1:] != samples.shape[1:] or reference.shape[1:] != samples.shape[1:]:
        raise ValueError(f"samples {tuple(samples.shape)}, truth {tuple(truth.shape)} and reference "
                         f"{tuple(reference.shape)} must share [T, D]")
    horizon = samples.shape[1]
    if not 1 <= window <= horizon:
        raise ValueError(f"window must be in [1, T={horizon}], got window={window}")
    stride = max(window // 2, 1) if stride is None else stride
    truth, reference = truth.to(samples.device), reference.to(samples.device)

    def sw(a: Tensor, b: Tensor) -> float:
        generator = torch.Generator(device=a.device).manual_seed(seed)
        return float(sliced_wasserstein(a, b, num_projections, generator))

    curves: dict[str, list[float]] = {k: [] for k in (
        "window_end", "energy_distance", "energy_distance_reference", "sliced_wasserstein",
        "sliced_wasserstein_reference", "diversity_ratio")}
    for start in window_starts(horizon, window, stride):
        gen = _finite_rows(window_vectors(samples, start, window))
        real = window_vectors(truth, start, window)
        ref = window_vectors(reference, start, window)
        curves["window_end"].append(start + window)
        curves["energy_distance_reference"].append(float(energy_distance(ref, real)))
        curves["sliced_wasserstein_reference"].append(sw(ref, real))
        if gen.shape[0] < 2:
            for key in ("energy_distance", "sliced_wasserstein", "diversity_ratio"):
                curves[key].append(math.nan)
            continue
        curves["energy_distance"].append(float(energy_distance(gen, real)))
        curves["sliced_wasserstein"].append(sw(gen, real))
        curves["diversity_ratio"].append(float(mean_pairwise_distance(gen) / mean_pairwise_distance(real)))
    return curves


def window_distribution_metrics(
    samples: Tensor,
    truth: Tensor,
    reference: Tensor,
    window: int,
    num_projections: int = 128,
    seed: int = 0,
) -> dict[str, float]:
    """The distances of ``window_distribution_curves`` on the first ``[0, W)`` and last ``[T - W, T)``
    windows only, as scalars.

    Returns:
        ``energy_distance_first``, ``energy_distance_first_reference``, ``energy_distance_last``,
        ``energy_distance_last_reference``, the same four for ``sliced_wasserstein``, and
        ``diversity_ratio_first``, ``diversity_ratio_last`` (Python floats; NaN when undefined).
    """
    horizon = samples.shape[1]
    curves = window_distribution_curves(samples, truth, reference, window,
                                        stride=max(horizon - window, 1),
                                        num_projections=num_projections, seed=seed)
    out: dict[str, float] = {}
    for name in ("energy_distance", "sliced_wasserstein"):
        for where, k in (("first", 0), ("last", -1)):
            out[f"{name}_{where}"] = curves[name][k]
            out[f"{name}_{where}_reference"] = curves[f"{name}_reference"][k]
    out["diversity_ratio_first"] = curves["diversity_ratio"][0]
    out["diversity_ratio_last"] = curves["diversity_ratio"][-1]
    return out
