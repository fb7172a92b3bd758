"""The seasonal naive forecast with bootstrapped residuals (`algorithm=seasonal_naive`): numpy
only, the simplest reference a probabilistic forecaster must beat."""

from __future__ import annotations

import numpy as np

from algorithms.classical.forecaster import ClassicalForecaster


class SeasonalNaive(ClassicalForecaster):
    """``y_t = y_{t-m} + e``: each step repeats the value one season (m = `season_length`)
    earlier, of the context or of the path itself, plus a seasonal difference
    ``e_s = y_s - y_{s-m}`` of the context drawn at random (fpp3's bootstrapped residuals, §5.5).
    One index is drawn per step and path for all channels together, so the paths keep the
    context's correlation between channels. m = 1 is the naive random walk, its increments
    resampled. An exactly m-periodic context has zero residuals and is continued exactly.
    Given channels are ignored (copied by `generate`). Needs more than m context tokens."""

    def sample_paths(self, history: np.ndarray, horizon: int, num_paths: int,
                     rng: np.random.Generator) -> np.ndarray:
        """history ``[N, G]`` -> ``[num_paths, horizon, G]``."""
        m, (n, g) = self.season_length, history.shape
        if n <= m:
            raise ValueError(f"algorithm={self.name}: season_length={m} needs more than {m} "
                             f"context tokens, got {n}")
        residuals = history[m:] - history[:-m]  # [N - m, G]
        picks = rng.integers(0, n - m, size=(num_paths, horizon))
        series = np.empty((num_paths, m + horizon, g))
        series[:, :m] = history[-m:]
        for h in range(horizon):
            series[:, m + h] = series[:, h] + residuals[picks[:, h]]
        return series[:, m:]
