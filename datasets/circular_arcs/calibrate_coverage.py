"""The coverage ratio's noise band: what perfectly uniform centres score at a given sample size.

    python -m datasets.circular_arcs.calibrate_coverage --num-points 512 --sets 200

A model's `coverage_ratio` means "as uniform as the data" only within this band.
"""

from __future__ import annotations

import argparse

import torch

from datasets.circular_arcs.coverage import uniform_coverage_ratio


def coverage_band(num_points: int, sets: int, low: float = -2.0, high: float = 2.0
                  ) -> dict[str, float]:
    """Ratios of `sets` independent uniform point sets `[num_points, 2]`: median and tails."""
    ratios = torch.tensor([
        uniform_coverage_ratio(low + (high - low) * torch.rand(
            num_points, 2, generator=torch.Generator().manual_seed(1000 + i)), low, high,
            generator=torch.Generator().manual_seed(0))
        for i in range(sets)])
    return {"median": ratios.median().item(), "p95": ratios.quantile(0.95).item(),
            "p99": ratios.quantile(0.99).item(), "max": ratios.max().item()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-points", type=int, default=512)
    parser.add_argument("--sets", type=int, default=200)
    args = parser.parse_args()
    band = coverage_band(args.num_points, args.sets)
    print(f"uniform centres, N={args.num_points}, {args.sets} sets: " +
          ", ".join(f"{k} {v:.3f}" for k, v in band.items()))
