"""A dataset whose sequences are windows of data held in memory (recorded series, simulator
episodes): training batches as a pure function of (seed, step, rank), fixed validation and test
batches; a subclass says how a batch is cut."""

from __future__ import annotations

import abc

from omegaconf import DictConfig
from torch import Tensor
from torch.utils.data import DataLoader

from datasets.base import SequenceDataModule
from datasets.step_batches import StepBatches


class WindowedDataModule(SequenceDataModule, abc.ABC):
    """Subclasses set `max_steps` and implement `_train_batch(index)` (batch `index` of the
    training stream, `[B, L, G + C]`, a pure function of the run's seed and `index`) and
    `_fixed_batches(split)` ("validation" or "test": the same batches every time)."""

    max_steps: int

    def __init__(self, cfg: DictConfig, seed: int, batch_size: int, max_steps: int) -> None:
        """The window sizes every windowed dataset's YAML gives (`dataset.*`), and the run's."""
        super().__init__()
        self.cfg = cfg
        self.train_length: int = cfg.train_length
        self.metric_window_tokens = cfg.get("metric_window")
        self.context_tokens: int = cfg.context_tokens
        self.forecast_horizon: int = cfg.forecast_horizon
        self.forecast_stride: int = cfg.forecast_stride
        self.rollout_horizon: int = cfg.rollout_horizon
        self.num_eval_batches: int = cfg.num_eval_batches
        self.seed, self.batch_size, self.max_steps = seed, batch_size, max_steps

    @abc.abstractmethod
    def _train_batch(self, index: int) -> Tensor:
        """Batch `index` `[B, L, G + C]` of the training stream."""

    @abc.abstractmethod
    def _fixed_batches(self, split: str) -> list[Tensor]:
        """The batches of a held-out split, the same every time."""

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        start, rank, world = ((trainer.global_step, trainer.global_rank, trainer.world_size)
                              if trainer is not None else (0, 0, 1))
        return DataLoader(StepBatches(self._train_batch, start, self.max_steps, rank, world),
                          batch_size=None, num_workers=0)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self._fixed_batches("validation"), batch_size=None, num_workers=0)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self._fixed_batches("test"), batch_size=None, num_workers=0)
