"""Inside a Slurm job: stop training with a checkpoint when Slurm is about to stop the job.

Slurm sends SIGTERM to every process of a job it preempts, requeues (`scontrol requeue`) or
cancels; the job's supervisor (`utils/cluster/job.py`) turns Slurm's earlier warning signal
(USR2, `cluster.signal_delay_s` before the time limit) into the same SIGTERM. During training,
`CheckpointOnSignal` notes it and, at the end of that training step (where ModelCheckpoint
saves too, so `resume=` continues from it exactly), saves `last.ckpt` and stops; with DDP every
rank stops at the same step. The requeued job resumes from it. (After training, during the
rollout, SIGTERM ends the process; the requeued job finds training done and rolls out again.)

One requeue mechanism only: Lightning's own (SIGUSR1: an `hpc_ckpt_<N>.ckpt`, which Lightning
would then prefer over `last.ckpt`, and its own `scontrol requeue`) is switched off by
`slurm_plugins()`; submitit's signal and requeue are used instead.
"""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.plugins.environments import SLURMEnvironment
from pytorch_lightning.utilities import rank_zero_only
from pytorch_lightning.utilities.exceptions import SIGTERMException

from utils.cluster import in_cluster_job

EXIT_STOPPED = 143  # as a process killed by SIGTERM: 128 + 15


class StoppedBySignal(SystemExit):
    """Training stopped on SIGTERM after saving `last.ckpt`: the process exits with 143."""


class CheckpointOnSignal(Callback):
    def __init__(self, last: Path) -> None:
        self.last = Path(last)
        self.signalled = False
        self.trainer: pl.Trainer | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Lightning's own SIGTERM handler (installed for this fit, restored after it) stops the
        # loop wherever the signal lands, mid-validation or between two hooks of a step, without
        # a checkpoint. This one only notes the signal; the end of the step saves and stops.
        self.trainer = trainer
        self.signalled = trainer.received_sigterm
        signal.signal(signal.SIGTERM, self._note)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.signalled = True
        # Slurm stops wandb's service process too, so a wandb call would now raise before the
        # checkpoint is saved: the rest of this process logs to the CSV only.
        self.trainer.loggers = [logger for logger in self.trainer.loggers
                                if not isinstance(logger, WandbLogger)]

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs, batch, batch_idx: int) -> None:
        # Any rank signalled: all stop here (a collective, as Lightning's own SIGTERM check).
        if not trainer.strategy.reduce_boolean_decision(self.signalled, all=False):
            return
        # This step's log row first: Lightning writes it after this hook, which the stop below
        # skips, and the resumed run starts after this step (utils.checkpoints would otherwise
        # pass over a checkpoint whose step is missing from the log).
        trainer._logger_connector.update_train_step_metrics()
        trainer.save_checkpoint(self.last)  # the trainer's AtomicCheckpointIO: never torn
        if rank_zero_only.rank == 0:
            print(f"stopped by SIGTERM at step {trainer.global_step}: saved {self.last}",
                  flush=True)
        raise StoppedBySignal(EXIT_STOPPED)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException) and rank_zero_only.rank == 0:
            # Signalled before training started: Lightning stopped, with no new checkpoint.
            print(f"stopped by SIGTERM before training (step {trainer.global_step}); a "
                  f"requeued job resumes from the last checkpoint", flush=True)


def slurm_callbacks(output_dir: Path) -> list[Callback]:
    """The callbacks a training needs inside a Slurm job (none elsewhere)."""
    if not in_cluster_job():
        return []
    return [CheckpointOnSignal(Path(output_dir) / "checkpoints" / "last.ckpt")]


def slurm_plugins() -> list:
    """Lightning's Slurm environment (ranks, nodes, main address from Slurm's variables) with
    its auto-requeue off, inside a Slurm job; nothing elsewhere (Lightning then picks)."""
    if not (in_cluster_job() and SLURMEnvironment.detect()):
        return []
    return [SLURMEnvironment(auto_requeue=False)]
