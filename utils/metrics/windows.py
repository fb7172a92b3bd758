"""Where the windows of a rollout start: every metric that scores a horizon window by window."""

from __future__ import annotations


def window_starts(horizon: int, window: int, stride: int) -> list[int]:
    """Start indices 0, stride, 2*stride, ... plus ``horizon - window`` so the last window ends at T."""
    starts = list(range(0, horizon - window + 1, stride))
    if starts[-1] != horizon - window:
        starts.append(horizon - window)
    return starts
