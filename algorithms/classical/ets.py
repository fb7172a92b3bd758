"""Exponential smoothing state space models (`algorithm=ets`), statsmodels' `ETSModel`, one per
generated channel: the classical probabilistic reference. Needs the timeseries group
(`pip install -r requirements/timeseries.txt`); statsmodels is imported only when fitting."""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass

import numpy as np
from omegaconf import MISSING, DictConfig

from algorithms.classical.forecaster import ClassicalForecaster, ClassicalSchema
from utils.config_checks import check, check_choice
from utils.packages import Extra

#: what ETS needs beyond the base install
TIMESERIES = Extra("timeseries", ("statsmodels",))
TRENDS = ("add", "none")


@dataclass
class ETSSchema(ClassicalSchema):
    trend: str = MISSING  # add | none
    damped_trend: bool = MISSING  # trend: add only


class ETS(ClassicalForecaster):
    """ETS(A, Ad, A) per channel: additive errors, an additive (damped) trend
    (`trend: add|none`, `damped_trend`) and additive seasonality of period `season_length` when
    m > 1 and the history holds at least two full seasons (else none), fitted by maximum
    likelihood on the context (`fit(disp=False)`); paths from
    `results.simulate(horizon, repetitions, anchor="end")` with Gaussian errors of the fitted
    variance.

    Initial states: seasonal models start from statsmodels' heuristic (classical decomposition
    of the first seasons) and estimate only the smoothing parameters; models without seasonality
    estimate their initial level and trend too. Estimating m initial seasonal states as well
    (the statsmodels default) takes 2 s a fit on 96 half-hourly points (m = 48) and forecasts
    worse; the heuristic takes 0.05 s.

    Fallbacks: a fit that raises or gives non-finite paths is refitted without trend (same
    seasonality), and that failing, without trend or seasonality (simple exponential smoothing).
    statsmodels' ConvergenceWarnings (and RuntimeWarnings of a diverging fit, which the fallback
    catches) are silenced for these fits only. Channels are fitted and simulated independently,
    so paths carry no correlation between channels; given channels are ignored (copied by
    `generate`)."""

    config_schema = ETSSchema
    EXTRA = TIMESERIES

    def __init__(self, cfg: DictConfig, token_dim: int, given_dim: int, seed: int = 0) -> None:
        super().__init__(cfg, token_dim, given_dim, seed)
        self.trend = str(cfg.trend)
        self.damped_trend = bool(cfg.damped_trend)

    @classmethod
    def check_config(cls, cfg: DictConfig) -> None:
        super().check_config(cfg)
        check_choice(cfg, "algorithm.trend", TRENDS)
        check(cfg, "algorithm.damped_trend", lambda v: isinstance(v, bool), "true or false")

    def specifications(self, n: int) -> list[tuple[str | None, bool, int | None]]:
        """The (trend, damped, seasonal period) models to try on ``n`` points, in order."""
        period = self.season_length if self.season_length > 1 and n >= 2 * self.season_length \
            else None
        trend = "add" if self.trend == "add" else None
        tries = [(trend, self.damped_trend and trend is not None, period), (None, False, period),
                 (None, False, None)]
        return list(dict.fromkeys(tries))

    def sample_paths(self, history: np.ndarray, horizon: int, num_paths: int,
                     rng: np.random.Generator) -> np.ndarray:
        """history ``[N, G]`` -> ``[num_paths, horizon, G]``, each channel its own model."""
        return np.stack([self.channel_paths(history[:, k], horizon, num_paths, rng)
                         for k in range(history.shape[1])], axis=-1)

    def channel_paths(self, series: np.ndarray, horizon: int, num_paths: int,
                      rng: np.random.Generator) -> np.ndarray:
        """series ``[N]`` -> ``[num_paths, horizon]`` from the first model that fits."""
        from statsmodels.tools.sm_exceptions import ConvergenceWarning
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        failures = []
        for trend, damped, period in self.specifications(len(series)):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    warnings.simplefilter("ignore", RuntimeWarning)
                    model = ETSModel(series, error="add", trend=trend, damped_trend=damped,
                                     seasonal="add" if period else None, seasonal_periods=period,
                                     initialization_method="heuristic" if period else "estimated")
                    results = model.fit(disp=False)
                    # statsmodels 0.15 renamed simulate's random_state to rng
                    key = "rng" if "rng" in inspect.signature(results.simulate).parameters \
                        else "random_state"
                    paths = results.simulate(horizon, anchor="end", repetitions=num_paths,
                                             **{key: rng})
                paths = np.asarray(paths, dtype=np.float64).reshape(horizon, num_paths).T
                if np.isfinite(paths).all():
                    return paths
                failures.append(f"trend={trend} seasonal={period}: non-finite paths")
            except Exception as error:  # noqa: BLE001 - any failed fit falls back to a simpler model
                failures.append(f"trend={trend} seasonal={period}: {type(error).__name__}: {error}")
        raise RuntimeError(f"algorithm={self.name}: no ETS model fits {len(series)} points ("
                           + "; ".join(failures) + ")")
