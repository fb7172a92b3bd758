"""The `cluster` group without a Slurm: its configs, checks, sbatch options and the commands a
job runs (tests/test_slurm.py submits for real)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from tests.conftest import REPO, run_main
from utils.cluster.config_checks import check_cluster_config, minutes, sbatch_options
from utils.cluster.job import TrainingJob
from utils.config_checks import ConfigError


def config(*overrides: str):
    with initialize_config_dir(config_dir=str(REPO / "configurations"), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def test_no_cluster_by_default() -> None:
    assert config().get("cluster") is None


@pytest.mark.parametrize("name", ["slurm", "local", "multi_node_gpu"])
def test_every_cluster_config_passes_its_checks(name: str) -> None:
    cfg = config(f"cluster={name}")
    check_cluster_config(cfg)
    t = cfg.experiment.training
    assert (t.devices, t.num_nodes) == (cfg.cluster.tasks_per_node, cfg.cluster.nodes)


def test_unset_options_are_left_out() -> None:
    options = sbatch_options(config("cluster=local").cluster)
    assert None not in options.values() and "partition" not in options
    assert options["time"] == 30 and options["cpus_per_task"] == 1
    options = sbatch_options(config("cluster=multi_node_gpu", "+cluster.sbatch.mail_type=END",
                                    "+cluster.sbatch.exclusive=true",
                                    "+cluster.sbatch.comment=null").cluster)
    assert options["time"] == 24 * 60 and options["ntasks_per_node"] == 4
    assert options["additional_parameters"] == {"mail-type": "END", "exclusive": True}


@pytest.mark.parametrize("given,expected", [(90, 90), ("30", 30), ("30:00", 30), ("1:30:00", 90),
                                            ("0:30", 1), ("2-12", 3600), ("1-00:00:00", 1440)])
def test_slurm_times_in_minutes(given, expected: int) -> None:
    assert minutes(given) == expected


@pytest.mark.parametrize("override,message", [
    ("experiment.training.devices=2",
     "experiment.training.devices=2: must equal cluster.tasks_per_node"),
    ("experiment.training.num_nodes=2",
     "experiment.training.num_nodes=2: must equal cluster.nodes"),
    ("cluster.time=soon", "cluster.time=soon: must be"),
    ("cluster.time=0", "cluster.time=0: must be"),
    ("cluster.mem=lots", "cluster.mem=lots: must be"),
    ("cluster.gpus_per_node=0", "cluster.gpus_per_node=0: must be"),
    ("+cluster.sbatch.output=x.log", "cluster.sbatch.output=x.log: --output is set by"),
    ("+cluster.sbatch.time=10", "cluster.sbatch.time=10: --time is set by cluster.time"),
    ("+cluster.oops=1", "cluster.oops=1: unknown key"),
    ("+name=interactive", "cluster.job_name=None: the job would be named 'interactive'"),
])
def test_bad_cluster_values_are_config_errors(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_cluster_config(config("cluster=local", override))


def test_the_job_runs_the_overrides_then_resumes() -> None:
    job = TrainingJob("/runs/a b", ["cluster=local", "+name=x y", "load=/c.ckpt"], 120)
    python = [sys.executable, "-m", "main"]
    assert job.command(rank=0, restarts=0) == [
        *python, "cluster=local", "+name=x y", "load=/c.ckpt", "hydra.run.dir=/runs/a b"]
    # Requeued: the resume mechanism continues the run (load= only ever starts one).
    assert job.command(rank=0, restarts=1) == [
        *python, "resume=/runs/a b", "cluster=local", "+name=x y"]
    assert job.command(rank=1, restarts=0)[-2:] == ["hydra.output_subdir=null",
                                                   "hydra.job.name=main_task1"]
    assert TrainingJob("/r", ["cluster=local"], 120, resume=True).command(0, 0)[3] == "resume=/r"


@pytest.mark.slow
@pytest.mark.parametrize("overrides,line", [
    (["cluster=local", "experiment.training.devices=2"],
     "error: experiment.training.devices=2: must equal cluster.tasks_per_node (1)"),
    (["cluster=nowhere"],
     "error: cluster=nowhere: unknown; choose one of local, multi_node_gpu, slurm"),
    (["cluster=local", "cluster.time=soon"], "error: cluster.time=soon: must be"),
])
def test_bad_cluster_input_is_one_line_before_any_folder(overrides: list[str], line: str,
                                                         tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = run_main(*overrides, f"hydra.run.dir={run}", cwd=tmp_path, check=False, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith(line), lines
    assert not run.exists()


@pytest.mark.slow
def test_without_slurm_a_submission_says_so(tmp_path: Path) -> None:
    """No srun on the PATH (a laptop): one line, exit 1, no run folder left behind."""
    run = tmp_path / "run"
    env_path = os.environ["PATH"]
    try:
        os.environ["PATH"] = str(Path(sys.executable).parent)
        result = run_main("cluster=local", f"hydra.run.dir={run}", cwd=tmp_path, check=False,
                          timeout=120)
    finally:
        os.environ["PATH"] = env_path
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("error: cluster: no Slurm on this machine")
    assert not run.exists()
