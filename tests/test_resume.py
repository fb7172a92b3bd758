"""Runs that survive: SIGKILL mid-run, `resume=<wandb id>`, and an exact continuation.

Each test runs `python -m main` in real subprocesses (shrunk): real data, training, offline
wandb and checkpoints on disk.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
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


def test_load_by_wandb_id_starts_a_new_run_from_the_weights(uninterrupted: Path,
                                                           tmp_path: Path) -> None:
    """load= takes weights only (EMA included) into a new run folder with a new wandb run."""
    wandb_id = json.loads((uninterrupted / "run.json").read_text())["wandb_id"]
    run = tmp_path / "evaluation"
    result = run_main(*STEPS, f"load={wandb_id}", f"run_roots=[{uninterrupted.parent}]",
                      "experiment.tasks=[rollout]", f"hydra.run.dir={run}", cwd=tmp_path)
    assert f"loaded weights from {uninterrupted / 'checkpoints' / 'last.ckpt'}" in result.stdout
    info = json.loads((run / "run.json").read_text())
    assert info["wandb_id"] != wandb_id and info["resumes"] == 0
    assert not (run / "checkpoints").exists() and (run / "rollout" / "samples.npz").is_file()


def test_a_run_killed_before_its_first_checkpoint_restarts_in_place(tmp_path: Path) -> None:
    """No checkpoint yet: resume= trains from step 0 in the same folder and wandb run."""
    run = tmp_path / "early"
    run_main(*STEPS, "experiment.training.max_steps=4", "experiment.training.checkpoint_every_n_steps=4",
             "experiment.tasks=[training]", f"hydra.run.dir={run}", cwd=tmp_path)
    for ckpt in (run / "checkpoints").glob("*.ckpt"):
        ckpt.unlink()  # as if killed before the first checkpoint was written
    (run / "run.json").write_text((run / "run.json").read_text().replace("finished", "running"))
    wandb_id = json.loads((run / "run.json").read_text())["wandb_id"]
    result = run_main(f"resume={run}", cwd=tmp_path)
    assert "resumed" not in result.stdout and (run / "checkpoints" / "last.ckpt").is_file()
    assert json.loads((run / "run.json").read_text())["wandb_id"] == wandb_id


def test_resume_can_extend_a_finished_run(tmp_path: Path) -> None:
    run = tmp_path / "short"
    base = [*STEPS, "experiment.training.checkpoint_every_n_steps=4", "experiment.tasks=[training]"]
    run_main(*base, "experiment.training.max_steps=4", f"hydra.run.dir={run}", cwd=tmp_path)
    result = run_main(f"resume={run}", "experiment.training.max_steps=8", cwd=tmp_path)
    assert "at step 4" in result.stdout
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 8
    assert [s for s, _ in loss_rows(run)] == sorted({s for s, _ in loss_rows(run)})


def test_ddp_resume_matches_an_uninterrupted_ddp_run(tmp_path: Path) -> None:
    """Two ranks (gloo): each rank's data and noise are functions of (seed, step, rank), so a
    DDP run resumed from a mid-run checkpoint ends where an uninterrupted one does."""
    ddp = [*STEPS, "experiment.training.max_steps=16", "experiment.training.checkpoint_every_n_steps=8",
           "experiment.training.devices=2", "experiment.training.strategy=ddp",
           "experiment.tasks=[training]", "wandb.mode=disabled"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    run_main(*ddp, f"hydra.run.dir={full}", cwd=tmp_path)
    run_main(*ddp, f"hydra.run.dir={cut}", cwd=tmp_path)
    # Rewind the second run to its step-8 checkpoint, as if it had been killed after it.
    (cut / "checkpoints" / "step_0000008.ckpt").replace(cut / "checkpoints" / "last.ckpt")
    (cut / "checkpoints" / "step_0000016.ckpt").unlink()
    (cut / "run.json").write_text((cut / "run.json").read_text().replace("finished", "running"))
    result = run_main(f"resume={cut}", cwd=tmp_path)
    assert "at step 8" in result.stdout
    expected, got = weights(full), weights(cut)
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_kill_between_checkpoint_and_its_log_row(uninterrupted: Path, tmp_path: Path) -> None:
    """Lightning writes step 80's checkpoint before step 80's log row. A kill in between (made
    here by hand) must not leave a hole in the loss curve: the run continues from step 40."""
    run = tmp_path / "cut"
    shutil.copytree(uninterrupted, run)
    checkpoints = run / "checkpoints"
    shutil.copy(checkpoints / "step_0000080.ckpt", checkpoints / "last.ckpt")
    for late in (120, 160, 200, 240):
        (checkpoints / f"step_{late:07d}.ckpt").unlink()
    log = run / "csv" / "metrics.csv"
    with log.open(newline="") as file:
        reader = csv.DictReader(file)
        header, rows = reader.fieldnames, [r for r in reader if int(r["step"]) < 79]
    with log.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    (run / "run.json").write_text((run / "run.json").read_text().replace("finished", "running"))
    result = run_main(f"resume={run}", cwd=tmp_path)
    assert f"from {checkpoints / 'step_0000040.ckpt'} at step 40" in result.stdout
    assert loss_rows(run) == loss_rows(uninterrupted)
    expected, got = weights(uninterrupted), weights(run)
    assert all(torch.equal(expected[k], got[k]) for k in expected)
