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


def shortcut_target(velocity: Velocity, z1: Tensor, t1: Tensor, tm: Tensor, t2: Tensor) -> Tensor:
    """Two half steps t1 → tm → t2, summed: the (stop-gradient) target for 2·v(z1, t1 → t2)."""
    with torch.no_grad():
        v_first = velocity(z1, t1, tm)
        z_mid = z1 + (tm - t1).unsqueeze(-1) * v_first
        return v_first + velocity(z_mid, tm, t2)


def shortcut_flow_loss(velocity: Velocity, data: Tensor, noise: Tensor, times: dict[str, Tensor],
                       flow_weight: float = 1.0, shortcut_weight: float = 1.0
                       ) -> tuple[Tensor, dict[str, Tensor]]:
    """data, noise `[B, T, D]`; times t0, t1, t2, tm `[B, T]`; `velocity(z, t_start, t_end)`.

    Returns the weighted total and its detached parts.
    """
    t0, t1, t2, tm = times["t0"], times["t1"], times["t2"], times["tm"]
    flow = F.mse_loss(velocity(lerp(noise, data, t0), t0, t0), data - noise)
    total = flow_weight * flow
    parts = {"flow": flow.detach()}
    if shortcut_weight > 0:
        z1 = lerp(noise, data, t1)
        target = shortcut_target(velocity, z1, t1, tm, t2)
        shortcut = F.mse_loss(2 * velocity(z1, t1, t2), target)
        total = total + shortcut_weight * shortcut
        parts["shortcut"] = shortcut.detach()
    return total, parts
