"""A recorded series: a fixed history of real observations, its columns split into the ones a
model generates and the ones it is given (covariates, actions), and the contiguous time split
into training, validation and test parts."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from utils.config_checks import ConfigError


class DataError(ConfigError):
    """Bad recorded data (a file, a column, a row): `main` prints the message as one line and
    exits non-zero. Messages start with the data's source; a row is named as `row R`, R being the
    file's line number (header = line 1) for a CSV file, the 1-based row for other sources."""


@dataclass(frozen=True, eq=False)
class RecordedSeries:
    """T rows of G generated and C given channels, in time order.

    `values` is [T, G + C] float32, the generated columns first (in `generated` order), then the
    given ones (in `given` order); it is stored read-only. `time` is [T] datetime64[ns], or None
    when the data have no time axis (rows are then equally spaced); `frequency` is the pandas
    offset alias of the time axis ("30min", "B", "D", ...) or None."""

    source: str
    values: np.ndarray
    generated: tuple[str, ...]
    given: tuple[str, ...]
    time: np.ndarray | None
    frequency: str | None

    def __post_init__(self) -> None:
        values = np.asarray(self.values)
        names = (*self.generated, *self.given)
        if values.dtype != np.float32 or values.ndim != 2 or values.shape[1] != len(names):
            raise ValueError(f"{self.source}: values must be float32 [T, {len(names)}] for "
                             f"columns {names}, got {values.dtype} {values.shape}")
        if not self.generated:
            raise ValueError(f"{self.source}: a recorded series needs a generated column")
        if len(set(names)) != len(names):
            raise ValueError(f"{self.source}: column names repeat: {names}")
        if self.time is not None:
            time = np.asarray(self.time)
            if time.dtype != np.dtype("datetime64[ns]") or time.shape != (values.shape[0],):
                raise ValueError(f"{self.source}: time must be datetime64[ns] [{values.shape[0]}], "
                                 f"got {time.dtype} {time.shape}")
            object.__setattr__(self, "time", read_only(time))
        elif self.frequency is not None:
            raise ValueError(f"{self.source}: a frequency ({self.frequency}) needs a time axis")
        object.__setattr__(self, "values", read_only(values))
        object.__setattr__(self, "generated", tuple(self.generated))
        object.__setattr__(self, "given", tuple(self.given))

    @property
    def length(self) -> int:
        """T, the number of rows."""
        return int(self.values.shape[0])

    @property
    def generated_dim(self) -> int:
        """G, the number of generated channels."""
        return len(self.generated)

    @property
    def given_dim(self) -> int:
        """C, the number of given channels."""
        return len(self.given)

    @property
    def generated_values(self) -> np.ndarray:
        """[T, G] float32: the generated channels."""
        return self.values[:, : self.generated_dim]

    @property
    def given_values(self) -> np.ndarray:
        """[T, C] float32: the given channels."""
        return self.values[:, self.generated_dim:]

    def check_length(self, min_length: int, what: str) -> None:
        """Raise DataError when the series has fewer than `min_length` rows, `what` naming the
        need ("dataset.train_length + 1")."""
        if self.length < min_length:
            raise DataError(f"{self.source}: {self.length} rows, shorter than {what} "
                            f"({min_length} rows)")


def read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view of `array` (the array itself stays writable for its owner)."""
    view = array.view()
    view.flags.writeable = False
    return view


def split_by_time(length: int, validation_fraction: float, test_fraction: float,
                  min_part: int) -> tuple[slice, slice, slice]:
    """Train, validation and test row ranges of a series of `length` rows: contiguous, in time
    order (train first), not overlapping, together covering every row. The validation and test
    parts get round(fraction · length) rows, the training part the rest; every part must have at
    least `min_part` rows (a DataError naming the part and the sizes otherwise)."""
    for name, fraction in (("validation_fraction", validation_fraction),
                           ("test_fraction", test_fraction)):
        if not (isinstance(fraction, (int, float)) and not isinstance(fraction, bool)
                and 0 <= fraction < 1):
            raise DataError(f"dataset.{name}={fraction}: must be a number in [0, 1)")
    if validation_fraction + test_fraction >= 1:
        raise DataError(f"dataset.validation_fraction={validation_fraction} + dataset.test_fraction="
                        f"{test_fraction} leave no training rows: their sum must be below 1")
    if length < 0 or min_part < 0:
        raise ValueError(f"length={length} and min_part={min_part} must be non-negative")
    n_validation = math.floor(validation_fraction * length + 0.5)
    n_test = math.floor(test_fraction * length + 0.5)
    n_train = length - n_validation - n_test
    sizes = {"train": n_train, "validation": n_validation, "test": n_test}
    for part, size in sizes.items():
        if size < min_part:
            raise DataError(f"{length} rows split into train {n_train} / validation {n_validation}"
                            f" / test {n_test} rows: the {part} part has {size} rows, fewer than "
                            f"the {min_part} it needs")
    return (slice(0, n_train), slice(n_train, n_train + n_validation),
            slice(n_train + n_validation, length))
