"""Sequence generation: train a trajectory model, validate it, roll it out and score it.

Tasks: tokenizer, training, validation, test, rollout, forecast, planning, play (see
`BaseExperiment`).
"""

from __future__ import annotations

import time
from functools import cached_property
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig, ListConfig
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.loggers import Logger, WandbLogger
from torch import Tensor

from algorithms.base.trajectory_model import NonFiniteLossError, TrajectoryModel
from experiments.base_experiment import BaseExperiment
from experiments.callbacks import RolloutMonitor
from experiments.components import build_algorithm, build_datamodule
from experiments.calibration_task import fit_rollout_calibration
from experiments.conditioning import conditioned_rollout, forecast_ensembles
from experiments.config_checks import (
    TrainingExperimentSchema,
    check_training_config,
    eval_horizons,
)
from utils.checkpoints import (
    AtomicCheckpointIO,
    load_weights,
    read_global_step,
    resumable_checkpoint,
)
from utils.cluster.preemption import slurm_callbacks, slurm_plugins
from utils.config_checks import ConfigError
from utils.curves import DESCRIPTIVE_KEYS
from utils.device import resolve_device
from utils.loggers import build_loggers, logged_training_steps
from experiments.summaries import (
    FORECAST_SUMMARY,
    PLANNING_SUMMARY,
    number,
    summarise,
    write_json,
)
from utils.run_lookup import resolve_checkpoint
from utils.samples import save_samples


