"""Flow times per token (Diffusion Forcing: every token of every sequence draws its own).

smoothstep (the seed's): three uniforms through s(u) = 3u² − 2u³; t0 = s3, t1 = min(s1, s2),
t2 = max(s1, s2), tm = (t1 + t2)/2. `uniform` skips the smoothstep. With probability
`full_jump_prob` a token is instead trained on the whole jump (t1, t2) = (0, 1), the one the
1-NFE sampler takes.
"""

from __future__ import annotations

import torch
from torch import Tensor

TIME_SAMPLERS = ("smoothstep", "uniform")


def sample_times(shape: tuple[int, ...], kind: str = "smoothstep", full_jump_prob: float = 0.0,
                 device: torch.device | str = "cpu") -> dict[str, Tensor]:
    """Returns t0, t1, t2, tm, each `shape` (e.g. `[B, T]`), with 0 ≤ t1 ≤ tm ≤ t2 ≤ 1."""
    if kind not in TIME_SAMPLERS:
        raise ValueError(f"unknown time sampler {kind!r}; choose one of {TIME_SAMPLERS}")
    u = torch.rand(3, *shape, device=device)
    s = 3 * u**2 - 2 * u**3 if kind == "smoothstep" else u
    t1, t2 = torch.minimum(s[0], s[1]), torch.maximum(s[0], s[1])
    if full_jump_prob > 0:
        jump = torch.rand(shape, device=device) < full_jump_prob
        t1 = torch.where(jump, torch.zeros_like(t1), t1)
        t2 = torch.where(jump, torch.ones_like(t2), t2)
    return {"t0": s[2], "t1": t1, "t2": t2, "tm": (t1 + t2) / 2}
