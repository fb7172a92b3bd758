"""Generation from what the data give: a real past to warm up on (`context_tokens`) and the given
channels of the tokens to generate (covariates, actions), the same for every algorithm, neural or
classical (anything with `generate(num, horizon, nfe, batch_size, seed, context, given)`)."""

from __future__ import annotations

from typing import Any

from torch import Tensor


def conditioned_rollout(algo: Any, data: Any, num_samples: int, horizon: int, nfe: int,
                        batch_size: int | None, seed: int, context_tokens: int = 0
                        ) -> tuple[Tensor, Tensor | None]:
    """`num_samples` rollouts `[num, horizon, G + C]` of `algo` on the dataset `data`, and the real
    sequences `[num, context_tokens + horizon, G + C]` they were conditioned on (None when there
    was nothing to condition on: no context and no given channels, the plain rollout)."""
    if context_tokens == 0 and data.given_dim == 0:
        return algo.generate(num_samples, horizon, nfe, batch_size, seed=seed), None
    real = data.rollout_context(num_samples, context_tokens, horizon)
    samples = algo.generate(num_samples, horizon, nfe, batch_size, seed=seed,
                            **conditioning(real, context_tokens, data.token_dim, data.given_dim))
    return samples, real


def conditioning(real: Tensor, context_tokens: int, generated_dim: int, given_dim: int
                 ) -> dict[str, Tensor | None]:
    """`generate`'s `context` (the first `context_tokens` real tokens, None if 0) and `given` (the
    given channels of the rest, None without given channels) from real sequences `[N, T, G + C]`."""
    return {"context": real[:, :context_tokens] if context_tokens else None,
            "given": real[:, context_tokens:, generated_dim:] if given_dim else None}


def forecast_ensembles(algo: Any, windows: Tensor, context_tokens: int, num_samples: int,
                       nfe: int, batch_size: int | None, seed: int, generated_dim: int,
                       given_dim: int) -> Tensor:
    """`num_samples` forecasts of every window: `[W, M, H, G + C]` from windows `[W, N + H, G + C]`
    (each window's context read by M streams, each stream its own noise)."""
    W, length, D = windows.shape
    repeated = windows.repeat_interleave(num_samples, dim=0)
    horizon = length - context_tokens
    samples = algo.generate(W * num_samples, horizon, nfe, batch_size, seed=seed,
                            **conditioning(repeated, context_tokens, generated_dim, given_dim))
    return samples.view(W, num_samples, horizon, D)
