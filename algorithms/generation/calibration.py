"""A residual calibration of the sampler ("model output statistics"), fitted after training.

A one-step sampler can carry a small systematic error per token (issue 29: about 5e-4 per token
on circles in the global frame) that the feedback loop integrates into a shared drift. Estimate
it where the truth is known: run the network once over real sequences (teacher forcing: the
recurrence reads the real previous tokens), draw each token's sample from noise with the
generation's NFE, and regress the residual in the token space the network outputs (normalised;
the step for `token_space=relative`)

    r_j = ŷ_j − y_j ≈ φ(c_j)·W,     φ(c) = [1]                (`bias`)
                                    φ(c) = [1, (c − μ)/σ]      (`affine`: the previous token)

on the tokens j ≥ `start` (the continuation; tokens 0 and 1 have no full context). At generation
every token j ≥ `start` is corrected to ŷ_j − φ(c_j)·W before it is decoded and fed back
(`StreamingSampler(calibration=...)`). The closed-loop kinds fit W on the model's own rollouts
instead (closed_loop.py). `algorithm.sampling.calibration: none` (the default) leaves the
sampler untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from algorithms.networks.context import shift_right
from algorithms.networks.flow_network import Solver

CALIBRATIONS = ("none", "bias", "affine", "closed_loop", "closed_loop_affine")


@dataclass(frozen=True)
class ResidualCalibration:
    """y ← y − φ(context)·weight for the tokens with index ≥ start: a plain object, not a module,
    so a checkpoint never holds it (it is refitted for every rollout task).

    weight `[P, D]` (P = 1 for `bias`, 1 + D for `affine`); token_mean, token_std `[D]`: the
    normalisation of the previous token in φ.
    """

    kind: str
    weight: Tensor
    token_mean: Tensor
    token_std: Tensor
    start: int = 2

    def features(self, context: Tensor) -> Tensor:
        """φ: context `[..., D]` (the previous token, data units) -> `[..., P]`."""
        ones = torch.ones_like(context[..., :1])
        if self.kind == "bias":
            return ones
        mean, std = self.token_mean.to(context), self.token_std.to(context)
        return torch.cat([ones, (context - mean) / std], dim=-1)

    def correction(self, context: Tensor) -> Tensor:
        """The fitted mean residual `[..., D]` of the tokens whose context is `[..., D]`."""
        return self.features(context) @ self.weight.to(context)

    def __call__(self, y: Tensor, context: Tensor, index: int) -> Tensor:
        """y `[B, D]` (the normalised sample of token `index`), context `[B, D]` -> corrected y."""
        return y - self.correction(context) if index >= self.start else y


@torch.no_grad()
def teacher_forced_residuals(network: Any, x: Tensor, solver: Solver, nfe: int,
                             generator: torch.Generator, batch_size: int = 512,
                             given: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Residuals of the sampler on real sequences x `[N, T, D]` (on the network's device), with
    their given channels `[N, T, C]` where the data have them.

    Each token's sample is drawn from N(0, I) (`generator`) with `nfe` solver steps, conditioned
    on the real previous tokens (a network that reads its context's level is told 0: clean).
    Returns (residual ŷ − y `[N, T, D]` in the normalised token space, context `[N, T, D]`:
    row j = x_{j−1}, row 0 zeros).
    """
    residuals = []
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size]
        context = shift_right(xb)
        y = network.token_space.encode(xb, context)
        gb = None if given is None else given[start:start + batch_size]
        h = network.encode(context, given=gb)
        noise = torch.randn(y.shape, generator=generator, device=y.device, dtype=y.dtype)
        sample = solver(lambda z, t0, t1: network.velocity(h, z, t0, t1), noise, nfe)
        residuals.append(sample - y)
    return torch.cat(residuals), shift_right(x)


def fit_calibration(kind: str, residual: Tensor, context: Tensor, token_mean: Tensor,
                    token_std: Tensor, start: int = 2) -> tuple[ResidualCalibration, dict]:
    """Least squares of residual `[N, T, D]` on φ(context `[N, T, D]`) over the tokens j ≥ start.

    Returns the calibration and a report: the weight, its standard error clustered by sequence
    (the tokens of one sequence share their errors: a sandwich estimator), the mean residual and
    the residual's std before and after, all in the normalised token space, and the sizes.
    """
    if kind not in ("bias", "affine"):
        raise ValueError(f"a least-squares calibration is bias or affine, got {kind!r}")
    if residual.shape[1] <= start:
        raise ValueError(f"need sequences longer than {start} tokens, got {residual.shape[1]}")
    probe = ResidualCalibration(kind, torch.zeros(1), token_mean.double(), token_std.double(),
                                start)
    r = residual[:, start:].double()                           # [N, T', D]
    phi = probe.features(context[:, start:].double())          # [N, T', P]
    n, t, d = r.shape
    gram = torch.einsum("ntp,ntq->pq", phi, phi)               # [P, P]
    weight = torch.linalg.solve(gram, torch.einsum("ntp,ntd->pd", phi, r))  # [P, D]
    error = r - phi @ weight                                   # [N, T', D]
    score = torch.einsum("ntp,ntd->npd", phi, error)           # per-sequence scores [N, P, D]
    inverse = torch.linalg.inv(gram)
    se = torch.stack([torch.sqrt(torch.diagonal(inverse @ (score[..., k].T @ score[..., k])
                                                @ inverse)) for k in range(d)], dim=-1)
    calibration = ResidualCalibration(kind, weight.float(), token_mean.float(),
                                      token_std.float(), start)
    report = {"kind": kind, "start": start, "num_sequences": n, "tokens_per_sequence": t,
              "weight": weight.tolist(), "weight_se": se.tolist(),
              "mean_residual": r.mean(dim=(0, 1)).tolist(),
              "residual_std": r.std(dim=(0, 1)).tolist(),
              "residual_std_after": error.std(dim=(0, 1)).tolist()}
    return calibration, report
