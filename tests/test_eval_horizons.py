"""Rollout metrics at several horizons (`experiment.rollout.eval_horizons`), the training speed in
`training/metrics.json`, and both in the report, shrunk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from datasets import DATASET_REGISTRY
from datasets.circular_arcs import CircularArcDataModule
from experiments.config_checks import eval_horizons
from experiments.report.__main__ import main as report_main
from experiments.report.runs import with_horizon_names
from experiments.report.table import default_metrics, horizon_of
from experiments.summaries import summarise
from tests.conftest import SHRINK, run_main


def test_eval_horizons_are_clipped_sorted_and_include_the_full_horizon() -> None:
    assert eval_horizons([256, 1024], 1024) == [256, 1024]
    assert eval_horizons([1024, 256], 512) == [256, 512]  # clipped to the horizon
    assert eval_horizons([256, 1024], 100) == [100]  # a short horizon=... override never errors
    assert eval_horizons([64], 1024) == [64, 1024]  # the full horizon is always scored
    assert eval_horizons(None, 300) == [300]


def test_summary_shows_keep_and_drift_at_each_horizon() -> None:
    metrics = {"eval_horizons": [256, 1024], "keep_circle_share": 0.1, "centre_drift_median": 0.5,
               "keep_circle_share@256": 0.9, "centre_drift_median@256": 0.02,
               "keep_circle_share@1024": 0.1, "centre_drift_median@1024": 0.5,
               "coverage_ratio": 1.5, "drift_direction_coherence": None}
    line = summarise(metrics, CircularArcDataModule.METRICS)
    assert "\n" not in line
    assert line.split() == ["keep_circle_share@256=0.9", "centre_drift_median@256=0.02",
                            "keep_circle_share@1024=0.1", "centre_drift_median@1024=0.5",
                            "drift_direction_coherence@1024=null", "coverage_ratio@1024=1.5"]
    old = summarise({"keep_circle_share": 0.25, "coverage_ratio": 2.0},  # no eval_horizons
                    CircularArcDataModule.METRICS)
    assert old.split() == ["keep_circle_share=0.25", "coverage_ratio=2"]


@pytest.mark.parametrize("value, message", [
    ("[0]", "experiment.rollout.eval_horizons=[0]: must be null or a non-empty list of integers "
            ">= dataset.train_length (16)"),
    ("[8,40]", "experiment.rollout.eval_horizons=[8, 40]: must be null or a non-empty list"),
    ("[]", "experiment.rollout.eval_horizons=[]: must be null or a non-empty list"),
    ("[a]", "experiment.rollout.eval_horizons"),
])
def test_bad_eval_horizons_are_one_line(value: str, message: str, tmp_path: Path) -> None:
    result = run_main(*SHRINK, f"experiment.rollout.eval_horizons={value}",
                      f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path, check=False, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith(f"error: {message}"), lines[0]
    assert not (tmp_path / "run").exists()


def test_default_rolls_out_1024_and_scores_256_and_1024() -> None:
    """The circles' default (the experiment reads it from the dataset: 16x its training length)."""
    from benchmarks.recipes import compose

    rollout = compose().experiment.rollout
    assert rollout.horizon == 1024 and list(rollout.eval_horizons) == [256, 1024]
    recorded = compose("dataset=elecdemand").experiment
    assert recorded.rollout.horizon == 16 * 144 and "forecast" in recorded.tasks


# ---------------------------------------------------------------- end to end


