"""Classical forecasting references with the neural models' generation interface
(`ClassicalForecaster.generate`): fitted on each real context when sampling, nothing trained.
`seasonal_naive` needs numpy only; `ets` needs the timeseries group (`EXTRA`)."""

from algorithms.classical.ets import ETS, TIMESERIES
from algorithms.classical.forecaster import ClassicalForecaster
from algorithms.classical.seasonal_naive import SeasonalNaive

#: the optional dependency group of `ets` (`seasonal_naive` needs the base install only)
EXTRA = TIMESERIES

CLASSICAL_FORECASTERS: dict[str, type[ClassicalForecaster]] = {
    "seasonal_naive": SeasonalNaive, "ets": ETS}

__all__ = ["CLASSICAL_FORECASTERS", "ETS", "EXTRA", "ClassicalForecaster", "SeasonalNaive"]
