"""Per-token flow head: (conditioning c, noisy token z, t_start, t_end) -> velocity.

It sees only its own token's conditioning, so it is exactly per-token: K sampling steps cost K
head calls and one recurrent update, and derivatives through it never leak across tokens.
The recurrent state is projected once per token (`condition`) and shared by every call.
"""

from __future__ import annotations

from torch import Tensor, nn

from algorithms.networks.embeddings import SinusoidalEmbedding

PREDICTIONS = ("endpoint", "velocity")


class ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.SiLU(),
                                 nn.Linear(width, width))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.net(x)


class FlowHead(nn.Module):
    """condition(h `[..., H]`) -> c `[..., W]`; forward(c, z `[..., D]`, t_start, t_end `[...]`)
    -> v `[..., D]`.

    prediction = "endpoint" (the seed's): the network outputs an endpoint x̂ and v = x̂ − z, so
    one step from t = 0 to 1 returns x̂. prediction = "velocity": the network outputs v itself.
    time_scale stretches t before the sinusoids (see SinusoidalEmbedding).
    """

    def __init__(self, state_size: int, token_dim: int, width: int, depth: int,
                 time_dim: int, prediction: str = "endpoint", time_scale: float = 1000.0) -> None:
        super().__init__()
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be 'endpoint' or 'velocity', got {prediction!r}")
        self.prediction = prediction
        self.condition = nn.Linear(state_size, width)
        self.embed_token = nn.Linear(token_dim, width, bias=False)
        self.embed_start = SinusoidalEmbedding(time_dim, width, time_scale)
        self.embed_end = SinusoidalEmbedding(time_dim, width, time_scale)
        self.blocks = nn.Sequential(*[ResidualBlock(width) for _ in range(depth)])
        self.out = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, token_dim))

    def forward(self, c: Tensor, z: Tensor, t_start: Tensor, t_end: Tensor) -> Tensor:
        x = c + self.embed_token(z) + self.embed_start(t_start) + self.embed_end(t_end)
        out = self.out(self.blocks(x))
        return out - z if self.prediction == "endpoint" else out
