"""The time axis of a recorded series: the frequency alias, time cells parsed with pandas, the
checks that times strictly increase, and each row's place on the frequency's grid (which shows
the gaps: timestamps of the grid that no row has)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from datasets.recorded.numbers import missing_cells
from datasets.recorded.series import DataError

FREQUENCY_EXAMPLES = "30min, h, D, B, W, MS"


def parse_frequency(frequency: str) -> pd.DateOffset:
    """The pandas offset of a frequency alias; DataError naming `dataset.frequency` for an
    unknown alias or a step that is not positive."""
    try:
        offset = to_offset(frequency)
    except (ValueError, TypeError) as error:
        hint = re.search(r"Did you mean [^?'\"]+\?|Please use '[^']+' instead", str(error))
        raise DataError(f"dataset.frequency={frequency}: not a pandas offset alias (e.g. "
                        f"{FREQUENCY_EXAMPLES}){': ' + hint.group(0) if hint else ''}") from None
    if offset.n < 1:
        raise DataError(f"dataset.frequency={frequency}: the step must be positive")
    return offset


def show(time: np.datetime64) -> str:
    """A timestamp for a message: `2014-01-01 00:30:00`."""
    return str(pd.Timestamp(time))


def parse_times(source: str, column: str, cells: Sequence[str], rows: np.ndarray) -> np.ndarray:
    """[T] datetime64[ns] from T text cells of the time `column` (row labels `rows` [T]). The
    format is inferred from the first cell; times with a UTC offset are converted to UTC and
    the zone dropped. DataError at the first empty or unparseable cell."""
    missing = missing_cells(cells)
    if missing.any():
        i = int(np.argmax(missing))
        raise DataError(f"{source}: row {rows[i]}: time column '{column}' has no value (a time "
                        f"is never interpolated)")
    text = pd.Series(list(cells), dtype=object).str.strip()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format": checked below
        try:
            parsed = pd.to_datetime(text, errors="coerce", utc=True)
        except (ValueError, TypeError, OverflowError) as error:
            raise DataError(f"{source}: time column '{column}': {error}") from None
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        like = f" like row {rows[0]}'s {cells[0]!r}" if i > 0 else ""
        raise DataError(f"{source}: row {rows[i]}: time column '{column}' holds {cells[i]!r}, "
                        f"not a date/time{like}")
    return as_nanoseconds(source, parsed.dt.tz_localize(None).to_numpy())


def as_nanoseconds(source: str, times: np.ndarray) -> np.ndarray:
    """[T] datetime64[ns] from [T] datetime64 of any unit; DataError when out of its range."""
    try:
        return pd.DatetimeIndex(times).as_unit("ns").to_numpy()
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime) as error:
        raise DataError(f"{source}: times outside 1677-2262 (nanosecond datetimes): "
                        f"{error}") from None


def check_increasing(source: str, times: np.ndarray, rows: np.ndarray) -> None:
    """DataError at the first of `times` [T] that repeats or precedes the time before it."""
    step = np.diff(times)
    bad = step <= np.timedelta64(0, "ns")
    if bad.any():
        i = int(np.argmax(bad)) + 1
        if step[i - 1] == np.timedelta64(0, "ns"):
            raise DataError(f"{source}: row {rows[i]}: time {show(times[i])} repeats row "
                            f"{rows[i - 1]}'s: each timestamp must appear once")
        raise DataError(f"{source}: row {rows[i]}: time {show(times[i])} is before row "
                        f"{rows[i - 1]}'s ({show(times[i - 1])}): rows must be in increasing "
                        f"time order")


def grid_positions(source: str, times: np.ndarray, rows: np.ndarray, offset: pd.DateOffset
                   ) -> np.ndarray:
    """[T] int64: the step of the `offset` grid starting at times[0] that each of the strictly
    increasing `times` [T] falls on; DataError at the first time off the grid."""
    alias = offset.freqstr
    if isinstance(offset, pd.offsets.Tick):
        since = (times - times[0]).astype(np.int64)
        off = since % offset.nanos != 0
        positions = since // offset.nanos
    else:
        grid = pd.date_range(start=times[0], end=times[-1], freq=offset)
        if len(grid) == 0 or grid[0] != times[0]:
            raise DataError(f"{source}: row {rows[0]}: time {show(times[0])} is not a "
                            f"dataset.frequency={alias} timestamp")
        positions = grid.get_indexer(pd.DatetimeIndex(times)).astype(np.int64)
        off = positions < 0
    if off.any():
        i = int(np.argmax(off))
        raise DataError(f"{source}: row {rows[i]}: time {show(times[i])} is not on the "
                        f"dataset.frequency={alias} grid that starts at row {rows[0]} "
                        f"({show(times[0])})")
    return positions


def first_gap(source: str, times: np.ndarray, rows: np.ndarray, positions: np.ndarray,
              alias: str) -> str | None:
    """The message for the first gap of `positions` [T] (grid steps of `times` [T]), or None."""
    step = np.diff(positions)
    if not (step > 1).any():
        return None
    i = int(np.argmax(step > 1)) + 1
    count = int(step[i - 1] - 1)
    return (f"{source}: row {rows[i]}: {count} timestamp{'s' if count > 1 else ''} missing before "
            f"{show(times[i])} (row {rows[i - 1]} is at {show(times[i - 1])}; dataset.frequency="
            f"{alias}); dataset.missing=interpolate inserts them and interpolates their values")


def grid_times(times: np.ndarray, positions: np.ndarray, offset: pd.DateOffset) -> np.ndarray:
    """[positions[-1] + 1] datetime64[ns]: every timestamp of the grid from times[0]."""
    return as_nanoseconds("", pd.date_range(start=times[0], periods=int(positions[-1]) + 1,
                                            freq=offset).to_numpy())


def regular_axis(start: str, frequency: str, length: int) -> np.ndarray:
    """[length] datetime64[ns]: `length` timestamps from `start`, one every `frequency`."""
    return as_nanoseconds(start, pd.date_range(start=pd.Timestamp(start), periods=length,
                                               freq=parse_frequency(frequency)).to_numpy())
