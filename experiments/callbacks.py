"""Lightning callbacks of the experiments: side effects on rank 0 only."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.loggers import WandbLogger

from algorithms.base.trajectory_model import TrajectoryModel
from experiments.conditioning import conditioned_rollout


class RolloutMonitor(pl.Callback):
    """After each validation: a short rollout, its metrics (`val_rollout/*`) and plots, written
    under `out_dir/step_<N>/` and logged to every logger (images to wandb)."""

    def __init__(self, out_dir: Path, num_samples: int, horizon: int, nfe: int, seed: int,
                 context_tokens: int = 0) -> None:
        self.out_dir, self.num_samples, self.horizon = out_dir, num_samples, horizon
        self.nfe, self.seed, self.context_tokens = nfe, seed, context_tokens

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        assert isinstance(pl_module, TrajectoryModel)
        step = trainer.global_step
        datamodule = trainer.datamodule
        samples, _ = conditioned_rollout(pl_module, datamodule, self.num_samples, self.horizon,
                                         self.nfe, None, self.seed, self.context_tokens)
        metrics = datamodule.evaluate(samples)
        plots = datamodule.plot(samples, self.out_dir / f"step_{step:07d}", title=f"step {step}")
        for logger in trainer.loggers:
            logger.log_metrics({f"val_rollout/{k}": v for k, v in metrics.items()}, step=step)
            if isinstance(logger, WandbLogger):
                for name, path in plots.items():
                    logger.log_image(key=f"val_rollout/{name}", images=[str(path)], step=step)
