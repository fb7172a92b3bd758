"""Data cells to numbers: text parsed with pandas, every cell that is neither a number nor
missing named by its row. Missing cells become NaN; an infinite value, or one beyond float32, is
an error like a non-numeric one (it cannot be interpolated or trained on)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from datasets.recorded.series import DataError

#: cells read as missing (compared stripped and lower-cased): empty, and what R, pandas and
#: spreadsheets write for a missing value
MISSING_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none"})

FLOAT32_MAX = float(np.finfo(np.float32).max)


def missing_cells(cells: Sequence[str]) -> np.ndarray:
    """[T] bool: which of the T text cells stand for a missing value."""
    return np.array([c.strip().lower() in MISSING_TOKENS for c in cells], dtype=bool)


def parse_column(source: str, column: str, cells: Sequence[str], rows: np.ndarray) -> np.ndarray:
    """[T] float64 from T text cells of `column` (row labels `rows` [T]), NaN where missing;
    DataError at the first cell that is not a finite float32 number."""
    text = pd.Series(list(cells), dtype=object).str.strip()
    missing = missing_cells(cells)
    numbers = pd.to_numeric(text.where(~missing, "nan"), errors="coerce").to_numpy(np.float64)
    bad = np.isnan(numbers) & ~missing
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{source}: row {rows[i]}: column '{column}' holds {cells[i]!r}, "
                        f"not a number")
    check_finite(source, column, numbers, rows, cells)
    return numbers


def check_finite(source: str, column: str, numbers: np.ndarray, rows: np.ndarray,
                 cells: Sequence[str] | None = None) -> None:
    """DataError at the first of `numbers` [T] (NaN = missing, allowed) that is infinite or
    beyond float32's range, shown as its text cell when `cells` are given."""
    huge = np.abs(np.nan_to_num(numbers, nan=0.0)) > FLOAT32_MAX
    if huge.any():
        i = int(np.argmax(huge))
        shown = repr(cells[i]) if cells is not None else repr(float(numbers[i]))
        what = "not a finite number" if np.isinf(numbers[i]) else \
            f"beyond float32's range (±{FLOAT32_MAX:.3g})"
        raise DataError(f"{source}: row {rows[i]}: column '{column}' holds {shown}, {what}")
