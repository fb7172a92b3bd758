"""The comparison grid of issue 16 is one multirun (docs/results/baselines.md, "The comparison
grid, as one multirun"): each of its points composes to the setting that page's table measured,
with no per-point override:
  - every algorithm in the moving frame on the arcs (`frame=auto`);
  - Diffusion Forcing without stabilisation noise, validated at K = 10, rolled out at K = 1 and 10;
  - the one-step algorithms and the predictive baseline at one evaluation per token;
  - minGRU and minLSTM with two layers (`num_layers=auto`), the others with one;
  - `algorithm=meanflow` is the shortcut model with the MeanFlow objective and time scale 10.
Composition only (no training): the shrunk end-to-end runs are tests/test_algorithms_end_to_end.py."""

from __future__ import annotations

import itertools
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

from algorithms.networks.backbones import BACKBONES
from experiments import command_line as main
from experiments.components import resolve_auto
from experiments.run_config import validate_config

GRID_PAGE = Path(__file__).resolve().parents[1] / "docs" / "results" / "baselines.md"
GRID_START = "python -m main -m algorithm=flow_forcing,meanflow,diffusion_forcing,predictive"


def grid_command() -> list[str]:
    """The grid multirun of docs/results/baselines.md, as its arguments after `python -m main -m`."""
    lines = GRID_PAGE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(GRID_START))
    command = ""
    for line in lines[start:]:
        command += line.strip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            break
    command = re.sub(r"\s#.*$", "", command)
    return shlex.split(command)[4:]


def grid_points() -> list[list[str]]:
    """Every job of the grid multirun: one list of plain overrides each."""
    parsed = OverridesParser.create().parse_overrides(grid_command())
    axes = [[f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()] if o.is_sweep_override()
            else [f"{o.get_key_element()}={o.get_value_element_as_str()}"] for o in parsed]
    return [list(point) for point in itertools.product(*axes)]


def composed(overrides: list[str]) -> DictConfig:
    with initialize_config_dir(str(main.CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    validate_config(cfg)
    resolve_auto(cfg)
    return cfg


def test_the_grid_is_algorithms_by_backbones_by_three_seeds() -> None:
    points = grid_points()
    assert len(points) == 4 * len(BACKBONES) * 3
    backbones = {o.split("=")[1] for p in points for o in p if o.startswith("algorithm.backbone.name=")}
    assert backbones == set(BACKBONES)
    assert {o for p in points for o in p if o.startswith("seed=")} == {"seed=0", "seed=1", "seed=2"}
    assert "experiment.training.max_steps=4000" in points[0]


@pytest.mark.parametrize("overrides", [p for p in grid_points() if "seed=0" in p],
                         ids=lambda p: " ".join(o.split("=")[1] for o in p[:2]))
def test_every_point_is_the_measured_setting(overrides: list[str]) -> None:
    cfg = composed(overrides)
    a, e = cfg.algorithm, cfg.experiment
    assert a.frame == "heading" and a.network.kind == "split"
    assert a.backbone.num_layers == (2 if a.backbone.name in ("mingru", "minlstm") else 1)
    assert a.backbone.hidden_size == 128 and e.training.max_steps == 4000
    if a.name == "diffusion_forcing":
        assert a.sampling.stabilization_noise == 0.0 and a.sampling.schedule == "autoregressive"
        assert e.validation.nfe == 10 and list(e.rollout.nfe) == [1, 10]
    else:
        assert e.validation.nfe == 1 and e.rollout.nfe == 1
    if "algorithm=meanflow" in overrides:
        assert a.name == "flow_forcing" and a.loss.objective == "meanflow"
        assert a.head.time_scale == 10.0
    elif a.name == "flow_forcing":
        assert a.loss.objective == "shortcut" and a.head.time_scale == 1000.0


def test_auto_choices_are_what_the_user_overrides() -> None:
    cfg = composed(["algorithm=diffusion_forcing", "algorithm.backbone.name=mingru",
                    "algorithm.backbone.num_layers=3", "algorithm.sampling.schedule=pyramid",
                    "experiment.rollout.nfe=4"])
    assert cfg.algorithm.backbone.num_layers == 3 and cfg.algorithm.frame == "global"
    assert cfg.experiment.rollout.nfe == 4 and cfg.experiment.validation.nfe == 10


@pytest.mark.slow
def test_the_grid_runs_and_the_report_makes_one_table(tmp_path: Path) -> None:
    """The grid page's two commands, shrunk (4 steps, seed 0 only): one multirun over every
    algorithm and backbone, then one report with a row per algorithm, backbone and NFE."""
    from tests.conftest import REPO, run_main
    from tests.test_algorithms_end_to_end import TINY
    from tests.test_report import read_csv

    sweep = tmp_path / "grid"
    args = [a for a in grid_command() if not a.startswith(("hydra.sweep.dir=", "wandb.mode=",
                                                          "experiment.training.max_steps="))]
    args = ["seed=0" if a.startswith("seed=") else a for a in args]
    run_main("-m", *args, *TINY, "experiment.rollout.horizon=40",
             "experiment.rollout.eval_horizons=[24,40]", f"hydra.sweep.dir={sweep}",
             cwd=tmp_path, timeout=1200)
    env = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_SILENT": "true"}
    result = subprocess.run([sys.executable, "-m", "experiments.report", str(sweep), "--ignore",
                             "experiment.validation.nfe"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "skipped" not in result.stdout, result.stderr[-3000:]
    rows = read_csv(sweep / "report" / "report.csv")
    cells = {(r["algorithm.name"], r.get("algorithm.loss.objective", "–"),
              r["algorithm.backbone.name"], r["nfe"]) for r in rows}
    expected = {(name, objective, b, nfe) for b in BACKBONES for name, objective, nfe in (
        ("flow_forcing", "shortcut", "1"), ("flow_forcing", "meanflow", "1"),
        ("diffusion_forcing", "–", "1"), ("diffusion_forcing", "–", "10"),
        ("predictive", "–", "1"))}
    assert cells == expected and len(rows) == len(expected)
    for row in rows:
        assert row["n"] == "1" and row["seeds"] == "0"
        assert row["algorithm.backbone.num_layers"] == (
            "2" if row["algorithm.backbone.name"] in ("mingru", "minlstm") else "1")
        assert 0.0 <= float(row["keep_circle_share@24_mean"]) <= 1.0
        assert float(row["us_per_token_per_stream_mean"]) > 0
    assert (sweep / "report" / "report.md").read_text().count("\n| ") >= len(expected)
