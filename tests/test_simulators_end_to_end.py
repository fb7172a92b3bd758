"""`python -m main` on simulated episodes, as a user runs it: every algorithm on the pendulum
(training, a 16x-style rollout given the recorded actions, forecasts against the simulator),
planning on a shrunk UMaze executed in the real simulator, the report joining them, streams
driven step by step by a real policy, and bad input stopped with one line before any folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from algorithms.base.trajectory_model import ROLLOUT_STREAM
from algorithms.generation.sampler import rollout
from algorithms.generation.streaming import load_generation_network, make_sampler, open_streams
from tests.conftest import SHRINK, run_main, run_main_without
from utils.seeding import stream_generator

pytestmark = pytest.mark.slow

RUN = [o for o in SHRINK if not o.startswith(("dataset.", "experiment.rollout.horizon"))]
PENDULUM = ["dataset=pendulum", "dataset.episodes.train=8", "dataset.episodes.validation=2",
            "dataset.episodes.test=3", "dataset.episode_length=80", "dataset.train_length=16",
            "dataset.context_tokens=4", "dataset.forecast_horizon=12", "dataset.forecast_stride=30",
            "dataset.rollout_horizon=32", "dataset.num_eval_batches=2",
            "experiment.rollout.horizon=64", "experiment.rollout.eval_horizons=[32,64]",
            "experiment.forecast.num_samples=6", "experiment.forecast.num_windows=5"]
UMAZE = ["dataset=pointmaze_umaze", "dataset.episodes.train=6", "dataset.episodes.validation=2",
         "dataset.episodes.test=2", "dataset.episode_length=300", "dataset.train_length=32",
         "dataset.rollout_horizon=64", "dataset.num_eval_batches=2", "experiment.planning.num_pairs=4",
         "experiment.planning.horizon=96", "experiment.planning.max_steps=300",
         "experiment.planning.num_candidates=2"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"dataset.cache_dir={tmp_path_factory.mktemp('simulated')}"


@pytest.fixture(scope="module")
def pendulum_runs(tmp_path_factory: pytest.TempPathFactory, cache: str) -> dict[str, Path]:
    root, cwd = tmp_path_factory.mktemp("pendulum"), tmp_path_factory.mktemp("cwd")
    runs = {}
    for algorithm in ("flow_forcing", "diffusion_forcing", "predictive"):
        extra = ["experiment.rollout.nfe=[1,2]", "experiment.validation.nfe=2"] \
            if algorithm == "diffusion_forcing" else []
        runs[algorithm] = root / algorithm
        run_main(f"algorithm={algorithm}", *RUN, *PENDULUM, *extra, cache,
                 "experiment.tasks=[training,rollout,forecast]", f"hydra.run.dir={runs[algorithm]}",
                 cwd=cwd)
    assert list(cwd.iterdir()) == [], "nothing may be written relative to the current directory"
    return runs


@pytest.mark.parametrize("algorithm", ["flow_forcing", "diffusion_forcing", "predictive"])
def test_every_algorithm_learns_pendulum_dynamics_given_the_actions(pendulum_runs, algorithm):
    run = pendulum_runs[algorithm]
    folder = run / "forecast" / ("nfe_1" if algorithm == "diffusion_forcing" else "")
    metrics = json.loads((folder / "metrics.json").read_text())
    for key in ("state_error_first", "state_error_mean", "error_horizon_mean", "crps_norm"):
        assert np.isfinite(metrics[key]), key
    assert 0 <= metrics["error_horizon_fraction"] <= 1 and metrics["num_windows"] == 5
    curve = json.loads((folder / "forecast_curves.json").read_text())
    assert curve["step"] == list(range(1, 13)) and len(curve["state_error"]) == 12
    # the actions in the forecasts are the recorded ones: read, never generated
    with np.load(folder / "samples.npz") as f, np.load(folder / "windows.npz") as w:
        assert np.array_equal(f["samples"][..., 3], np.repeat(w["samples"][:, 4:, 3], 6, axis=0))
    rollout_dir = run / "rollout" / ("nfe_1" if algorithm == "diffusion_forcing" else "")
    scores = json.loads((rollout_dir / "metrics.json").read_text())
    for key in ("unit_circle_error_last", "unit_circle_error_data", "marginal_wasserstein_last@64",
                "acf_error_last@64", "speed_limit_violation_rate_last"):
        assert key in scores and scores[key] is not None, key
    with np.load(rollout_dir / "samples.npz") as f, np.load(rollout_dir / "conditioning.npz") as c:
        assert np.array_equal(f["samples"][..., 3], c["samples"][:, 4:, 3])


def report(paths: list[Path], out: Path, metrics: str) -> str:
    """`python -m experiments.report <paths> --out <out> --metrics <metrics>`: its report.md."""
    import subprocess
    import sys

    from tests.conftest import REPO

    done = subprocess.run([sys.executable, "-m", "experiments.report", *map(str, paths),
                           "--out", str(out), "--metrics", metrics],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return (out / "report.md").read_text()


def test_the_report_compares_the_algorithms_on_the_simulator(pendulum_runs, tmp_path):
    table = report(list(pendulum_runs.values()), tmp_path / "report",
                   "state_error_mean,error_horizon_mean,unit_circle_error_last,"
                   "marginal_wasserstein_last@64")
    for name in ("state_error_mean", "error_horizon_mean", "unit_circle_error_last"):
        assert name in table, name
    assert table.count("| predictive") >= 1 and "diffusion_forcing" in table


def test_streams_driven_by_a_policy_step_by_step_match_the_batch_rollout(pendulum_runs):
    """A program drives the model as it would drive the simulator: each step, a real policy (the
    data's energy-pumping controller) reads the model's last state and picks the torque; the
    tokens equal a batch rollout given the same torques, bit for bit."""
    from datasets.simulated.policies import EnergyPumpingPolicy

    ckpt = pendulum_runs["flow_forcing"] / "checkpoints" / "last.ckpt"
    streams, B, H = open_streams(ckpt, num_streams=3), 3, 20
    policy, rng = EnergyPumpingPolicy(max_torque=2.0, noise=0.3), np.random.default_rng(0)
    generator = stream_generator(0, ROLLOUT_STREAM, 1)
    actions = torch.zeros(B, H, 1)  # token 0: nothing led to it
    tokens = []
    for j in range(H):
        if j:
            actions[:, j] = torch.tensor(np.array([policy(t.numpy().astype(np.float64), rng)
                                                   for t in tokens[-1]]), dtype=torch.float32)
        tokens.append(streams.step(generator=generator, given=actions[:, j]))
    driven = torch.stack(tokens, dim=1)
    assert actions[:, 1:].abs().max() > 0.1  # the policy really acted
    loaded = load_generation_network(ckpt)
    reference = make_sampler(loaded.network, loaded.config, 1)
    batch = rollout(loaded.network, B, H, 1, generator=stream_generator(0, ROLLOUT_STREAM, 1),
                    solver=reference.solver, context_noise=reference.context_noise, given=actions)
    assert torch.equal(batch[..., :3], driven) and torch.equal(batch[..., 3:], actions)
    # a stream of a model with given channels refuses a step without them
    with pytest.raises(ValueError, match="reads 1 given channels per token"):
        streams.step()


def test_a_calibration_is_fitted_on_training_episodes_given_the_actions(pendulum_runs, cache,
                                                                       tmp_path):
    """`algorithm.sampling.calibration=closed_loop` on simulator data: the fit rolls out from real
    contexts with the recorded actions (D + 1 = 4 rollouts for the pendulum's 3 observations),
    on training episodes, and the rollout keeps the actions it was given."""
    run = tmp_path / "calibrated"
    run_main(f"load={pendulum_runs['flow_forcing']}", *RUN, *PENDULUM, cache,
             "experiment.tasks=[rollout]", "algorithm.sampling.calibration=closed_loop",
             "algorithm.sampling.calibration_sequences=16",
             "algorithm.sampling.calibration_rollouts=8", f"hydra.run.dir={run}", cwd=tmp_path)
    report = json.loads((run / "rollout" / "calibration.json").read_text())
    assert report["kind"] == "closed_loop" and len(report["bias_data"]) == 3
    assert len(report["iterations"][0]["response"]) == 3 and report["horizon"] == 64
    plain = np.load(pendulum_runs["flow_forcing"] / "rollout" / "samples.npz")
    calibrated = np.load(run / "rollout" / "samples.npz")
    key = plain.files[0]
    assert np.array_equal(plain[key][..., 3:], calibrated[key][..., 3:]), "the actions as given"
    assert not np.allclose(plain[key][..., :3], calibrated[key][..., :3])


def test_planning_on_a_shrunk_umaze_executes_plans_in_the_simulator(cache, tmp_path):
    runs = {}
    for algorithm in ("flow_forcing", "diffusion_forcing"):
        runs[algorithm] = tmp_path / algorithm
        extra = ["experiment.planning.nfe=[1,2]", "experiment.validation.nfe=2"] \
            if algorithm == "diffusion_forcing" else []
        run_main(f"algorithm={algorithm}", *RUN, *UMAZE, *extra, cache,
                 "experiment.tasks=[training,planning]", f"hydra.run.dir={runs[algorithm]}",
                 cwd=tmp_path)
    one = json.loads((runs["flow_forcing"] / "planning" / "metrics.json").read_text())
    assert one["num_pairs"] == 4 and 0 <= one["success_rate"] <= 1
    assert one["expert_success_rate"] == 1.0  # the data's own planner, on the same pairs
    assert one["straight_line_success_rate"] < 1.0  # the walls are real
    assert one["planning_ms_per_plan"] > 0
    folder = runs["flow_forcing"] / "planning"
    with np.load(folder / "samples.npz") as f, np.load(folder / "execution.npz") as e:
        assert f["samples"].shape == (4, 96, 2) and e["pairs"].shape == (4, 2, 2)
        assert e["success"].mean() == one["success_rate"] and e["trajectory"].shape[0] == 4
    assert (runs["flow_forcing"] / "planning" / "plans.png").stat().st_size > 10_000
    for nfe in (1, 2):
        assert (runs["diffusion_forcing"] / "planning" / f"nfe_{nfe}" / "metrics.json").is_file()
    # the report joins the planning scores (no rollout task: rows of the plans alone)
    table = report(list(runs.values()), tmp_path / "report",
                   "success_rate,expert_success_rate,planning_ms_per_plan")
    assert "success_rate" in table and "expert_success_rate" in table


def test_planning_on_a_dataset_that_is_no_maze_is_refused_with_one_line(cache, tmp_path):
    run = tmp_path / "run"
    result = run_main(*RUN, *PENDULUM, cache, "experiment.tasks=[training,planning]",
                      f"hydra.run.dir={run}", cwd=tmp_path, check=False)
    assert result.returncode != 0 and not run.exists()
    assert result.stderr.strip().splitlines()[-1].endswith(
        "experiment.tasks: planning needs a maze dataset (dataset=pointmaze_umaze|"
        "pointmaze_medium|pointmaze_large); got dataset=pendulum")


def test_bad_simulator_keys_stop_before_any_run_folder(cache, tmp_path):
    run = tmp_path / "run"
    result = run_main(*RUN, *PENDULUM, cache, "dataset.given=[torque]", f"hydra.run.dir={run}",
                      cwd=tmp_path, check=False)
    assert result.returncode != 0 and not run.exists()
    assert result.stderr.strip().splitlines()[-1].endswith(
        "dataset.given: 'torque' is not a channel group of pendulum; it has observation, "
        "action, sim_state")


def test_without_the_simulators_a_run_says_how_to_install_them(tmp_path):
    result = run_main_without("gymnasium", "dataset=pendulum", f"hydra.run.dir={tmp_path / 'r'}",
                              cwd=tmp_path)
    assert result.returncode != 0 and not (tmp_path / "r").exists()
    last = result.stderr.strip().splitlines()[-1]
    assert "pip install -r requirements/simulation.txt" in last, result.stderr[-2000:]
