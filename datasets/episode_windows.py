"""A dataset of fixed-length episodes held in memory (simulator episodes, video games), split by
episode into train / validation / test and cut into windows: what `SimulatedEpisodesDataModule`
and `VideoDataModule` share.

No window of a held-out episode is trained on, and the statistics come from the training
episodes only.
"""

from __future__ import annotations

import abc
from functools import cached_property

import torch
from omegaconf import DictConfig
from torch import Tensor

from datasets.windowed import WindowedDataModule
from datasets.windows import episode_windows, evenly_spaced, spread_over_episodes
from utils.config_checks import ConfigError
from utils.seeding import stream_generator

TRAIN_STREAM = 0
SPLITS = ("train", "validation", "test")


class EpisodeWindowsDataModule(WindowedDataModule, abc.ABC):
    """Subclasses give `values` (all episodes `[N, T, G + C]`: train, then validation, then
    test; `dataset.episodes` gives the counts) and `token_dim` / `given_dim`."""

    @property
    @abc.abstractmethod
    def values(self) -> Tensor:
        """`[N, T, G + C]` float32: the generated channels, then the given ones."""

    @classmethod
    def episode_tokens(cls, cfg: DictConfig) -> int:
        """The tokens of an episode (the root config given): `dataset.episode_length`."""
        return int(cfg.dataset.episode_length)

    @classmethod
    def check_data(cls, cfg: DictConfig) -> None:
        """Raise `ConfigError` (one line) if the run's rollouts or forecasts do not fit in a test
        episode (context + horizon tokens), before any run folder is created."""
        length = cls.episode_tokens(cfg)
        for key in ("rollout", "forecast", "validation"):
            task = cfg.experiment.get(key, {})
            horizon, context = task.get("horizon"), task.get("context_tokens", 0) or 0
            used = key == "validation" or key in cfg.experiment.tasks
            if used and horizon is not None and context + horizon > length:
                raise ConfigError(
                    f"experiment.{key}.horizon={horizon}: with experiment.{key}.context_tokens="
                    f"{context} it must be at most the {length} tokens of an episode less the "
                    f"context ({length - context}); raise dataset.episode_length")

    def source_name(self) -> str:
        """What made the episodes, for messages (the dataset's name by default)."""
        return str(self.cfg.name)

    @cached_property
    def split_slices(self) -> dict[str, slice]:
        start, slices = 0, {}
        for split in SPLITS:
            count = int(self.cfg.episodes[split])
            slices[split] = slice(start, start + count)
            start += count
        return slices

    def split(self, name: str) -> Tensor:
        """The episodes `[N_split, T, G + C]` of one split."""
        return self.values[self.split_slices[name]]

    def statistics(self) -> dict[str, Tensor]:
        """Token, step and given-channel statistics (the tokens' range too) of the training
        episodes only."""
        episodes, G = self.split("train"), self.token_dim
        x = episodes[..., :G]
        tokens, steps = x.reshape(-1, G), (x[:, 1:] - x[:, :-1]).reshape(-1, G)
        stats = {"token_mean": tokens.mean(0), "token_std": tokens.std(0).clamp_min(1e-6),
                 "first_mean": tokens.mean(0), "first_std": tokens.std(0).clamp_min(1e-6),
                 "step_mean": steps.mean(0), "step_std": steps.std(0).clamp_min(1e-6),
                 "token_min": tokens.amin(0), "token_max": tokens.amax(0)}
        if self.given_dim:
            given = episodes[..., G:].reshape(-1, self.given_dim)
            stats.update(given_mean=given.mean(0), given_std=given.std(0).clamp_min(1e-6))
        return stats

    # ----- windows -------------------------------------------------------------------------
    def _train_batch(self, index: int) -> Tensor:
        """Batch `index` `[B, L, G + C]`: windows at random (episode, start) of the training
        episodes, a pure function of (seed, index)."""
        episodes = self.split("train")
        generator = stream_generator(self.seed, TRAIN_STREAM, index)
        which = torch.randint(0, episodes.shape[0], (self.batch_size,), generator=generator)
        starts = torch.randint(0, episodes.shape[1] - self.train_length + 1, (self.batch_size,),
                               generator=generator)
        return episode_windows(episodes, which, starts, self.train_length)

    def window_positions(self, split: str, count: int, length: int) -> tuple[Tensor, Tensor]:
        """(episode index within the split, start token) of `count` windows of `length` tokens
        spread over the episodes of a split."""
        tokens = int(self.values.shape[1])
        if length > tokens:
            raise ValueError(f"{self.source_name()}: episodes hold {tokens} tokens, fewer than "
                             f"the {length} asked for; raise dataset.episode_length")
        return spread_over_episodes(int(self.cfg.episodes[split]), tokens - length, count)

    def _windows(self, split: str, count: int, length: int) -> Tensor:
        """`count` windows `[count, length, G + C]` spread over the episodes of a split."""
        which, starts = self.window_positions(split, count, length)
        return episode_windows(self.split(split), which, starts, length)

    def _fixed_batches(self, split: str) -> list[Tensor]:
        count = self.num_eval_batches * self.batch_size
        return list(self._windows(split, count, self.train_length).split(self.batch_size))

    def ground_truth(self, num: int, length: int) -> Tensor:
        """`num` windows `[num, length, G + C]` of the test episodes."""
        return self._windows("test", num, length)

    def rollout_context(self, num: int, context_tokens: int, horizon: int) -> Tensor:
        """Test-episode windows `[num, context_tokens + horizon, G + C]`: the real past, then
        the recorded actions (given channels) and states of the stretch to generate."""
        return self._windows("test", num, context_tokens + horizon)

    def forecast_positions(self, context_tokens: int, horizon: int,
                           num_windows: int | None = None) -> tuple[Tensor, Tensor]:
        """(test episode, start) of the forecast windows: every test episode, a window starting
        every `forecast_stride` tokens (`num_windows`: at most that many, evenly spread)."""
        episodes, tokens = int(self.cfg.episodes["test"]), int(self.values.shape[1])
        starts = torch.arange(0, tokens - context_tokens - horizon + 1, self.forecast_stride)
        which = torch.arange(episodes).repeat_interleave(len(starts))
        starts = starts.repeat(episodes)
        if num_windows and num_windows < which.shape[0]:  # spread over the test episodes
            keep = evenly_spaced(which.shape[0] - 1, num_windows)
            which, starts = which[keep], starts[keep]
        return which, starts

    def forecast_windows(self, context_tokens: int, horizon: int, num_windows: int | None = None
                         ) -> Tensor:
        """Windows `[W, context_tokens + horizon, G + C]` of the test episodes
        (`forecast_positions`)."""
        which, starts = self.forecast_positions(context_tokens, horizon, num_windows)
        return episode_windows(self.split("test"), which, starts, context_tokens + horizon)
