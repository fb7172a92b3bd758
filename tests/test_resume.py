"""Runs that survive: SIGKILL mid-run, `resume=<wandb id>`, and an exact continuation.

Each test runs `python -m main` in real subprocesses (shrunk): real data, training, offline
wandb and checkpoints on disk.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO, SHRINK, run_main

pytestmark = pytest.mark.slow

STEPS = [o for o in SHRINK if not o.startswith(("experiment.training.max_steps",
                                                "experiment.training.checkpoint_every"))]
LONG = [*STEPS, "experiment.training.max_steps=240", "experiment.training.checkpoint_every_n_steps=40",
        "experiment.validation.every_n_steps=80", "experiment.tasks=[training]"]


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu",
                      weights_only=False)["state_dict"]


def loss_rows(run: Path) -> list[tuple[int, str]]:
    with (run / "csv" / "metrics.csv").open(newline="") as file:
        return [(int(r["step"]), r["train/loss"]) for r in csv.DictReader(file) if r["train/loss"]]


def start_and_kill(run: Path, cwd: Path, kill_after: str) -> None:
    """Start a run and SIGKILL it as soon as checkpoint `kill_after` is on disk."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_SILENT": "true"}
    process = subprocess.Popen([sys.executable, "-m", "main", *LONG, f"hydra.run.dir={run}"],
                               cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not (run / "checkpoints" / kill_after).is_file():
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (run / "checkpoints" / "step_0000240.ckpt").exists(), "killed too late"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("full") / "run"
    run_main(*LONG, f"hydra.run.dir={run}", cwd=run.parent)
    return run


def test_sigkill_then_resume_by_wandb_id_is_bit_exact(uninterrupted: Path, tmp_path: Path) -> None:
    run = tmp_path / "outputs" / "killed"
    start_and_kill(run, tmp_path, kill_after="step_0000080.ckpt")
    wandb_id = json.loads((run / "run.json").read_text())["wandb_id"]
    result = run_main(f"resume={wandb_id}", cwd=tmp_path)  # found under ./outputs by its id
    assert f"resumed {run.resolve()} from" in result.stdout and "at step " in result.stdout

    expected, got = weights(uninterrupted), weights(run)
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key  # bit for bit, EMA included

    # One loss curve: every logged step once, the same values as the uninterrupted run.
    assert loss_rows(run) == loss_rows(uninterrupted)
    # One wandb run: the same id in both offline segments, and the record says it resumed.
    info = json.loads((run / "run.json").read_text())
    assert info["wandb_id"] == wandb_id and info["resumes"] == 1 and info["status"] == "finished"
    segments = list((run / "wandb").glob(f"offline-run-*-{wandb_id}*"))
    assert len(segments) == 2, segments
    assert (run / ".hydra" / "resume_1" / "overrides.yaml").is_file()
    # The original record stays; the resume's own overrides go beside it.
    original = (run / ".hydra" / "overrides.yaml").read_text()
    assert "resume=" not in original
    assert f"resume={run.resolve()}" in (run / ".hydra" / "resume_1" / "overrides.yaml").read_text()


def test_resume_of_a_finished_run_does_nothing_then_extends(uninterrupted: Path,
                                                            tmp_path: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in uninterrupted.rglob("*") if p.is_file()}
    result = run_main(f"resume={uninterrupted}", cwd=tmp_path)
    assert "already finished at step 240" in result.stdout
    after = {p: p.stat().st_mtime_ns for p in uninterrupted.rglob("*") if p.is_file()}
    assert before == after, "a finished run must not be touched"
