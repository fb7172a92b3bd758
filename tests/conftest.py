"""Shared helpers: run `python -m main` as a user would, shrunk to seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# A tiny but complete configuration: real data, real training, real wandb (offline),
# real checkpoints, real rollout; only sizes shrink.
SHRINK = [
    "experiment.training.max_steps=12",
    "experiment.training.batch_size=8",
    "experiment.training.warmup_steps=2",
    "experiment.training.log_every_n_steps=2",
    "experiment.training.checkpoint_every_n_steps=6",
    "experiment.training.accelerator=cpu",
    "experiment.validation.every_n_steps=6",
    "experiment.validation.num_samples=8",
    "experiment.rollout.num_samples=24",
    "experiment.rollout.batch_size=16",
    "dataset.train_length=16",
    "dataset.rollout_horizon=40",
    "experiment.rollout.horizon=40",
    "dataset.num_eval_batches=2",
    "algorithm.backbone.hidden_size=16",
    "algorithm.head.width=16",
    "algorithm.head.time_dim=8",
]


def run_main(*overrides: str, cwd: Path, check: bool = True, timeout: float = 300
             ) -> subprocess.CompletedProcess:
    """`python -m main <overrides>` from `cwd` (the repo is put on PYTHONPATH, not the cwd)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_SILENT": "true"}
    result = subprocess.run([sys.executable, "-m", "main", *overrides], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"python -m main failed ({result.returncode}):\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def run_main_without(package: str, *overrides: str, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m main <overrides>` in a process where `package` cannot be imported or found, as
    on a machine that never installed it."""
    hide = (f"import sys, runpy; sys.modules[{package!r}] = None; sys.argv = ['main', *sys.argv[1:]]; "
            "import importlib.util as u; find = u.find_spec; "
            f"u.find_spec = lambda n, *a: None if n == {package!r} else find(n, *a); "
            "runpy.run_module('main', run_name='__main__')")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", hide, *overrides], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One shrunk default run (training, validation, test, rollout), shared by several tests."""
    cwd = tmp_path_factory.mktemp("cwd")
    run_dir = tmp_path_factory.mktemp("runs") / "default"
    result = run_main(*SHRINK, f"hydra.run.dir={run_dir}", "+name=shrunk",
                      "experiment.tasks=[training,validation,test,rollout]", cwd=cwd)
    (run_dir / "stdout.txt").write_text(result.stdout)
    assert list(cwd.iterdir()) == [], "nothing may be written relative to the current directory"
    return run_dir
