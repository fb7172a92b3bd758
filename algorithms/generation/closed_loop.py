"""The closed-loop residual calibration: a correction fitted on the model's own rollouts.

The feedback loop answers a constant correction only in part (the network steps back towards
where its state says the trajectory is), so the open-loop mean residual (calibration.py) is not
the correction that stops a drift. `closed_loop_fit` measures the drift of the rollouts'
windowed mean against the data's and the response of that drift to the correction, and takes
Newton steps to the correction that matches them; no symmetry of the data is assumed.
`drift_field` is that drift as a function of where a sequence is (the affine kind matches it:
6 numbers in 2-D, so 7 rollouts per Newton step).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from algorithms.generation.calibration import ResidualCalibration


def window_mean_slopes(x: Tensor, window: int, skip: int) -> tuple[Tensor, Tensor]:
    """The drift of the windowed mean of each sequence x `[N, T, D]`: the least-squares slope
    (per token) of the means of windows of `window` tokens (stride window // 2, from token
    `skip`) against their centre times `[N, D]`, and the first of those means `[N, D]`."""
    starts = torch.arange(skip, x.shape[1] - window + 1, max(1, window // 2), device=x.device)
    if len(starts) < 2:
        raise ValueError(f"need two windows of {window} tokens after token {skip}; the "
                         f"sequences have {x.shape[1]}")
    index = starts[:, None] + torch.arange(window, device=x.device)
    means = x.double()[:, index].mean(dim=2)                   # [N, Wn, D]
    times = (starts.double() + (window - 1) / 2)[None, :, None]
    times = times - times.mean(dim=1, keepdim=True)
    slope = ((means - means.mean(dim=1, keepdim=True)) * times).sum(1) / times.square().sum(1)
    return slope, means[:, 0]


def window_mean_slope(x: Tensor, window: int, skip: int) -> Tensor:
    """The mean over sequences `[N, T, D]` of `window_mean_slopes` -> `[D]` (sequences with a
    non-finite value left out). For a stationary process it is 0 up to sampling noise; for
    circles the window mean is about the centre, so it is the centres' mean velocity."""
    slope, _ = window_mean_slopes(x, window, skip)
    return slope[torch.isfinite(slope).all(dim=-1)].mean(dim=0)


def drift_field(x: Tensor, window: int, skip: int, probe: ResidualCalibration) -> Tensor:
    """The windowed-mean drift of sequences `[N, T, D]` as a function of where they are: the
    least-squares fit of each sequence's slope on φ(its first window's mean) (`probe.features`)
    -> `[P, D]` (row 0: the drift at the data's mean; `[1, D]` for `bias`)."""
    slope, first = window_mean_slopes(x, window, skip)
    ok = torch.isfinite(slope).all(dim=-1) & torch.isfinite(first).all(dim=-1)
    phi = probe.features(first[ok])
    return torch.linalg.lstsq(phi, slope[ok]).solution


def closed_loop_fit(generate: Callable[[Tensor], Tensor], statistic: Callable[[Tensor], Tensor],
                    start: Tensor, target: Tensor, probe: float, iterations: int = 1,
                    rcond: float = 0.05) -> tuple[Tensor, dict]:
    """A correction weight `[P, D]` (normalised token space) that makes the model's own rollouts
    drift as the data do: Newton steps on s(W) = statistic(generate(W)) − target (`[P, D]`, e.g.
    `drift_field`), from the first guess `start` (e.g. the teacher-forced fit).

    `generate(W)` rolls out with the correction W and the same noise at every call (common random
    numbers, so the finite differences see the response, not the noise); the response ∂s/∂W is
    measured by forward differences of size `probe`. Costs P·D + 1 rollouts per iteration.

    The step is the least-squares one through the response's pseudo-inverse, with the singular
    directions below `rcond` times the largest left out: a correction the drift barely answers
    (a channel whose dynamics pull it back, as a simulator's joints do, so that a constant only
    shifts its level) is not inferred from a difference of noise, and stays at `start` there.
    On circles every direction answers (condition number about 1.3), so nothing is left out.
    """
    weight = start.double().clone()
    history = []
    for _ in range(iterations):
        base = (statistic(generate(weight.float())) - target).flatten()
        columns = []
        for k in range(weight.numel()):
            step = weight.clone().flatten()
            step[k] += probe
            moved = statistic(generate(step.view_as(weight).float())) - target
            columns.append((moved.flatten() - base) / probe)
        response = torch.stack(columns, dim=-1)                  # [P·D, P·D]: ds_i / dW_k
        singular = torch.linalg.svdvals(response)
        kept = int((singular >= rcond * singular[0]).sum())
        history.append({"weight": weight.tolist(), "drift": base.tolist(),
                        "response": response.tolist(), "singular_values": singular.tolist(),
                        "directions_kept": kept})
        step = torch.linalg.pinv(response, rtol=rcond) @ base
        weight = weight - step.view_as(weight)
    return weight.float(), {"iterations": history, "weight": weight.tolist()}
