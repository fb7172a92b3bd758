"""Loggers: always a CSV log; a wandb run unless `wandb.mode=disabled` (offline by default).

A resumed run continues both: the CSV keeps the rows up to the checkpoint's step and the
rest is logged again (bit-identical, since resumption is exact); the wandb run keeps its id,
and steps the killed process already sent to wandb are not sent twice.
"""

from __future__ import annotations

import csv
import sys
import warnings
from pathlib import Path
from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import CSVLogger, Logger, WandbLogger
from pytorch_lightning.loggers.logger import rank_zero_experiment
from pytorch_lightning.utilities import rank_zero_only

from utils.run_info import read_run_info, update_run_info


class ResumableCSVLogger(CSVLogger):
    """Lightning's CSV log (`csv/metrics.csv`), flushed at every call so that it records what
    was logged before a kill; on resume it keeps the old rows with `step <= keep_through`
    (Lightning's writer would delete the file)."""

    def __init__(self, save_dir: Path, keep_through: int | None = None) -> None:
        super().__init__(save_dir=str(save_dir), name="csv", version="", flush_logs_every_n_steps=1)
        self.keep_through = keep_through
        path = Path(save_dir) / "csv" / "metrics.csv"
        self._kept_header: list[str] = []
        self._kept_rows: list[dict[str, str]] = []
        self.logged_through = -1  # the last step the old file recorded
        if keep_through is not None and path.is_file():
            with path.open(newline="") as file:
                reader = csv.DictReader(file)
                rows = [row for row in reader if row.get("step", "").isdigit()]
                self._kept_header = list(reader.fieldnames or [])
            self.logged_through = max((int(r["step"]) for r in rows), default=-1)
            self._kept_rows = [r for r in rows if int(r["step"]) <= keep_through]

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        first = self._experiment is None
        with warnings.catch_warnings():
            if self._kept_header:  # its "will be deleted" warning: the rows are written back below
                warnings.filterwarnings("ignore", message="Experiment logs directory")
            writer = super().experiment  # creating the writer deletes an old metrics.csv
        if first and self._kept_header:
            writer.metrics_keys = sorted(self._kept_header)
            with open(writer.metrics_file_path, "w", newline="") as file:
                out = csv.DictWriter(file, fieldnames=writer.metrics_keys)
                out.writeheader()
                out.writerows(self._kept_rows)
        return writer


class ResumedWandbLogger(WandbLogger):
    """Skips metrics of steps the previous process already sent (`skip_through`): after an
    exact resume they would be the same numbers, logged twice."""

    def __init__(self, *args: Any, skip_through: int = -1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.skip_through = skip_through

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if step is not None and step <= self.skip_through:
            return
        super().log_metrics(metrics, step)


def logged_training_steps(output_dir: Path) -> set[int]:
    """The steps `csv/metrics.csv` holds a `train/loss` for (empty without a log)."""
    path = Path(output_dir) / "csv" / "metrics.csv"
    if not path.is_file():
        return set()
    with path.open(newline="") as file:
        return {int(row["step"]) for row in csv.DictReader(file)
                if row.get("train/loss") and row.get("step", "").isdigit()}


def build_loggers(cfg: DictConfig, output_dir: Path, run_name: str,
                  resume_step: int | None = None) -> list[Logger]:
    """CSV under `csv/`, wandb under `wandb/`; only rank 0 opens a wandb run (other DDP ranks
    log nothing anyway), so a multi-process run is one wandb run. `resume_step`: the step of
    the checkpoint a resumed run continues from (None for a new run)."""
    csv_logger = ResumableCSVLogger(output_dir, keep_through=resume_step)
    loggers: list[Logger] = [csv_logger]
    if rank_zero_only.rank != 0:
        return loggers
    previous = read_run_info(output_dir) if resume_step is not None else {}
    wandb_id = previous.get("wandb_id") if cfg.wandb.mode != "disabled" else None
    if cfg.wandb.mode != "disabled":
        import wandb

        # The overrides travel with the run, so resume=<id> can rebuild it on another machine.
        config = {**OmegaConf.to_container(cfg, resolve=True), "_overrides": task_overrides()}
        run = wandb.init(project=cfg.wandb.project, entity=cfg.wandb.entity, mode=cfg.wandb.mode,
                         name=run_name, dir=str(output_dir), id=wandb_id,
                         resume="allow" if wandb_id else None, config=config)
        upload = cfg.wandb.mode == "online" and cfg.wandb.get("log_checkpoints", False)
        loggers.append(ResumedWandbLogger(experiment=run, save_dir=str(output_dir),
                                          skip_through=csv_logger.logged_through,
                                          log_model="all" if upload else False))
        wandb_id = run.id
        segments = sorted((output_dir / "wandb").glob(f"offline-run-*-{run.id}*"))
        hint = ""
        if cfg.wandb.mode == "offline":
            hint = f"; sync with: wandb sync --id {run.id} -p {cfg.wandb.project} " + " ".join(
                str(s) for s in segments)
        print(f"wandb run id: {run.id} ({cfg.wandb.mode}){hint}", flush=True)
    # Every run records its wandb id beside its checkpoints (resume/load by id build on this).
    update_run_info(output_dir, wandb_id=wandb_id, wandb_mode=cfg.wandb.mode, name=run_name,
                    output_dir=str(output_dir), status="running",
                    resumes=previous.get("resumes", -1) + 1 if resume_step is not None else 0)
    return loggers


def task_overrides() -> list[str]:
    """The command line's task overrides (what `.hydra/overrides.yaml` records), `resume=` and
    `load=` left out."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return [o for o in HydraConfig.get().overrides.task
            if o.partition("=")[0].lstrip("+~") not in ("resume", "load")]


def finish_wandb() -> None:
    """Close the wandb run, if any, so its files are complete on disk."""
    wandb = sys.modules.get("wandb")  # not imported at all when wandb.mode=disabled
    if wandb is not None and wandb.run is not None:
        try:
            wandb.finish()
        except (ConnectionError, OSError) as error:
            # Slurm's SIGTERM also ends wandb's service process: what it had is already on disk.
            print(f"warning: wandb could not finish cleanly ({type(error).__name__})", flush=True)
