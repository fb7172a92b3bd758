"""What the recurrence reads: the previous tokens, as the model will see them at generation.

At generation the context is the model's own imperfect output, so training shows it a
corrupted copy of the data (Diffusion Forcing's noisy surrogate):
  clean     the data itself (teacher forcing; the predictive baseline)
  gaussian  x_{j-1} + σ_j·ε with σ_j ~ U(0, noise_max) per token
  surrogate the previous token noised to its own flow time (the seed's z2), built by the loss
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

CORRUPTIONS = ("clean", "gaussian", "surrogate")
FEATURES = ("position", "delta")


def shift_right(x: Tensor) -> Tensor:
    """`[B, T, D]` -> context rows: row j holds x_{j-1}; row 0 is zeros (no context)."""
    return torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], dim=1)


def gaussian_corruption(x: Tensor, noise_max: float) -> Tensor:
    """x `[B, T, D]` + σ·ε with σ ~ U(0, noise_max) drawn per token."""
    sigma = noise_max * torch.rand(*x.shape[:-1], 1, device=x.device, dtype=x.dtype)
    return x + sigma * torch.randn_like(x)


class ContextFeatures(nn.Module):
    """Normalised inputs of the recurrence from the context tokens.

    sequence(context `[B, T, D]`) -> `[B, T, F]`; row j describes the context of token j:
      position: (c_j − μ)/σ,   delta: (c_j − c_{j−1} − μ_Δ)/σ_Δ,   plus flags
      "has a context" (j ≥ 1) and "has a delta" (j ≥ 2). Missing parts are zeros.
    step(context, previous `[B, D]`, index) -> `[B, F]` computes the same row for token `index`.
    """

    def __init__(self, features: list[str], token_dim: int, statistics: dict[str, Tensor]) -> None:
        super().__init__()
        unknown = sorted(set(features) - set(FEATURES))
        if unknown or not features:
            raise ValueError(f"context features must be a non-empty subset of {FEATURES}")
        self.features = list(features)
        self.size = len(self.features) * token_dim + 2
        for key in ("token_mean", "token_std", "step_mean", "step_std"):
            self.register_buffer(key, statistics[key].detach().clone().float())

    def _row(self, context: Tensor, previous: Tensor, has_context: Tensor, has_delta: Tensor
             ) -> Tensor:
        parts = []
        if "position" in self.features:
            parts.append(has_context * (context - self.token_mean) / self.token_std)
        if "delta" in self.features:
            parts.append(has_delta * (context - previous - self.step_mean) / self.step_std)
        return torch.cat([*parts, has_context, has_delta], dim=-1)

    def sequence(self, context: Tensor) -> Tensor:
        index = torch.arange(context.shape[1], device=context.device).view(1, -1, 1)
        has_context = (index >= 1).to(context.dtype).expand(*context.shape[:-1], 1)
        has_delta = (index >= 2).to(context.dtype).expand(*context.shape[:-1], 1)
        return self._row(context, shift_right(context), has_context, has_delta)

    def step(self, context: Tensor, previous: Tensor, index: int) -> Tensor:
        flag = context.new_ones(*context.shape[:-1], 1)
        return self._row(context, previous, flag * (index >= 1), flag * (index >= 2))
