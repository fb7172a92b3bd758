"""The report across runs (`python -m experiments.report`): grouping, numbers equal to the runs'
metrics.json, clear lines for broken runs, and end to end on a shrunk multirun."""

from __future__ import annotations

import csv
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from experiments.report.__main__ import main as report_main
from experiments.report.table import varying_keys
from tests.conftest import REPO, SHRINK, run_main


def make_run(folder: Path, algorithm: str, seed: int, metrics: dict[str, Any],
             nfes: list[int] | None = None, **algorithm_keys: Any) -> Path:
    """A run folder as `python -m main` writes it, with made-up numbers."""
    config = {
        "experiment": {"name": "sequence_generation", "rollout": {"nfe": nfes or 1}},
        "algorithm": {"name": algorithm, **algorithm_keys},
        "dataset": {"name": "circular_arcs", "train_length": 16, "rollout_horizon": 40},
        "seed": seed, "name": f"{algorithm}_{seed}",
        "wandb": {"mode": "offline", "project": "p"},
        "output_dir": str(folder),  # a path: never a setting
    }
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"seed={seed}"]))
    for nfe in nfes or [None]:
        out = folder / "rollout" / (f"nfe_{nfe}" if nfe is not None else "")
        out.mkdir(parents=True)
        np.savez_compressed(out / "samples.npz", samples=np.zeros((4, 40, 2), np.float32))
        written = {"algorithm": algorithm, "nfe": nfe or 1, "num_samples": 4, **metrics}
        if nfe is not None:
            written = {k: v * nfe if isinstance(v, float) else v for k, v in written.items()}
        (out / "metrics.json").write_text(json.dumps(written))
        (out / "curves.json").write_text(json.dumps({
            "window_end": [16, 28, 40], "energy_distance": [0.1, 0.2, 0.3],
            "energy_distance_reference": [0.05, 0.05, 0.05]}))
    return folder


