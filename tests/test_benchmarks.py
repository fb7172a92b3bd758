"""Every benchmark runs, shrunk to a few iterations, and prints its figures as ratios (no
speed is asserted: these are smoke tests on a shared machine)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import (
    data_loading,
    generation,
    memory,
    planning,
    time_to_quality,
    training,
    video,
)
from benchmarks.__main__ import QUICK
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # about a minute in all


def finite(figures: dict[str, float]) -> bool:
    return all(math.isfinite(v) for v in figures.values())


def test_training_prints_the_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    figures = training.run(**QUICK["training"])
    out = capsys.readouterr().out
    assert "default / seed_faithful = " in out and "default / predictive    = " in out
    assert {"train_ratio_default_over_seed_faithful", "train_ratio_default_over_predictive",
            "train_steps_per_s_seed_faithful"} <= set(figures) and finite(figures)


def test_data_loading_compares_recorded_data_with_the_circles(
        capsys: pytest.CaptureFixture[str]) -> None:
    figures = data_loading.run(**QUICK["data_loading"])
    out = capsys.readouterr().out
    assert "elecdemand / circles = " in out and "batch draw = " in out
    assert {"data_ratio_elecdemand_over_circles", "data_draw_share_elecdemand"} <= set(figures)
    assert finite(figures) and 0 < figures["data_draw_share_elecdemand"] < 1


def test_generation_prints_latency_throughput_and_targets(capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    figures = generation.run(**QUICK["generation"])
    out = capsys.readouterr().out
    for name in ("flow_forcing_1nfe", "diffusion_forcing_k10", "diffusion_forcing_k50",
                 "predictive", "flow_forcing_1nfe_exported"):
        assert f"latency_ratio_{name}" in figures and f"throughput_ratio_{name}" in figures
    assert figures["latency_ratio_predictive"] == 1.0
    assert "target 1 NFE <= 1.15x predictive (eager)" in out and "target <= 150 µs" in out
    assert "latency_ratio_flow_forcing_1nfe_over_predictive" in figures
    assert finite(figures)


def test_memory_compares_streaming_and_rollout(capsys: pytest.CaptureFixture[str]) -> None:
    figures = memory.run(**QUICK["memory"])
    out = capsys.readouterr().out
    assert "streaming" in out and "rollout" in out and "target <= 1.10x" in out
    assert {"memory_peak_ratio_streaming", "memory_peak_ratio_rollout"} <= set(figures)
    assert finite(figures)


def test_planning_compares_the_planners_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    figures = planning.run(**QUICK["planning"])
    out = capsys.readouterr().out
    assert "batch: DF K=10 / one-step = " in out and "single: DF K=10 / one-step = " in out
    assert {"planning_ms_per_plan_one_step_batch", "planning_ratio_df_k10_over_one_step_single"
            } <= set(figures)
    assert finite(figures)


def test_time_to_quality_reports_reached_or_not(capsys: pytest.CaptureFixture[str]) -> None:
    figures = time_to_quality.run(**QUICK["time_to_quality"])
    out = capsys.readouterr().out
    assert "default: NOT reached within" in out or "default: reached at step" in out
    assert {"ttq_best_keep_default", "ttq_best_keep_seed_faithful"} <= set(figures)


def test_the_command_prints_the_machine_and_writes_json(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "benchmarks", "training", "--quick", "--json",
                             str(tmp_path / "figures.json")], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("machine: ") and "torch " in result.stdout
    written = json.loads((tmp_path / "figures.json").read_text())
    assert written["machine"]["torch_threads"] >= 1
    assert "train_ratio_default_over_seed_faithful" in written["figures"]
    bad = subprocess.run([sys.executable, "-m", "benchmarks", "speed"], capture_output=True,
                         text=True, cwd=tmp_path, env=env, timeout=120)
    assert bad.returncode == 2 and "unknown benchmark(s) speed" in bad.stderr


def test_video_compares_frames_per_second_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    figures = video.run(**QUICK["video"])
    out = capsys.readouterr().out
    assert {"video_fps_one_step", "video_fps_df_k10", "video_fps_ratio_one_step_over_df_k10",
            "video_token_ratio_one_step_over_df_k10", "video_train_frames_per_s_one_step"} \
        <= set(figures)
    assert all(v > 0 for v in figures.values())
    assert "one-step / DF K=10" in out and "frames/s at batch 1" in out
