"""Circular arcs: the first seed's toy task, generated on the fly.

x_t = c + r·(cos(θ0 + ω·dt·t), sin(θ0 + ω·dt·t)) + noise, θ0 ~ U[0, 2π), c ~ U(lo, hi)².
The first point alone leaves the centre ambiguous (any point at distance r from x_0), so the
task is multimodal at its start: a deterministic predictor collapses to the mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from omegaconf import MISSING, DictConfig
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from datasets.base import SequenceDataModule
from datasets.circular_arcs.circle_fit import window_statistics
from datasets.circular_arcs.circle_metrics import (
    circle_metric_curves,
    circle_rollout_metrics,
)
from datasets.circular_arcs.plots import plot_centres
from datasets.step_batches import StepBatches
from utils.config_checks import (
    check,
    is_int,
    is_number,
    non_negative,
    positive,
    positive_int,
)
from utils.curves import MetricNames
from utils.plotting import plot_metric_curves, plot_trajectories
from utils.seeding import stream_generator

# Independent random streams drawn from one seed, so training, validation, test and
# ground-truth data never overlap and each is reproducible on its own.
TRAIN_STREAM, VALIDATION_STREAM, TEST_STREAM, GROUND_TRUTH_STREAM, METRIC_STREAM = range(5)
CALIBRATION_STREAM = 5  # real arcs that fit a sampler's calibration (algorithm.sampling.calibration)


@dataclass(frozen=True)
class CircularArcs:
    """The parameters of the arc distribution; `sample` draws sequences from it."""

    radius: float = 1.0
    angular_speed: float = 1.0
    dt: float = 0.1
    centre_low: float = -2.0
    centre_high: float = 2.0
    noise_std: float = 0.0

    @property
    def angular_step(self) -> float:
        """Angle travelled per token (rad); positive is counter-clockwise."""
        return self.angular_speed * self.dt

    def sample(self, num: int, length: int, generator: torch.Generator) -> Tensor:
        """Draw `num` arcs of `length` tokens: returns `[num, length, 2]` float32, vectorised."""
        theta0 = torch.rand(num, 1, generator=generator) * (2 * math.pi)
        span = self.centre_high - self.centre_low
        centre = self.centre_low + span * torch.rand(num, 1, 2, generator=generator)
        angle = theta0 + self.angular_step * torch.arange(length, dtype=torch.float32)
        arcs = centre + self.radius * torch.stack([angle.cos(), angle.sin()], dim=-1)
        if self.noise_std > 0:
            arcs = arcs + self.noise_std * torch.randn(arcs.shape, generator=generator)
        return arcs


class ArcBatches(Dataset):
    """Batch `i` is a pure function of (seed, stream, i): a map-style dataset of whole batches.

    Lightning's distributed sampler hands different indices to different ranks, so every rank
    draws different data without knowing its rank.
    """

    def __init__(self, arcs: CircularArcs, seed: int, stream: int, num_batches: int,
                 batch_size: int, length: int) -> None:
        self.arcs, self.seed, self.stream = arcs, seed, stream
        self.num_batches, self.batch_size, self.length = num_batches, batch_size, length

    def __len__(self) -> int:
        return self.num_batches

    def __getitem__(self, index: int) -> Tensor:
        generator = stream_generator(self.seed, self.stream, index)
        return self.arcs.sample(self.batch_size, self.length, generator)


@dataclass
class CircularArcsSchema:
    """The `dataset` keys and their types (values in the YAML); OmegaConf checks the types,
    `CircularArcDataModule.check_config` the ranges."""

    name: str = MISSING
    radius: float = MISSING
    angular_speed: float = MISSING
    dt: float = MISSING
    centre_low: float = MISSING
    centre_high: float = MISSING
    noise_std: float = MISSING
    train_length: int = MISSING
    metric_window: Optional[int] = None  # tokens per scored window; None: train_length
    rollout_horizon: int = MISSING
    num_eval_batches: int = MISSING
    tasks: list[str] = MISSING          # the experiment's default tasks
    long_horizon: int = MISSING         # the rollout task's default horizon
    eval_horizons: list[int] = MISSING  # and where it is scored


class CircularArcDataModule(SequenceDataModule):
    """Circular arcs for training (length `train_length`) and evaluation (any horizon)."""

    config_schema = CircularArcsSchema

    # A circle's continuation turned or moved is the turned or moved continuation; only the
    # centres' square (the start) is not symmetric, and a model must draw that itself.
    SYMMETRIES = frozenset({"rotation", "translation"})
    # Does each rollout keep its circle, where is it drawn, and how does the centre move.
    METRICS = MetricNames(
        headline=("keep_circle_share", "radius_error_median", "angular_step_error_median",
                  "centre_drift_median", "rms_residual_median", "coverage_ratio", "centre_std",
                  *SequenceDataModule.METRICS.headline),
        per_horizon=("keep_circle_share", "centre_drift_median", "drift_direction_coherence"),
        summary_per_horizon=("keep_circle_share", "centre_drift_median"),
        summary=("radius_error_median", "rms_residual_median", "angular_step_median",
                 "drift_direction_coherence", "coverage_ratio"))

    @classmethod
    def check_config(cls, cfg: DictConfig) -> None:
        """Raise `ConfigError` naming the first bad `dataset.*` key (the root config given)."""
        train_length = check(cfg, "dataset.train_length", lambda v: is_int(v) and v >= 3,
                             "an integer >= 3")
        check(cfg, "dataset.rollout_horizon", lambda v: is_int(v) and v >= train_length,
              f"an integer >= dataset.train_length ({train_length})")
        cls.check_metric_window(cfg, 3)
        for key in ("radius", "dt"):
            check(cfg, f"dataset.{key}", positive, "a positive number")
        check(cfg, "dataset.angular_speed", lambda v: is_number(v) and v != 0, "a non-zero number")
        check(cfg, "dataset.noise_std", non_negative, "a non-negative number")
        low = check(cfg, "dataset.centre_low", is_number, "a number")
        check(cfg, "dataset.centre_high", lambda v: is_number(v) and v > low,
              f"a number above dataset.centre_low ({low})")
        check(cfg, "dataset.num_eval_batches", positive_int, "a positive integer")

    def __init__(self, cfg: DictConfig, seed: int, batch_size: int, max_steps: int) -> None:
        super().__init__()
        self.arcs = CircularArcs(
            radius=cfg.radius, angular_speed=cfg.angular_speed, dt=cfg.dt,
            centre_low=cfg.centre_low, centre_high=cfg.centre_high, noise_std=cfg.noise_std,
        )
        self.train_length: int = cfg.train_length
        self.metric_window_tokens = cfg.get("metric_window")
        self.rollout_horizon: int = cfg.rollout_horizon
        self.num_eval_batches: int = cfg.num_eval_batches
        self.seed, self.batch_size, self.max_steps = seed, batch_size, max_steps

    @property
    def token_dim(self) -> int:
        return 2

    def _loader(self, stream: int, num_batches: int) -> DataLoader:
        batches = ArcBatches(self.arcs, self.seed, stream, num_batches, self.batch_size,
                             self.train_length)
        return DataLoader(batches, batch_size=None, shuffle=False, num_workers=0)

    def train_dataloader(self) -> DataLoader:
        # Built when `fit` starts, after a resumed run's global step is restored: the stream
        # continues at that step, and each rank draws its own batches (no distributed sampler).
        trainer = self.trainer
        start, rank, world = ((trainer.global_step, trainer.global_rank, trainer.world_size)
                              if trainer is not None else (0, 0, 1))
        draw = ArcBatches(self.arcs, self.seed, TRAIN_STREAM, 0, self.batch_size,
                          self.train_length).__getitem__
        return DataLoader(StepBatches(draw, start, self.max_steps, rank, world), batch_size=None,
                          num_workers=0)

    def val_dataloader(self) -> DataLoader:
        return self._loader(VALIDATION_STREAM, self.num_eval_batches)

    def test_dataloader(self) -> DataLoader:
        return self._loader(TEST_STREAM, self.num_eval_batches)

    def ground_truth(self, num: int, length: int) -> Tensor:
        """Reference rollouts `[num, length, 2]` from their own stream (never seen in training)."""
        return self.arcs.sample(num, length, stream_generator(self.seed, GROUND_TRUTH_STREAM, 0))

    def calibration_sequences(self, num: int, length: int) -> Tensor:
        """Real arcs `[num, length, 2]` from their own stream, for `algorithm.sampling.calibration`."""
        return self.arcs.sample(num, length, stream_generator(self.seed, CALIBRATION_STREAM, 0))

    def statistics(self, num: int = 4096) -> dict[str, Tensor]:
        """Per-dimension token and step statistics `[2]` of the training distribution, for scaling
        (and the tokens' range, for `algorithm.clip`)."""
        x = self.arcs.sample(num, self.train_length, stream_generator(self.seed, TRAIN_STREAM, -1))
        steps = x[:, 1:] - x[:, :-1]
        return {
            "token_mean": x.mean(dim=(0, 1)), "token_std": x.std(dim=(0, 1)),
            "first_mean": x[:, 0].mean(dim=0), "first_std": x[:, 0].std(dim=0),
            "step_mean": steps.mean(dim=(0, 1)), "step_std": steps.std(dim=(0, 1)),
            "token_min": x.amin(dim=(0, 1)), "token_max": x.amax(dim=(0, 1)),
        }

    def evaluate(self, samples: Tensor) -> dict[str, float]:
        """Circle metrics of rollouts `[N, T, 2]` (see `utils.metrics.circle_rollout_metrics`),
        then the distances to the ground truth every dataset gets (`SequenceDataModule.evaluate`)."""
        circle = circle_rollout_metrics(
            samples, radius=self.arcs.radius, angular_step=self.arcs.angular_step,
            centre_low=self.arcs.centre_low, centre_high=self.arcs.centre_high,
            window=self.metric_window(samples),
            generator=stream_generator(self.seed, METRIC_STREAM, 0),
        )
        return {**circle, **super().evaluate(samples)}

    def curves(self, samples: Tensor) -> dict[str, list[float]]:
        """Per-window circle medians and distances to the ground truth over the horizon."""
        circle = circle_metric_curves(samples, radius=self.arcs.radius,
                                      angular_step=self.arcs.angular_step,
                                      window=self.metric_window(samples))
        generic = super().curves(samples)
        assert circle["window_end"] == generic["window_end"], "both use window_starts(T, W, W // 2)"
        return {**circle, **generic}

    def plot(self, samples: Tensor, out_dir: Path, title: str = "",
             curves: dict[str, list[float]] | None = None) -> dict[str, Path]:
        """Write the task's figures for rollouts `[N, T, 2]`; returns name -> PNG path.
        `curves` (from `self.curves(samples)`) are computed here when not given."""
        out_dir.mkdir(parents=True, exist_ok=True)
        truth = self.ground_truth(min(16, samples.shape[0]), samples.shape[1])
        stats = window_statistics(samples, window=self.metric_window(samples))
        curves = self.curves(samples) if curves is None else curves
        return {
            "trajectories": plot_trajectories(samples, out_dir / "trajectories.png",
                                              ground_truth=truth, title=title,
                                              train_length=self.train_length),
            "centres": plot_centres(stats["centre"][:, 0], out_dir / "centres.png",
                                    low=self.arcs.centre_low, high=self.arcs.centre_high,
                                    title=f"{title} fitted centres, first window".strip()),
            "metric_curves": plot_metric_curves(curves, out_dir / "metric_curves.png",
                                                train_length=self.train_length, title=title),
        }
