"""Which columns of the data a series reads: the generated and given lists and the time column,
checked against each other and against the columns the data have."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from datasets.recorded.series import DataError


def listing(names: Sequence[str]) -> str:
    """`a, b, c`: names for a message."""
    return ", ".join(str(n) for n in names) if names else "(none)"


def check_column_lists(source: str, available: Sequence[str], generated: Sequence[str],
                       given: Sequence[str], time_column: str | None) -> None:
    """Raise DataError unless at least one column is generated, no column is listed twice (in one
    list, in both, or as data and as the time column) and every listed column exists."""
    if not generated:
        raise DataError(f"{source}: no generated column: dataset.generated is empty (the data's "
                        f"columns: {listing(available)})")
    for key, names in (("dataset.generated", generated), ("dataset.given", given)):
        twice = [n for n, k in Counter(names).items() if k > 1]
        if twice:
            raise DataError(f"{source}: column '{twice[0]}' is listed twice in {key}")
    both = [n for n in generated if n in given]
    if both:
        raise DataError(f"{source}: column '{both[0]}' is listed both in dataset.generated and in "
                        f"dataset.given: a column is either generated or given")
    if time_column is not None:
        for key, names in (("dataset.generated", generated), ("dataset.given", given)):
            if time_column in names:
                raise DataError(f"{source}: the time column '{time_column}' is also listed in "
                                f"{key}: the time column is not data")
    wanted = [*(("dataset.generated", n) for n in generated), *(("dataset.given", n) for n in given),
              *([("dataset.time_column", time_column)] if time_column is not None else [])]
    for key, name in wanted:
        if name not in available:
            raise DataError(f"{source}: no column '{name}' ({key}); the data's columns: "
                            f"{listing(available)}")
