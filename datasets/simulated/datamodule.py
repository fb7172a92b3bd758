"""Simulated episodes as a dataset of the framework: `dataset=pendulum`, `half_cheetah`, `hopper`,
`pointmaze_<size>` (configurations/dataset/).

Episodes are simulated once per generating config (simulator, its options, behaviour policy,
data seed, sizes) and cached (`episodes.cached_episodes`); a run reads the cache. The dataset YAML
names the channel groups the model generates (`generated`, e.g. the observation) and the ones it
is given (`given`, e.g. the action that led to each state, or the maze goal). Episodes split into
train / validation / test sets by episode, so no window of a held-out episode is trained on; the
data seed (`dataset.data_seed`) is not the run's seed, so three training seeds share one dataset.

Evaluation, against the real simulator under the same actions:
  forecast   windows of the test episodes: the model reads `context_tokens` real states and
             their actions, then generates `forecast_horizon` more states given the recorded
             actions; the recorded continuation is exactly what the simulator gives replaying
             those actions from that state (tests/test_control_episodes.py checks it). Scored by
             the probabilistic forecast scores and the state error over the horizon
             (`utils.metrics.dynamics`: normalised RMS error, steps until it passes
             `dataset.error_threshold`).
  rollout    16x the training window from a real context, given the test episodes' actions,
             scored in law against the test episodes (the same action process): marginal
             distribution, autocorrelation, window distances, and the task's physical constraints
             (`limits.constraint_scores`) beside the data's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from omegaconf import MISSING, DictConfig, OmegaConf
from torch import Tensor

from datasets.episode_windows import SPLITS, EpisodeWindowsDataModule
from datasets.simulated.episodes import Episodes, cached_episodes
from datasets.simulated.sources import (
    MAZE_PREFIX,
    channel_groups,
    group_channel_names,
    known_simulators,
    simulate,
)
from utils.config_checks import ConfigError, check, is_int, positive, positive_int
from utils.curves import MetricNames
from utils.packages import Extra

REPOSITORY = Path(__file__).resolve().parents[2]


@dataclass
class SimulatedEpisodesSchema:
    """The `dataset` keys of a simulated dataset and their types (`check_config`: the ranges)."""

    name: str = MISSING
    simulator: str = MISSING            # a control task (datasets/simulated/control.py) or pointmaze_<size>
    env_kwargs: dict = field(default_factory=dict)
    policy: dict = field(default_factory=dict)
    generated: list[str] = MISSING      # channel groups the model generates
    given: list[str] = field(default_factory=list)   # channel groups it reads, never generates
    episodes: dict = MISSING            # {train: N, validation: N, test: N}
    episode_length: int = MISSING
    token_every: int = 1                # one token per this many simulator steps
    data_seed: int = 0
    cache_dir: str = "data/simulated"
    train_length: int = MISSING
    metric_window: Optional[int] = None  # tokens per scored window; None: train_length
    context_tokens: int = MISSING
    forecast_horizon: int = MISSING
    forecast_stride: int = MISSING
    error_threshold: float = MISSING
    rollout_horizon: int = MISSING
    num_eval_batches: int = MISSING
    planning_horizon: Any = None        # mazes: the planning task's defaults
    planning_max_steps: Any = None
    tasks: list[str] = MISSING
    long_horizon: int = MISSING
    eval_horizons: list[int] = MISSING


class SimulatedEpisodesDataModule(EpisodeWindowsDataModule):
    """Cached simulator episodes `[N, T, G + C]` cut into windows of `train_length` tokens."""

    config_schema = SimulatedEpisodesSchema
    # Channels on different scales (joint angles beside velocities, positions beside speeds):
    # each corrupted in units of its own RMS step. Measured against `rms_step` (the length of
    # the whole step vector): HalfCheetah's first-step error 0.26 against 1.14, PointMaze
    # Medium's plans reaching 58-72% against 12-30% (docs/results/simulators.md).
    NOISE_UNIT = "rms_step_per_channel"
    EXTRA = Extra("simulation", ("gymnasium", "mujoco", "gymnasium_robotics", "scoringrules"))
    METRICS = MetricNames(
        headline=("state_error_first", "state_error_mean", "error_horizon_mean", "crps_norm",
                  "marginal_wasserstein_last", "acf_error_last", "marginal_std_ratio_last"),
        per_horizon=("marginal_wasserstein_last", "acf_error_last"),
        summary_per_horizon=("marginal_wasserstein_last",),
        summary=("acf_error_last", "marginal_std_ratio_last", "energy_distance_last"))

    @classmethod
    def check_config(cls, cfg: DictConfig) -> None:
        """Raise `ConfigError` naming the first bad `dataset.*` key (the root config given)."""
        d = cfg.dataset
        simulators = known_simulators()
        if d.simulator not in simulators:
            raise ConfigError(f"dataset.simulator={d.simulator}: must be one of "
                              f"{', '.join(simulators)}")
        if not d.generated:
            raise ConfigError("dataset.generated=[]: must name at least one channel group")
        groups = channel_groups(d.simulator)
        for key in ("generated", "given"):
            for name in d[key]:
                if name not in groups:
                    raise ConfigError(f"dataset.{key}: {name!r} is not a channel group of "
                                      f"{d.simulator}; it has {', '.join(groups)}")
        both = set(d.generated) & set(d.given)
        if both:
            raise ConfigError(f"dataset.given: {sorted(both)} also in dataset.generated; a "
                              f"channel group is either generated or given")
        if set(d.episodes) != set(SPLITS):
            raise ConfigError(f"dataset.episodes={dict(d.episodes)}: must give {list(SPLITS)}")
        for split in SPLITS:
            check(cfg, f"dataset.episodes.{split}", positive_int, "a positive integer")
        steps = check(cfg, "dataset.episode_length", lambda v: is_int(v) and v >= 2,
                      "an integer >= 2")
        every = check(cfg, "dataset.token_every", positive_int, "a positive integer")
        if every > 1 and "action" in [*d.generated, *d.given]:
            raise ConfigError(f"dataset.token_every={every}: a token per {every} simulator steps "
                              f"would drop the actions between tokens; use it without the action "
                              f"group (e.g. dataset.given=[goal])")
        length = tokens_per_episode(steps, every)
        check(cfg, "dataset.data_seed", lambda v: is_int(v) and v >= 0, "an integer >= 0")
        context = check(cfg, "dataset.context_tokens", lambda v: is_int(v) and v >= 1,
                        "an integer >= 1")
        horizon = check(cfg, "dataset.forecast_horizon", positive_int, "a positive integer")
        tokens = (f"dataset.episode_length={steps}" if every == 1 else
                  f"the {length} tokens of an episode (dataset.episode_length / token_every)")
        check(cfg, "dataset.train_length", lambda v: is_int(v) and 2 <= v <= length,
              f"an integer in [2, {tokens}]")
        check(cfg, "dataset.forecast_horizon", lambda v: context + v <= length,
              f"at most {length - context} ({tokens}, less dataset.context_tokens)")
        check(cfg, "dataset.forecast_stride", positive_int, "a positive integer")
        check(cfg, "dataset.error_threshold", positive, "a positive number")
        cls.check_metric_window(cfg, 2)
        check(cfg, "dataset.rollout_horizon", lambda v: is_int(v) and v >= cfg.dataset.train_length,
              f"an integer >= dataset.train_length ({cfg.dataset.train_length})")
        check(cfg, "dataset.num_eval_batches", positive_int, "a positive integer")
        del horizon

    @classmethod
    def episode_tokens(cls, cfg: DictConfig) -> int:
        """The tokens of an episode: `episode_length` simulator steps, one token per
        `token_every`."""
        return tokens_per_episode(cfg.dataset.episode_length, cfg.dataset.token_every)

    def __init__(self, cfg: DictConfig, seed: int, batch_size: int, max_steps: int) -> None:
        super().__init__(cfg, seed, batch_size, max_steps)
        self.error_threshold: float = float(cfg.error_threshold)

    def source_name(self) -> str:
        return str(self.cfg.simulator)

    # ----- the data -------------------------------------------------------------------------
    @cached_property
    def generating_config(self) -> dict[str, Any]:
        """Everything the episodes depend on: the cache key."""
        c = self.cfg
        sizes = {split: int(c.episodes[split]) for split in SPLITS}
        return {"simulator": c.simulator, "env_kwargs": plain(c.env_kwargs),
                "policy": plain(c.policy), "data_seed": int(c.data_seed),
                "num_episodes": sum(sizes.values()), "episode_length": int(c.episode_length)}

    @cached_property
    def episodes(self) -> Episodes:
        """All episodes (train, then validation, then test), simulated once and cached."""
        g = self.generating_config
        cache_dir = Path(self.cfg.cache_dir)
        cache_dir = cache_dir if cache_dir.is_absolute() else REPOSITORY / cache_dir
        return cached_episodes(cache_dir, g["simulator"], g, lambda: simulate(g))

    @cached_property
    def values(self) -> Tensor:
        """`[N, T, G + C]` float32: the generated groups, then the given groups, one token per
        `dataset.token_every` simulator steps (from step 0)."""
        names = [*self.cfg.generated, *self.cfg.given]
        every = int(self.cfg.get("token_every", 1))
        return torch.from_numpy(np.ascontiguousarray(self.episodes.channels(names)[:, ::every]))

    @property
    def token_dim(self) -> int:
        return self.episodes.width(list(self.cfg.generated))

    @property
    def given_dim(self) -> int:
        return self.episodes.width(list(self.cfg.given))

    @property
    def channel_names(self) -> tuple[str, ...]:
        names = []
        for group in [*self.cfg.generated, *self.cfg.given]:
            names += group_channel_names(self.cfg.simulator, group,
                                         self.episodes.groups[group].shape[-1])
        return tuple(names)

    # ----- evaluation ----------------------------------------------------------------------
    @property
    def scale(self) -> Tensor:
        """`[G]`: the training episodes' std per generated channel (the state error's unit)."""
        return self.statistics()["token_std"]

    def forecast_evaluation(self, paths: Tensor, truth: Tensor
                            ) -> tuple[dict[str, float], dict[str, list[float]]]:
        """Paths `[W, M, H, G]` against the simulator's states `[W, H, G]` under the same
        actions: the probabilistic scores and the state error (`utils.metrics.dynamics`), and
        the state error per step."""
        from utils.metrics.dynamics import dynamics_scores

        scores, curve = dynamics_scores(paths, truth, self.scale, self.error_threshold)
        probabilistic, _ = super().forecast_evaluation(paths, truth)
        return ({**probabilistic, **scores},
                {"step": list(range(1, len(curve) + 1)), "state_error": curve})

    def calibration_sequences(self, num: int, length: int) -> Tensor:
        """Windows `[num, length, G + C]` of the training episodes, spread over them, for
        `algorithm.sampling.calibration` (the fit reads no evaluation data)."""
        return self._windows("train", num, length)

    def evaluate(self, samples: Tensor) -> dict[str, float]:
        """Generated stretches `[N, T, G + C]` in law against the test episodes (the same action
        process): long-horizon statistics and constraint scores on the first and last training-
        length windows, the data's own constraint scores (`*_data`), then the window distances
        every dataset gets."""
        from utils.metrics.probabilistic import long_horizon_statistics

        G, W = self.token_dim, self.metric_window(samples)
        reference = self.split("test")[..., :G]
        metrics: dict[str, float] = {}
        for where, window in (("first", samples[:, :W, :G]), ("last", samples[:, -W:, :G])):
            scores = long_horizon_statistics(window, reference, max_lag=min(W - 1, 16))
            scores.update(self.constraint_scores(window))
            metrics.update({f"{k}_{where}": v for k, v in scores.items()})
        metrics.update({f"{k}_data": v for k, v in self.constraint_scores(reference).items()})
        return {**metrics, **super().evaluate(samples)}

    def constraint_scores(self, observations: Tensor) -> dict[str, float]:
        """The task's physical-constraint scores of `[N, T, G]` (only when the generated
        channels are exactly the observation; {} otherwise, e.g. the maze)."""
        if list(self.cfg.generated) != ["observation"] or self.cfg.simulator.startswith(MAZE_PREFIX):
            return {}
        from datasets.simulated.control import ENVIRONMENTS
        from datasets.simulated.limits import constraint_scores

        env_id = ENVIRONMENTS[self.cfg.simulator]["env_id"]
        return constraint_scores(env_id, observations.numpy())

    def plot(self, samples: Tensor, out_dir: Path, title: str = "",
             curves: dict[str, list[float]] | None = None) -> dict[str, Path]:
        from utils.forecast_plots import plot_long_rollouts

        out_dir.mkdir(parents=True, exist_ok=True)
        plots = super().plot(samples, out_dir, title, curves)
        G = self.token_dim
        truth = self.ground_truth(1, samples.shape[1])
        plots["long_rollouts"] = plot_long_rollouts(
            samples[..., :G], truth[0, :, :G], out_dir / "long_rollouts.png",
            self.channel_names[:G], self.train_length, title)
        return plots

    def describe(self) -> str:
        sizes = ", ".join(f"{k} {int(self.cfg.episodes[k])}" for k in SPLITS)
        return (f"{self.cfg.simulator}: episodes of {self.cfg.episode_length} simulator steps, a "
                f"token every {self.cfg.get('token_every', 1)} ({sizes}); "
                f"generated {list(self.cfg.generated)}, given {list(self.cfg.given)}")


def tokens_per_episode(steps: int, every: int) -> int:
    """Tokens of an episode of `steps` simulator steps at one token per `every` steps."""
    return -(-int(steps) // int(every))


def plain(value: Any) -> Any:
    """A DictConfig/ListConfig as plain Python values (JSON-able), anything else as it is."""
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


class MazeEpisodesDataModule(SimulatedEpisodesDataModule):
    """PointMaze episodes: the same dataset, with the planning task's scores first in reports."""

    METRICS = MetricNames(
        headline=("success_rate", "mean_steps_to_goal", "straight_line_success_rate",
                  "expert_success_rate", "state_error_mean", "marginal_wasserstein_last"),
        per_horizon=("marginal_wasserstein_last",),
        summary_per_horizon=("marginal_wasserstein_last",),
        summary=("acf_error_last", "marginal_std_ratio_last", "energy_distance_last"))
