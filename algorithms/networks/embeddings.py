"""Sinusoidal embeddings of continuous times in [0, 1]."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class SinusoidalEmbedding(nn.Module):
    """t `[...]` -> `[..., out_dim]`: sin/cos of `scale·t` at `dim/2` geometric frequencies,
    then one linear map (the head's first nonlinearity follows it).

    `scale` = 1000 stretches t ∈ [0, 1] over the frequency range as diffusion models do.
    """

    def __init__(self, dim: int, out_dim: int, scale: float = 1000.0) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"time embedding dim must be even, got {dim}")
        half = dim // 2
        freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer("freqs", freqs, persistent=False)
        self.scale = scale
        self.proj = nn.Linear(dim, out_dim)

    def forward(self, t: Tensor) -> Tensor:
        angles = (self.scale * t).unsqueeze(-1) * self.freqs
        return self.proj(torch.cat([angles.sin(), angles.cos()], dim=-1))
