"""What a submitted job runs: on every Slurm task, `python -m main` in the run folder chosen at
submission, as a child process that this supervisor watches.

- First start: `python -m main <the run's overrides> hydra.run.dir=<run folder>`.
- After a requeue (Slurm's restart count > 0, or submitit's checkpoint): `python -m main
  resume=<run folder> <the same overrides>`: the resume mechanism restores `last.ckpt` (step,
  optimiser, data position, EMA) and continues the same wandb run in the same folder.
- Task 0 writes the run's `.hydra/` record and `main.log`; other tasks (DDP ranks) write
  `main_task<N>.log` only.

Signals. Slurm signals every process of a job step. SIGTERM (preemption, `scontrol requeue`,
`scancel`) reaches the child directly: training saves `last.ckpt` and stops (`preemption.py`),
and this supervisor then exits with 143; Slurm requeues the job if it preempted or requeued
it. Slurm's warning signal before the time limit (USR2, `cluster.signal_delay_s` ahead) is
ignored by the child and forwarded to it as SIGTERM; submitit then calls `checkpoint()` on task
0, which waits for the child's checkpoint and returns the resuming job for submitit to requeue.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from types import FrameType

import submitit
from submitit.helpers import DelayedSubmission

from utils.cluster import CLUSTER_JOB_ENV

USR_SIGNAL = signal.SIGUSR2  # submitit's warning signal (its default; sbatch --signal=USR2@...)
EXIT_STOPPED = 143           # as a process stopped by SIGTERM (128 + 15)


def key_of(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def ignore_usr_signal() -> None:  # in the child, before exec: it gets SIGTERM from us instead
    signal.signal(USR_SIGNAL, signal.SIG_IGN)


class TrainingJob:
    """The callable submitit pickles and runs on each Slurm task."""

    def __init__(self, run_dir: str, overrides: list[str], signal_delay_s: int,
                 resume: bool = False) -> None:
        self.run_dir = run_dir
        self.overrides = list(overrides)
        self.signal_delay_s = signal_delay_s
        self.resume = resume
        self._child: subprocess.Popen | None = None
        self._signalled: str | None = None

    def __getstate__(self) -> dict:  # what submitit pickles: never the live process
        return {**self.__dict__, "_child": None, "_signalled": None}

    def command(self, rank: int, restarts: int) -> list[str]:
        if self.resume or restarts > 0 or any(key_of(o) == "resume" for o in self.overrides):
            rest = [o for o in self.overrides if key_of(o) not in ("resume", "load")]
            args = [f"resume={self.run_dir}", *rest]
        else:
            args = [*self.overrides, f"hydra.run.dir={self.run_dir}"]
        if rank != 0:  # one record of the run: task 0's
            args += ["hydra.output_subdir=null", f"hydra.job.name=main_task{rank}"]
        return [sys.executable, "-m", "main", *args]

    def __call__(self) -> None:
        environment = submitit.JobEnvironment()
        rank, restarts = environment.global_rank, int(os.environ.get("SLURM_RESTART_COUNT", 0))
        command = self.command(rank, restarts)
        print(f"task {rank}, start {restarts + 1}: {shlex.join(command[1:])}",
              flush=True)
        for signum in (signal.SIGTERM, USR_SIGNAL):
            self._chain_handler(signum)
        self._child = subprocess.Popen(command, env={**os.environ, CLUSTER_JOB_ENV: "1"},
                                       preexec_fn=ignore_usr_signal)
        while (code := self._child.poll()) is None:
            time.sleep(0.5)
        if self._signalled:  # Slurm requeues the job if it preempted or requeued it
            print(f"task {rank}: stopped by {self._signalled} (exit code {code})", flush=True)
            sys.exit(EXIT_STOPPED)
        if code != 0:
            raise RuntimeError(f"python -m main exited with code {code} (see the log above)")

    def _chain_handler(self, signum: int) -> None:
        """Note the signal, forward USR2 to the child as SIGTERM, then run submitit's handler."""
        previous = signal.getsignal(signum)

        def handler(number: int, frame: FrameType | None) -> None:
            self._signalled = signal.Signals(number).name
            if number == USR_SIGNAL and self._child is not None and self._child.poll() is None:
                self._child.send_signal(signal.SIGTERM)
            if callable(previous):
                previous(number, frame)

        signal.signal(signum, handler)

    def checkpoint(self) -> DelayedSubmission:
        """Called by submitit on task 0 after USR2, before it requeues the job: let the child
        save its checkpoint, then hand submitit the job to run next, one that resumes."""
        deadline = time.monotonic() + max(10, min(90, self.signal_delay_s - 15))
        while (self._child is not None and self._child.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.2)
        return DelayedSubmission(TrainingJob(self.run_dir, self.overrides, self.signal_delay_s,
                                             resume=True))
