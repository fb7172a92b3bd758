"""`cluster=local` on a real one-node Slurm (`.ci/start_local_slurm.sh`): submission through
`python -m main`, DDP over two Slurm tasks, Slurm's warning signal and `scontrol requeue`
resuming bit-exactly, a multirun as a job array, and sbatch's error for a bad partition.

CI starts Slurm first and sets CI=true: there a missing Slurm fails these tests. Elsewhere they
are skipped, with the command that starts one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from tests.conftest import SHRINK, run_main

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

SUBMITTED = re.compile(r"^submitted job (\S+)\nrun folder: (\S+)\nfollow: tail -f (\S+)$", re.M)


def slurm_problem() -> str | None:
    """Why jobs cannot be submitted here, or None."""
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return "sbatch/sinfo not found"
    try:
        states = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True,
                                timeout=30).stdout.split()
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"sinfo failed: {error}"
    if not {"idle", "mix", "alloc", "comp"} & {s.rstrip("*~#!%$@^-") for s in states}:
        return f"no node takes jobs (sinfo states: {states or 'none'})"
    return None


@pytest.fixture(scope="module", autouse=True)
def slurm() -> None:
    problem = slurm_problem()
    if problem is not None:
        message = f"no working Slurm ({problem}); start one: sudo bash .ci/start_local_slurm.sh"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture
def jobs() -> list[str]:
    """Job ids a test submitted: cancelled if still queued when it ends (pass or fail)."""
    submitted: list[str] = []
    yield submitted
    for job in submitted:
        subprocess.run(["scancel", job], capture_output=True)


def submit(*overrides: str, cwd: Path, jobs: list[str]) -> list[tuple[str, Path, Path]]:
    """`python -m main <overrides>` with a cluster: (job id, run folder, log) per job."""
    result = run_main(*overrides, cwd=cwd, timeout=180)
    found = [(job, Path(run), Path(log)) for job, run, log in SUBMITTED.findall(result.stdout)]
    jobs.extend(job for job, _, _ in found)
    assert found, result.stdout
    assert "outputs:" not in result.stdout, "the submitting process must not train"
    return found


def queued(job: str) -> bool:
    out = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True)
    return out.stdout.strip() != ""


def wait_until(condition, what: str, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-4000:] if log.is_file() else "(no log)"
            raise AssertionError(f"timed out waiting for {what}; log {log}:\n{tail}")
        time.sleep(0.2)


def wait_for_job(job: str, log: Path, timeout: float = 300) -> str:
    wait_until(lambda: not queued(job), f"job {job} to end", log, timeout)
    return log.read_text(errors="replace")


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu",
                      weights_only=False)["state_dict"]


# Two tasks of DDP over the node's 2 CPUs; long enough (a few seconds of training) to stop twice.
OVERRIDES = [o for o in SHRINK if not o.startswith(("experiment.training.max_steps",
                                                    "experiment.training.checkpoint_every",
                                                    "experiment.validation.every"))]
OVERRIDES += ["experiment.training.max_steps=400",
              "experiment.training.checkpoint_every_n_steps=50",
              "experiment.validation.every_n_steps=400", "cluster=local",
              "cluster.tasks_per_node=2", "experiment.training.strategy=ddp",
              "+name='slurm, run'", "experiment.tasks=[training, rollout]"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """One job through `python -m main cluster=local ...`, run to its end: (job id, run)."""
    tmp = tmp_path_factory.mktemp("slurm")
    submitted: list[str] = []
    try:
        [(job, run, log)] = submit(*OVERRIDES, f"hydra.run.dir={tmp / 'run'}", cwd=tmp,
                                   jobs=submitted)
        assert run == tmp / "run" and log == run / "slurm" / f"{job}_0_log.out"
        text = wait_for_job(job, log)
    finally:
        for job_id in submitted:
            subprocess.run(["scancel", job_id], capture_output=True)
    assert "done; outputs:" in text, text[-4000:]
    return job, run


def test_submit_trains_with_ddp_over_two_slurm_tasks(uninterrupted: tuple[str, Path]) -> None:
    """One job, two tasks: Lightning's DDP through its Slurm environment, one run folder, one
    wandb run; the overrides (quotes, spaces, a list, +name=) arrive as typed."""
    job, run = uninterrupted
    # The job ran the run's own overrides, intact, in the folder chosen at submission.
    assert yaml.safe_load((run / ".hydra" / "overrides.yaml").read_text()) == OVERRIDES
    info = json.loads((run / "run.json").read_text())
    assert info["name"] == "slurm, run" and info["status"] == "finished"  # quoted: no sweep
    # Two ranks through Slurm's tasks; rank 0 alone writes the outputs and the wandb run.
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in (run / "slurm" / f"{job}_1_log.out").read_text()
    assert (run / "main_task1.log").is_file()
    assert len(list((run / "wandb").glob(f"offline-run-*-{info['wandb_id']}"))) == 1
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 400
    samples = np.load(run / "rollout" / "samples.npz")["samples"]
    assert samples.shape == (24, 40, 2) and np.isfinite(samples).all()
    assert (run / "rollout" / "metrics.json").is_file()

    # The job script holds the options that are set, and nothing for those that are not.
    script = (run / "slurm" / f"{job}_submission.sh").read_text()
    assert "None" not in script
    for option in ("--ntasks-per-node=2", "--cpus-per-task=1", "--time=30", "--nodes=1",
                   "--job-name='slurm, run'"):
        assert f"#SBATCH {option}\n" in script, option
    for unset in ("--partition", "--account", "--qos", "--mem", "--gpus", "--constraint"):
        assert unset not in script, unset


def test_warning_signal_and_requeue_resume_bit_exactly(uninterrupted: tuple[str, Path],
                                                       tmp_path: Path, jobs: list[str]) -> None:
    """Slurm's warning signal (USR2, as before a time limit), then `scontrol requeue`, to the
    same 2-task job: each time both ranks save one checkpoint at the same step, the job is
    requeued and resumes from it, in the same folder and wandb run; the final weights equal
    the uninterrupted job's."""
    [(job, run, log)] = submit(*OVERRIDES, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path,
                               jobs=jobs)
    checkpoints = run / "checkpoints"

    wait_until(lambda: (checkpoints / "step_0000050.ckpt").is_file(), "a checkpoint", log)
    subprocess.run(["scancel", "--signal=USR2", job], check=True)
    wait_until(lambda: "resumed " in log.read_text(errors="replace"), "the first resume", log)
    first = int(re.search(r"resumed .* at step (\d+)", log.read_text()).group(1))
    later = checkpoints / f"step_{(first // 50 + 1) * 50:07d}.ckpt"
    wait_until(later.is_file, f"{later.name} after the resume", log)
    subprocess.run(["scontrol", "requeue", job], check=True)
    text = wait_for_job(job, log)
    assert "done; outputs:" in text, text[-4000:]

    stops = [int(s) for s in re.findall(rf"stopped by SIGTERM at step (\d+): saved "
                                        rf"{re.escape(str(checkpoints / 'last.ckpt'))}", text)]
    resumes = [int(s) for s in re.findall(
        rf"resumed {re.escape(str(run))} from {re.escape(str(checkpoints / 'last.ckpt'))} "
        rf"at step (\d+)", text)]
    assert len(stops) == 2 and resumes == stops, (stops, resumes)
    assert 50 <= stops[0] < stops[1] < 400, stops
    assert "Caught signal SIGUSR2" in text and f"Requeued job {job}" in text  # submitit's requeue
    info = json.loads((run / "run.json").read_text())
    assert info["resumes"] == 2 and info["status"] == "finished"
    assert len(list((run / "wandb").glob(f"offline-run-*-{info['wandb_id']}"))) == 3  # one run
    # Task 0 alone keeps the record of each resume; task 1 logs beside it.
    assert sorted(p.name for p in (run / ".hydra").glob("resume_*")) == ["resume_1", "resume_2"]
    assert (run / "main_task1.log").is_file()

    _, reference = uninterrupted
    assert torch.load(checkpoints / "last.ckpt", weights_only=False)["global_step"] == 400
    expected, got = weights(reference), weights(run)
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key  # bit for bit, EMA included


