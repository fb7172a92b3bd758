"""Windows cut from sequences held in memory: the slices every recorded or simulated dataset
trains on and is scored on."""

from __future__ import annotations

import torch
from torch import Tensor


def windows_at(rows: Tensor, starts: Tensor, length: int) -> Tensor:
    """`[len(starts), length, D]`: the windows `rows[s : s + length]` of `rows` `[T, D]`."""
    index = starts.view(-1, 1) + torch.arange(length).view(1, -1)
    return rows[index]


def episode_windows(episodes: Tensor, which: Tensor, starts: Tensor, length: int) -> Tensor:
    """`[len(which), length, D]`: `episodes[which[i], starts[i] : starts[i] + length]` of
    `episodes` `[N, T, D]`."""
    index = starts.view(-1, 1) + torch.arange(length).view(1, -1)
    return episodes[which.view(-1, 1), index]


def evenly_spaced(last_start: int, count: int) -> Tensor:
    """`count` integer starts spread evenly over [0, last_start] (repeats when fewer exist)."""
    if last_start < 0:
        raise ValueError(f"no window fits (last start {last_start})")
    return torch.linspace(0, last_start, count).round().long()


def spread_over_episodes(num_episodes: int, last_start: int, count: int) -> tuple[Tensor, Tensor]:
    """`count` (episode, start) pairs spread evenly: episodes in turn, and within each episode
    starts evenly spaced over [0, last_start] (shifted per round, so repeats come only once every
    episode and start has been used)."""
    if num_episodes < 1:
        raise ValueError("no episodes to cut windows from")
    rounds = -(-count // num_episodes)
    starts = evenly_spaced(last_start, rounds)
    which = torch.arange(count) % num_episodes
    return which, starts[torch.arange(count) // num_episodes]
