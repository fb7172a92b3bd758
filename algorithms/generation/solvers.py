"""Euler solvers from noise (t = 0) to data (t = 1) for one token: what a network's `solve_step`
integrates with. The one-step model's velocity takes the step size as an input; flow matching's
(Diffusion Forcing's) is instantaneous."""

from __future__ import annotations

import torch
from torch import Tensor

from algorithms.networks.flow_network import Velocity


def euler_solve(velocity: Velocity, z: Tensor, nfe: int) -> Tensor:
    """Integrate dz/dt = v(z, t → t + 1/K) from t = 0 to 1 in K = nfe equal steps.

    With K = 1 this is one network call: z + v(z, 0 → 1), the one-step sample.
    z `[B, D]` -> `[B, D]`.
    """
    if nfe < 1:
        raise ValueError(f"nfe must be >= 1, got {nfe}")
    for k in range(nfe):
        t_start = torch.full(z.shape[:-1], k / nfe, device=z.device, dtype=z.dtype)
        t_end = torch.full(z.shape[:-1], (k + 1) / nfe, device=z.device, dtype=z.dtype)
        z = z + (t_end - t_start).unsqueeze(-1) * velocity(z, t_start, t_end)
    return z


def flow_euler_solve(velocity: Velocity, z: Tensor, nfe: int) -> Tensor:
    """Integrate dz/dt = v(z, t → t) (the instantaneous velocity flow matching learns) from
    t = 0 to 1 in K = nfe Euler steps. z `[B, D]` -> `[B, D]`."""
    if nfe < 1:
        raise ValueError(f"nfe must be >= 1, got {nfe}")
    for k in range(nfe):
        t = torch.full(z.shape[:-1], k / nfe, device=z.device, dtype=z.dtype)
        z = z + velocity(z, t, t) / nfe
    return z
