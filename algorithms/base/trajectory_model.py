"""The LightningModule wiring shared by every trajectory model: network, EMA, optimiser,
logging and generation. Subclasses define `training_loss`, and may replace `sample`."""

from __future__ import annotations

import abc
import math
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from algorithms.base.config_checks import check_network_config
from algorithms.base.config_schema import TrajectoryModelSchema
from algorithms.generation.calibration import ResidualCalibration
from algorithms.generation.sampler import rollout, split_channels
from algorithms.generation.solvers import euler_solve
from algorithms.generation.token_clip import token_bounds
from algorithms.networks.build import build_network
from algorithms.networks.context import generation_noise, given_dim, noise_unit
from algorithms.networks.flow_network import FlowNetwork, Solver
from utils.config_checks import ConfigError
from utils.seeding import stream_generator, stream_seed

# Noise streams, separate from every data stream. Training noise is reseeded at every step from
# (seed, global step, rank), so a resumed run draws the noise an uninterrupted one would.
ROLLOUT_STREAM, TRAIN_NOISE_STREAM, EVAL_NOISE_STREAM = 100, 101, 102


class NonFiniteLossError(RuntimeError):
    """Training met a non-finite loss or gradient: stop rather than train on garbage."""

    def __init__(self, what: str, step: int) -> None:
        super().__init__(f"non-finite {what} at step {step}")
        self.what, self.step = what, step