class SequenceGenerationExperiment(BaseExperiment):
    def __init__(self, cfg: DictConfig, output_dir: Path, run_name: str) -> None:
        super().__init__(cfg, output_dir)
        self.run_name = run_name

    config_schema = TrainingExperimentSchema  # the keys' types, checked by OmegaConf

    @classmethod
    def check_config(cls, cfg: DictConfig) -> None:
        """Raise `ConfigError` naming the first bad `experiment.*` key (the root config given)."""
        check_training_config(cfg, cls.available_tasks())
        for task in ("tokenizer", "play"):
            if task in cfg.experiment.tasks and cfg.dataset.get("tokenizer") is None:
                raise ConfigError(f"experiment.tasks: {task} is for datasets of frames (with a "
                                  f"dataset.tokenizer); dataset={cfg.dataset.name} has none")
        if "play" in cfg.experiment.tasks:
            from experiments.play.task import check_play_config

            check_play_config(cfg)
        if "planning" in cfg.experiment.tasks:
            from experiments.planning import check_planning_config

            check_planning_config(cfg)

    # ----- components, built on first use -------------------------------------------------
    @cached_property
    def datamodule(self) -> pl.LightningDataModule:
        return build_datamodule(self.cfg, self.output_dir)

    @property
    def _awaits_tokenizer(self) -> bool:
        """Frames whose tokenizer the tokenizer task has yet to train."""
        return getattr(self.datamodule, "tokenizer", False) is None

    @cached_property
    def algorithm(self) -> TrajectoryModel:
        algo = build_algorithm(self.cfg, self.datamodule)
        if self.cfg.load:
            path = resolve_checkpoint(self.cfg.load, "load", self.cfg.run_roots)
            load_weights(algo, path, key="load")
            print(f"loaded weights from {path}", flush=True)
        if self.cfg.experiment.training.compile:
            algo.network.head.compile()
        return algo

    @cached_property
    def resume_checkpoint(self) -> Path | None:
        """`resume=...`: the newest checkpoint whose step made it into the log (`last.ckpt` but
        for a kill between the two writes); None before the first checkpoint."""
        if not self.cfg.get("resume"):
            return None
        return resumable_checkpoint(self.output_dir / "checkpoints",
                                    logged_training_steps(self.output_dir),
                                    self.cfg.experiment.training.log_every_n_steps)

    @cached_property
    def loggers(self) -> list[Logger]:
        step = None
        if self.cfg.get("resume"):
            step = read_global_step(self.resume_checkpoint) if self.resume_checkpoint else 0
        return build_loggers(self.cfg, self.output_dir, self.run_name, resume_step=step)

    @cached_property
    def trainer(self) -> pl.Trainer:
        t, v = self.cfg.experiment.training, self.cfg.experiment.validation
        callbacks = [
            ModelCheckpoint(dirpath=self.output_dir / "checkpoints", filename="step_{step:07d}",
                            auto_insert_metric_name=False, every_n_train_steps=t.checkpoint_every_n_steps,
                            save_top_k=-1, save_last=True,
                            # last.ckpt is always overwritten (a resumed run writes no last-v1)
                            enable_version_counter=False),
            LearningRateMonitor(logging_interval="step"),
            RolloutMonitor(self.output_dir / "validation", v.num_samples, v.horizon, v.nfe,
                           self.cfg.seed, v.context_tokens),
            *slurm_callbacks(self.output_dir),  # in a Slurm job: checkpoint and stop on SIGTERM
        ]
        return pl.Trainer(
            max_steps=t.max_steps, max_epochs=-1, accelerator=t.accelerator, devices=t.devices,
            num_nodes=t.num_nodes, strategy=t.strategy, precision=t.precision,
            gradient_clip_val=t.gradient_clip_val, log_every_n_steps=t.log_every_n_steps,
            val_check_interval=min(v.every_n_steps, t.max_steps), check_val_every_n_epoch=None,
            num_sanity_val_steps=0, callbacks=callbacks, logger=self.loggers,
            default_root_dir=str(self.output_dir), detect_anomaly=bool(self.cfg.debug),
            plugins=[AtomicCheckpointIO(), *slurm_plugins()],
        )

    def run(self) -> None:
        if not self._awaits_tokenizer:
            self.algorithm  # build (and load) first: a bad checkpoint fails before any log opens
        super().run()

    # ----- tasks -------------------------------------------------------------------------
    def tokenizer(self) -> None:
        """Frames: train the run's frame tokenizer (experiments/tokenizer_task.py), or say which
        one it reuses (`dataset.tokenizer.load`, a resumed run's own, `load=`'s)."""
        from experiments.tokenizer_task import train_tokenizer, wait_for_tokenizer

        if not self._awaits_tokenizer:
            print("tokenizer: reusing the one above; nothing to train", flush=True)
            return
        if self.trainer.is_global_zero:
            device = resolve_device(self.cfg.experiment.training.accelerator)
            train_tokenizer(self.cfg, self.datamodule, self.output_dir, device, self.loggers)
        else:  # DDP: the other ranks read what rank 0 trains
            wait_for_tokenizer(self.datamodule, self.output_dir)
        self.algorithm  # built now that the tokens exist

    def play(self) -> None:
        """Frames: serve a page on 127.0.0.1 that plays the model live, one network call per
        action (experiments/play/task.py; `experiment.play.*`)."""
        from experiments.play.task import run_play

        run_play(self.cfg, self.datamodule, self.output_dir)

    def training(self) -> None:
        if not getattr(self.algorithm, "trainable", True):
            print(f"training: algorithm={self.cfg.algorithm.name} fits each context it forecasts "
                  f"from; nothing to train", flush=True)
            return
        warn_short_ema(self.cfg)
        ckpt = self.resume_checkpoint
        if ckpt is not None:
            print(f"resumed {self.cfg.resume} from {ckpt} at step {read_global_step(ckpt)}",
                  flush=True)
        start_step = read_global_step(ckpt) if ckpt is not None else 0
        start = time.perf_counter()
        try:
            self.trainer.fit(self.algorithm, datamodule=self.datamodule,
                             ckpt_path=str(ckpt) if ckpt else None)
        except NonFiniteLossError as error:
            good = sorted((self.output_dir / "checkpoints").glob("step_*.ckpt"))
            where = (f"last good checkpoint: {good[-1]} (resume with resume={self.output_dir}, "
                     f"or allow skips with experiment.training.max_bad_steps=N)"
                     if good else "no checkpoint was written before it")
            raise TrainingStopped(f"{error}; training stopped; {where}") from None
        self._write_throughput(start_step, time.perf_counter() - start)

    def _write_throughput(self, start_step: int, seconds: float) -> None:
        """`training/metrics.json`: the steps this process trained and the wall time of its
        `fit` (validation and checkpoints included), so `steps_per_second` is what a user waits."""
        if not self.trainer.is_global_zero:
            return
        steps = self.trainer.global_step - start_step
        if steps <= 0:  # nothing trained (e.g. already at max_steps): keep what a run wrote before
            return
        throughput = {"start_step": start_step, "end_step": self.trainer.global_step,
                      "steps": steps, "fit_seconds": seconds,
                      "steps_per_second": steps / seconds,
                      "batch_size": self.cfg.experiment.training.batch_size,
                      "device": str(self.algorithm.device)}
        (self.output_dir / "training").mkdir(parents=True, exist_ok=True)
        write_json(throughput, self.output_dir / "training" / "metrics.json")
        print(f"training: {steps} steps in {seconds:.1f} s ({steps / seconds:.3g} steps/s)",
              flush=True)

    def validation(self) -> None:
        self.trainer.validate(self.algorithm, datamodule=self.datamodule)

    def test(self) -> None:
        self.trainer.test(self.algorithm, datamodule=self.datamodule)

    def rollout(self) -> None:
        """Generate `experiment.rollout.num_samples` sequences of `horizon` tokens per NFE value
        and write `samples.npz`, `metrics.json`, `curves.json`/`.csv` (metrics per window over the
        horizon) and plots under `rollout/`; with several NFE values, also `nfe_curve.json`/`.csv`/
        `.png` (metrics and µs per token against NFE)."""
        from utils.curves import COST_METRICS, log_curves, nfe_curve, write_columns
        from utils.plotting import plot_nfe_curve

        if not self.trainer.is_global_zero:
            return
        r = self.cfg.experiment.rollout
        nfes = list(r.nfe) if isinstance(r.nfe, ListConfig) else [r.nfe]
        horizons = eval_horizons(r.eval_horizons, r.horizon)
        device = resolve_device(self.cfg.experiment.training.accelerator)
        algo = self.algorithm.to(device)
        metrics_by_nfe = []
        for nfe in nfes:
            out_dir = self.output_dir / "rollout" / (f"nfe_{nfe}" if len(nfes) > 1 else "")
            out_dir.mkdir(parents=True, exist_ok=True)
            calibration = fit_rollout_calibration(self.cfg, self.datamodule, algo, nfe, out_dir)
            start = time.perf_counter()
            samples, real = conditioned_rollout(algo, self.datamodule, r.num_samples, r.horizon,
                                                nfe, r.batch_size, self.cfg.seed,
                                                r.context_tokens)
            seconds = time.perf_counter() - start
            save_samples(samples, out_dir / "samples.npz")
            if real is not None:  # what the rollouts were conditioned on (context, given channels)
                save_samples(real, out_dir / "conditioning.npz")
            metrics = {"algorithm": self.cfg.algorithm.name, "nfe": nfe,
                       "context_tokens": r.context_tokens,
                       **self._evaluate_at_horizons(samples, horizons),
                       **({"calibration": calibration} if calibration != "none" else {}),
                       **({"clip": "data"} if getattr(algo, "token_bounds", None) is not None
                          else {}),
                       "generation_seconds": seconds,
                       "us_per_token_per_stream": 1e6 * seconds / (r.num_samples * r.horizon),
                       "device": str(device)}
            write_json(metrics, out_dir / "metrics.json")
            curves = self.datamodule.curves(samples)
            write_columns(curves, out_dir, "curves")
            plots = self.datamodule.plot(samples, out_dir, curves=curves,
                                         title=f"{self.cfg.algorithm.name}, {nfe} NFE")
            self._log_rollout(metrics, plots, nfe)
            log_curves(self.loggers, f"rollout/nfe_{nfe}/curves", curves, x="window_end",
                       step=self.trainer.global_step,
                       title=f"(training length {self.datamodule.train_length})")
            metrics_by_nfe.append(metrics)
            print(f"rollout ({nfe} NFE): {out_dir}\n"
                  + summarise(metrics, self.datamodule.METRICS), flush=True)
        if len(nfes) > 1:
            curve = nfe_curve(metrics_by_nfe)
            write_columns(curve, self.output_dir / "rollout", "nfe_curve")
            keys = [k for k in (*self.datamodule.METRICS.headline, *COST_METRICS)
                    if k in curve]
            figure = plot_nfe_curve(curve, self.output_dir / "rollout" / "nfe_curve.png", keys,
                                    title=f"{self.cfg.algorithm.name}: one network, K steps per token")
            log_curves(self.loggers, "rollout/nfe_curve", curve, x="nfe",
                       step=self.trainer.global_step, figure=figure)

    def forecast(self) -> None:
        """Probabilistic forecasts on the dataset's forecast windows (recorded data: rolling
        windows of the test part; generated data: fresh draws): `experiment.forecast.num_samples`
        paths per window from `context_tokens` real tokens, per NFE value, scored by
        `utils.metrics.probabilistic.forecast_scores` into `forecast/[nfe_<K>/]metrics.json`, with
        the paths (`samples.npz`, `[W·M, H, G + C]`), the windows, a figure of forecast fans and
        the dataset's columns over the horizon (`forecast_curves.json`/`.csv`, where it has
        any: a simulator's state error per step)."""
        from utils.curves import write_columns

        if not self.trainer.is_global_zero:
            return
        f, data = self.cfg.experiment.forecast, self.datamodule
        nfes = list(f.nfe) if isinstance(f.nfe, ListConfig) else [f.nfe]
        algo = self.algorithm.to(resolve_device(self.cfg.experiment.training.accelerator))
        windows = data.forecast_windows(f.context_tokens, f.horizon, f.num_windows)
        G = data.token_dim
        for nfe in nfes:
            out_dir = self.output_dir / "forecast" / (f"nfe_{nfe}" if len(nfes) > 1 else "")
            out_dir.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            paths = forecast_ensembles(algo, windows, f.context_tokens, f.num_samples, nfe,
                                       f.batch_size, self.cfg.seed, G, data.given_dim)
            seconds = time.perf_counter() - start
            save_samples(paths.flatten(0, 1), out_dir / "samples.npz")
            save_samples(windows, out_dir / "windows.npz")
            truth = windows[:, f.context_tokens:, :G]
            scores, curves = data.forecast_evaluation(paths[..., :G], truth)
            if curves:
                write_columns(curves, out_dir, "forecast_curves")
            W, M, H = paths.shape[:3]
            metrics = {"algorithm": self.cfg.algorithm.name, "nfe": nfe,
                       "context_tokens": f.context_tokens, "forecast_horizon": H,
                       "num_windows": W, "num_samples": M, **scores,
                       "forecast_seconds": seconds,
                       "forecast_us_per_token_per_stream": 1e6 * seconds / (W * M * H),
                       "device": str(algo.device) if hasattr(algo, "device") else "cpu"}
            write_json(metrics, out_dir / "metrics.json")
            plots = data.plot_forecast(windows, paths, out_dir, f.context_tokens,
                                       title=f"{self.cfg.algorithm.name}, {nfe} NFE")
            self._log_rollout(metrics, plots, nfe, task="forecast")
            print(f"forecast ({nfe} NFE, {W} windows x {M} paths): {out_dir}\n  "
                  + "  ".join(f"{k}={number(scores[k])}" for k in FORECAST_SUMMARY), flush=True)

    def planning(self) -> None:
        """Maze datasets: plan each of `experiment.planning.num_pairs` fixed start/goal pairs with
        the model (goal-conditioned rollouts, per NFE value), execute the plans in the real
        simulator, and write `planning/[nfe_<K>/]metrics.json` (success rate, steps to the goal,
        planning time, and the straight-line and expert references on the same pairs), the plans
        and a figure of them on the maze (experiments/planning.py)."""
        from experiments.planning import run_planning

        if not self.trainer.is_global_zero:
            return
        p, data = self.cfg.experiment.planning, self.datamodule
        nfes = list(p.nfe) if isinstance(p.nfe, ListConfig) else [p.nfe]
        algo = self.algorithm.to(resolve_device(self.cfg.experiment.training.accelerator))
        for nfe in nfes:
            out_dir = self.output_dir / "planning" / (f"nfe_{nfe}" if len(nfes) > 1 else "")
            scores = run_planning(algo, data, p, nfe, self.cfg.seed, out_dir)
            metrics = {"algorithm": self.cfg.algorithm.name, "nfe": nfe, **scores}
            write_json(metrics, out_dir / "metrics.json")
            self._log_rollout(metrics, {"plans": out_dir / "plans.png"}, nfe, task="planning")
            print(f"planning ({nfe} NFE, {scores['num_pairs']} pairs): {out_dir}\n  "
                  + "  ".join(f"{k}={number(scores[k])}" for k in PLANNING_SUMMARY), flush=True)

    def _evaluate_at_horizons(self, samples: Tensor, horizons: list[int]) -> dict[str, Any]:
        """The dataset's metrics of the whole rollouts under their plain names, then for every
        prefix length H in `horizons` (the full horizon included) those of `samples[:, :H]` as
        `<metric>@<H>`, and `eval_horizons`."""
        full = self.datamodule.evaluate(samples)
        metrics: dict[str, Any] = {**full, "eval_horizons": horizons}
        for h in horizons:
            scores = full if h == samples.shape[1] else self.datamodule.evaluate(samples[:, :h])
            metrics.update({f"{k}@{h}": v for k, v in scores.items() if k not in DESCRIPTIVE_KEYS})
        return metrics

    def _log_rollout(self, metrics: dict, plots: dict[str, Path], nfe: int,
                     task: str = "rollout") -> None:
        numbers = {f"{task}/nfe_{nfe}/{k}": v for k, v in metrics.items()
                   if isinstance(v, (int, float))}
        step = self.trainer.global_step
        for logger in self.loggers:
            logger.log_metrics(numbers, step=step)
            if isinstance(logger, WandbLogger):
                logger.experiment.summary.update(numbers)
                for name, path in plots.items():
                    if Path(path).suffix == ".gif":  # rollouts beside the real episodes
                        import wandb

                        logger.experiment.log({f"{task}/nfe_{nfe}/{name}": wandb.Video(
                            str(path), format="gif")}, step=step)
                        continue
                    logger.log_image(key=f"{task}/nfe_{nfe}/{name}", images=[str(path)],
                                     step=step)
            logger.save()


def warn_short_ema(cfg: DictConfig) -> None:
    """One warning line when the run is too short for its EMA: after n steps an EMA of decay d
    still holds d^n of the initial weights, and generation uses the EMA."""
    ema, steps = cfg.algorithm.get("ema") or {}, int(cfg.experiment.training.max_steps)
    decay = ema.get("decay")
    from pytorch_lightning.utilities import rank_zero_only

    if decay and ema.get("generate", True) and decay ** steps > 0.05 and rank_zero_only.rank == 0:
        print(f"warning: after experiment.training.max_steps={steps} the EMA "
              f"(algorithm.ema.decay={decay}) still holds {decay ** steps:.0%} of the initial "
              f"weights, and generation uses it; train longer, or set algorithm.ema.generate=false "
              f"or a smaller algorithm.ema.decay", flush=True)


class TrainingStopped(RuntimeError):
    """Training stopped on purpose (e.g. a non-finite loss); `main` prints it as one line."""
