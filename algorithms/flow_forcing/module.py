"""One-step diffusion forcing: Diffusion Forcing's independent per-token flow times, a
corrupted context standing in for the model's own samples, and a one-step objective that
makes one network call per token (1 NFE) a sampler: the shortcut split (the seed's, default)
or MeanFlow's JVP target (`algorithm.loss.objective`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from omegaconf import MISSING, DictConfig, OmegaConf
from torch import Tensor

from algorithms.base.config_schema import GenerationSchema, TrajectoryModelSchema
from algorithms.base.trajectory_model import TrajectoryModel
from algorithms.flow_forcing.meanflow_loss import meanflow_loss, meanflow_times
from algorithms.flow_forcing.shortcut_loss import (
    lerp,
    shortcut_flow_loss,
    start_weights,
)
from algorithms.flow_forcing.time_sampler import TIME_SAMPLERS, sample_times
from algorithms.networks.context import gaussian_corruption, shift_right
from algorithms.networks.flow_network import FlowNetwork
from utils.config_checks import (
    ConfigError,
    check,
    choices,
    non_negative,
    positive,
    probability,
)

OBJECTIVES = ("shortcut", "meanflow")
# MeanFlow's target holds d/ds of the head, and the sinusoids of SinusoidalEmbedding turn a
# time scale k into derivatives of order k. Measured (default sizes, batch 32, 250 steps): MSE
# 218 at scale 1000, 1.4 at 100, 0.50 at 10, 0.53 at 1 (one seed; the shortcut's flow term: 0.67).
MEANFLOW_MAX_TIME_SCALE = 100
TimeSampler = choices("TimeSampler", TIME_SAMPLERS)
Objective = choices("Objective", OBJECTIVES)


@dataclass
class FlowTimesSchema:
    kind: TimeSampler = MISSING
    full_jump_prob: float = MISSING


@dataclass
class OneStepLossSchema:
    objective: Objective = MISSING
    flow_weight: float = MISSING
    shortcut_weight: float = MISSING
    start_weight: float = MISSING
    meanflow_distinct_prob: float = MISSING
    adaptive_p: float = MISSING
    adaptive_c: float = MISSING


@dataclass
class OneStepSchema(TrajectoryModelSchema):
    """`algorithm=flow_forcing` (and its recipes: meanflow, flow_forcing_seed)."""

    time_sampler: FlowTimesSchema = field(default_factory=FlowTimesSchema)
    loss: OneStepLossSchema = field(default_factory=OneStepLossSchema)
    sampling: GenerationSchema = field(default_factory=GenerationSchema)


class OneStepDiffusionForcing(TrajectoryModel):
    config_schema = OneStepSchema

    @classmethod
    def check_config(cls, cfg: DictConfig) -> None:
        super().check_config(cfg)
        check(cfg, "algorithm.time_sampler.full_jump_prob", probability, "in [0, 1]")
        check(cfg, "algorithm.loss.flow_weight", non_negative, "a non-negative number")
        check(cfg, "algorithm.loss.shortcut_weight", non_negative, "a non-negative number")
        if OmegaConf.select(cfg, "algorithm.loss.start_weight", default=None) is not None:
            check(cfg, "algorithm.loss.start_weight", positive, "a positive number")
            if cfg.algorithm.loss.start_weight != 1.0 and cfg.algorithm.loss.objective != "shortcut":
                raise ConfigError("algorithm.loss.start_weight: only the shortcut objective weights "
                                  "tokens; keep it 1 with algorithm.loss.objective=meanflow")
        if cfg.algorithm.loss.objective == "meanflow":
            check(cfg, "algorithm.loss.meanflow_distinct_prob", probability, "in [0, 1]")
            check(cfg, "algorithm.loss.adaptive_p", non_negative, "a non-negative number")
            check(cfg, "algorithm.loss.adaptive_c", positive, "a positive number")
            if cfg.algorithm.head.time_scale > MEANFLOW_MAX_TIME_SCALE:
                raise ConfigError(
                    f"algorithm.head.time_scale={cfg.algorithm.head.time_scale}: must be at most "
                    f"{MEANFLOW_MAX_TIME_SCALE} with algorithm.loss.objective=meanflow (its JVP "
                    f"differentiates the time embedding; try algorithm.head.time_scale=10)")
            if cfg.algorithm.network.kind == "seed":
                raise ConfigError("algorithm.loss.objective=meanflow: needs algorithm.network."
                                  "kind=split (with the seed's network the JVP would run through "
                                  "the recurrence and leak across tokens)")

    def make_context(self, network: FlowNetwork, x: Tensor, noise: Tensor,
                     times: dict[str, Tensor]) -> tuple[Tensor, Tensor | None]:
        """Context rows `[B, T, D]` in data space (row j is what token j sees of token j − 1) and
        their corruption level `[B, T, 1]` (None where the context is not Gaussian-corrupted)."""
        ctx = self.cfg.context
        if ctx.corruption == "clean":
            return shift_right(x), None
        if ctx.corruption == "gaussian":
            corrupted, sigma = gaussian_corruption(x, ctx.noise_max * self.noise_unit,
                                                   ctx.get("clean_prob", 0.0),
                                                   (ctx.get("walk_max") or 0.0) * self.noise_unit)
            return shift_right(corrupted), shift_right(sigma)
        # surrogate (the seed's): token j − 1 noised to its own level t2, z2 = lerp(e, y, t2);
        # absolute token space only (checked with the config), where y ignores the context.
        zeros = torch.zeros_like(x)
        z2 = lerp(noise, network.token_space.encode(x, zeros), times["t2"])
        return shift_right(network.token_space.decode(z2, zeros)), None

    def training_loss(self, network: FlowNetwork, x: Tensor, given: Tensor | None = None,
                      burn_in: int = 0) -> tuple[Tensor, dict[str, Tensor]]:
        cfg = self.cfg
        window = x[:, burn_in:]  # the tokens the loss is on (all of them by default)
        times = sample_times(window.shape[:-1], cfg.time_sampler.kind,
                             cfg.time_sampler.full_jump_prob, device=x.device)
        noise = torch.randn_like(window)
        context, level = self.make_context(network, x, noise, times)
        y = network.token_space.encode(x, context)[:, burn_in:]
        h = network.encode(context, level if network.reads_level else None, given, burn_in)

        def velocity(z: Tensor, t_start: Tensor, t_end: Tensor) -> Tensor:
            return network.velocity(h, z, t_start, t_end)

        if cfg.loss.get("objective", "shortcut") == "meanflow":
            t_start, t_end = meanflow_times(times, cfg.loss.meanflow_distinct_prob)
            return meanflow_loss(velocity, y, noise, t_start, t_end, cfg.loss.adaptive_p,
                                 cfg.loss.adaptive_c)
        # the start's weight where the window holds the start (tokens 0 and 1)
        weight = start_weights(window.shape[1], cfg.loss.get("start_weight", 1.0) if burn_in == 0
                               else 1.0, x.device)
        return shortcut_flow_loss(velocity, y, noise, times, cfg.loss.flow_weight,
                                  cfg.loss.shortcut_weight, weight)
