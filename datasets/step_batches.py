"""Training batches as a pure function of (seed, global step, rank).

A run resumed at global step s must draw exactly the batches an uninterrupted run would have
drawn from step s on. A sampler that restarts its epoch cannot promise that; this stream can,
because it is told where to start: the datamodule builds it when `fit` begins, after Lightning
has restored the checkpoint's global step.
"""

from __future__ import annotations

from typing import Callable, Iterator

from torch import Tensor
from torch.utils.data import IterableDataset


class StepBatches(IterableDataset):
    """Yields the batches of global steps `start_step, ..., max_steps - 1` for one rank.

    The batch of step s on rank r is `draw(s · world_size + r)`: every rank draws different
    data, and the single-process stream (world size 1) is batch s at step s.
    """

    def __init__(self, draw: Callable[[int], Tensor], start_step: int, max_steps: int,
                 rank: int = 0, world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.draw, self.start_step, self.max_steps = draw, start_step, max_steps
        self.rank, self.world_size = rank, world_size

    def __iter__(self) -> Iterator[Tensor]:
        for step in range(self.start_step, self.max_steps):
            yield self.draw(step * self.world_size + self.rank)
