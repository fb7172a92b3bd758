"""Streaming generation from a checkpoint, without Lightning or Hydra at run time.

    streams = open_streams("run/checkpoints/last.ckpt", num_streams=8, nfe=1)
    token = streams.step()                  # `[8, D]`, the next token of every stream
    token = streams.step(noise=my_noise)    # the same, with the noise `[8, D]` given
    token = streams.step(given=action)      # data with given channels (actions): `[8, C]` each step
    streams.observe(state, given=action)    # feed a real token instead (e.g. the simulator's)
    streams.reset(8)                        # start 8 new streams

A checkpoint written by `python -m main` holds the resolved `algorithm` config
(`algorithm_config`, plain Python values: `TrajectoryModel.on_save_checkpoint`) and the
LightningModule's state dict, with the trained weights under `network.` and, when the run had an
EMA, the averaged ones under `ema.module.`. The rollout task generates with the EMA
(`TrajectoryModel.generation_network`), and so does this module unless told otherwise. The data
statistics are buffers of the network, so the state dict restores them too.

The generator is `StreamingSampler` itself (sampler.py), set up as the algorithm's own `sample`
sets it up: Euler steps of the average velocity for flow_forcing and predictive, of the
instantaneous velocity with the stabilisation noise fed back for diffusion_forcing. With the same
generator (or the same noise) it gives exactly the tokens of `rollout` and of the rollout task.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from algorithms.generation.sampler import StreamingSampler
from algorithms.generation.solvers import euler_solve, flow_euler_solve
from algorithms.networks.build import build_network
from algorithms.networks.context import generation_noise, unit_value

STATISTICS = ("token_mean", "token_std", "first_mean", "first_std", "step_mean", "step_std")
WEIGHT_PREFIXES = {"ema": "ema.module.", "raw": "network."}
GIVEN_MEAN_KEY = "context_features.given.mean"  # a network's buffer when the data have given channels


class Config(dict):
    """A plain nested dict read the way the network builders read a DictConfig
    (`cfg.backbone.name`, `cfg.get("frame", "global")`), so no OmegaConf object is needed."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__({k: Config(v) if isinstance(v, dict) else v for k, v in values.items()})

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


@dataclass
class GenerationCheckpoint:
    """What a checkpoint gives a generator: the network (eval mode, no gradients), its
    `algorithm` config, which weights were taken ("ema" or "raw") and the training step."""

    network: nn.Module
    config: Config
    weights: str
    global_step: int


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict, checked for what generation needs (a clear error otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or "algorithm_config" not in checkpoint \
            or "state_dict" not in checkpoint:
        raise ValueError(f"{path}: not a checkpoint of `python -m main` (it needs "
                         f"'algorithm_config' and 'state_dict')")
    return checkpoint


def load_generation_network(path: str | Path, ema: bool = True,
                            device: torch.device | str = "cpu") -> GenerationCheckpoint:
    """Build the network of a checkpoint and load its weights: the EMA when the checkpoint has
    one, `ema` is true and its config generates with it (`algorithm.ema.generate`, as the rollout
    task does), else the trained weights."""
    checkpoint = read_checkpoint(path)
    state = checkpoint["state_dict"]
    generate = (checkpoint.get("algorithm_config", {}).get("ema") or {}).get("generate", True)
    weights = ("ema" if ema and generate and any(k.startswith(WEIGHT_PREFIXES["ema"]) for k in state)
               else "raw")
    prefix = WEIGHT_PREFIXES[weights]
    own = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    first_mean = own.get("token_space.first_mean")
    if first_mean is None:
        raise ValueError(f"{path}: no {prefix}token_space.first_mean in the state dict")
    # The builders want data statistics; any of the right shape will do, as the state dict
    # overwrites every statistic buffer (and whatever is derived from them, e.g. frame scales).
    placeholder = {k: torch.ones_like(first_mean) for k in STATISTICS}
    given_mean = own.get(GIVEN_MEAN_KEY)
    if given_mean is not None:  # the data had given channels (covariates, actions)
        placeholder.update(given_mean=torch.zeros_like(given_mean),
                           given_std=torch.ones_like(given_mean))
    config = Config(checkpoint["algorithm_config"])
    network = build_network(config, first_mean.shape[0], placeholder)
    network.load_state_dict(own)
    network.requires_grad_(False)
    return GenerationCheckpoint(network.to(device).eval(), config, weights,
                                int(checkpoint.get("global_step", 0)))


def make_sampler(network: nn.Module, config: dict[str, Any], nfe: int = 1) -> StreamingSampler:
    """`StreamingSampler` set up as the algorithm's `sample` sets it up (see the docstring)."""
    sampling = config.get("sampling") or {}
    unit = checkpoint_noise_unit(network, config)
    level = sampling.get("context_level")
    noise, level = generation_noise(float(sampling.get("stabilization_noise", 0.0)),
                                    None if level is None else float(level), unit)
    if isinstance(noise, Tensor):  # per channel: on the network's device
        noise = noise.to(next(network.parameters()).device)
    if config.get("name") != "diffusion_forcing":
        return StreamingSampler(network, nfe, euler_solve, noise, level)

    if sampling.get("schedule", "autoregressive") != "autoregressive":
        raise ValueError(f"algorithm.sampling.schedule={sampling['schedule']}: generates chunks "
                         f"of tokens together, not one token per call; stream with the "
                         f"autoregressive schedule or use pyramid_rollout")
    return StreamingSampler(network, nfe, flow_euler_solve, noise, level)


def checkpoint_noise_unit(network: nn.Module, config: dict[str, Any]) -> float | Tensor:
    """`context.noise_unit` in data units, as `TrajectoryModel.noise_unit`, from the loaded
    network's step statistics (the data's RMS step) where the unit is `rms_step[_per_dim]`."""
    unit = (config.get("context") or {}).get("noise_unit", "data")
    if unit == "data":
        return 1.0
    space = network.token_space
    if not hasattr(space, "step_mean"):
        raise ValueError(f"algorithm.context.noise_unit={unit}: the checkpoint's token space "
                         f"keeps no step statistics to measure it with")
    return unit_value(unit, {"step_mean": space.step_mean, "step_std": space.step_std})


def open_streams(path: str | Path, num_streams: int, nfe: int = 1, ema: bool = True,
                 device: torch.device | str = "cpu") -> StreamingSampler:
    """`num_streams` generation streams from a checkpoint, reset and ready: each `step(noise=None,
    generator=None, given=None)` returns the next token `[num_streams, G]` (data coordinates) of
    every stream, with `nfe` network calls per token; a model of data with given channels (an
    action-conditioned simulator model) takes each token's given values `[num_streams, C]` (the
    action that leads to it), and `observe(token, given)` feeds a real token instead."""
    loaded = load_generation_network(path, ema, device)
    streams = make_sampler(loaded.network, loaded.config, nfe)
    streams.reset(num_streams, device=device)
    return streams


def generate(streams: StreamingSampler, num_tokens: int, noise: Tensor | None = None,
             generator: torch.Generator | None = None) -> Tensor:
    """`num_tokens` more tokens of every stream, `[B, num_tokens, D]` (noise: `[num_tokens, B,
    D]` or None). A convenience for tests and scripts; an application calls `step`."""
    tokens = [streams.step(None if noise is None else noise[j], generator)
              for j in range(num_tokens)]
    return torch.stack(tokens, dim=1)
