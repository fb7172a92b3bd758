"""Video as a dataset of the framework: `dataset=pong`, `breakout`, `crafter`
(configurations/dataset/).

Frames are recorded once per generating config (source, game, frame size, grey or colour,
behaviour policy, data seed, sizes) and cached (`episodes.cached_frame_episodes`). A frame
becomes one token through a tokenizer (`algorithms/tokenizer/`: a small convolutional
autoencoder trained by the `tokenizer` task, `experiment.tasks=[tokenizer, training, ...]`, and
reused by later runs through `dataset.tokenizer.load=<run or file>` or `load=<run>`). The
experiment hands the tokenizer in (`attach_tokenizer`: datasets never import algorithms); the
tokens are then `[latents (generated), one-hot action (given)]`, and the recurrence, the
one-step loss, Diffusion Forcing and the predictive baseline are the framework's own.

Evaluation, with the generated latents decoded to frames:
  forecast   windows of the test episodes: `context_tokens` real frames and their actions, then
             `forecast_horizon` frames given the recorded actions, against what the emulator
             showed (the emulator is deterministic given the state and the actions): PSNR and
             SSIM per frame and per step (`utils.metrics.frames`), the tokenizer's own round
             trip of the same frames as the ceiling, and the latents' probabilistic scores.
  rollout    16x the training window from a real context under the test episodes' actions,
             in law against the test episodes: object checks read from the frames (Atari:
             `objects.object_checks`), frame statistics (intensity histograms, edge energy,
             sharpness: a mean-seeking model blurs) on the first and last windows, beside the
             data's own; videos of rollouts beside the real episode (GIF, wandb Video).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from datasets.episode_windows import SPLITS, EpisodeWindowsDataModule
from datasets.video.episodes import FrameEpisodes, cached_frame_episodes
from datasets.video.schema import VideoSchema
from datasets.video.sources import SOURCES, action_names, games, play_field_crop, record
from datasets.windows import episode_windows
from utils.config_checks import ConfigError, check, is_int, positive_int
from utils.curves import MetricNames
from utils.packages import Extra

REPOSITORY = Path(__file__).resolve().parents[2]
STD_FLOOR = 0.1
#: the frame scores drawn over the horizon (`curves`)
CURVE_KEYS = ("histogram_distance", "sharpness_ratio", "edge_energy_ratio", "motion_ratio",
              "frames_ok_rate", "ball_ok_rate", "paddles_ok_rate")


class VideoDataModule(EpisodeWindowsDataModule):
    """Cached frame episodes as tokens `[latent (D), one-hot action (A)]`, cut into windows."""

    config_schema = VideoSchema
    NOISE_UNIT = "rms_step_per_dim"  # 256-number latents: the step length is 16x a coordinate's
    EXTRA = Extra("video", ("gymnasium", "ale_py", "crafter", "skimage"))
    METRICS = MetricNames(
        headline=("psnr_mean", "ssim_mean", "psnr_last", "frames_ok_rate_last",
                  "histogram_distance_last", "sharpness_ratio_last", "edge_energy_ratio_last"),
        per_horizon=("histogram_distance_last", "frames_ok_rate_last"),
        summary_per_horizon=("histogram_distance_last",),
        summary=("frames_ok_rate_last", "sharpness_ratio_last", "energy_distance_last"))

    @classmethod
    def check_config(cls, cfg: DictConfig) -> None:
        """Raise `ConfigError` naming the first bad `dataset.*` key (the root config given)."""
        d = cfg.dataset
        if d.source not in SOURCES:
            raise ConfigError(f"dataset.source={d.source}: must be one of {', '.join(SOURCES)}")
        if d.game not in games(d.source):
            raise ConfigError(f"dataset.game={d.game}: must be one of "
                              f"{', '.join(games(d.source))} for dataset.source={d.source}")
        if set(d.episodes) != set(SPLITS):
            raise ConfigError(f"dataset.episodes={dict(d.episodes)}: must give {list(SPLITS)}")
        for split in SPLITS:
            check(cfg, f"dataset.episodes.{split}", positive_int, "a positive integer")
        t = d.tokenizer
        for key in ("latent_channels", "width", "patch", "steps", "batch_size", "blocks"):
            check(cfg, f"dataset.tokenizer.{key}", lambda v: is_int(v) and v >= (key != "blocks"),
                  "an integer >= 1" if key != "blocks" else "an integer >= 0")
        check(cfg, "dataset.tokenizer.downsamples", lambda v: is_int(v) and v >= 0,
              "an integer >= 0")
        unit = int(t.patch) * 2 ** int(t.downsamples)
        check(cfg, "dataset.size", lambda v: is_int(v) and v >= unit and v % unit == 0,
              f"a positive multiple of dataset.tokenizer.patch · 2^downsamples = {unit}")
        for key in ("lr", "foreground_weight", "latent_noise", "latent_penalty"):
            check(cfg, f"dataset.tokenizer.{key}", lambda v: isinstance(v, (int, float)) and v >= 0
                  and (key != "lr" or v > 0), "a number > 0" if key == "lr" else "a number >= 0")
        length = check(cfg, "dataset.episode_length", lambda v: is_int(v) and v >= 2,
                       "an integer >= 2")
        check(cfg, "dataset.data_seed", lambda v: is_int(v) and v >= 0, "an integer >= 0")
        context = check(cfg, "dataset.context_tokens", lambda v: is_int(v) and v >= 1,
                        "an integer >= 1")
        check(cfg, "dataset.train_length", lambda v: is_int(v) and 2 <= v <= length,
              f"an integer in [2, dataset.episode_length={length}]")
        check(cfg, "dataset.forecast_horizon", lambda v: is_int(v) and 1 <= v <= length - context,
              f"an integer in [1, {length - context}] (dataset.episode_length less "
              f"dataset.context_tokens)")
        for key in ("forecast_stride", "num_eval_batches", "frame_eval_samples"):
            check(cfg, f"dataset.{key}", positive_int, "a positive integer")
        check(cfg, "dataset.video_samples", lambda v: is_int(v) and v >= 0, "an integer >= 0")
        cls.check_metric_window(cfg, 2)
        check(cfg, "dataset.rollout_horizon", lambda v: is_int(v) and v >= d.train_length,
              f"an integer >= dataset.train_length ({d.train_length})")
        tasks = list(cfg.experiment.tasks)
        if d.tokenizer.load is None and not cfg.get("load") and not cfg.get("resume"):
            if "tokenizer" not in tasks:
                raise ConfigError(f"dataset={d.name}: its frames need a tokenizer; run "
                                  f"experiment.tasks=[tokenizer,{','.join(tasks)}] or reuse one "
                                  f"with dataset.tokenizer.load=<run folder or tokenizer.pt>")
        if "tokenizer" in tasks and tasks[0] != "tokenizer":
            raise ConfigError(f"experiment.tasks={tasks}: tokenizer must come first (every other "
                              f"task reads the frames as its tokens)")

    def __init__(self, cfg: DictConfig, seed: int, batch_size: int, max_steps: int) -> None:
        super().__init__(cfg, seed, batch_size, max_steps)
        self.tokenizer: Any = None  # attach_tokenizer: encode / decode / frame_shape / latent_dim

    def source_name(self) -> str:
        return f"{self.cfg.source}/{self.cfg.game}"

    # ----- the data -------------------------------------------------------------------------
    @cached_property
    def generating_config(self) -> dict[str, Any]:
        """Everything the frames depend on: the cache key."""
        c = self.cfg
        policy = OmegaConf.to_container(c.policy, resolve=True) if OmegaConf.is_config(
            c.policy) else dict(c.policy)
        return {"source": c.source, "game": c.game, "size": int(c.size), "grey": bool(c.grey),
                "policy": policy, "data_seed": int(c.data_seed),
                "num_episodes": sum(int(c.episodes[s]) for s in SPLITS),
                "episode_length": int(c.episode_length)}

    @cached_property
    def episodes(self) -> FrameEpisodes:
        """All episodes (train, then validation, then test), recorded once and cached."""
        g = self.generating_config
        cache_dir = Path(self.cfg.cache_dir)
        cache_dir = cache_dir if cache_dir.is_absolute() else REPOSITORY / cache_dir
        return cached_frame_episodes(cache_dir, g["game"], g, lambda: record(g))

    def split_frames(self, split: str) -> np.ndarray:
        """The frames `[N_split, T, H, W, C]` uint8 of one split."""
        return self.episodes.frames[self.split_slices[split]]

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        size = int(self.cfg.size)
        return (size, size, 1 if self.cfg.grey else 3)

    @property
    def crop(self) -> tuple[int, int, int, int] | None:
        return play_field_crop(self.cfg.source, self.cfg.game)

    @property
    def action_names(self) -> tuple[str, ...]:
        return action_names(self.cfg.source, self.cfg.game)

    def attach_tokenizer(self, tokenizer: Any) -> None:
        """Use `tokenizer` (`encode(uint8 [N, H, W, C]) -> [N, D]`, `decode([N, D]) -> uint8
        frames`, `frame_shape`, `latent_dim`, `check_frames`) for the tokens."""
        tokenizer.check_frames((*self.frame_shape,), f"dataset={self.cfg.name}'s frames")
        self.tokenizer = tokenizer
        for derived in ("values", "_tokenizer_scores"):  # what the old tokens made
            self.__dict__.pop(derived, None)

    def _require_tokenizer(self) -> Any:
        if self.tokenizer is None:
            raise RuntimeError(f"dataset={self.cfg.name}: no tokenizer attached (run the "
                               f"tokenizer task first or set dataset.tokenizer.load)")
        return self.tokenizer

    @cached_property
    def values(self) -> Tensor:
        """`[N, T, D + A]` float32: each frame's latent, then its action one-hot."""
        tokenizer = self._require_tokenizer()
        frames = self.episodes.frames
        N, T = frames.shape[:2]
        latents = tokenizer.encode(frames.reshape(N * T, *frames.shape[2:])).view(N, T, -1)
        actions = torch.nn.functional.one_hot(torch.from_numpy(self.episodes.actions),
                                              len(self.action_names)).float()
        return torch.cat([latents.float(), actions], dim=-1).contiguous()

    @property
    def token_dim(self) -> int:
        if self.tokenizer is not None:
            return int(self.tokenizer.latent_dim)
        t = self.cfg.tokenizer
        side = int(self.cfg.size) // (int(t.patch) * 2 ** int(t.downsamples))
        return int(t.latent_channels) * side * side

    @property
    def given_dim(self) -> int:
        return len(self.action_names)

    @property
    def channel_names(self) -> tuple[str, ...]:
        return (*(f"latent_{i}" for i in range(self.token_dim)),
                *(f"action_{a}" for a in self.action_names))

    # ----- frames of windows -------------------------------------------------------------------
    def decode(self, tokens: Tensor) -> np.ndarray:
        """Tokens `[..., D (+ A)]` -> frames `[..., H, W, C]` uint8."""
        lead = tokens.shape[:-1]
        frames = self._require_tokenizer().decode(tokens[..., :self.token_dim].reshape(
            -1, self.token_dim))
        return frames.reshape(*lead, *frames.shape[1:])

    def window_frames(self, split: str, which: Tensor, starts: Tensor, length: int) -> np.ndarray:
        """The real frames `[W, length, H, W, C]` of windows (episode in the split, start)."""
        frames = self.split_frames(split)
        index = starts[:, None].numpy() + np.arange(length)[None]
        return frames[which.numpy()[:, None], index]

    def forecast_windows(self, context_tokens: int, horizon: int, num_windows: int | None = None
                         ) -> Tensor:
        """The test episodes' windows (`EpisodeWindowsDataModule.forecast_windows`); their real
        frames are kept for `forecast_evaluation`."""
        which, starts = self.forecast_positions(context_tokens, horizon, num_windows)
        length = context_tokens + horizon
        windows = episode_windows(self.split("test"), which, starts, length)
        self._forecast_frames = (windows[:, context_tokens:, :self.token_dim],
                                 self.window_frames("test", which, starts, length)[
                                     :, context_tokens:])
        return windows

    def forecast_evaluation(self, paths: Tensor, truth: Tensor
                            ) -> tuple[dict[str, float], dict[str, list[float]]]:
        """Latent paths `[W, M, H, D]` decoded and scored against the emulator's frames of the
        windows `forecast_windows` last gave (PSNR, SSIM per step over the first
        `frame_eval_samples` paths of every window; `tokenizer_psnr_mean`: the tokenizer's own
        round trip of those frames, the ceiling), then the latents' probabilistic scores."""
        from utils.metrics.frames import frame_forecast_scores

        kept = getattr(self, "_forecast_frames", None)
        if kept is None or kept[0].shape != truth.shape or not torch.equal(kept[0], truth):
            raise ValueError("forecast_evaluation scores the windows of the last "
                             "forecast_windows call; call it first")
        real = kept[1]
        M = min(paths.shape[1], int(self.cfg.frame_eval_samples))
        generated = self.decode(paths[:, :M])
        scores, curves = frame_forecast_scores(generated, real)
        ceiling, _ = frame_forecast_scores(self.decode(truth)[:, None], real)
        scores.update({f"tokenizer_{k}": v for k, v in ceiling.items()})
        probabilistic, _ = super().forecast_evaluation(paths, truth)
        return {**scores, **probabilistic}, curves

    def rollout_context(self, num: int, context_tokens: int, horizon: int) -> Tensor:
        """Test-episode windows (`EpisodeWindowsDataModule.rollout_context`); their real frames
        are kept for the videos beside the rollouts."""
        which, starts = self.window_positions("test", num, context_tokens + horizon)
        self._rollout_frames = (context_tokens, self.window_frames(
            "test", which[:max(1, int(self.cfg.video_samples))],
            starts[:max(1, int(self.cfg.video_samples))], context_tokens + horizon))
        return episode_windows(self.split("test"), which, starts, context_tokens + horizon)

    def statistics(self) -> dict[str, Tensor]:
        """The training episodes' statistics (`EpisodeWindowsDataModule.statistics`), with every
        latent's token and step std floored at `STD_FLOOR` x its mean over the latents: a latent
        of a region no object enters barely varies, and dividing by its std would blow the
        decoder's small errors there up to hundreds (measured: a training loss of ~500)."""
        stats = super().statistics()
        for key in ("token_std", "first_std", "step_std"):
            stats[key] = stats[key].clamp_min(STD_FLOOR * float(stats[key].mean()))
        return stats

    # ----- evaluation ----------------------------------------------------------------------
    def plot_forecast(self, windows: Tensor, paths: Tensor, out_dir: Path, context_tokens: int,
                      title: str = "") -> dict[str, Path]:
        """A strip per window: the first forecast path's frames above the emulator's."""
        from utils.video import frame_strip

        kept = getattr(self, "_forecast_frames", None)
        count = min(4, windows.shape[0])
        real = kept[1][:count] if kept is not None else None
        generated = self.decode(paths[:count, 0])
        return {"forecast_frames": frame_strip(generated, real, out_dir / "forecast_frames.png",
                                               title=title)}

    def frame_scores(self, frames: np.ndarray) -> dict[str, float]:
        """The object checks of frames `[N, T, H, W, C]` (Atari; {} for crafter)."""
        if self.cfg.source != "atari":
            return {}
        from datasets.video.objects import object_checks

        return object_checks(self.cfg.game, frames, self.crop, int(self.cfg.size))

    def window_scores(self, frames: np.ndarray) -> dict[str, float]:
        """Object checks and frame statistics of frames `[N, T, H, W, C]` against the test
        episodes' frames (`utils.metrics.frames.frame_statistics`)."""
        from utils.metrics.frames import frame_statistics

        return {**self.frame_scores(frames), **frame_statistics(frames, self.reference_summary)}

    @cached_property
    def reference_summary(self) -> Any:
        """The test episodes' frames summarised once (`utils.metrics.frames.summarise_frames`):
        every window of every rollout and horizon is compared with them."""
        from utils.metrics.frames import summarise_frames

        return summarise_frames(self.split_frames("test"))

    @cached_property
    def data_scores(self) -> dict[str, float]:
        """The data's own object checks (`*_data`), on frames of play: token 0 is the screen
        after reset, which Pong shows in another palette, with no paddles and no ball."""
        return {f"{k}_data": v for k, v in self.frame_scores(self.split_frames("test")[:, 1:])
                .items()}

    def tokenizer_scores(self, num: int, length: int) -> dict[str, float]:
        """The ceiling (`*_tokenizer`): `num` real test windows of `length` frames through the
        tokenizer's round trip, scored as rollouts are (the intensity histograms of a flat Atari
        background move with a grey level); computed once per size."""
        cache = self.__dict__.setdefault("_tokenizer_scores", {})
        if (num, length) not in cache:
            real = self.decode(self.ground_truth(num, length))
            cache[num, length] = {f"{k}_tokenizer": v
                                  for k, v in self.window_scores(real).items()}
        return cache[num, length]

    def evaluate(self, samples: Tensor) -> dict[str, float]:
        """Rollouts `[N, T, D + A]`: the first `frame_eval_samples` decoded, and on their first
        and last training-length windows the object checks and the frame statistics against the
        test episodes' frames (`window_scores`), with the data's own object checks (`*_data`)
        and the same scores of real windows through the tokenizer's round trip (`*_tokenizer`:
        the best a model of these tokens can do); then the latents' window distances every
        dataset gets."""
        W = self.metric_window(samples)
        n = min(samples.shape[0], int(self.cfg.frame_eval_samples))
        metrics: dict[str, float] = {}
        for where, window in (("first", samples[:n, :W]), ("last", samples[:n, -W:])):
            scores = self.window_scores(self.decode(window))
            metrics.update({f"{k}_{where}": v for k, v in scores.items()})
        metrics.update(self.data_scores)
        metrics.update(self.tokenizer_scores(n, W))
        return {**metrics, **super().evaluate(samples)}

    def curves(self, samples: Tensor) -> dict[str, list[float]]:
        """Over the horizon, for every window of `train_length` frames (stride half of it) of
        the first `frame_eval_samples` rollouts decoded: the frame statistics against the test
        episodes' frames and the object checks' `frames_ok_rate` (the latents' energy
        distances of the base class cost minutes here and say less)."""
        W = self.metric_window(samples)
        n = min(samples.shape[0], int(self.cfg.frame_eval_samples))
        frames = self.decode(samples[:n])
        curves: dict[str, list[float]] = {"window_end": []}
        for end in range(W, samples.shape[1] + 1, max(1, W // 2)):
            scores = self.window_scores(frames[:, end - W:end])
            curves["window_end"].append(end)
            for key in CURVE_KEYS:
                if key in scores:
                    curves.setdefault(key, []).append(float(scores[key]))
        return curves

    def plot(self, samples: Tensor, out_dir: Path, title: str = "",
             curves: dict[str, list[float]] | None = None) -> dict[str, Path]:
        """The metric curves, a strip of frames over the horizon (generated rows against the real
        episode's) and a GIF of `video_samples` rollouts beside the real episodes they started
        from (`rollout_video`)."""
        from utils.video import frame_strip, write_video

        out_dir.mkdir(parents=True, exist_ok=True)
        plots = super().plot(samples, out_dir, title, curves)
        count = max(1, int(self.cfg.video_samples))
        generated = self.decode(samples[:count])
        kept = getattr(self, "_rollout_frames", None)
        real = None
        if kept is not None and kept[1].shape[0] >= count:
            context, frames = kept
            real = frames[:count, context:context + samples.shape[1]]
        plots["frame_strip"] = frame_strip(generated, real, out_dir / "frame_strip.png",
                                           title=title, train_length=self.train_length)
        if int(self.cfg.video_samples) > 0:
            plots["rollout_video"] = write_video(generated, real, out_dir / "rollout.gif")
        return plots

    def describe(self) -> str:
        sizes = ", ".join(f"{k} {int(self.cfg.episodes[k])}" for k in SPLITS)
        channels = "grey" if self.cfg.grey else "RGB"
        return (f"{self.source_name()}: {self.cfg.size}x{self.cfg.size} {channels} frames, "
                f"episodes of {self.cfg.episode_length} ({sizes})")
