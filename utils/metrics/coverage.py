"""Distribution-level diversity: sliced Wasserstein distance and a uniform-coverage ratio."""

from __future__ import annotations

import torch
from torch import Tensor


def _quantiles_w2_sq(sa: Tensor, sb: Tensor) -> Tensor:
    """Exact squared W2 between 1-D empirical distributions, per column.

    ``sa [N, P]`` and ``sb [M, P]`` are sorted along dim 0. The quantile functions are step functions
    with breaks at i/N and j/M, so ``W2^2 = int_0^1 (Qa(q) - Qb(q))^2 dq`` is a finite weighted sum over
    the merged breakpoints (for N == M this is ``mean((sa - sb)^2)``).
    """
    n, m = sa.shape[0], sb.shape[0]
    if n == m:
        return (sa - sb).square().mean(0)
    dev = sa.device
    levels = torch.cat(
        (
            torch.zeros(1, dtype=torch.float64, device=dev),
            torch.arange(1, n + 1, dtype=torch.float64, device=dev) / n,
            torch.arange(1, m + 1, dtype=torch.float64, device=dev) / m,
        )
    ).sort().values
    widths = levels.diff()  # [n + m], some ~0 where i/N == j/M
    mids = (levels[:-1] + levels[1:]) / 2
    ia = (mids * n).long().clamp_(0, n - 1)
    ib = (mids * m).long().clamp_(0, m - 1)
    return (widths[:, None] * (sa[ia] - sb[ib]).square()).sum(0)


def _random_directions(num: int, dim: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
    gen_device = generator.device if generator is not None else device
    d = torch.randn(num, dim, generator=generator, dtype=torch.float64, device=gen_device).to(device)
    return d / d.norm(dim=1, keepdim=True)


def sliced_wasserstein(
    a: Tensor,
    b: Tensor,
    num_projections: int = 128,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Sliced 2-Wasserstein distance between point clouds.

    ``SW(a, b) = sqrt( mean_k W2^2(<a, u_k>, <b, u_k>) )`` over ``num_projections`` random unit
    directions ``u_k`` (uniform on the sphere). Each 1-D W2 is exact for empirical distributions:
    sorted projections when N == M, otherwise quantile functions compared on the merged quantile grid.
    Computed in float64.

    Args:
        a: ``[N, D]`` points.
        b: ``[M, D]`` points.
        num_projections: number of random directions.
        generator: RNG for the directions (global RNG if None).

    Returns:
        Scalar tensor (float64).
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected [N, D] and [M, D] point clouds, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[0] == 0 or b.shape[0] == 0:
        raise ValueError("sliced_wasserstein needs non-empty point clouds")
    a64 = a.to(torch.float64)
    b64 = b.to(a64.device, torch.float64)
    directions = _random_directions(num_projections, a.shape[1], generator, a64.device)  # [P, D]
    sa = (a64 @ directions.T).sort(dim=0).values  # [N, P]
    sb = (b64 @ directions.T).sort(dim=0).values  # [M, P]
    return _quantiles_w2_sq(sa, sb).mean().sqrt()


def uniform_coverage_ratio(
    points: Tensor,
    low: float,
    high: float,
    generator: torch.Generator | None = None,
    repeats: int = 8,
    num_projections: int = 128,
) -> float:
    """How far a point cloud is from U(low, high)^D, relative to the sampling noise of uniform draws.

    ``ratio = mean_r SW(points, U_r) / mean_r SW(U'_r, U''_r)`` where every ``U`` is a fresh draw of N
    points from U(low, high)^D and SW is ``sliced_wasserstein``. The denominator is the distance a
    perfect uniform sample of the same size already has from another draw, so the ratio is ~1 for
    points that are themselves uniform on the box, and grows when they are collapsed, bunched or
    cover only part of the box (e.g. N = 512 copies of the origin against (-2, 2)^2 give ~12).

    Args:
        points: ``[N, D]`` (e.g. fitted circle centres, D = 2); must be finite.
        low, high: bounds of the reference box.
        generator: RNG for the uniform draws and projections (global RNG if None).
        repeats: number of draws averaged in numerator and denominator.
        num_projections: directions per SW evaluation.

    Returns:
        The ratio as a Python float.
    """
    if points.ndim != 2 or points.shape[0] < 1:
        raise ValueError(f"expected non-empty [N, D] points, got {tuple(points.shape)}")
    if not high > low:
        raise ValueError(f"need high > low, got low={low}, high={high}")
    n, dim = points.shape
    gen_device = generator.device if generator is not None else points.device

    def draw() -> Tensor:
        u = torch.rand(n, dim, generator=generator, dtype=torch.float64, device=gen_device)
        return (low + (high - low) * u).to(points.device)

    numerator = torch.stack(
        [sliced_wasserstein(points, draw(), num_projections, generator) for _ in range(repeats)]
    ).mean()
    denominator = torch.stack(
        [sliced_wasserstein(draw(), draw(), num_projections, generator) for _ in range(repeats)]
    ).mean()
    return float(numerator / denominator)
