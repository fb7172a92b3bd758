"""Metrics of generated sequences that need nothing of the data: distances between generated and
ground-truth windows at the same horizon (energy distance, sliced Wasserstein, diversity). A
dataset's own measures live beside it (e.g. `datasets/circular_arcs/circle_metrics.py`)."""

from utils.metrics.distribution import (
    energy_distance,
    mean_pairwise_distance,
    window_distribution_curves,
    window_distribution_metrics,
)
from utils.metrics.sliced_wasserstein import sliced_wasserstein
from utils.metrics.windows import window_starts

__all__ = [
    "energy_distance",
    "mean_pairwise_distance",
    "sliced_wasserstein",
    "window_distribution_curves",
    "window_distribution_metrics",
    "window_starts",
]
