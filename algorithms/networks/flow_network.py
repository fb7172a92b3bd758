"""The conditional flow network: a recurrence over the context tokens and a per-token head.

    h_j = backbone(features(c_1..c_j))     one recurrent update per token, whatever the NFE
    v   = head(W·h_j, z, t_start, t_end)   per-token velocity from t_start to t_end

The recurrence reads only the previous tokens (clean, corrupted or generated), never the
noisy current token, so the loss runs it once and K-step sampling costs one update + K heads.
`algorithm.network.kind: seed` builds the first seed's network instead (seed_network.py; the
choice is made in build.py).
"""

from __future__ import annotations

from typing import Callable

from omegaconf import DictConfig
from torch import Tensor, nn

from algorithms.networks.backbones import State, build_backbone, recur
from algorithms.networks.context import ContextFeatures
from algorithms.networks.flow_head import FlowHead
from algorithms.networks.token_space import TokenSpace

#: v(z, t_start, t_end): the velocity moving z `[..., D]` from t_start to t_end `[...]`
Velocity = Callable[[Tensor, Tensor, Tensor], Tensor]
#: (velocity, noise, nfe) -> normalised token: how `solve_step` integrates (generation/solvers.py)
Solver = Callable[[Velocity, Tensor, int], Tensor]


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

    @property
    def given_dim(self) -> int:
        """The given channels C read per token (context.py), 0 when the data have none."""
        return self.context_features.given.size

    def encode(self, context: Tensor, level: Tensor | None = None, given: Tensor | None = None,
               burn_in: int = 0) -> Tensor:
        """context `[B, T, D]` (row j = token shown to token j; row 0 ignored), its corruption
        level `[B, T, 1]` (None: clean) and each token's own given channels `[B, T, C]` (None:
        the data have none) -> the heads' conditioning `[B, T − burn_in, W]` of the tokens after
        the first `burn_in`, which only warm the recurrence, without gradient (`recur`)."""
        features = self.context_features.sequence(context, level, given)
        return self.head.condition(recur(self.backbone, features, burn_in))

    def encode_step(self, context: Tensor, previous: Tensor, index: int, state: State | None,
                    level: Tensor | None = None, given: Tensor | None = None
                    ) -> tuple[Tensor, State]:
        """Conditioning `[B, W]` and new state for token `index` from its context `[B, D]` (at
        corruption level `[B, 1]`, None: clean), the token before that and token `index`'s own
        given channels `[B, C]`."""
        features = self.context_features.step(context, previous, index, level, given)
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
