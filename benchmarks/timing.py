"""Interleaved repetitions: every round times each candidate once, in an order that rotates
from round to round, so a slow spell of a shared machine falls on all candidates alike. Ratios
are the median over rounds of the ratio within a round (paired), not a ratio of medians."""

from __future__ import annotations

import statistics
from typing import Callable


def interleave(candidates: dict[str, Callable[[], float]], rounds: int
               ) -> dict[str, list[float]]:
    """`rounds` measurements of each candidate (each call returns its own measurement, e.g.
    seconds per step), as lists in round order."""
    names = list(candidates)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(candidates[name]())
    return samples


def median(values: list[float]) -> float:
    return statistics.median(values)


def paired_ratio(numerator: list[float], denominator: list[float]) -> float:
    """The median over rounds of numerator[r] / denominator[r]."""
    return statistics.median(a / b for a, b in zip(numerator, denominator))


def spread(values: list[float]) -> str:
    """'min–max' of a list, for a line that shows how noisy the rounds were."""
    return f"{min(values):.3g}–{max(values):.3g}"
