"""Fitting a trajectory model's residual calibration (algorithms/generation/calibration.py and
closed_loop.py) on real sequences: the wiring between those plain functions and the model's
generation network, solver and noise streams. The fit is set on `model.calibration`, which
`sample` then passes to the rollout; it is never saved in a checkpoint."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from algorithms.generation.calibration import fit_calibration, teacher_forced_residuals
from algorithms.generation.closed_loop import closed_loop_fit, drift_field
from algorithms.generation.sampler import split_channels
from utils.seeding import stream_generator

CALIBRATION_NOISE_STREAM = 103  # the fit's own noise: neither training's nor the rollouts'


def check_calibrated_network(network: Any) -> None:
    """Raise ValueError unless the network is the split one in the global frame (the fit runs
    its recurrence over real contexts, and the correction acts on global-frame tokens)."""
    if getattr(network, "frame", "global") != "global" or not hasattr(network, "encode"):
        raise ValueError("algorithm.sampling.calibration: needs algorithm.network.kind=split and "
                         "algorithm.frame=global")


def fit_residual(model: Any, kind: str, sequences: Tensor, nfe: int, batch_size: int = 512,
                 seed: int = 0) -> dict[str, Any]:
    """Fit `model.calibration` (`bias` or `affine`) by teacher forcing on real sequences
    `[N, T, G + C]` at `nfe`; `none` clears it. Returns the fit's report, with the constant
    term also in data units per token (`bias_data`, `bias_data_se`)."""
    if kind == "none":
        model.calibration = None
        return {"kind": "none"}
    network = model.generation_network
    check_calibrated_network(network)
    x, given = split_channels(sequences.to(model.device), model.token_dim)
    was_training = network.training
    network.eval()
    try:
        generator = stream_generator(seed, CALIBRATION_NOISE_STREAM, nfe, device=model.device)
        residual, context = teacher_forced_residuals(network, x, model.calibration_solver(), nfe,
                                                     generator, batch_size, given)
    finally:
        network.train(was_training)
    space = network.token_space
    model.calibration, report = fit_calibration(kind, residual, context, space.token_mean,
                                                space.token_std)
    scale = (space.step_std if space.kind == "relative" else space.token_std).double().cpu()
    report["bias_data"] = (torch.tensor(report["weight"][0]) * scale).tolist()
    report["bias_data_se"] = (torch.tensor(report["weight_se"][0]) * scale).tolist()
    report.update(nfe=nfe, output_scale=scale.tolist(), token_mean=space.token_mean.tolist(),
                  token_std=space.token_std.tolist())
    return report


def fit_closed_loop(model: Any, kind: str, sequences: Tensor, nfe: int, num_streams: int,
                    window: int, probe: float, iterations: int = 1,
                    batch_size: int | None = None, seed: int = 0, context_tokens: int = 0,
                    rcond: float = 0.05) -> dict[str, Any]:
    """Fit `model.calibration` on the model's own rollouts (`closed_loop.closed_loop_fit`):
    kind `closed_loop` (a constant) or `closed_loop_affine` (affine in the previous token).

    First guess: the teacher-forced fit on the real sequences `[N, T, G + C]`; target: their
    drift field over windows of `window` tokens after the first `window`. Each evaluation rolls
    out `num_streams` streams over the sequences' length (less `context_tokens` real tokens read
    first; the sequences' given channels where the data have them), all with one noise stream
    of their own, not the evaluation's."""
    fit = "bias" if kind == "closed_loop" else "affine"
    report = fit_residual(model, fit, sequences, nfe, batch_size or 512, seed)
    first = model.calibration
    x, _ = split_channels(sequences.to(model.device), model.token_dim)
    target = drift_field(x[:, context_tokens:], window, window, first)
    real = sequences[:num_streams]
    horizon = real.shape[1] - context_tokens
    condition = {"context": real[:, :context_tokens] if context_tokens else None,
                 "given": (real[:, context_tokens:, model.token_dim:]
                           if real.shape[-1] > model.token_dim else None)}

    def generate(weight: Tensor) -> Tensor:
        model.calibration = replace(first, weight=weight.to(model.device))
        out = model.generate(real.shape[0], horizon, nfe, batch_size, seed=seed,
                             stream=CALIBRATION_NOISE_STREAM, **condition)
        return out[..., :model.token_dim]

    weight, loop = closed_loop_fit(
        generate, lambda y: drift_field(y.to(model.device), window, window, first),
        first.weight.double(), target.double(), probe, iterations, rcond)
    model.calibration = replace(first, weight=weight.to(model.device))
    scale = torch.tensor(report["output_scale"], dtype=torch.float64)
    return {**loop, "kind": kind, "teacher_forced": report, "target_drift": target.tolist(),
            "bias_data": (weight[0].double().cpu() * scale).tolist(), "nfe": nfe,
            "num_streams": real.shape[0], "horizon": horizon, "window": window, "probe": probe,
            "rcond": rcond,
            "token_mean": report["token_mean"], "token_std": report["token_std"],
            "output_scale": report["output_scale"]}
