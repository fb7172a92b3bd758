"""Where the diffusion runs: the map between data tokens and the model's normalised tokens.

absolute: y_j = (x_j − μ) / σ                       (the seed's: the model emits positions)
relative: y_j = (x_j − c_j − μ_Δ) / σ_Δ  for j ≥ 1  (the model emits the step from its context
          y_0 = (x_0 − μ_0) / σ_0                   c_j, the previous token it was shown)

Relative tokens remove the first-step jump and, with a corrupted context during training,
teach the model to step back towards the data from its own errors (BRIEF §2).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

TOKEN_SPACES = ("absolute", "relative")


class TokenSpace(nn.Module):
    """encode(x `[B, T, D]`, context `[B, T, D]`) -> y; decode is its exact inverse.

    `context[:, j]` is the token shown as context to token j (row 0 unused: there is none).
    The step variants take one token: x, context `[B, D]` and `first` (is this token 0).
    Statistics are buffers, so a checkpoint carries them.
    """

    def __init__(self, kind: str, statistics: dict[str, Tensor]) -> None:
        super().__init__()
        if kind not in TOKEN_SPACES:
            raise ValueError(f"unknown token space {kind!r}; choose one of {TOKEN_SPACES}")
        self.kind = kind
        for key in ("token_mean", "token_std", "first_mean", "first_std", "step_mean", "step_std"):
            self.register_buffer(key, statistics[key].detach().clone().float())

    def _scales(self, first: Tensor) -> tuple[Tensor, Tensor]:
        """Offset and scale per token; `first` `[...]` bool, result `[..., D]`."""
        if self.kind == "absolute":
            shape = (*first.shape, self.token_mean.shape[0])
            return self.token_mean.expand(shape), self.token_std.expand(shape)
        first = first.unsqueeze(-1)
        return (torch.where(first, self.first_mean, self.step_mean),
                torch.where(first, self.first_std, self.step_std))

    def _reference(self, context: Tensor, first: Tensor) -> Tensor:
        if self.kind == "absolute":
            return torch.zeros_like(context)
        return torch.where(first.unsqueeze(-1), torch.zeros_like(context), context)

    def encode_step(self, x: Tensor, context: Tensor, first: Tensor) -> Tensor:
        offset, scale = self._scales(first)
        return (x - self._reference(context, first) - offset) / scale

    def decode_step(self, y: Tensor, context: Tensor, first: Tensor) -> Tensor:
        offset, scale = self._scales(first)
        return y * scale + offset + self._reference(context, first)

    def _first_mask(self, x: Tensor) -> Tensor:
        first = torch.zeros(x.shape[:-1], dtype=torch.bool, device=x.device)
        first[:, 0] = True
        return first

    def encode(self, x: Tensor, context: Tensor) -> Tensor:
        return self.encode_step(x, context, self._first_mask(x))

    def decode(self, y: Tensor, context: Tensor) -> Tensor:
        return self.decode_step(y, context, self._first_mask(y))
