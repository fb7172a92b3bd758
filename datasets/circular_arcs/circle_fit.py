"""Algebraic circle fitting and per-window trajectory statistics.

A rollout that "keeps its circle" has, in every window of its trajectory, a fitted circle with the
right radius, a centre that does not move between windows, near-zero radial residual and a constant
angular step about the fitted centre.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from utils.metrics.windows import window_starts


def _output_dtype(x: Tensor) -> torch.dtype:
    return x.dtype if x.is_floating_point() else torch.get_default_dtype()


def _fit_circle_f64(points: Tensor) -> tuple[Tensor, Tensor]:
    """Kåsa fit on float64 points ``[..., W, 2]``; returns float64 (centre ``[..., 2]``, radius ``[...]``)."""
    # Centre the window first: it decouples c from (a, b) in the normal equations (sum x = sum y = 0)
    # and keeps the 2x2 system well conditioned far from the origin.
    mean = points.mean(dim=-2, keepdim=True)
    p = points - mean
    x, y = p[..., 0], p[..., 1]
    rho = x * x + y * y
    rho_c = rho - rho.mean(dim=-1, keepdim=True)
    # Normal equations for (a, b) after eliminating c:
    #   [Sxx Sxy; Sxy Syy] [a; b] = -[sum x rho; sum y rho],   c = -mean(rho).
    sxx = (x * x).sum(-1)
    syy = (y * y).sum(-1)
    sxy = (x * y).sum(-1)
    rx = -(x * rho_c).sum(-1)
    ry = -(y * rho_c).sum(-1)
    # Tiny ridge: irrelevant for a genuine arc (relative 1e-12), but makes collinear or collapsed
    # windows solvable (det >= ridge^2 > 0), giving a finite (possibly huge) radius instead of NaN.
    ridge = 1e-12 * (sxx + syy) + 1e-100
    sxx = sxx + ridge
    syy = syy + ridge
    det = sxx * syy - sxy * sxy
    a = (syy * rx - sxy * ry) / det
    b = (sxx * ry - sxy * rx) / det
    c = -rho.mean(-1)
    centre = mean.squeeze(-2) + torch.stack((-a / 2, -b / 2), dim=-1)
    # r^2 = (a^2 + b^2)/4 - c >= 0 by construction (c <= 0); clamp guards against rounding only.
    radius = ((a * a + b * b) / 4 - c).clamp_min(0.0).sqrt()
    return centre, radius


def fit_circle(points: Tensor) -> tuple[Tensor, Tensor]:
    """Fit a circle to each set of 2-D points by Kåsa algebraic least squares.

    Solves ``min_{a,b,c} sum_i (x_i^2 + y_i^2 + a x_i + b y_i + c)^2`` and returns
    ``centre = (-a/2, -b/2)``, ``radius = sqrt(a^2/4 + b^2/4 - c)``. Exact for noise-free points on a
    circle (any arc length). Computed in float64; collinear or all-identical windows give a finite
    (possibly huge, or zero) radius rather than NaN. Non-finite inputs propagate to the outputs.

    Args:
        points: ``[..., W, 2]`` with ``W >= 3``.

    Returns:
        ``(centre [..., 2], radius [...])`` in the input's (floating) dtype.
    """
    if points.ndim < 2 or points.shape[-1] != 2:
        raise ValueError(f"fit_circle expects points of shape [..., W, 2], got {tuple(points.shape)}")
    if points.shape[-2] < 3:
        raise ValueError(f"fit_circle needs at least 3 points per window, got W={points.shape[-2]}")
    dtype = _output_dtype(points)
    centre, radius = _fit_circle_f64(points.to(torch.float64))
    return centre.to(dtype), radius.to(dtype)


def _wrap_angle(angle: Tensor) -> Tensor:
    """Wrap angles to (-pi, pi]."""
    return math.pi - torch.remainder(math.pi - angle, 2 * math.pi)


def window_statistics(samples: Tensor, window: int = 64, stride: int | None = None) -> dict[str, Tensor]:
    """Circle-fit statistics of every window of every trajectory.

    Windows are ``[s, s + window)`` for ``s = 0, stride, 2*stride, ...`` (stride defaults to ``window``);
    a final window ``[T - window, T)`` is appended if not already present, so the last window is always
    the final ``window`` steps. Per window, with fitted centre ``c`` and radius ``r`` (see ``fit_circle``):

    * ``rms_residual = sqrt(mean_t (|p_t - c| - r)^2)``
    * ``angular_step = mean_t wrap(phi_{t+1} - phi_t)``, ``phi_t = atan2(p_t - c)``, wrapped to
      (-pi, pi]; positive means counter-clockwise.
    * ``step_length_mean / std`` of ``|p_{t+1} - p_t|`` (population std, ``window - 1`` steps).

    Args:
        samples: ``[N, T, 2]`` trajectories.
        window: window length (>= 3, <= T).
        stride: distance between window starts (>= 1); defaults to ``window``.

    Returns:
        dict with ``start [Wn]`` (long), ``centre [N, Wn, 2]``, ``radius``, ``rms_residual``,
        ``angular_step``, ``step_length_mean``, ``step_length_std`` (each ``[N, Wn]``), the float
        tensors in the input's (floating) dtype.
    """
    if samples.ndim != 3 or samples.shape[-1] != 2:
        raise ValueError(f"window_statistics expects samples of shape [N, T, 2], got {tuple(samples.shape)}")
    horizon = samples.shape[1]
    if window < 3:
        raise ValueError(f"window must be >= 3 to fit a circle, got window={window}")
    if horizon < window:
        raise ValueError(f"trajectory length T={horizon} is shorter than the window ({window})")
    stride = window if stride is None else stride
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got stride={stride}")

    dtype = _output_dtype(samples)
    starts = torch.tensor(window_starts(horizon, window, stride), dtype=torch.long, device=samples.device)
    index = starts[:, None] + torch.arange(window, device=samples.device)  # [Wn, window]
    win = samples.to(torch.float64)[:, index]  # [N, Wn, window, 2]

    centre, radius = _fit_circle_f64(win)
    rel = win - centre[..., None, :]
    dist = rel.norm(dim=-1)  # [N, Wn, window]
    rms_residual = (dist - radius[..., None]).square().mean(-1).sqrt()

    phi = torch.atan2(rel[..., 1], rel[..., 0])
    angular_step = _wrap_angle(phi.diff(dim=-1)).mean(-1)

    steps = win.diff(dim=-2).norm(dim=-1)  # [N, Wn, window - 1]
    out = {
        "centre": centre,
        "radius": radius,
        "rms_residual": rms_residual,
        "angular_step": angular_step,
        "step_length_mean": steps.mean(-1),
        "step_length_std": steps.std(-1, correction=0),
    }
    result = {k: v.to(dtype) for k, v in out.items()}
    result["start"] = starts
    return result
