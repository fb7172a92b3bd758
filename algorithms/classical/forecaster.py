"""The interface of the classical forecasting references: fitted on each real context at
generation time (nothing to train), sampled with the same `generate` call as the neural models.

A forecaster is univariate per channel of the generated tokens: the given channels (known
covariates, the last C of each token) are ignored by the fit and copied into the output.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np
import torch
from omegaconf import MISSING, DictConfig, OmegaConf
from torch import Tensor

from utils.config_checks import ConfigError, check, positive_int
from utils.packages import Extra


@dataclass
class ClassicalSchema:
    """The `algorithm` keys every classical forecaster has (values in its YAML)."""

    name: str = MISSING
    season_length: int = MISSING  # m >= 1; 1: no seasonality


class ClassicalForecaster(abc.ABC):
    """A forecaster fitted on the context it is given: no weights, runs on the CPU.

    cfg: the `algorithm` group (name, season_length, ...); token_dim G, the generated channels;
    given_dim C, the given channels (copied, never forecast)."""

    trainable = False
    config_schema: type = ClassicalSchema
    #: the optional dependency group it needs (`utils/packages.py`); None: the base install
    EXTRA: Extra | None = None

    def __init__(self, cfg: DictConfig, token_dim: int, given_dim: int, seed: int = 0) -> None:
        if token_dim < 1 or given_dim < 0:
            raise ValueError(f"token_dim={token_dim} must be >= 1 and given_dim={given_dim} >= 0")
        self.cfg, self.token_dim, self.given_dim, self.seed = cfg, token_dim, given_dim, seed
        self.name = str(cfg.name)
        self.season_length = int(cfg.season_length)

    @classmethod
    def check_config(cls, cfg: DictConfig) -> None:
        """Raise `ConfigError` naming the first bad `algorithm.*` key (the root config given),
        or a task it cannot run: nothing to validate or test, and every rollout from a context."""
        check(cfg, "algorithm.season_length", positive_int, "a positive integer")
        name = cfg.algorithm.name
        tasks = list(OmegaConf.select(cfg, "experiment.tasks", default=None) or [])
        for task in ("validation", "test"):
            if task in tasks:
                raise ConfigError(f"experiment.tasks: algorithm={name} has no {task} loss (it "
                                  f"fits each context); use training, rollout, forecast")
        context = OmegaConf.select(cfg, "experiment.rollout.context_tokens", default=0)
        if "rollout" in tasks and (context or 0) < 2:
            raise ConfigError(f"experiment.rollout.context_tokens={context}: algorithm={name} "
                              f"forecasts from a real context of at least 2 tokens")

    def to(self, device: torch.device | str) -> ClassicalForecaster:
        """Runs on the CPU whatever the device: nothing to move."""
        return self

    @abc.abstractmethod
    def sample_paths(self, history: np.ndarray, horizon: int, num_paths: int,
                     rng: np.random.Generator) -> np.ndarray:
        """history ``[N, G]`` (float64) -> ``[num_paths, horizon, G]`` independent sample paths
        of what follows it."""

    def generate(self, num_samples: int, horizon: int, nfe: int = 1,
                 batch_size: int | None = None, seed: int = 0, context: Tensor | None = None,
                 given: Tensor | None = None) -> Tensor:
        """Forecast the generated channels of each context row ``horizon`` tokens ahead.

        Args:
            context: ``[num_samples, N, G + C]`` real tokens (generated channels, then given).
            given: ``[num_samples, horizon, C]`` the given channels over the horizon (None when
                C = 0); copied into the output exactly.
            nfe, batch_size: the neural models' knobs; unused.
            seed: with the forecaster's own seed, fixes every path.

        Rows with the same history (generated channels) are fitted once; each row still gets its
        own independent path.

        Returns:
            ``[num_samples, horizon, G + C]`` float32 on the CPU.
        """
        g, c = self.token_dim, self.given_dim
        if context is None or context.ndim != 3 or context.shape[1] < 2:
            raise ValueError(f"algorithm={self.name} forecasts from a real context: set "
                             "experiment.rollout.context_tokens (or use the forecast task)")
        if context.shape[0] != num_samples or context.shape[2] != g + c:
            raise ValueError(f"context {tuple(context.shape)}: expected [num_samples={num_samples},"
                             f" N, G + C = {g + c}]")
        if horizon < 1:
            raise ValueError(f"horizon={horizon}: must be a positive integer")
        if c > 0 and (given is None or tuple(given.shape) != (num_samples, horizon, c)):
            raise ValueError(f"given {None if given is None else tuple(given.shape)}: expected "
                             f"[{num_samples}, {horizon}, {c}] (the given channels over the horizon)")
        history = context[..., :g].detach().to("cpu", torch.float64)
        if not torch.isfinite(history).all():
            raise ValueError(f"algorithm={self.name}: the context holds non-finite values")
        unique, inverse = torch.unique(history, dim=0, return_inverse=True)
        streams = np.random.SeedSequence([self.seed, seed]).spawn(unique.shape[0])
        paths = np.empty((num_samples, horizon, g))
        for j, stream in enumerate(streams):
            rows = torch.nonzero(inverse == j)[:, 0].numpy()
            out = self.sample_paths(unique[j].numpy(), horizon, len(rows),
                                    np.random.default_rng(stream))
            if out.shape != (len(rows), horizon, g):
                raise RuntimeError(f"{type(self).__name__}.sample_paths gave {out.shape}, "
                                   f"expected {(len(rows), horizon, g)}")
            paths[rows] = out
        forecast = torch.from_numpy(paths).to(torch.float32)
        if c == 0:
            return forecast
        return torch.cat([forecast, given.detach().to("cpu", torch.float32)], dim=-1)
