"""MeanFlow (arXiv 2505.13447) as the one-step objective, in our time convention.

Our convention: t = 0 is noise, t = 1 is data, z_t = (1 − t)·e + t·y, the conditional velocity
is v = dz/dt = y − e, and the head `velocity(z, s, τ)` (called as velocity(c, z, t_start, t_end)
with the conditioning c bound) is the *average* velocity u over [s, τ], s ≤ τ, where z lives at
s: z_τ = z_s + (τ − s)·u(z_s, s, τ). Differentiating (τ − s)·u(z_s, s, τ) = ∫_s^τ v dt in s gives
the MeanFlow identity

    u(z_s, s, τ) = v(z_s, s) + (τ − s) · d/ds u(z_s, s, τ),
    d/ds u = v·∂_z u + ∂_s u + 0·∂_τ u          (a JVP with tangents (v, 1, 0) on (z, s, τ))

and the loss  ‖u(z_s, s, τ) − sg(v + (τ − s)·d/ds u)‖², with v = y − e sampled as in flow
matching. (The paper writes u(z, r, t) with z at t, data at 0, target v − (t − r)·du/dt and
tangents (v, 0, 1) on (z, r, t); with t ↦ 1 − s, r ↦ 1 − τ, v ↦ −v, u ↦ −u it is the line above.)
Tokens with s = τ get the plain flow-matching target v; a share `distinct_prob` has s < τ.
Adaptive weighting (paper §4.3): per token w = sg(1/(‖Δ‖² + c)^p), loss = mean(w·‖Δ‖²)/D
(p = 0: the plain MSE).

The JVP goes through the per-token head only: the conditioning c comes from the recurrence,
which reads previous tokens only and is a constant of the JVP (zero tangent). So the derivative
is exactly per-token, nothing leaks across tokens, and forward-mode AD never meets the recurrence
kernel (the fused CUDA GRU/LSTM have no forward-AD formula; they are never asked for one here).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor
from torch.func import jvp

from algorithms.flow_forcing.shortcut_loss import lerp

Velocity = Callable[[Tensor, Tensor, Tensor], Tensor]


def meanflow_times(times: dict[str, Tensor], distinct_prob: float) -> tuple[Tensor, Tensor]:
    """(s, τ) `[...]` per token from the flow-forcing times: (t1, t2) with probability
    `distinct_prob` (the whole jump (0, 1) among them, at `time_sampler.full_jump_prob`),
    else (t0, t0)."""
    distinct = torch.rand(times["t1"].shape, device=times["t1"].device) < distinct_prob
    return (torch.where(distinct, times["t1"], times["t0"]),
            torch.where(distinct, times["t2"], times["t0"]))


def meanflow_target(velocity: Velocity, z: Tensor, v: Tensor, t_start: Tensor, t_end: Tensor
                    ) -> tuple[Tensor, Tensor]:
    """u = velocity(z, s, τ) `[..., D]` (with its graph) and the stop-gradient target
    v + (τ − s)·du/ds, the total derivative taken by one JVP along (v, 1, 0)."""
    u, du_ds = jvp(velocity, (z, t_start, t_end),
                   (v, torch.ones_like(t_start), torch.zeros_like(t_end)))
    return u, (v + (t_end - t_start).unsqueeze(-1) * du_ds).detach()


def meanflow_loss(velocity: Velocity, data: Tensor, noise: Tensor, t_start: Tensor,
                  t_end: Tensor, adaptive_p: float = 0.0, adaptive_c: float = 1e-3
                  ) -> tuple[Tensor, dict[str, Tensor]]:
    """data, noise `[B, T, D]`; t_start ≤ t_end `[B, T]`; `velocity(z, t_start, t_end)`.

    Returns the (optionally adaptively weighted) loss and its detached plain MSE.
    """
    v = data - noise
    u, target = meanflow_target(velocity, lerp(noise, data, t_start), v, t_start, t_end)
    squared = (u - target).square()
    mse = squared.mean()
    if adaptive_p == 0:
        return mse, {"meanflow_mse": mse.detach()}
    per_token = squared.sum(-1)
    weight = (per_token.detach() + adaptive_c).pow(-adaptive_p)
    return (weight * per_token).mean() / data.shape[-1], {"meanflow_mse": mse.detach()}
