"""The network an `algorithm` config asks for: `network.kind` and `frame` pick the class."""

from __future__ import annotations

from omegaconf import DictConfig
from torch import Tensor, nn

from algorithms.networks.context import given_dim
from algorithms.networks.flow_network import FlowNetwork
from algorithms.networks.frame import HeadingFlowNetwork
from algorithms.networks.seed_network import SeedFlowNetwork

NETWORK_KINDS = ("split", "seed")


def build_network(cfg: DictConfig, token_dim: int, statistics: dict[str, Tensor]) -> nn.Module:
    """`algorithm.network.kind`: split (default: recurrence on the context, per-token head) or
    seed (the first seed's: the noisy token enters the recurrence). `algorithm.frame: heading`
    builds the split network in a moving frame (frame.py). Data with given channels (statistics
    with `given_mean`) need the split network in the global frame."""
    kind = cfg.get("network", {}).get("kind", "split")
    frame = cfg.get("frame", "global")
    if given_dim(statistics) and (kind != "split" or frame != "global"):
        raise ValueError(f"the data have {given_dim(statistics)} given channels: they need "
                         f"algorithm.network.kind=split and algorithm.frame=global")
    if frame == "heading" and kind == "split":
        return HeadingFlowNetwork(cfg, token_dim, statistics)
    if frame != "global":
        raise ValueError(f"algorithm.frame={frame}: needs algorithm.network.kind=split")
    if kind == "seed":
        return SeedFlowNetwork(cfg, token_dim, statistics)
    if kind != "split":
        raise ValueError(f"unknown network kind {kind!r}; choose one of {NETWORK_KINDS}")
    return FlowNetwork(cfg, token_dim, statistics)
