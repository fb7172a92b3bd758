"""End to end through `python -m main`, shrunk: the real configs, data, training, wandb
(offline), checkpoints and rollouts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import SHRINK, run_main

pytestmark = pytest.mark.slow

METRIC_KEYS = {
    "keep_circle_share", "radius_error_median", "centre_drift_median", "rms_residual_median",
    "angular_step_median", "angular_step_error_median", "step_length_mean", "step_length_std",
    "coverage_ratio", "centre_std", "nfe", "algorithm", "num_samples", "horizon",
}


def test_default_run_writes_every_output(trained_run: Path) -> None:
    run = trained_run
    stdout = (run / "stdout.txt").read_text()
    assert f"outputs: {run}" in stdout and "wandb run id:" in stdout

    config = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
    assert config["algorithm"]["name"] == "flow_forcing" and config["wandb"]["mode"] == "offline"

    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert sorted(p.name for p in (run / "checkpoints").glob("step_*.ckpt")) == [
        "step_0000006.ckpt", "step_0000012.ckpt"]

    run_info = json.loads((run / "run.json").read_text())
    assert run_info["name"] == "shrunk"  # from +name=shrunk
    offline = list((run / "wandb").glob(f"offline-run-*-{run_info['wandb_id']}"))
    assert len(offline) == 1 and any(offline[0].glob("*.wandb"))
    assert run_info["wandb_id"] in stdout

    log = (run / "csv" / "metrics.csv").read_text().splitlines()
    header = log[0].split(",")
    for column in ("train/loss", "train/flow", "train/shortcut", "val/loss", "test/loss",
                   "val_rollout/keep_circle_share", "rollout/nfe_1/coverage_ratio"):
        assert column in header, column

    samples = np.load(run / "rollout" / "samples.npz")["samples"]
    assert samples.shape == (24, 40, 2) and samples.dtype == np.float32
    assert np.isfinite(samples).all()
    metrics = json.loads((run / "rollout" / "metrics.json").read_text())
    assert METRIC_KEYS <= set(metrics) and metrics["num_samples"] == 24
    for name in ("trajectories", "centres", "metric_curves"):
        assert (run / "rollout" / f"{name}.png").stat().st_size > 1000
    assert (run / "validation" / "step_0000006" / "trajectories.png").is_file()
    assert (run / "validation" / "step_0000012" / "trajectories.png").is_file()


def test_load_then_evaluate_only(trained_run: Path, tmp_path: Path) -> None:
    """Evaluate a trained model without training: the same weights give the same samples."""
    run_dir = tmp_path / "eval"
    run_main(*SHRINK, f"hydra.run.dir={run_dir}", "wandb.mode=disabled",
             f"load={trained_run / 'checkpoints' / 'last.ckpt'}",
             "experiment.tasks=[validation,rollout]", cwd=tmp_path)
    assert (run_dir / "validation" / "step_0000000" / "trajectories.png").is_file()
    assert not (run_dir / "checkpoints").exists(), "evaluation must not train or checkpoint"
    again = np.load(run_dir / "rollout" / "samples.npz")["samples"]
    first = np.load(trained_run / "rollout" / "samples.npz")["samples"]
    np.testing.assert_allclose(again, first, atol=1e-5)
    assert not (run_dir / "wandb").exists() and (run_dir / "csv" / "metrics.csv").is_file()


def test_predictive_baseline_with_lstm_and_several_nfe(tmp_path: Path) -> None:
    run_dir = tmp_path / "predictive"
    run_main(*SHRINK, f"hydra.run.dir={run_dir}", "algorithm=predictive",
             "algorithm.backbone.name=lstm", "experiment.rollout.nfe=[1,2]", cwd=tmp_path)
    for nfe in (1, 2):
        metrics = json.loads((run_dir / "rollout" / f"nfe_{nfe}" / "metrics.json").read_text())
        assert metrics["algorithm"] == "predictive" and metrics["nfe"] == nfe
        assert (run_dir / "rollout" / f"nfe_{nfe}" / "samples.npz").is_file()


def test_seed_recipe_configuration_runs(tmp_path: Path) -> None:
    """The seed's levers: absolute tokens, z2-surrogate context, no full jumps, no EMA."""
    run_dir = tmp_path / "seed"
    run_main(*SHRINK, f"hydra.run.dir={run_dir}", "wandb.mode=disabled",
             "algorithm.frame=global", "algorithm.token_space=absolute",
             "algorithm.context.corruption=surrogate",
             "algorithm.time_sampler.full_jump_prob=0", "algorithm.ema.decay=null",
             "algorithm.head.prediction=velocity", "experiment.tasks=[training,rollout]",
             "debug=true",
             cwd=tmp_path)
    assert (run_dir / "rollout" / "metrics.json").is_file()


def test_truncated_checkpoint_is_a_clear_error(trained_run: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes((trained_run / "checkpoints" / "last.ckpt").read_bytes()[:1000])
    run_dir = tmp_path / "run"
    result = run_main(*SHRINK, f"load={broken}", "experiment.tasks=[rollout]",
                      f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert f"load={broken}: not a readable checkpoint" in lines[0]
    assert not (run_dir / "wandb").exists() and not (run_dir / "rollout").exists()


def test_checkpoint_of_another_shape_is_a_clear_error(trained_run: Path, tmp_path: Path) -> None:
    result = run_main(*SHRINK, "algorithm.backbone.hidden_size=24",
                      f"load={trained_run / 'checkpoints' / 'last.ckpt'}",
                      "experiment.tasks=[rollout]", f"hydra.run.dir={tmp_path / 'run'}",
                      cwd=tmp_path, check=False, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert "weights do not fit" in lines[0] and "flow_forcing" in lines[0]


def test_two_process_ddp_on_cpu(tmp_path: Path) -> None:
    """Real DDP (gloo, 2 processes): one run folder, one wandb run, rank 0 writes the outputs."""
    import torch

    run_dir = tmp_path / "ddp"
    run_main(*SHRINK, f"hydra.run.dir={run_dir}", "experiment.training.devices=2",
             "experiment.training.strategy=ddp", cwd=tmp_path)
    assert (run_dir / "train_ddp_process_1.log").is_file(), "rank 1 did not run"
    assert len(list((run_dir / "wandb").glob("offline-run-*"))) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ddp"]
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 12
    samples = np.load(run_dir / "rollout" / "samples.npz")["samples"]
    assert samples.shape == (24, 40, 2)


def test_multirun_writes_one_folder_per_job(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    run_main("-m", *SHRINK, "wandb.mode=disabled", "seed=0,1", "experiment.tasks=[training,rollout]",
             f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    first, second = (json.loads((sweep / str(i) / "rollout" / "metrics.json").read_text())
                     for i in (0, 1))
    assert first["num_samples"] == second["num_samples"] == 24
    assert first["radius_error_median"] != second["radius_error_median"], "seeds must differ"
