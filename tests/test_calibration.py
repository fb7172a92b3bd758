"""The sampler's residual calibration (algorithms/generation/calibration.py, closed_loop.py and
algorithms/base/calibrate.py), on analytic cases and a tiny network, without Lightning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from torch import Tensor

from algorithms.base.calibrate import fit_closed_loop, fit_residual
from algorithms.diffusion_forcing.module import DiffusionForcing
from algorithms.flow_forcing.module import OneStepDiffusionForcing
from algorithms.generation.calibration import (
    ResidualCalibration,
    fit_calibration,
    teacher_forced_residuals,
)
from algorithms.generation.closed_loop import closed_loop_fit, drift_field, window_mean_slope
from algorithms.generation.sampler import StreamingSampler, rollout
from algorithms.generation.solvers import euler_solve
from algorithms.networks.build import build_network
from algorithms.networks.context import shift_right
from experiments import command_line as main
from tests.conftest import SHRINK, run_main

STATS = {k: torch.tensor(v) for k, v in {
    "token_mean": [0.05, -0.02], "token_std": [1.4, 1.3], "first_mean": [0.1, -0.1],
    "first_std": [1.5, 1.4], "step_mean": [0.03, -0.04], "step_std": [0.06, 0.08]}.items()}


def small_config(name: str = "flow_forcing"):
    cfg = OmegaConf.load(main.CONFIG_DIR / "algorithm" / f"{name}.yaml")
    cfg.frame, cfg.context.noise_unit = "global", "rms_step"
    cfg.backbone.hidden_size, cfg.head.width, cfg.head.time_dim = 16, 16, 8
    return cfg


def network(seed: int = 0):
    torch.manual_seed(seed)
    return build_network(small_config(), 2, STATS).eval()


def test_fit_recovers_a_planted_affine_residual() -> None:
    g = torch.Generator().manual_seed(0)
    context = torch.randn(300, 20, 2, generator=g)
    weight = torch.tensor([[0.3, -0.1], [0.05, 0.0], [0.0, -0.02]])
    planted = ResidualCalibration("affine", weight, STATS["token_mean"], STATS["token_std"])
    residual = planted.correction(context) + 0.01 * torch.randn(300, 20, 2, generator=g)
    fitted, report = fit_calibration("affine", residual, context, STATS["token_mean"],
                                     STATS["token_std"])
    assert torch.allclose(fitted.weight, weight, atol=3e-3)
    se = torch.tensor(report["weight_se"])
    assert se.shape == (3, 2) and (se > 0).all() and (se < 3e-3).all()
    bias, _ = fit_calibration("bias", residual, context, STATS["token_mean"], STATS["token_std"])
    assert bias.weight.shape == (1, 2)


def test_teacher_forced_residuals_match_the_streaming_sampler() -> None:
    """Sequence mode over real contexts = the streaming sampler fed the real tokens."""
    net = network()
    x = torch.randn(3, 6, 2, generator=torch.Generator().manual_seed(1))
    residual, context = teacher_forced_residuals(net, x, euler_solve, 2,
                                                 torch.Generator().manual_seed(2))
    assert torch.equal(context, shift_right(x))
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    sampler = StreamingSampler(net, nfe=2)
    sampler.reset(3)
    for j in range(6):
        token = sampler.step(noise=noise[:, j])
        sampler.context = x[:, j]  # teacher forcing: the real token is the next context
        first = torch.full((3,), j == 0)
        y = net.token_space.encode_step(token, shift_right(x)[:, j], first)
        y_true = net.token_space.encode_step(x[:, j], shift_right(x)[:, j], first)
        assert torch.allclose(y - y_true, residual[:, j], atol=1e-5)


def test_calibration_shifts_every_token_from_the_third() -> None:
    net = network()
    shift = torch.tensor([[0.5, -0.25]])
    calibration = ResidualCalibration("bias", shift, STATS["token_mean"], STATS["token_std"])
    noise = torch.randn(4, 5, 2, generator=torch.Generator().manual_seed(3))
    plain, fixed = StreamingSampler(net), StreamingSampler(net, calibration=calibration)
    plain.reset(4)
    fixed.reset(4)
    for j in range(5):
        a, b = plain.step(noise=noise[:, j]), fixed.step(noise=noise[:, j])
        if j < 2:
            assert torch.equal(a, b)
        else:  # the same context: the corrected token is the plain one less the step-space shift
            assert torch.allclose(a - b, shift[0] * STATS["step_std"], atol=1e-6)
        plain.context, plain.previous = fixed.context, fixed.previous
    zero = ResidualCalibration("affine", torch.zeros(3, 2), STATS["token_mean"],
                               STATS["token_std"])
    out = [rollout(net, 4, 6, generator=torch.Generator().manual_seed(0), calibration=c)
           for c in (None, zero)]
    assert torch.equal(out[0], out[1]), "a zero correction leaves every token bit for bit"


def test_window_mean_slope_is_the_drift_of_a_translated_circle() -> None:
    t = torch.arange(512, dtype=torch.float64)
    velocity = torch.tensor([2e-4, -1e-4], dtype=torch.float64)
    phase = torch.rand(16, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    phase = 6.28 * phase
    circle = torch.stack([(0.1 * t + phase).cos(), (0.1 * t + phase).sin()], dim=-1)
    x = circle + t[None, :, None] * velocity
    assert torch.allclose(window_mean_slope(x, 64, 64), velocity, atol=2e-5)
    assert window_mean_slope(circle, 64, 64).abs().max() < 2e-5


def test_closed_loop_solves_a_linear_loop_in_one_newton_step() -> None:
    """A loop whose drift answers the correction through a damped matrix."""
    response = torch.tensor([[-0.08, 0.02], [-0.01, -0.07]], dtype=torch.float64)
    bias = torch.tensor([0.3, -0.5], dtype=torch.float64)
    t = torch.arange(256, dtype=torch.float64)

    def generate(delta: Tensor) -> Tensor:
        drift = response @ (delta.double() - bias)
        return (t[:, None] * drift).expand(4, 256, 2)

    def statistic(x: Tensor) -> Tensor:
        return window_mean_slope(x, 32, 32)[None]

    delta, report = closed_loop_fit(lambda w: generate(w[0]), statistic, torch.zeros(1, 2),
                                    torch.zeros(1, 2), 0.05)
    assert torch.allclose(delta[0].double(), bias, atol=1e-4)
    assert len(report["iterations"]) == 1


def test_a_direction_the_drift_barely_answers_stays_at_the_first_guess() -> None:
    """Channel 1's drift answers its correction 1000x less than channel 0's (dynamics that pull it
    back): with the default rcond the Newton step leaves it at the first guess instead of dividing
    a difference of noise by the tiny response; with rcond 0 it takes the huge step."""
    t = torch.arange(256, dtype=torch.float64)
    wobble = 1e-6 * torch.sin(t)[None, :, None]

    def generate(w: Tensor) -> Tensor:
        drift = torch.tensor([-0.1, -1e-4], dtype=torch.float64) * (w[0].double() - 0.3)
        return t[None, :, None] * drift + wobble * torch.tensor([0.0, 1.0], dtype=torch.float64)

    def statistic(x: Tensor) -> Tensor:
        return window_mean_slope(x.expand(2, -1, -1), 32, 32)[None]

    first = torch.tensor([[0.25, 0.05]])
    kept, report = closed_loop_fit(generate, statistic, first, torch.zeros(1, 2), 0.05)
    assert report["iterations"][0]["directions_kept"] == 1
    assert abs(kept[0, 0].item() - 0.3) < 1e-4 and abs(kept[0, 1].item() - 0.05) < 1e-7
    wild, _ = closed_loop_fit(generate, statistic, first, torch.zeros(1, 2), 0.05, rcond=0.0)
    assert abs(wild[0, 1].item() - 0.3) < 1e-3  # exact here, where the loop has no noise at all


def test_drift_field_recovers_a_drift_that_depends_on_the_position() -> None:
    g = torch.Generator().manual_seed(4)
    t = torch.arange(384, dtype=torch.float64)
    centre = 4 * torch.rand(256, 1, 2, generator=g, dtype=torch.float64) - 2
    field = torch.tensor([[1e-4, -2e-4], [3e-5, 0.0], [0.0, -4e-5]], dtype=torch.float64)
    probe = ResidualCalibration("affine", torch.zeros(3, 2), torch.zeros(2), torch.ones(2))
    velocity = probe.features(centre[:, 0]) @ field                       # [N, 2]
    x = centre + t[None, :, None] * velocity[:, None]
    assert torch.allclose(drift_field(x, 64, 0, probe), field, atol=2e-6)


def model(cls=OneStepDiffusionForcing, name: str = "flow_forcing", seed: int = 0):
    optim = OmegaConf.create({"max_bad_steps": 0})
    torch.manual_seed(seed)
    return cls(small_config(name), optim, 2, STATS, seed=seed)


def arcs(num: int, length: int) -> Tensor:
    """Noisy circles around random centres: real-looking sequences `[num, length, 2]`."""
    g = torch.Generator().manual_seed(6)
    t = torch.arange(length, dtype=torch.float32)
    centre, phase = torch.randn(num, 1, 2, generator=g), 6.28 * torch.rand(num, 1, generator=g)
    return centre + torch.stack([(0.07 * t + phase).cos(), (0.07 * t + phase).sin()], dim=-1)


def test_a_model_fits_and_samples_with_its_calibration() -> None:
    """Teacher-forced and closed-loop fits set `model.calibration`, `generate` uses it, and the
    closed-loop fit costs P·D + 1 rollouts and draws its own noise (the evaluation's is kept)."""
    for cls, name in ((OneStepDiffusionForcing, "flow_forcing"),
                      (DiffusionForcing, "diffusion_forcing")):
        m = model(cls, name)
        plain = m.generate(6, 20, nfe=2, seed=1)
        report = fit_residual(m, "bias", arcs(16, 12), nfe=2, batch_size=8)
        assert m.calibration is not None and len(report["bias_data"]) == 2
        corrected = m.generate(6, 20, nfe=2, seed=1)
        assert torch.equal(corrected[:, :2], plain[:, :2])
        assert not torch.allclose(corrected[:, 2:], plain[:, 2:])
        calls = []
        generate = m.generate
        m.generate = lambda *a, **k: calls.append(k["stream"]) or generate(*a, **k)
        loop = fit_closed_loop(m, "closed_loop", arcs(16, 30), nfe=1, num_streams=8, window=8,
                               probe=0.02)
        assert len(calls) == 3 and set(calls) == {103}
        assert m.calibration.kind == "bias" and len(loop["iterations"]) == 1
        fit_residual(m, "none", arcs(4, 12), nfe=1)
        assert m.calibration is None


@pytest.mark.slow
def test_the_rollout_task_fits_and_reports_a_calibration(tmp_path: Path) -> None:
    """`python -m main` with a closed-loop calibration: the fit's report beside the rollout, its
    kind in the metrics, and the correction finite."""
    run = tmp_path / "run"
    run_main(*SHRINK, "algorithm.frame=global", "algorithm.sampling.calibration=closed_loop_affine",
             "algorithm.sampling.calibration_sequences=32",
             "algorithm.sampling.calibration_rollouts=16", "experiment.tasks=[training,rollout]",
             "wandb.mode=disabled", f"hydra.run.dir={run}", cwd=tmp_path)
    report = json.loads((run / "rollout" / "calibration.json").read_text())
    metrics = json.loads((run / "rollout" / "metrics.json").read_text())
    assert metrics["calibration"] == "closed_loop_affine"
    assert report["kind"] == "closed_loop_affine" and report["horizon"] == 40
    assert len(report["iterations"]) == 1 and len(report["iterations"][0]["response"]) == 6
    assert torch.isfinite(torch.tensor(report["weight"])).all()
