"""Metrics for rollouts: circle fits, per-window statistics, coverage/diversity, and distances
between generated and ground-truth windows for any data."""

from .circle_fit import fit_circle, window_statistics
from .circle_rollout import circle_metric_curves, circle_rollout_metrics
from .coverage import sliced_wasserstein, uniform_coverage_ratio
from .distribution import (
    energy_distance,
    mean_pairwise_distance,
    window_distribution_curves,
    window_distribution_metrics,
)

__all__ = [
    "fit_circle",
    "window_statistics",
    "circle_rollout_metrics",
    "circle_metric_curves",
    "sliced_wasserstein",
    "uniform_coverage_ratio",
    "energy_distance",
    "mean_pairwise_distance",
    "window_distribution_curves",
    "window_distribution_metrics",
]
