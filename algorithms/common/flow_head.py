"""Per-token flow head: (recurrent state h, noisy token z, t_start, t_end) -> velocity.

It sees only its own token's state, so it is exactly per-token: K sampling steps cost K head
calls and one recurrent update, and derivatives through it never leak across tokens.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from algorithms.common.embeddings import SinusoidalEmbedding


class ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.SiLU(),
                                 nn.Linear(width, width))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.net(x)


class FlowHead(nn.Module):
    """velocity(h `[..., H]`, z `[..., D]`, t_start `[...]`, t_end `[...]`) -> `[..., D]`.

    prediction = "endpoint" (the seed's): the network outputs an endpoint x̂ and v = x̂ − z, so
    one step from t = 0 to 1 returns x̂. prediction = "velocity": the network outputs v itself.
    """

    def __init__(self, state_size: int, token_dim: int, width: int, depth: int,
                 time_dim: int, prediction: str = "endpoint") -> None:
        super().__init__()
        if prediction not in ("endpoint", "velocity"):
            raise ValueError(f"prediction must be 'endpoint' or 'velocity', got {prediction!r}")
        self.prediction = prediction
        self.embed_start = SinusoidalEmbedding(time_dim)
        self.embed_end = SinusoidalEmbedding(time_dim)
        self.inp = nn.Linear(state_size + token_dim + 2 * time_dim, width)
        self.blocks = nn.Sequential(*[ResidualBlock(width) for _ in range(depth)])
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, token_dim))

    def forward(self, h: Tensor, z: Tensor, t_start: Tensor, t_end: Tensor) -> Tensor:
        features = [h, z, self.embed_start(t_start), self.embed_end(t_end)]
        out = self.out(self.blocks(self.inp(broadcast_cat(features))))
        return out - z if self.prediction == "endpoint" else out


def broadcast_cat(parts: list[Tensor]) -> Tensor:
    """Concatenate on the last dim, broadcasting the leading dims of every part."""
    shape = torch.broadcast_shapes(*(p.shape[:-1] for p in parts))
    return torch.cat([p.expand(*shape, p.shape[-1]) for p in parts], dim=-1)