@pytest.mark.slow
def test_prefix_metrics_equal_the_metrics_of_the_prefix(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = run_main(*SHRINK, "wandb.mode=disabled", "experiment.rollout.horizon=40",
                      "experiment.rollout.eval_horizons=[24,40,100]", f"hydra.run.dir={run}",
                      cwd=tmp_path)
    metrics = json.loads((run / "rollout" / "metrics.json").read_text())
    assert metrics["eval_horizons"] == [24, 40] and metrics["horizon"] == 40
    samples = np.load(run / "rollout" / "samples.npz")["samples"]
    assert samples.shape == (24, 40, 2)

    cfg = OmegaConf.load(run / ".hydra" / "config.yaml")
    data = DATASET_REGISTRY[cfg.dataset.name](cfg.dataset, seed=cfg.seed, batch_size=8, max_steps=12)
    prefix = data.evaluate(torch.from_numpy(samples[:, :24]))
    full = data.evaluate(torch.from_numpy(samples))
    for key in ("keep_circle_share", "centre_drift_median", "drift_direction_coherence",
                "radius_error_median", "energy_distance_last"):
        assert metrics[f"{key}@24"] == pytest.approx(prefix[key], rel=1e-5, abs=1e-7), key
        assert metrics[f"{key}@40"] == metrics[key] == pytest.approx(full[key], rel=1e-5, abs=1e-7)
    assert metrics["centre_drift_median@24"] != metrics["centre_drift_median@40"]
    assert "horizon@24" not in metrics and "num_samples@40" not in metrics
    summary = result.stdout.split("rollout (1 NFE):")[1].splitlines()[1]
    assert "keep_circle_share@24=" in summary and "centre_drift_median@40=" in summary

    training = json.loads((run / "training" / "metrics.json").read_text())
    assert (training["start_step"], training["end_step"], training["steps"]) == (0, 12, 12)
    assert training["steps_per_second"] == pytest.approx(12 / training["fit_seconds"])
    assert f"training: 12 steps in " in result.stdout

    assert report_main([str(run), "--out", str(tmp_path / "rep")]) == 0
    markdown = (tmp_path / "rep" / "report.md").read_text()
    header = next(line for line in markdown.splitlines() if line.startswith("| nfe |"))
    for column in ("keep_circle_share@24", "keep_circle_share@40", "centre_drift_median@24",
                   "drift_direction_coherence@40", "training_steps_per_second",
                   "us_per_token_per_stream"):
        assert f"| {column} |" in header, column
    assert f"| {training['steps_per_second']:.4g} |" in markdown


# ---------------------------------------------------------------- the report, old and new runs


def test_old_metrics_get_their_horizon_name() -> None:
    old = {"algorithm": "a", "nfe": 1, "horizon": 256, "keep_circle_share": 0.5,
           "centre_drift_median": None, "us_per_token_per_stream": 3.0}
    named = with_horizon_names(old)
    assert named["keep_circle_share@256"] == 0.5 and named["centre_drift_median@256"] is None
    assert "us_per_token_per_stream@256" not in named and "nfe@256" not in named
    new = {"horizon": 1024, "keep_circle_share": 0.1, "keep_circle_share@256": 0.9}
    assert with_horizon_names(new) == new
    assert with_horizon_names({"keep_circle_share": 0.1}) == {"keep_circle_share": 0.1}


def test_default_columns_per_horizon_then_the_rest_then_cost() -> None:
    assert horizon_of("keep_circle_share@256") == 256 and horizon_of("keep_circle_share") is None
    available = ["keep_circle_share", "keep_circle_share@1024", "keep_circle_share@256",
                 "centre_drift_median", "centre_drift_median@256", "centre_drift_median@1024",
                 "drift_direction_coherence@1024", "coverage_ratio", "us_per_token_per_stream",
                 "training_steps_per_second"]
    headline = ("keep_circle_share", "centre_drift_median", "coverage_ratio",
                "us_per_token_per_stream")
    per_horizon = ("keep_circle_share", "centre_drift_median", "drift_direction_coherence")
    assert default_metrics(available, headline, per_horizon) == [
        "keep_circle_share@256", "keep_circle_share@1024", "centre_drift_median@256",
        "centre_drift_median@1024", "drift_direction_coherence@1024", "coverage_ratio",
        "training_steps_per_second", "us_per_token_per_stream"]
    assert default_metrics(["keep_circle_share", "coverage_ratio"], headline, per_horizon) == [
        "keep_circle_share", "coverage_ratio"]


def _run_folder(folder: Path, seed: int, metrics: dict, training: str | None) -> Path:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text(
        f"algorithm:\n  name: flow_forcing\nseed: {seed}\n")
    (folder / "rollout").mkdir()
    np.savez_compressed(folder / "rollout" / "samples.npz", samples=np.zeros((2, 8, 2), np.float32))
    (folder / "rollout" / "metrics.json").write_text(json.dumps({"nfe": 1, **metrics}))
    if training is not None:
        (folder / "training").mkdir()
        (folder / "training" / "metrics.json").write_text(training)
    return folder


def test_report_mixes_old_and_new_runs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _run_folder(tmp_path / "a_old", 0, {"horizon": 256, "keep_circle_share": 0.2}, None)
    _run_folder(tmp_path / "b_new", 1, {"horizon": 1024, "eval_horizons": [256, 1024],
                                      "keep_circle_share": 0.1, "keep_circle_share@256": 0.6,
                                      "keep_circle_share@1024": 0.1},
                json.dumps({"steps_per_second": 4.0}))
    broken = _run_folder(tmp_path / "c_broken", 2, {"horizon": 256, "keep_circle_share": 0.4}, "{")
    assert report_main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (f"skipped {broken.resolve()}: training/metrics.json truncated or not JSON" in out
            and "its rollouts are used, its training speed is not" in out)
    assert ("| nfe | n | seeds | keep_circle_share@256 | keep_circle_share@1024 | "
            "training_steps_per_second |") in out
    # one configuration, three seeds: @256 from all three, @1024 and the speed from the new one
    assert "| 1 | 3 | 0,1,2 | 0.4 ± 0.2 | 0.1 (2 of 3 null) | 4 (2 of 3 null) |" in out
