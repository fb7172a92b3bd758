"""What every dataset gives the experiments, and the evaluation every dataset gets for free.

A dataset subclasses `SequenceDataModule` and implements `ground_truth(num, length)`; `evaluate` and
`curves` then compare generated windows with ground-truth windows at the same horizon
(`utils.metrics.distribution`), each with its reference of two ground-truth draws. A dataset with
closed-form measures (circles) adds its own to these, as `CircularArcDataModule` does.
"""

from __future__ import annotations

import abc
from pathlib import Path

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from utils.config_checks import ConfigError, is_int
from utils.curves import MetricNames
from utils.metrics import window_distribution_curves, window_distribution_metrics
from utils.packages import Extra
from utils.plotting import plot_metric_curves


class SequenceDataModule(pl.LightningDataModule, abc.ABC):
    """A LightningDataModule of sequences ``[B, T, D]``, with a ground truth of any length.

    Subclasses set ``train_length`` (tokens per training sequence) and implement ``token_dim``,
    ``statistics()`` and ``ground_truth(num, length)``.
    """

    train_length: int
    # The symmetries of the data's dynamics that a model may build in: "rotation" and/or
    # "translation" of the plane, meaning that the law of a continuation given its past commutes
    # with them (the start distribution need not). None by default: a model may assume nothing.
    # `algorithm.frame=heading` needs both (algorithms/networks/frame.py).
    SYMMETRIES: frozenset[str] = frozenset()
    # The optional dependency group the dataset needs beyond the base install (`utils.packages.
    # Extra`: e.g. a simulator's package); None: the base install is enough. A run that picks the
    # dataset without it stops with one line saying `pip install -r requirements/<group>.txt`.
    EXTRA: Extra | None = None
    # What `algorithm.context.noise_unit: auto` means on these data (algorithms/networks/
    # context.py `unit_value`): the RMS step length, but per coordinate for tokens of hundreds of
    # numbers (frame latents), where the length is √D times a coordinate's step, and each
    # channel's own RMS step for simulator states (channels on different scales).
    NOISE_UNIT: str = "rms_step"
    # The scores a reader looks at first (`evaluate` writes them): the distances to the ground
    # truth every dataset gets. A dataset with measures of its own puts them first.
    METRICS = MetricNames(
        headline=("energy_distance_last", "sliced_wasserstein_last", "diversity_ratio_last"),
        per_horizon=("energy_distance_last",),
        summary_per_horizon=("energy_distance_last",),
        summary=("sliced_wasserstein_last", "diversity_ratio_last"))

    @staticmethod
    def check_metric_window(cfg: DictConfig, minimum: int) -> None:
        """`dataset.metric_window`: null, or an integer of at least `minimum` tokens."""
        value = OmegaConf.select(cfg, "dataset.metric_window", default=None)
        if value is not None and not (is_int(value) and value >= minimum):
            raise ConfigError(f"dataset.metric_window={value}: must be null (the training "
                              f"length) or an integer >= {minimum}")

    @property
    def symmetries(self) -> set[str]:
        """The declared symmetries (`SYMMETRIES`)."""
        return set(self.SYMMETRIES)

    @property
    @abc.abstractmethod
    def token_dim(self) -> int:
        """The number G of generated channels of one token."""

    @property
    def given_dim(self) -> int:
        """The number C of given channels (covariates, actions) that follow the G generated ones
        in every token `[G + C]`: the model reads them and never generates them; 0 by default.
        Token j's given values must be known when token j is generated (a simulator's dataset
        puts there the action that led to token j)."""
        return 0

    #: the period of the data's seasonality in tokens (1: none); the classical references use it
    season_length: int = 1

    def rollout_context(self, num: int, context_tokens: int, horizon: int) -> Tensor:
        """Real sequences `[num, context_tokens + horizon, G + C]`: the first `context_tokens` are
        the past a rollout warms up on, the rest carry the given channels of the tokens to
        generate (and the real continuation). Generated data: fresh ground-truth draws."""
        return self.ground_truth(num, context_tokens + horizon)

    def calibration_sequences(self, num: int, length: int) -> Tensor:
        """``num`` real sequences ``[num, length, D]`` from a stream of their own (neither training
        nor the evaluation's ground truth) that a sampler's calibration is fitted on; a dataset
        that supports `algorithm.sampling.calibration` implements it (`supports_calibration`)."""
        raise ValueError(f"algorithm.sampling.calibration: {type(self).__name__} gives no "
                         f"calibration sequences; set it to none")

    @classmethod
    def supports_calibration(cls) -> bool:
        """Whether the dataset gives `calibration_sequences` (checked before a run starts)."""
        return cls.calibration_sequences is not SequenceDataModule.calibration_sequences

    def forecast_windows(self, context_tokens: int, horizon: int, num_windows: int | None = None
                         ) -> Tensor:
        """The windows `[W, context_tokens + horizon, G + C]` the `forecast` task scores: the model
        reads the first `context_tokens` and forecasts the rest. Generated data: `num_windows`
        fresh draws; recorded data: rolling windows of the test part."""
        return self.ground_truth(num_windows or 64, context_tokens + horizon)

    def forecast_evaluation(self, paths: Tensor, truth: Tensor
                            ) -> tuple[dict[str, float], dict[str, list[float]]]:
        """The `forecast` task's scores of paths `[W, M, H, G]` against what happened `[W, H, G]`
        (`utils.metrics.probabilistic.forecast_scores`; a dataset may add its own), and columns
        over the horizon to write beside them (e.g. a simulator's state error per step; none by
        default)."""
        from utils.metrics.probabilistic import forecast_scores

        return forecast_scores(paths, truth), {}

    def plot_forecast(self, windows: Tensor, paths: Tensor, out_dir: Path, context_tokens: int,
                      title: str = "") -> dict[str, Path]:
        """The `forecast` task's figures of windows `[W, N + H, G + C]` and paths
        `[W, M, H, G + C]`: fans of the generated channels over the truth (a dataset of frames
        draws frames instead)."""
        from utils.forecast_plots import plot_forecast_fans

        G, names = self.token_dim, getattr(self, "channel_names", None)
        names = tuple(names[:G]) if names else tuple(f"x{g}" for g in range(G))
        return {"forecast_fans": plot_forecast_fans(windows, paths, out_dir / "forecast_fans.png",
                                                    context_tokens, names, title=title)}

    @abc.abstractmethod
    def ground_truth(self, num: int, length: int) -> Tensor:
        """``num`` independent reference sequences ``[num, length, D]``, never seen in training."""

    #: tokens per scored window (`dataset.metric_window`); None: as long as the training sequences
    metric_window_tokens: int | None = None

    def metric_window(self, samples: Tensor) -> int:
        """Windows of `dataset.metric_window` tokens, by default as long as the training
        sequences (or the whole rollout, if shorter). Set it where the training sequences grow
        for another reason (`algorithm.burn_in`: 256-token sequences with the loss on 64) and the
        scores must stay comparable with runs on the data's own window."""
        return min(self.metric_window_tokens or self.train_length, samples.shape[1])

    def _truth_and_reference(self, samples: Tensor) -> tuple[Tensor, Tensor]:
        """Two independent ground-truth draws ``[N, T, G]`` of the samples' size (generated
        channels only): the first to compare with, the second to say what a perfect generator of
        N samples scores."""
        n, horizon = samples.shape[0], samples.shape[1]
        truth = self.ground_truth(2 * n, horizon)[..., :self.token_dim]
        return truth[:n], truth[n:]

    def evaluate(self, samples: Tensor) -> dict[str, float]:
        """Distances to the ground truth on the first and last windows of rollouts ``[N, T, D]``
        (``utils.metrics.window_distribution_metrics``; on the generated channels, given ones
        are the data's own)."""
        truth, reference = self._truth_and_reference(samples)
        return window_distribution_metrics(samples[..., :self.token_dim], truth, reference,
                                           self.metric_window(samples))

    def curves(self, samples: Tensor) -> dict[str, list[float]]:
        """The same distances for every window over the horizon (stride ``W // 2``), with
        ``window_end``: ``utils.metrics.window_distribution_curves``."""
        truth, reference = self._truth_and_reference(samples)
        return window_distribution_curves(samples[..., :self.token_dim], truth, reference,
                                          self.metric_window(samples))

    def plot(self, samples: Tensor, out_dir: Path, title: str = "",
             curves: dict[str, list[float]] | None = None) -> dict[str, Path]:
        """The metric curves over the horizon; datasets add their own figures."""
        curves = self.curves(samples) if curves is None else curves
        return {"metric_curves": plot_metric_curves(curves, out_dir / "metric_curves.png",
                                                    train_length=self.train_length, title=title)}
