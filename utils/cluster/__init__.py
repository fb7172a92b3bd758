"""Slurm: `python -m main cluster=<name> ...` submits the run as a job instead of training.

- `config_checks.py`: the `cluster.*` keys (configurations/cluster/) and their sbatch options.
- `submit.py`: on the login node, the runs Hydra composed become submitit jobs (a multirun: one
  job array); prints each job's id, run folder and log.
- `job.py`: on the compute node, each Slurm task runs `python -m main` in that run folder, and
  after a requeue `python -m main resume=<run folder>`.
- `preemption.py`: inside the job, training saves a checkpoint and stops when Slurm signals.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the job imports this repository's code

# Set by the job for the `python -m main` it runs: there `cluster=` trains instead of submitting.
CLUSTER_JOB_ENV = "MAIN_CLUSTER_JOB"


def in_cluster_job() -> bool:
    return os.environ.get(CLUSTER_JOB_ENV) == "1"
