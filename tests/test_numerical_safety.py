"""A non-finite loss stops training (or is skipped, within a bound) instead of training on
garbage. The NaN is injected into the real data stream of a real `python -m main` run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO, SHRINK

pytestmark = pytest.mark.slow

# Batch 9 of the training stream holds a NaN; everything else is the real program.
INJECT = """
import runpy, sys
import datasets.circular_arcs.datamodule as arcs
draw = arcs.ArcBatches.__getitem__
def poisoned(self, index):
    batch = draw(self, index)
    if self.stream == arcs.TRAIN_STREAM and index == 9:
        batch[0, 3, 0] = float("nan")
    return batch
arcs.ArcBatches.__getitem__ = poisoned
sys.argv = ["main", *sys.argv[1:]]
runpy.run_module("main", run_name="__main__")
"""


def run_poisoned(*overrides: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_SILENT": "true"}
    return subprocess.run([sys.executable, "-c", INJECT, *SHRINK, "wandb.mode=disabled",
                           "experiment.training.checkpoint_every_n_steps=4", *overrides],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_nan_loss_stops_training_naming_step_and_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = run_poisoned(f"hydra.run.dir={run}", cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-3000:]
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: non-finite loss at step 9; training stopped")
    assert f"last good checkpoint: {run / 'checkpoints' / 'step_0000008.ckpt'}" in line
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert state["global_step"] == 8
    assert all(torch.isfinite(v).all() for v in state["state_dict"].values() if v.is_floating_point())


def test_a_bounded_number_of_bad_steps_can_be_skipped(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = run_poisoned(f"hydra.run.dir={run}", "experiment.training.max_bad_steps=1",
                          cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "non-finite loss at step 9; batch skipped" in result.stdout
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert all(torch.isfinite(v).all() for v in state["state_dict"].values() if v.is_floating_point())
