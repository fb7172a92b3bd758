"""One-step diffusion forcing: Diffusion Forcing's independent per-token flow times, a
corrupted context standing in for the model's own samples, and the shortcut objective that
makes one network call per token (1 NFE) a sampler."""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch import Tensor

from algorithms.common.base_module import TrajectoryModel
from algorithms.common.context import gaussian_corruption, shift_right
from algorithms.common.network import FlowNetwork
from algorithms.flow_forcing.shortcut_loss import lerp, shortcut_flow_loss
from algorithms.flow_forcing.time_sampler import TIME_SAMPLERS, sample_times
from utils.config_checks import check, check_choice, non_negative, probability


class OneStepDiffusionForcing(TrajectoryModel):
    @classmethod
    def check_config(cls, cfg: DictConfig) -> None:
        super().check_config(cfg)
        check_choice(cfg, "algorithm.time_sampler.kind", TIME_SAMPLERS)
        check(cfg, "algorithm.time_sampler.full_jump_prob", probability, "in [0, 1]")
        check(cfg, "algorithm.loss.flow_weight", non_negative, "a non-negative number")
        check(cfg, "algorithm.loss.shortcut_weight", non_negative, "a non-negative number")

    def make_context(self, network: FlowNetwork, x: Tensor, noise: Tensor,
                     times: dict[str, Tensor]) -> Tensor:
        """Context rows `[B, T, D]` in data space: row j is what token j sees of token j − 1."""
        ctx = self.cfg.context
        if ctx.corruption == "clean":
            return shift_right(x)
        if ctx.corruption == "gaussian":
            return shift_right(gaussian_corruption(x, ctx.noise_max))
        # surrogate (the seed's): token j − 1 noised to its own level t2, z2 = lerp(e, y, t2);
        # absolute token space only (checked with the config), where y ignores the context.
        zeros = torch.zeros_like(x)
        z2 = lerp(noise, network.token_space.encode(x, zeros), times["t2"])
        return shift_right(network.token_space.decode(z2, zeros))

    def training_loss(self, network: FlowNetwork, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        cfg = self.cfg
        times = sample_times(x.shape[:-1], cfg.time_sampler.kind,
                             cfg.time_sampler.full_jump_prob, device=x.device)
        noise = torch.randn_like(x)
        context = self.make_context(network, x, noise, times)
        y = network.token_space.encode(x, context)
        h = network.encode(context)
        return shortcut_flow_loss(lambda z, t0, t1: network.velocity(h, z, t0, t1), y, noise,
                                  times, cfg.loss.flow_weight, cfg.loss.shortcut_weight)
