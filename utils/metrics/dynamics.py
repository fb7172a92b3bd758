"""How far a learned dynamics model's rollouts stray from the real simulator's, replaying the same
actions from the same state: the state error over the horizon, and how long it stays below a
threshold. Torch tensors in; python floats (and one curve) out.

The error of a path at step h is the RMS over channels of the difference to the simulator's
state, each channel divided by its scale (the training data's std): 1.0 is an error as large as
the data's spread, whatever the units of each channel.
"""

from __future__ import annotations

import torch
from torch import Tensor


def normalised_errors(paths: Tensor, truth: Tensor, scale: Tensor) -> Tensor:
    """`[W, M, H]`: the RMS over channels of `(paths - truth) / scale`.

    Args:
        paths: `[W, M, H, G]` M generated paths per window.
        truth: `[W, H, G]` the simulator's states under the same actions.
        scale: `[G]` positive per-channel scales.
    """
    if paths.ndim != 4 or truth.shape != (paths.shape[0], *paths.shape[2:]):
        raise ValueError(f"expected paths [W, M, H, G] and truth [W, H, G]; got "
                         f"{tuple(paths.shape)} and {tuple(truth.shape)}")
    if scale.shape != (paths.shape[-1],) or not bool((scale > 0).all()):
        raise ValueError(f"scale must be [{paths.shape[-1]}] and positive; got {scale}")
    diff = (paths.double() - truth.double()[:, None]) / scale.double()
    return diff.pow(2).mean(-1).sqrt()


def steps_below(errors: Tensor, threshold: float) -> Tensor:
    """`[W, M]`: the number of steps before a path's error first exceeds `threshold` (H when it
    never does) from errors `[W, M, H]`; a non-finite error counts as exceeding."""
    over = ~(errors <= threshold)
    horizon = errors.shape[-1]
    first = torch.where(over.any(-1), over.float().argmax(-1),
                        torch.full(errors.shape[:-1], horizon))
    return first.long()


def dynamics_scores(paths: Tensor, truth: Tensor, scale: Tensor, threshold: float
                    ) -> tuple[dict[str, float], list[float]]:
    """The scores of `paths` `[W, M, H, G]` against the simulator's `truth` `[W, H, G]`:

    state_error_first / _mean / _last: the normalised error (`normalised_errors`) at the first
        step, averaged over the horizon, and at the last step, each averaged over paths and
        windows (non-finite paths count as infinitely wrong: they are averaged in as inf).
    error_horizon_median / _mean: steps before the error first exceeds `threshold`
        (`steps_below`), over all paths.
    error_horizon_fraction: error_horizon_mean / H (1.0: never over the threshold).
    And the error curve `[H]` (mean over paths and windows, per step).
    """
    errors = normalised_errors(paths, truth, scale)
    errors = torch.where(torch.isfinite(errors), errors, torch.full_like(errors, float("inf")))
    curve = errors.mean(dim=(0, 1))
    below = steps_below(errors, threshold).double()
    horizon = errors.shape[-1]
    scores = {
        "state_error_first": float(curve[0]),
        "state_error_mean": float(errors.mean()),
        "state_error_last": float(curve[-1]),
        "error_horizon_median": float(below.median()),
        "error_horizon_mean": float(below.mean()),
        "error_horizon_fraction": float(below.mean() / horizon),
        "error_threshold": float(threshold),
    }
    return scores, [float(v) for v in curve]
