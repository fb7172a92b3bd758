"""On the login node: the runs Hydra composed with `cluster=<name>` become Slurm jobs.

`main` calls `queue_submission(cfg)` instead of training, once per run (a multirun: once per
combination, in the folder Hydra made for it, with its overrides saved there). When Hydra
returns, `submit_queued()` submits them through submitit: runs that share their Slurm options
as one `sbatch` (a job array for a multirun). submitit pickles the job (`job.TrainingJob`) with
its overrides as a Python list, so nothing is pasted into a shell line: quotes, spaces, lists
and `+name=` reach the job as typed. For each job it prints

    submitted job <id>
    run folder: <folder>
    follow: tail -f <log>

A rejected submission prints sbatch's own message as one line and exits with 1.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from utils.cluster import REPO
from utils.cluster.config_checks import job_name, sbatch_options


@dataclass
class QueuedRun:
    run_dir: Path
    overrides: list[str]
    folder: Path                     # submitit's folder: <run>/slurm, <sweep>/slurm (multirun)
    options: dict[str, Any]          # submitit's SlurmExecutor parameters
    max_timeouts: int
    group: str = field(init=False)   # runs with the same group go into one sbatch

    def __post_init__(self) -> None:
        self.group = json.dumps([str(self.folder), self.options, self.max_timeouts],
                                sort_keys=True, default=str)


QUEUE: list[QueuedRun] = []


def queue_submission(cfg: DictConfig) -> None:
    """Queue the current Hydra job's run for `submit_queued` (its config is checked)."""
    hydra = HydraConfig.get()
    run_dir = Path(hydra.runtime.output_dir).absolute()
    multirun = hydra.mode == RunMode.MULTIRUN
    folder = (Path(hydra.sweep.dir).absolute() if multirun else run_dir) / "slurm"
    cluster = cfg.cluster
    # After the user's lines (a venv, modules): the job must import this repository's code.
    setup = [*OmegaConf.to_container(cluster.setup, resolve=True),
             f"export PYTHONPATH={shlex.quote(str(REPO))}${{PYTHONPATH:+:$PYTHONPATH}}"]
    options = {**sbatch_options(cluster), "job_name": job_name(cfg), "setup": setup,
               "stderr_to_stdout": True}  # one log per task: follow one file
    QUEUE.append(QueuedRun(run_dir, list(hydra.overrides.task), folder, options,
                           cluster.max_timeouts))


def submit_queued() -> None:
    """Submit every queued run and print its job id, run folder and log; exit 1 with sbatch's
    message if Slurm refuses."""
    if not QUEUE:
        return
    groups: dict[str, list[QueuedRun]] = {}
    for run in QUEUE:
        groups.setdefault(run.group, []).append(run)
    for runs in groups.values():
        for run, job in zip(runs, submit(runs)):
            print(f"submitted job {job.job_id}\nrun folder: {run.run_dir}\n"
                  f"follow: tail -f {job.paths.stdout}", flush=True)
    QUEUE.clear()


def submit(runs: list[QueuedRun]) -> list:
    """One sbatch for `runs` (a job array if several); their submitit jobs, in order."""
    import submitit
    from submitit.core.utils import FailedJobError, FailedSubmissionError

    from utils.cluster.job import TrainingJob

    logging.getLogger("submitit").setLevel(logging.CRITICAL)  # errors are reported below
    first = runs[0]
    try:
        executor = submitit.SlurmExecutor(folder=first.folder, max_num_timeout=first.max_timeouts)
    except RuntimeError as error:  # no srun here
        refused(runs, f"cluster: no Slurm on this machine ({error}); submit from a login node")
    executor.update_parameters(**first.options)
    # submitit echoes sbatch's stderr before raising: it is printed once, as one line.
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            with executor.batch():
                jobs = [executor.submit(TrainingJob(str(run.run_dir), run.overrides,
                                                    run.options["signal_delay_s"]))
                        for run in runs]
            return jobs
        except (FailedJobError, FailedSubmissionError, OSError) as error:
            message = sbatch_message(str(error))
    refused(runs, message)


def refused(runs: list[QueuedRun], message: str) -> NoReturn:
    discard(runs)
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def discard(runs: list[QueuedRun]) -> None:
    """Slurm refused the runs: remove the folders this command made for them (a run folder
    holding only Hydra's record, submitit's files; a sweep folder left with its multirun.yaml)."""
    folder = runs[0].folder
    if folder.is_dir() and not any(folder.glob("*_submitted.pkl")):  # no job of ours uses it
        shutil.rmtree(folder)
    for run in runs:
        made = {".hydra", "main.log"}  # Hydra's record and log, nothing else
        if run.run_dir.is_dir() and {p.name for p in run.run_dir.iterdir()} <= made:
            shutil.rmtree(run.run_dir)
    sweep = folder.parent
    if sweep.is_dir() and [p.name for p in sweep.iterdir()] == ["multirun.yaml"]:
        shutil.rmtree(sweep)


def sbatch_message(text: str) -> str:
    """sbatch's error lines as one: "sbatch: a; b"."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    parts = [line.removeprefix("sbatch: error: ").removeprefix("sbatch: ") for line in lines]
    return "sbatch: " + "; ".join(parts) if parts else "sbatch failed with no message"
