"""The first seed's architecture, kept for reproduction and ablation (`algorithm.network.kind:
seed`): the *noisy current token* and its times enter the recurrence, so every velocity call
reruns the recurrence over the whole sequence, and the state carried at generation is built
from the noisy tokens it was given.

    e_j = W_z z_j + emb(t_start_j) + emb(t_end_j) + W_c features(c_j)     `[B, T, W]`
    h_j = backbone(e_1..e_j)                                             `[B, T, H]`
    v_j = out(ResMLP(h_j)) − z_j   (endpoint; `velocity`: out(...) itself)

It has FlowNetwork's interface, so every algorithm's loss runs unchanged: `encode(context)`
returns only the per-token context embedding W_c·features (no recurrence), and `velocity(c, z,
t_start, t_end)` on `[B, T, ...]` runs the recurrence: the shortcut loss's four calls rerun it
four times, as the seed did. A JVP through `velocity` would run through the recurrence and leak
across tokens (BRIEF §1), so MeanFlow refuses this network (flow_forcing's config check).
Generation goes through `solve_step`, which carries the state of the token's last call.
"""

from __future__ import annotations

from omegaconf import DictConfig
from torch import Tensor, nn

from algorithms.networks.backbones import State, build_backbone
from algorithms.networks.context import ContextFeatures
from algorithms.networks.embeddings import SinusoidalEmbedding
from algorithms.networks.flow_head import ResidualBlock
from algorithms.networks.flow_network import Solver
from algorithms.networks.token_space import TokenSpace


class SeedFlowNetwork(nn.Module):
    reads_level = False  # context.level_input is refused with this network (config check)
    given_dim = 0  # no given channels (build.py refuses them)
    # The recurrence moves only on noisy tokens (solve_step), so it cannot read a real context
    # token as a token: generation from a real context needs the split network.
    observes = False

    def __init__(self, cfg: DictConfig, token_dim: int, statistics: dict[str, Tensor]) -> None:
        super().__init__()
        if cfg.head.prediction not in ("endpoint", "velocity"):
            raise ValueError(f"prediction must be 'endpoint' or 'velocity', got "
                             f"{cfg.head.prediction!r}")
        self.token_dim, self.prediction = token_dim, cfg.head.prediction
        width, hidden = cfg.head.width, cfg.backbone.hidden_size
        self.token_space = TokenSpace(cfg.token_space, statistics)
        self.context_features = ContextFeatures(list(cfg.context.features), token_dim, statistics)
        self.embed_context = nn.Linear(self.context_features.size, width)
        self.embed_token = nn.Linear(token_dim, width, bias=False)
        time_scale = cfg.head.get("time_scale", 1000.0)
        self.embed_start = SinusoidalEmbedding(cfg.head.time_dim, width, time_scale)
        self.embed_end = SinusoidalEmbedding(cfg.head.time_dim, width, time_scale)
        self.backbone = build_backbone(cfg.backbone.name, width, hidden, cfg.backbone.num_layers,
                                       cfg.backbone.dropout)
        self.blocks = nn.Sequential(*[ResidualBlock(hidden) for _ in range(cfg.head.depth)])
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.SiLU(), nn.Linear(hidden, token_dim))

    def encode(self, context: Tensor, level: None = None, given: None = None, burn_in: int = 0
               ) -> Tensor:
        """context `[B, T, D]` -> the context embedding `[B, T, W]` (no recurrence here, so no
        burn-in either: the config checks refuse one)."""
        if burn_in:
            raise ValueError("the seed's network has no recurrence over the context to warm")
        return self.embed_context(self.context_features.sequence(context))

    def encode_step(self, context: Tensor, previous: Tensor, index: int, state: State | None,
                    level: None = None, given: None = None) -> tuple[Tensor, State | None]:
        """Token `index`'s context embedding `[B, W]`; the state passes through untouched (the
        recurrence moves in `solve_step`, when it reads the noisy token)."""
        return self.embed_context(self.context_features.step(context, previous, index)), state

    def _inputs(self, c: Tensor, z: Tensor, t_start: Tensor, t_end: Tensor) -> Tensor:
        return c + self.embed_token(z) + self.embed_start(t_start) + self.embed_end(t_end)

    def _velocity(self, h: Tensor, z: Tensor) -> Tensor:
        out = self.out(self.blocks(h))
        return out - z if self.prediction == "endpoint" else out

    def velocity(self, c: Tensor, z: Tensor, t_start: Tensor, t_end: Tensor) -> Tensor:
        """Every token's velocity `[B, T, D]`: one recurrence over the whole sequence."""
        return self._velocity(self.backbone.sequence(self._inputs(c, z, t_start, t_end)), z)

    def velocity_step(self, c: Tensor, z: Tensor, t_start: Tensor, t_end: Tensor,
                      state: State | None) -> tuple[Tensor, State]:
        """One token `[B, D]` from the state after the previous token -> v, the new state."""
        h, state = self.backbone.step(self._inputs(c, z, t_start, t_end), state)
        return self._velocity(h, z), state

    def solve_step(self, c: Tensor, noise: Tensor, solver: Solver, nfe: int, state: State | None
                   ) -> tuple[Tensor, State]:
        """The token's K calls each restart from the previous token's state; the state carried
        on is the last call's (with 1 NFE: the call at (0, 1) on pure noise, as in the seed)."""
        last: dict[str, State] = {}

        def velocity(z: Tensor, t_start: Tensor, t_end: Tensor) -> Tensor:
            v, last["state"] = self.velocity_step(c, z, t_start, t_end, state)
            return v

        y = solver(velocity, noise, nfe)
        return y, last["state"]
