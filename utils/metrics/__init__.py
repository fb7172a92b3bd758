"""Metrics for rollouts: circle fits, per-window statistics, coverage/diversity."""

from .circle_fit import fit_circle, window_statistics
from .circle_rollout import circle_metric_curves, circle_rollout_metrics
from .coverage import sliced_wasserstein, uniform_coverage_ratio

__all__ = [
    "fit_circle",
    "window_statistics",
    "circle_rollout_metrics",
    "circle_metric_curves",
    "sliced_wasserstein",
    "uniform_coverage_ratio",
]
