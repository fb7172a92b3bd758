"""The conditional flow network: a recurrence over the context tokens and a per-token head.

    h_j = backbone(features(c_1..c_j))     one recurrent update per token, whatever the NFE
    v   = head(W·h_j, z, t_start, t_end)   per-token velocity from t_start to t_end

The recurrence reads only the previous tokens (clean, corrupted or generated), never the
noisy current token, so the loss runs it once and K-step sampling costs one update + K heads.
`algorithm.network.kind: seed` builds the first seed's network instead (seed_network.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from omegaconf import DictConfig
from torch import Tensor, nn

from algorithms.common.backbones import State, build_backbone
from algorithms.common.context import ContextFeatures
from algorithms.common.flow_head import FlowHead
from algorithms.common.seed_network import SeedFlowNetwork
from algorithms.common.token_space import TokenSpace

if TYPE_CHECKING:
    from algorithms.common.sampler import Solver

NETWORK_KINDS = ("split", "seed")


def build_backbone_and_head(cfg: DictConfig, input_size: int, token_dim: int
                            ) -> tuple[nn.Module, FlowHead]:
    """The recurrence over `input_size` context features and the per-token flow head, as the
    `algorithm.backbone` and `algorithm.head` keys say (built in this order: same init draws)."""
    backbone = build_backbone(cfg.backbone.name, input_size, cfg.backbone.hidden_size,
                              cfg.backbone.num_layers, cfg.backbone.dropout)
    head = FlowHead(cfg.backbone.hidden_size, token_dim, cfg.head.width, cfg.head.depth,
                    cfg.head.time_dim, cfg.head.prediction, cfg.head.get("time_scale", 1000.0))
    return backbone, head


class FlowNetwork(nn.Module):
    def __init__(self, cfg: DictConfig, token_dim: int, statistics: dict[str, Tensor]) -> None:
        super().__init__()
        self.token_dim = token_dim
        self.token_space = TokenSpace(cfg.token_space, statistics)
        self.context_features = ContextFeatures(list(cfg.context.features), token_dim, statistics,
                                                bool(cfg.context.get("level_input", False)))
        self.backbone, self.head = build_backbone_and_head(cfg, self.context_features.size,
                                                           token_dim)

    @property
    def reads_level(self) -> bool:
        """Whether the recurrence reads the context's corruption level (context.py)."""
        return bool(self.context_features.level.size)

    def encode(self, context: Tensor, level: Tensor | None = None) -> Tensor:
        """context `[B, T, D]` (row j = token shown to token j; row 0 ignored) and its corruption
        level `[B, T, 1]` (None: clean) -> the heads' conditioning `[B, T, W]`."""
        features = self.context_features.sequence(context, level)
        return self.head.condition(self.backbone.sequence(features))

    def encode_step(self, context: Tensor, previous: Tensor, index: int, state: State | None,
                    level: Tensor | None = None) -> tuple[Tensor, State]:
        """Conditioning `[B, W]` and new state for token `index` from its context `[B, D]` (at
        corruption level `[B, 1]`, None: clean) and the token before that."""
        features = self.context_features.step(context, previous, index, level)
        h, state = self.backbone.step(features, state)
        return self.head.condition(h), state

    def velocity(self, c: Tensor, z: Tensor, t_start: Tensor, t_end: Tensor) -> Tensor:
        """v `[..., D]` moving z `[..., D]` from t_start to t_end `[...]`, conditioned on c."""
        return self.head(c, z, t_start, t_end)

    def solve_step(self, c: Tensor, noise: Tensor, solver: Solver, nfe: int, state: State | None
                   ) -> tuple[Tensor, State | None]:
        """One token `[B, D]` from noise: `nfe` head calls on the conditioning c `[B, W]`; the
        state (already moved by `encode_step`) passes through."""
        return solver(lambda z, t0, t1: self.velocity(c, z, t0, t1), noise, nfe), state


def build_network(cfg: DictConfig, token_dim: int, statistics: dict[str, Tensor]) -> nn.Module:
    """`algorithm.network.kind`: split (default: recurrence on the context, per-token head) or
    seed (the first seed's: the noisy token enters the recurrence). `algorithm.frame: heading`
    builds the split network in a moving frame (frame.py)."""
    kind = cfg.get("network", {}).get("kind", "split")
    frame = cfg.get("frame", "global")
    if frame == "heading" and kind == "split":
        from algorithms.common.frame import HeadingFlowNetwork  # the moving frame (frame.py)

        return HeadingFlowNetwork(cfg, token_dim, statistics)
    if frame != "global":
        raise ValueError(f"algorithm.frame={frame}: needs algorithm.network.kind=split")
    if kind == "seed":
        return SeedFlowNetwork(cfg, token_dim, statistics)
    if kind != "split":
        raise ValueError(f"unknown network kind {kind!r}; choose one of {NETWORK_KINDS}")
    return FlowNetwork(cfg, token_dim, statistics)
