"""Sliced 2-Wasserstein distance between point clouds of any dimension (exact per projection)."""

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