def scores(seed: int, offset: float = 0.0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return {"keep_circle_share": float(rng.uniform()) + offset,
            "radius_error_median": float(rng.uniform(0, 0.1)),
            "energy_distance_last": float(rng.uniform(0.1, 1)),
            "energy_distance_last_reference": 0.05}


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def metrics_of(run: Path, where: str = "rollout") -> dict[str, Any]:
    return json.loads((run / where / "metrics.json").read_text())


# ---------------------------------------------------------------- grouping


def test_varying_keys_compare_group_keys_within_a_group_choice() -> None:
    configs = [
        {"algorithm.name": "a", "algorithm.lr": 1, "seed": 0, "name": "x", "wandb.mode": "offline"},
        {"algorithm.name": "a", "algorithm.lr": 1, "seed": 1, "name": "y", "wandb.mode": "disabled"},
        {"algorithm.name": "b", "algorithm.depth": 3, "seed": 0, "load": None, "hydra_dir": "/x"},
    ]
    # b has no `lr` and a no `depth`: that is what choosing b means, not a setting that varies
    assert varying_keys(configs) == ["algorithm.name"]
    configs.append({"algorithm.name": "a", "algorithm.lr": 2, "seed": 0})
    assert varying_keys(configs) == ["algorithm.name", "algorithm.lr"]
    configs.append({"algorithm.name": "a", "algorithm.lr": 2, "seed": 0, "debug": True})
    assert varying_keys(configs) == ["algorithm.name", "algorithm.lr", "debug"]


def test_report_rows_equal_the_runs_metrics(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sweep = tmp_path / "multirun" / "2026-01-01" / "00-00-00"
    runs = {
        ("flow_forcing", 1): [make_run(sweep / str(s), "flow_forcing", s, scores(s), knob=1)
                              for s in range(3)],
        ("predictive", "–"): [make_run(sweep / str(3 + s), "predictive", s, scores(10 + s, 5.0),
                                       other=True) for s in range(2)],
        ("flow_forcing", 2): [make_run(sweep / "10", "flow_forcing", 7, scores(20), knob=2)],
    }
    assert report_main([str(tmp_path / "multirun")]) == 0
    out = capsys.readouterr().out
    assert "skipped" not in out

    report = tmp_path / "multirun" / "report"
    rows = read_csv(report / "report.csv")
    assert [(r["algorithm.name"], r["algorithm.knob"]) for r in rows] == [
        ("flow_forcing", "1"), ("predictive", "–"), ("flow_forcing", "2")]
    for row, ((_, _), folders) in zip(rows, runs.items()):
        assert int(row["n"]) == len(folders)
        assert row["seeds"] == ",".join(str(metrics_of(f) and yaml.safe_load(
            (f / ".hydra" / "config.yaml").read_text())["seed"]) for f in folders)
        assert row["runs"].split(";") == [str(f.resolve()) for f in folders]
        for metric in ("keep_circle_share", "radius_error_median", "energy_distance_last"):
            values = [metrics_of(f)[metric] for f in folders]
            assert float(row[f"{metric}_mean"]) == statistics.fmean(values)  # to the last digit
            if len(values) > 1:
                assert float(row[f"{metric}_std"]) == statistics.stdev(values)  # ddof = 1
            else:
                assert row[f"{metric}_std"] == ""
    markdown = (report / "report.md").read_text()
    assert "| algorithm | algorithm.knob | nfe | n | seeds |" in markdown
    single = next(line for line in markdown.splitlines() if line.startswith("| flow_forcing | 2 |"))
    assert "±" not in single  # one seed: no spread to show
    value = metrics_of(runs[("flow_forcing", 2)][0])["keep_circle_share"]
    assert f"| {value:.4g} |" in single
    assert "energy_distance_last 0.05" in markdown  # the ground-truth reference
    for name in ("report.png", "report_curves.png"):
        assert (report / name).stat().st_size > 1000


def test_one_row_per_nfe(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    runs = [make_run(tmp_path / f"run{s}", "flow_forcing", s, scores(s), nfes=[1, 4]) for s in (0, 1)]
    assert report_main([str(r) for r in runs] + ["--out", str(tmp_path / "rep")]) == 0
    rows = read_csv(tmp_path / "rep" / "report.csv")
    assert [(r["nfe"], r["n"]) for r in rows] == [("1", "2"), ("4", "2")]
    values = [metrics_of(r, "rollout/nfe_4")["radius_error_median"] for r in runs]
    assert float(rows[1]["radius_error_median_mean"]) == statistics.fmean(values)


def test_null_metric_is_counted_not_averaged(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_run(tmp_path / "a", "flow_forcing", 0, {"keep_circle_share": 0.5})
    make_run(tmp_path / "b", "flow_forcing", 1, {"keep_circle_share": None})
    assert report_main([str(tmp_path)]) == 0
    assert "| 0.5 (1 of 2 null) |" in capsys.readouterr().out
    row = read_csv(tmp_path / "report" / "report.csv")[0]
    assert (row["keep_circle_share_mean"], row["keep_circle_share_n"]) == ("0.5", "1")


# ---------------------------------------------------------------- broken runs


def test_broken_runs_are_skipped_with_a_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    good = make_run(tmp_path / "good", "flow_forcing", 0, scores(0))
    broken = {name: make_run(tmp_path / name, "flow_forcing", i + 1, scores(i + 1))
              for i, name in enumerate(("no_metrics", "cut_metrics", "no_samples", "cut_samples",
                                        "no_rollout", "bad_config", "cut_curves"))}
    (broken["no_metrics"] / "rollout" / "metrics.json").unlink()
    text = (broken["cut_metrics"] / "rollout" / "metrics.json").read_text()
    (broken["cut_metrics"] / "rollout" / "metrics.json").write_text(text[: len(text) // 2])
    (broken["no_samples"] / "rollout" / "samples.npz").unlink()
    data = (broken["cut_samples"] / "rollout" / "samples.npz").read_bytes()
    (broken["cut_samples"] / "rollout" / "samples.npz").write_bytes(data[: len(data) // 2])
    for path in sorted((broken["no_rollout"] / "rollout").rglob("*"), reverse=True):
        path.unlink()
    (broken["no_rollout"] / "rollout").rmdir()
    (broken["bad_config"] / ".hydra" / "config.yaml").write_text("seed: [0\n")
    (broken["cut_curves"] / "rollout" / "curves.json").write_text('{"window_end": [16,')
    (tmp_path / "empty").mkdir()

    assert report_main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    expected = {
        "no_metrics": "rollout/metrics.json missing",
        "cut_metrics": "rollout/metrics.json truncated or not JSON",
        "no_samples": "rollout/samples.npz missing",
        "cut_samples": "rollout/samples.npz unreadable",
        "no_rollout": "no rollout/ folder",
        "bad_config": ".hydra/config.yaml unreadable",
        "cut_curves": "rollout/curves.json truncated or not JSON",
    }
    lines = [line for line in out.splitlines() if line.startswith("skipped ")]
    assert len(lines) == len(expected)
    for name, reason in expected.items():
        assert any(line.startswith(f"skipped {broken[name].resolve()}: {reason}") for line in lines), name
    row = read_csv(tmp_path / "report" / "report.csv")[0]
    assert row["n"] == "2"  # `good`, and `cut_curves` whose metrics are fine
    assert row["runs"].split(";") == [str(broken["cut_curves"].resolve()), str(good.resolve())]
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert f"## Skipped ({len(expected)})" in markdown and "samples.npz unreadable" in markdown


def test_nothing_readable_exits_2_with_one_line(tmp_path: Path) -> None:
    run = make_run(tmp_path / "sweep" / "0", "flow_forcing", 0, scores(0))
    (run / "rollout" / "metrics.json").write_text("{")
    (tmp_path / "nothing").mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "experiments.report", str(tmp_path / "sweep"),
                             str(tmp_path / "nothing")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: no run could be read")
    assert f"skipped {run.resolve()}: rollout/metrics.json truncated" in result.stdout
    assert f"skipped {tmp_path / 'nothing'}: no run folder under it" in result.stdout
    assert not (tmp_path / "report").exists()


def test_unknown_metric_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_run(tmp_path / "a", "flow_forcing", 0, scores(0))
    assert report_main([str(tmp_path), "--metrics", "keep_circle_share,nope"]) == 2
    assert "no run wrote nope" in capsys.readouterr().err


# ---------------------------------------------------------------- end to end


@pytest.mark.slow
def test_multirun_then_report(tmp_path: Path) -> None:
    """The issue's two commands, shrunk: a multirun over algorithms and seeds, then the report."""
    sweep = tmp_path / "sweep"
    run_main("-m", "algorithm=flow_forcing,predictive", "seed=0,1", *SHRINK,
             "experiment.rollout.horizon=40", "experiment.rollout.eval_horizons=[24,40]",
             "experiment.rollout.nfe=[1,2]", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    runs = sorted((p for p in sweep.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    assert len(runs) == 4
    for run in runs:  # per-run curves and the NFE curve
        for nfe in (1, 2):
            curves = json.loads((run / "rollout" / f"nfe_{nfe}" / "curves.json").read_text())
            assert curves["window_end"][0] == 16 and curves["window_end"][-1] == 40
            assert {"energy_distance", "energy_distance_reference", "diversity_ratio",
                    "centre_drift_median"} <= set(curves)
            assert (run / "rollout" / f"nfe_{nfe}" / "curves.csv").is_file()
        nfe_curve = json.loads((run / "rollout" / "nfe_curve.json").read_text())
        assert nfe_curve["nfe"] == [1, 2] and len(nfe_curve["us_per_token_per_stream"]) == 2
        assert (run / "rollout" / "nfe_curve.png").stat().st_size > 1000
        wandb_tables = list((run / "wandb").glob("offline-run-*/files/media/table/rollout/**/*.json"))
        assert len(wandb_tables) == 3  # the curves of each NFE, and the NFE curve

    env = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_SILENT": "true"}
    result = subprocess.run([sys.executable, "-m", "experiments.report", str(sweep), "--wandb", "offline"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "skipped" not in result.stdout and "wandb report run:" in result.stdout
    rows = read_csv(sweep / "report" / "report.csv")
    assert [(r["algorithm.name"], r["nfe"], r["n"], r["seeds"]) for r in rows] == [
        ("flow_forcing", "1", "2", "0,1"), ("flow_forcing", "2", "2", "0,1"),
        ("predictive", "1", "2", "0,1"), ("predictive", "2", "2", "0,1")]
    for row in rows:
        folders = [Path(p) for p in row["runs"].split(";")]
        for metric in ("keep_circle_share", "centre_std", "energy_distance_last",
                       "us_per_token_per_stream", "keep_circle_share@24", "centre_drift_median@40"):
            values = [metrics_of(f, f"rollout/nfe_{row['nfe']}")[metric] for f in folders]
            assert float(row[f"{metric}_mean"]) == statistics.fmean(values)
            assert float(row[f"{metric}_std"]) == statistics.stdev(values)
        speeds = [json.loads((f / "training" / "metrics.json").read_text())["steps_per_second"]
                  for f in folders]
        assert float(row["training_steps_per_second_mean"]) == statistics.fmean(speeds)
    markdown = (sweep / "report" / "report.md").read_text()
    assert ("| keep_circle_share@24 | keep_circle_share@40 | centre_drift_median@24 | "
            "centre_drift_median@40 | drift_direction_coherence@24 | drift_direction_coherence@40 |"
            in markdown)
    assert "| training_steps_per_second | us_per_token_per_stream |" in markdown
    assert list((sweep / "report" / "wandb").glob("offline-run-*/files/media/table/report/*.json"))
    for name in ("report.md", "report.png", "report_curves.png"):
        assert (sweep / "report" / name).is_file()


def test_an_unfinished_run_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_run(tmp_path / "done", "flow_forcing", 0, scores(0))
    running = make_run(tmp_path / "running", "flow_forcing", 1, scores(1))
    (running / "rollout" / "metrics.json").unlink()
    (running / "run.json").write_text(json.dumps({"wandb_id": "abc", "status": "running"}))
    assert report_main([str(tmp_path)]) == 0
    assert (f"skipped {running.resolve()}: rollout/metrics.json missing; run.json: status running"
            in capsys.readouterr().out)
