"""The multi-step baseline (the second seed's method, Diffusion Forcing, arXiv 2407.01392):
the same network trained by plain flow matching with an independent flow time per token,
sampled with K = `experiment.rollout.nfe` Euler steps per token.

    loss = ‖v(z_t, t → t) − (y − e)‖²,  z_t = (1 − t)·e + t·y,  t drawn per token

No shortcut or MeanFlow term: v(·, t → t) is the instantaneous velocity, so one step per token
returns the mean of the next token, and quality needs K ≫ 1. The context is corrupted as in
flow_forcing (clean | gaussian); at sampling, generated tokens are fed back with
`sampling.stabilization_noise` (Diffusion Forcing's stabilisation), under the autoregressive
or the pyramid schedule (`sampling.schedule`, `sampling.chunk`; see sampling.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from omegaconf import MISSING, DictConfig
from torch import Tensor

from algorithms.base.config_schema import GenerationSchema, TrajectoryModelSchema
from algorithms.base.trajectory_model import TrajectoryModel
from algorithms.diffusion_forcing.sampling import pyramid_rollout
from algorithms.flow_forcing.shortcut_loss import lerp
from algorithms.flow_forcing.time_sampler import TIME_SAMPLERS, sample_times
from algorithms.generation.sampler import rollout
from algorithms.generation.solvers import flow_euler_solve
from algorithms.networks.context import gaussian_corruption, shift_right
from algorithms.networks.flow_network import FlowNetwork, Solver
from utils.config_checks import ConfigError, check, choices, non_negative, positive_int

SCHEDULES = ("autoregressive", "pyramid")
TimeSampler = choices("TimeSampler", TIME_SAMPLERS)
Schedule = choices("Schedule", SCHEDULES)


@dataclass
class FlowTimeSchema:
    kind: TimeSampler = MISSING


@dataclass
class ScheduleSchema(GenerationSchema):
    schedule: Schedule = MISSING
    chunk: int = MISSING


@dataclass
class DiffusionForcingSchema(TrajectoryModelSchema):
    """`algorithm=diffusion_forcing`."""

    time_sampler: FlowTimeSchema = field(default_factory=FlowTimeSchema)
    sampling: ScheduleSchema = field(default_factory=ScheduleSchema)


class DiffusionForcing(TrajectoryModel):
    config_schema = DiffusionForcingSchema

    @classmethod
    def check_config(cls, cfg: DictConfig) -> None:
        super().check_config(cfg)  # the network's keys (surrogate context: flow_forcing only)
        if cfg.algorithm.sampling.schedule == "pyramid" and cfg.algorithm.network.kind == "seed":
            raise ConfigError("algorithm.sampling.schedule=pyramid: needs algorithm.network."
                              "kind=split (the seed's network reads the noisy token itself)")
        check(cfg, "algorithm.sampling.chunk", positive_int, "a positive integer")
        check(cfg, "algorithm.sampling.stabilization_noise", non_negative, "a non-negative number")

    def training_loss(self, network: FlowNetwork, x: Tensor, given: Tensor | None = None,
                      burn_in: int = 0) -> tuple[Tensor, dict[str, Tensor]]:
        cfg = self.cfg
        window = x[:, burn_in:]  # the tokens the loss is on (all of them by default)
        t = sample_times(window.shape[:-1], cfg.time_sampler.kind, device=x.device)["t0"]
        noise = torch.randn_like(window)
        level = None
        if cfg.context.corruption == "gaussian":
            corrupted, sigma = gaussian_corruption(x, cfg.context.noise_max * self.noise_unit,
                                                   cfg.context.get("clean_prob", 0.0),
                                                   (cfg.context.get("walk_max") or 0.0)
                                                   * self.noise_unit)
            context, level = shift_right(corrupted), shift_right(sigma)
        else:
            context = shift_right(x)
        y = network.token_space.encode(x, context)[:, burn_in:]
        h = network.encode(context, level if network.reads_level else None, given, burn_in)
        flow = F.mse_loss(network.velocity(h, lerp(noise, y, t), t, t), y - noise)
        return flow, {"flow": flow.detach()}

    def sample(self, network: FlowNetwork, num_samples: int, horizon: int, nfe: int,
               batch_size: int | None, generator: torch.Generator, context: Tensor | None = None,
               given: Tensor | None = None) -> Tensor:
        s = self.cfg.sampling
        noise, level = self.context_at_generation()
        if s.schedule == "pyramid":
            return pyramid_rollout(network, num_samples, horizon, nfe, s.chunk, batch_size,
                                   self.device, generator, noise, context, given)
        return rollout(network, num_samples, horizon, nfe, batch_size, self.device, generator,
                       solver=flow_euler_solve, context_noise=noise, context_level=level,
                       context=context, given=given, calibration=self.calibration,
                       bounds=self.token_bounds)

    def calibration_solver(self) -> Solver:
        """K Euler steps of the instantaneous velocity, as `sample` draws each token."""
        return flow_euler_solve
