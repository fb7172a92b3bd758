"""Parsed columns to a RecordedSeries, whatever the source: the time checks, the gaps at the
frequency (an error, or timestamps inserted), the missing values (an error, or interpolated)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from datasets.recorded.missing_values import first_missing_message, interpolate_missing
from datasets.recorded.series import DataError, RecordedSeries
from datasets.recorded.time_axis import (
    check_increasing,
    first_gap,
    grid_positions,
    grid_times,
    show,
)

#: with dataset.missing=interpolate, more missing timestamps than rows is taken for a wrong
#: frequency rather than filled
MAX_INSERTED_PER_ROW = 1


def assemble(source: str, values: np.ndarray, rows: np.ndarray, generated: tuple[str, ...],
             given: tuple[str, ...], times: np.ndarray | None, offset: pd.DateOffset | None,
             missing: str) -> RecordedSeries:
    """A RecordedSeries from `values` [T, G + C] float64 (NaN = missing, otherwise finite within
    float32), their row labels `rows` [T] int64, and `times` [T] datetime64[ns] or None. With an
    `offset` the times must lie on its grid: gaps are an error (`missing="error"`) or filled
    with inserted rows. NaNs are then an error or interpolated linearly along the time axis
    (grid steps with a frequency, seconds without one, row numbers without times)."""
    alias = offset.freqstr if offset is not None else None
    if times is None:
        x = np.arange(len(values), dtype=np.float64)
    else:
        check_increasing(source, times, rows)
        if offset is None:
            x = (times - times[0]).astype(np.int64) / 1e9
        else:
            positions = grid_positions(source, times, rows, offset)
            gap = first_gap(source, times, rows, positions, alias)
            if gap is not None:
                if missing == "error":
                    raise DataError(gap)
                values, rows, times = fill_gaps(source, values, rows, times, positions, offset)
                positions = np.arange(len(values), dtype=np.int64)
            x = positions.astype(np.float64)
    names = (*generated, *given)
    if missing == "error":
        message = first_missing_message(source, values, rows, names)
        if message is not None:
            raise DataError(message)
    else:
        values = interpolate_missing(source, values, rows, x, generated, given)
    return RecordedSeries(source=source, values=values.astype(np.float32), generated=generated,
                          given=given, time=times, frequency=alias)


def fill_gaps(source: str, values: np.ndarray, rows: np.ndarray, times: np.ndarray,
              positions: np.ndarray, offset: pd.DateOffset
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`values` [N, D] (NaN rows inserted), `rows` [N] (-1 for inserted rows) and `times` [N] on
    the whole grid, N = positions[-1] + 1, from T rows at grid steps `positions` [T]."""
    n = int(positions[-1]) + 1
    inserted = n - len(values)
    if inserted > MAX_INSERTED_PER_ROW * len(values):
        raise DataError(f"{source}: {inserted} of the {n} timestamps from {show(times[0])} to "
                        f"{show(times[-1])} at dataset.frequency={offset.freqstr} are missing, "
                        f"more than the {len(values)} rows the data have: is the frequency right?")
    full = np.full((n, values.shape[1]), np.nan)
    full[positions] = values
    full_rows = np.full(n, -1, dtype=np.int64)
    full_rows[positions] = rows
    return full, full_rows, grid_times(times, positions, offset)
