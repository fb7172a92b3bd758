"""The one-step objective: flow matching plus shortcut self-consistency (arXiv 2410.12557),
the JVP-free split form of MeanFlow's identity (arXiv 2505.13447), as in the first seed.

    z_t = (1 − t)·e + t·y                                   (t = 0 noise, t = 1 data)
    flow      = ‖v(z0, t0 → t0) − (y − e)‖²
    shortcut  = ‖2·v(z1, t1 → t2) − sg(v(z1, t1 → tm) + v(z1 + (tm − t1)·v(z1, t1 → tm), tm → t2))‖²
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

Velocity = Callable[[Tensor, Tensor, Tensor], Tensor]


def lerp(noise: Tensor, data: Tensor, t: Tensor) -> Tensor:
    """(1 − t)·noise + t·data; noise, data `[..., D]`, t `[...]`."""
    t = t.unsqueeze(-1)
    return (1 - t) * noise + t * data


def token_mse(prediction: Tensor, target: Tensor, token_weight: Tensor | None = None) -> Tensor:
    """Mean squared error over `[B, T, D]`; with `token_weight` `[T]` each token's squared error
    is weighted by it (÷ its mean, so the loss keeps its scale). None: plain `F.mse_loss`."""
    if token_weight is None:
        return F.mse_loss(prediction, target)
    weight = (token_weight / token_weight.mean()).view(1, -1, 1)
    return ((prediction - target) ** 2 * weight).mean()


def start_weights(length: int, start_weight: float, device: torch.device | str = "cpu"
                  ) -> Tensor | None:
    """`[T]` token weights: `start_weight` for tokens 0 and 1 (the start, where a sequence's
    place is drawn: one token in 32 of a 64-token sequence), 1 elsewhere; None when it is 1."""
    if start_weight == 1.0:
        return None
    weight = torch.ones(length, device=device)
    weight[:2] = start_weight
    return weight


def shortcut_target(velocity: Velocity, z1: Tensor, t1: Tensor, tm: Tensor, t2: Tensor) -> Tensor:
    """Two half steps t1 → tm → t2, summed: the (stop-gradient) target for 2·v(z1, t1 → t2)."""
    with torch.no_grad():
        v_first = velocity(z1, t1, tm)
        z_mid = z1 + (tm - t1).unsqueeze(-1) * v_first
        return v_first + velocity(z_mid, tm, t2)


def shortcut_flow_loss(velocity: Velocity, data: Tensor, noise: Tensor, times: dict[str, Tensor],
                       flow_weight: float = 1.0, shortcut_weight: float = 1.0,
                       token_weight: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """data, noise `[B, T, D]`; times t0, t1, t2, tm `[B, T]`; `velocity(z, t_start, t_end)`;
    `token_weight` `[T]` (None: every token alike; see `token_mse`).

    Returns the weighted total and its detached parts.
    """
    t0, t1, t2, tm = times["t0"], times["t1"], times["t2"], times["tm"]
    flow = token_mse(velocity(lerp(noise, data, t0), t0, t0), data - noise, token_weight)
    total = flow_weight * flow
    parts = {"flow": flow.detach()}
    if shortcut_weight > 0:
        z1 = lerp(noise, data, t1)
        target = shortcut_target(velocity, z1, t1, tm, t2)
        shortcut = token_mse(2 * velocity(z1, t1, t2), target, token_weight)
        total = total + shortcut_weight * shortcut
        parts["shortcut"] = shortcut.detach()
    return total, parts
