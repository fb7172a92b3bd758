"""`python -m main` on recorded series, as a user runs it: a CSV of one's own through every
algorithm (training, a long rollout from a real context, forecasts scored), the classical
references, the report's table of forecasts, and bad files stopped with one line before any
folder is written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHRINK, run_main
from tests.test_recorded_datamodule import write_csv

pytestmark = pytest.mark.slow

CSV_RUN = [o for o in SHRINK if not o.startswith(("dataset.", "experiment.rollout.horizon"))]
CSV_DATA = ["dataset=csv", "dataset.generated=[load]", "dataset.given=[temp]",
            "dataset.time_column=t", "dataset.frequency=1h", "dataset.train_length=24",
            "dataset.context_tokens=16", "dataset.forecast_horizon=8",
            "dataset.forecast_stride=8", "dataset.season_length=7", "dataset.rollout_horizon=48",
            "dataset.num_eval_batches=2", "experiment.rollout.horizon=48",
            "experiment.rollout.eval_horizons=null", "experiment.forecast.num_samples=12"]
TASKS = "experiment.tasks=[training,rollout,forecast]"


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("data") / "load.csv")


@pytest.mark.parametrize("algorithm", ["flow_forcing", "diffusion_forcing", "predictive"])
def test_every_algorithm_trains_rolls_out_and_forecasts_a_csv(algorithm: str, csv_file: Path,
                                                              tmp_path: Path) -> None:
    run = tmp_path / "run"
    extra = ["experiment.rollout.nfe=2", "experiment.validation.nfe=2"] \
        if algorithm == "diffusion_forcing" else []
    result = run_main(f"algorithm={algorithm}", *CSV_RUN, *CSV_DATA, *extra, TASKS,
                      f"dataset.path={csv_file}", f"hydra.run.dir={run}", cwd=tmp_path)
    assert "forecast (" in result.stdout
    metrics = json.loads((run / "forecast" / "metrics.json").read_text())
    for key in ("crps_sum_norm", "crps_norm", "energy_score", "coverage_50", "coverage_90",
                "median_abs_error_norm"):
        assert np.isfinite(metrics[key]), key
    assert metrics["num_windows"] == 10 and metrics["num_samples"] == 12
    # given channels in the samples are the CSV's own values (the temp column: 20 + row % 7)
    with np.load(run / "forecast" / "samples.npz") as f, np.load(run / "forecast" / "windows.npz") as w:
        samples, windows = f["samples"], w["samples"]
    assert np.array_equal(samples[..., 1], np.repeat(windows[:, 16:, 1], 12, axis=0))
    with np.load(run / "rollout" / "samples.npz") as f, \
            np.load(run / "rollout" / "conditioning.npz") as c:
        assert np.array_equal(f["samples"][..., 1], c["samples"][:, 16:, 1])
    rollout = json.loads((run / "rollout" / "metrics.json").read_text())
    assert rollout["context_tokens"] == 16 and np.isfinite(rollout["acf_error_last"])
    assert (run / "forecast" / "forecast_fans.png").stat().st_size > 0


def test_classical_references_forecast_and_join_the_report(csv_file: Path, tmp_path: Path
                                                           ) -> None:
    for algorithm in ("seasonal_naive", "ets"):
        run = tmp_path / "runs" / algorithm
        result = run_main(f"algorithm={algorithm}", *CSV_DATA, TASKS, "wandb.mode=disabled",
                          f"dataset.path={csv_file}", f"hydra.run.dir={run}", cwd=tmp_path)
        assert "nothing to train" in result.stdout
        metrics = json.loads((run / "forecast" / "metrics.json").read_text())
        assert 0 <= metrics["coverage_90"] <= 1 and np.isfinite(metrics["crps_norm"])
    from experiments.report.build import build_report

    table = build_report([tmp_path / "runs"]).markdown_table
    assert "crps_sum_norm" in table and "forecast_us_per_token_per_stream" in table
    assert "| seasonal_naive |" in table and "| ets |" in table


BAD_FILES = {
    "missing_column": ("t,load\n2020-01-01 00:00,1\n", "no column 'temp' (dataset.given)"),
    "not_a_number": ("t,load,temp\n2020-01-01 00:00,1,2\n2020-01-01 01:00,x,2\n",
                     "row 3: column 'load' holds 'x', not a number"),
    "a_gap": ("t,load,temp\n2020-01-01 00:00,1,2\n2020-01-01 02:00,1,2\n",
              "row 3: 1 timestamp missing"),
    "no_future_given": ("t,load,temp\n2020-01-01 00:00,1,2\n2020-01-01 01:00,1,2\n"
                        "2020-01-01 02:00,1,\n", "row 4: column 'temp' has no value"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_csv_is_one_line_naming_file_column_and_row_and_writes_nothing(
        case: str, tmp_path: Path) -> None:
    text, message = BAD_FILES[case]
    path = tmp_path / f"{case}.csv"
    path.write_text(text)
    before = path.read_bytes()
    run = tmp_path / "run"
    result = run_main(*CSV_DATA, f"dataset.path={path}", f"hydra.run.dir={run}", cwd=tmp_path,
                      check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and message in lines[0], lines
    assert not run.exists() and path.read_bytes() == before


def test_a_series_shorter_than_its_windows_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "short.csv", rows=60)
    result = run_main(*CSV_DATA, f"dataset.path={path}", f"hydra.run.dir={tmp_path / 'run'}",
                      cwd=tmp_path, check=False)
    assert result.returncode == 2 and "60 rows, shorter than" in result.stderr


def test_circles_roll_out_and_forecast_from_a_real_context(tmp_path: Path) -> None:
    """Generated data work the same way: the contexts are fresh ground-truth draws."""
    run = tmp_path / "run"
    run_main(*SHRINK, "experiment.rollout.context_tokens=8", "experiment.forecast.context_tokens=8",
             "experiment.forecast.horizon=16", "experiment.forecast.num_windows=6",
             "experiment.forecast.num_samples=5", TASKS, "wandb.mode=disabled",
             f"hydra.run.dir={run}", cwd=tmp_path)
    rollout = json.loads((run / "rollout" / "metrics.json").read_text())
    assert rollout["context_tokens"] == 8 and 0 <= rollout["keep_circle_share"] <= 1
    with np.load(run / "rollout" / "samples.npz") as f, \
            np.load(run / "rollout" / "conditioning.npz") as c:
        assert f["samples"].shape == (24, 40, 2) and c["samples"].shape == (24, 48, 2)
    forecast = json.loads((run / "forecast" / "metrics.json").read_text())
    assert forecast["num_windows"] == 6 and np.isfinite(forecast["crps_sum_norm"])
