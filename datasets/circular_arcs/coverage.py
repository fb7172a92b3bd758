"""How evenly the fitted centres cover the data's centre square: a uniform-coverage ratio."""

from __future__ import annotations

import torch
from torch import Tensor

from utils.metrics.sliced_wasserstein import sliced_wasserstein


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
