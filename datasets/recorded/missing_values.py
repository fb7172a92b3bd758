"""Missing values (`dataset.missing`): an error naming the first one, or linear interpolation
in time of the interior ones. A value before a column's first one or after its last one cannot
be interpolated; for a given column the missing end is named as such, since the forecast reads
the given channels' future values."""

from __future__ import annotations

import numpy as np

from datasets.recorded.series import DataError

MISSING_MODES = ("error", "interpolate")


def check_missing_mode(missing: str) -> None:
    """DataError naming `dataset.missing` unless it is one of MISSING_MODES."""
    if missing not in MISSING_MODES:
        raise DataError(f"dataset.missing={missing}: must be one of {', '.join(MISSING_MODES)}")


def first_missing_message(source: str, values: np.ndarray, rows: np.ndarray,
                          names: tuple[str, ...]) -> str | None:
    """The message for the first NaN of `values` [T, D] (rows in order, then columns), or None."""
    nan = np.isnan(values)
    if not nan.any():
        return None
    i, j = np.argwhere(nan)[0]
    return (f"{source}: row {rows[i]}: column '{names[j]}' has no value; dataset.missing="
            f"interpolate fills it by linear interpolation in time")


def interpolate_missing(source: str, values: np.ndarray, rows: np.ndarray, x: np.ndarray,
                        generated: tuple[str, ...], given: tuple[str, ...]) -> np.ndarray:
    """[T, G + C] float64: `values` [T, G + C] with each column's interior NaNs linearly
    interpolated along `x` [T] (increasing: grid steps, seconds or row numbers). `rows` [T] are
    the row labels, -1 for rows inserted into gaps (never a column's first or last row)."""
    filled = values.copy()
    for j, name in enumerate((*generated, *given)):
        kind = "generated" if j < len(generated) else "given"
        column = filled[:, j]
        known = ~np.isnan(column)
        if not known.any():
            raise DataError(f"{source}: {kind} column '{name}' has no value at all")
        first, last = int(np.argmax(known)), len(column) - 1 - int(np.argmax(known[::-1]))
        if first > 0:
            raise DataError(f"{source}: {kind} column '{name}' has no value before row "
                            f"{rows[first]}: a value before a column's first one cannot be "
                            f"interpolated")
        if last < len(column) - 1:
            after = rows[last + 1:]
            start = int(after[after >= 0][0])
            if kind == "given":
                raise DataError(f"{source}: given column '{name}' has no value from row {start} "
                                f"on: the forecast reads the given channels' future values")
            raise DataError(f"{source}: generated column '{name}' has no value from row {start} "
                            f"on: a value after a column's last one cannot be interpolated")
        if not known.all():
            column[~known] = np.interp(x[~known], x[known], column[known])
    return filled
