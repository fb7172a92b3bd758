"""Loggers: always a CSV log; a wandb run unless `wandb.mode=disabled` (offline by default)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import CSVLogger, Logger, WandbLogger
from pytorch_lightning.utilities import rank_zero_only


def build_loggers(cfg: DictConfig, output_dir: Path, run_name: str) -> list[Logger]:
    """CSV under `csv/`, wandb under `wandb/`; only rank 0 opens a wandb run (other DDP ranks
    log nothing anyway), so a multi-process run is one wandb run."""
    loggers: list[Logger] = [CSVLogger(save_dir=str(output_dir), name="csv", version="")]
    if cfg.wandb.mode == "disabled" or rank_zero_only.rank != 0:
        return loggers
    import wandb

    run = wandb.init(project=cfg.wandb.project, entity=cfg.wandb.entity, mode=cfg.wandb.mode,
                     name=run_name, dir=str(output_dir),
                     config=OmegaConf.to_container(cfg, resolve=True))
    loggers.append(WandbLogger(experiment=run, save_dir=str(output_dir)))
    # Every run records its wandb id beside its checkpoints (resume/load by id build on this).
    (output_dir / "run.json").write_text(json.dumps(
        {"wandb_id": run.id, "wandb_mode": cfg.wandb.mode, "name": run_name,
         "output_dir": str(output_dir)}, indent=2) + "\n")
    run_folder = Path(run.dir).parent
    hint = f"; sync with: wandb sync {run_folder}" if cfg.wandb.mode == "offline" else ""
    print(f"wandb run id: {run.id} ({cfg.wandb.mode}){hint}", flush=True)
    return loggers


def finish_wandb() -> None:
    """Close the wandb run, if any, so its files are complete on disk."""
    wandb = sys.modules.get("wandb")  # not imported at all when wandb.mode=disabled
    if wandb is not None and wandb.run is not None:
        wandb.finish()