class TrajectoryModel(pl.LightningModule, abc.ABC):
    """cfg: the `algorithm` group; optim: `experiment.training` (lr, schedule, ...).

    token_dim is the number G of generated channels; statistics with `given_mean`/`given_std`
    `[C]` say the data have C given channels as well (covariates, actions): batches are then
    `[B, T, G + C]`, the network reads the given channels and every sample carries them exactly
    as they were given (`generate(..., given=...)`).
    """

    trainable = True  # a classical forecaster (algorithms/classical) has nothing to train

    #: the `algorithm` keys' names, types and choices (a subclass with keys of its own extends it)
    config_schema: type = TrajectoryModelSchema

    def __init__(self, cfg: DictConfig, optim: DictConfig, token_dim: int,
                 statistics: dict[str, Tensor], seed: int = 0) -> None:
        super().__init__()
        self.cfg, self.optim, self.seed = cfg, optim, seed
        self.bad_steps_left = int(optim.get("max_bad_steps", 0))
        self.token_dim, self.given_dim = token_dim, given_dim(statistics)
        self.network = build_network(cfg, token_dim, statistics)
        # context.noise_max's unit in data units (1, or the data's RMS step): context.py
        self.noise_unit = noise_unit(cfg.context, statistics)
        self.ema: AveragedModel | None = None
        if cfg.ema.decay:
            self.ema = AveragedModel(self.network, use_buffers=True,
                                     multi_avg_fn=get_ema_multi_avg_fn(cfg.ema.decay))
            self.ema.requires_grad_(False)  # averaged, never trained (and DDP must not wait on it)
        # `algorithm.sampling.calibration`: fitted before a rollout (base/calibrate.py), passed to
        # the sampler; a plain attribute, never in the state dict
        self.calibration: ResidualCalibration | None = None
        # `algorithm.clip`: every generated token clamped to the training tokens' range
        # (generation/token_clip.py); rebuilt from the statistics, never in the state dict
        self.token_bounds = token_bounds(cfg.get("clip"), statistics)

    @classmethod
    def check_config(cls, cfg: DictConfig) -> None:
        """Raise `ConfigError` naming the first bad `algorithm.*` key (the root config given)."""
        check_network_config(cfg)

    @abc.abstractmethod
    def training_loss(self, network: FlowNetwork, x: Tensor, given: Tensor | None = None,
                      burn_in: int = 0) -> tuple[Tensor, dict[str, Tensor]]:
        """x `[B, T, G]` generated channels, given `[B, T, C]` (None: the data have none) ->
        (loss, named detached parts). The loss is on x only: given channels are read, never
        generated. With `burn_in` > 0 it is on tokens `burn_in..T − 1` alone: the earlier ones
        are context the recurrence reads without gradient (`FlowNetwork.encode`)."""

    def batch_loss(self, network: FlowNetwork, batch: Tensor, train: bool = False
                   ) -> tuple[Tensor, dict[str, Tensor]]:
        """The loss of a data batch `[B, T, G + C]`, split into its generated and given parts;
        in training, on the window `loss_window` draws (the whole sequence by default)."""
        burn_in, end = self.loss_window(batch.shape[1]) if train else (0, batch.shape[1])
        return self.training_loss(network, *split_channels(batch[:, :end], self.token_dim),
                                  burn_in=burn_in)

    def loss_window(self, length: int) -> tuple[int, int]:
        """The training loss's tokens `[start, end)` of a `length`-token batch: all of them, or
        with `algorithm.burn_in.loss_tokens = n` one of its `length // n` consecutive n-token
        windows, drawn uniformly per batch (torch's generator, seeded per step). The tokens
        before it warm the recurrence without gradient, so the loss meets recurrent states up
        to `length` tokens old while backpropagation runs through n (issue 29: the one-step
        model's bias appears once the state is older than the training length)."""
        n = (self.cfg.get("burn_in") or {}).get("loss_tokens")
        if n is None:
            return 0, length
        if n > length:
            raise ConfigError(f"algorithm.burn_in.loss_tokens={n}: more than the {length} tokens "
                              f"of a training sequence; lower it or lengthen the sequences")
        windows = length // n  # one window: nothing drawn (the whole sequence when n = length)
        start = n * int(torch.randint(windows, ())) if windows > 1 else 0
        return start, start + n

    @property
    def generation_network(self) -> FlowNetwork:
        """The weights used to evaluate and generate: the EMA when there is one, unless
        `algorithm.ema.generate=false` asks for the trained weights."""
        if self.ema is not None and self.cfg.ema.get("generate", True):
            return self.ema.module
        return self.network

    def on_train_batch_start(self, batch: Tensor, batch_idx: int) -> None:
        torch.manual_seed(stream_seed(self.seed, TRAIN_NOISE_STREAM, self.global_step,
                                      self.global_rank))

    def on_validation_batch_start(self, batch: Tensor, batch_idx: int, dataloader_idx: int = 0
                                  ) -> None:
        # The same noise at every validation: losses compare across steps and across resumes.
        torch.manual_seed(stream_seed(self.seed, EVAL_NOISE_STREAM, batch_idx, self.global_rank))

    on_test_batch_start = on_validation_batch_start

    def training_step(self, batch: Tensor, batch_idx: int) -> Tensor | None:
        loss, parts = self.batch_loss(self.network, batch, train=True)
        if not torch.isfinite(loss):
            # Skip a bounded number of bad batches (`max_bad_steps`), then stop: returning
            # None makes Lightning skip the backward pass and the optimiser step.
            if self.bad_steps_left <= 0:
                raise NonFiniteLossError("loss", self.global_step)
            self.bad_steps_left -= 1
            self.print(f"warning: non-finite loss at step {self.global_step}; batch skipped "
                       f"({self.bad_steps_left} more skips allowed)")
            return None
        self.log("train/loss", loss, prog_bar=True)
        self.log_dict({f"train/{k}": v for k, v in parts.items()})
        return loss

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # After backward, before clipping: a finite loss can still give inf/NaN gradients.
        grads = [p.grad for p in self.network.parameters() if p.grad is not None]
        if grads and not torch.isfinite(torch.stack([g.abs().sum() for g in grads]).sum()):
            raise NonFiniteLossError("gradient", self.global_step)

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        super().optimizer_step(*args, **kwargs)
        # Here, not in on_train_batch_end: checkpoint callbacks run before that hook, and a
        # checkpoint must hold the EMA of the very weights it stores.
        if self.ema is not None:
            self.ema.update_parameters(self.network)

    def _eval_step(self, batch: Tensor, stage: str) -> Tensor:
        loss, parts = self.batch_loss(self.generation_network, batch)
        self.log(f"{stage}/loss", loss, prog_bar=stage == "val", sync_dist=True)
        self.log_dict({f"{stage}/{k}": v for k, v in parts.items()}, sync_dist=True)
        return loss

    def validation_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        return self._eval_step(batch, "val")

    def test_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        return self._eval_step(batch, "test")

    def configure_optimizers(self) -> dict[str, Any]:
        o = self.optim
        optimizer = torch.optim.AdamW(self.network.parameters(), lr=o.lr,
                                      weight_decay=o.weight_decay, betas=tuple(o.betas))
        total = max(1, int(o.max_steps))
        warmup = min(int(o.warmup_steps), total - 1)

        def factor(step: int) -> float:
            """Linear warm-up, then cosine decay from 1 to `min_lr_ratio` (or constant)."""
            if step < warmup:
                return (step + 1) / (warmup + 1)
            if o.lr_schedule == "constant":
                return 1.0
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def generate(self, num_samples: int, horizon: int, nfe: int = 1, batch_size: int | None = None,
                 seed: int = 0, context: Tensor | None = None, given: Tensor | None = None,
                 stream: int = ROLLOUT_STREAM) -> Tensor:
        """Roll out `[num_samples, horizon, G + C]` (CPU float32) with the generation weights.

        context `[num_samples, T0, G + C]`: real tokens every stream reads first (a forecast
        from a real past); given `[num_samples, horizon, C]`: the given channels of the tokens
        to generate (required when the data have any), copied into the samples unchanged.
        `stream`: the noise stream (utils/seeding.py; a calibration's fit draws from its own)."""
        network = self.generation_network
        was_training = network.training
        network.eval()
        try:
            generator = stream_generator(seed, stream, nfe, device=self.device)
            return self.sample(network, num_samples, horizon, nfe, batch_size, generator,
                               context, given)
        finally:
            network.train(was_training)

    def sample(self, network: FlowNetwork, num_samples: int, horizon: int, nfe: int,
               batch_size: int | None, generator: torch.Generator, context: Tensor | None = None,
               given: Tensor | None = None) -> Tensor:
        """The algorithm's sampler (`generate` calls it in eval mode, without gradients): by
        default K = nfe Euler steps of the average velocity per token (1 NFE: one jump), with
        the residual calibration where one was fitted (`self.calibration`) and the clip to the
        training range where `algorithm.clip` asks for it (`self.token_bounds`)."""
        noise, level = self.context_at_generation()
        return rollout(network, num_samples, horizon, nfe, batch_size, self.device, generator,
                       context_noise=noise, context_level=level, context=context, given=given,
                       calibration=self.calibration, bounds=self.token_bounds)

    def calibration_solver(self) -> Solver:
        """The per-token solver `sample` uses, for the teacher-forced draws of a calibration."""
        return euler_solve

    def context_at_generation(self) -> tuple[float | Tensor, float | None]:
        """In data units: the stabilisation noise added to the generated tokens fed back
        (`algorithm.sampling.stabilization_noise`), and the level a network that reads its
        context's level is told (`sampling.context_level`; None: that noise). Both are given in
        `context.noise_unit`; an algorithm without a `sampling` block has 0 and None."""
        sampling = self.cfg.get("sampling") or {}
        level = sampling.get("context_level")
        noise, level = generation_noise(float(sampling.get("stabilization_noise", 0.0)),
                                        None if level is None else float(level), self.noise_unit)
        return (noise.to(self.device) if isinstance(noise, Tensor) else noise), level

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # The algorithm config travels with the weights, so a checkpoint says what it holds.
        checkpoint["algorithm_config"] = OmegaConf.to_container(self.cfg, resolve=True)
