"""Checks of the `algorithm` keys every trajectory model shares (network, context, EMA)."""

from __future__ import annotations

from omegaconf import DictConfig, ListConfig, OmegaConf

from algorithms.common.backbones import BACKBONES
from algorithms.common.context import CORRUPTIONS, FEATURES
from algorithms.common.network import NETWORK_KINDS
from algorithms.common.token_space import TOKEN_SPACES
from utils.config_checks import (ConfigError, check, check_choice, is_int, is_number,
                                 non_negative, positive, positive_int)


def check_network_config(cfg: DictConfig) -> None:
    """Raise `ConfigError` naming the first bad `algorithm.*` key of the shared network."""
    if check_choice(cfg, "algorithm.network.kind", NETWORK_KINDS) == "seed" and \
            OmegaConf.select(cfg, "experiment.training.compile", default=False):
        raise ConfigError("algorithm.network.kind=seed: experiment.training.compile=true compiles "
                          "the per-token head, which the seed's network does not have")
    check_choice(cfg, "algorithm.backbone.name", BACKBONES)
    check(cfg, "algorithm.backbone.hidden_size", positive_int, "a positive integer")
    check(cfg, "algorithm.backbone.num_layers", positive_int, "a positive integer")
    check(cfg, "algorithm.backbone.dropout", lambda v: is_number(v) and 0 <= v < 1, "in [0, 1)")
    token_space = check_choice(cfg, "algorithm.token_space", TOKEN_SPACES)
    corruption = check_choice(cfg, "algorithm.context.corruption", CORRUPTIONS)
    if corruption == "surrogate" and token_space != "absolute":
        raise ConfigError("algorithm.context.corruption=surrogate: needs "
                          "algorithm.token_space=absolute (the seed's recipe)")
    if corruption == "surrogate" and cfg.algorithm.name != "flow_forcing":
        raise ConfigError(f"algorithm.context.corruption=surrogate: only flow_forcing draws flow "
                          f"times, not {cfg.algorithm.name}")
    check(cfg, "algorithm.context.noise_max", non_negative, "a non-negative number")
    check(cfg, "algorithm.context.features",
          lambda v: isinstance(v, ListConfig) and len(v) > 0 and set(v) <= set(FEATURES),
          f"a non-empty list from {list(FEATURES)}")
    check(cfg, "algorithm.head.width", positive_int, "a positive integer")
    check(cfg, "algorithm.head.depth", lambda v: is_int(v) and v >= 0, "a non-negative integer")
    check(cfg, "algorithm.head.time_dim", lambda v: positive_int(v) and v % 2 == 0,
          "a positive even integer")
    check_choice(cfg, "algorithm.head.prediction", ("endpoint", "velocity"))
    check(cfg, "algorithm.head.time_scale", positive, "a positive number")
    check(cfg, "algorithm.ema.decay", lambda v: v is None or (is_number(v) and 0 <= v < 1),
          "null or a number in [0, 1)")