def test_multirun_is_one_job_array(tmp_path: Path, jobs: list[str]) -> None:
    sweep = tmp_path / "sweep"
    found = submit("-m", *SHRINK, "cluster=local", "seed=0,1", "wandb.mode=disabled",
                   "experiment.tasks=[training]", f"hydra.sweep.dir={sweep}", cwd=tmp_path,
                   jobs=jobs)
    array = found[0][0].split("_")[0]
    assert [job for job, _, _ in found] == [f"{array}_0", f"{array}_1"]  # one array, 2 tasks
    assert [run for _, run, _ in found] == [sweep / "0", sweep / "1"]
    for job, run, log in found:
        assert "done; outputs:" in wait_for_job(job, log)
    seeds = [yaml.safe_load((sweep / str(i) / ".hydra" / "config.yaml").read_text())["seed"]
             for i in (0, 1)]
    assert seeds == [0, 1]
    first, second = weights(sweep / "0"), weights(sweep / "1")
    assert any(not torch.equal(first[k], second[k]) for k in first), "seeds must differ"


def test_bad_partition_is_sbatch_own_one_line_error(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = run_main("cluster=local", "cluster.partition=nope", f"hydra.run.dir={run}",
                      cwd=tmp_path, check=False, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("error: sbatch: ") and "invalid partition" in lines[0].lower()
    assert "submitted job" not in result.stdout
    assert not run.exists(), "a refused submission leaves no run folder"
