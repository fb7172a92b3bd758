"""Entry point: `python -m main [group=choice ...] [key=value ...]`.

Hydra composes `configurations/config.yaml` with one `experiment`, `algorithm` and `dataset`
YAML each; the experiment then runs its `experiment.tasks` in order. Examples:

    python -m main                                  # train the one-step model, roll it out
    python -m main algorithm=predictive             # the deterministic baseline
    python -m main resume=<wandb id or run folder>  # continue a run where it stopped
    python -m main load=<ckpt, run or id> experiment.tasks=[rollout]

The command line is checked before Hydra runs (`experiments/command_line.py`): bad input gets one
line on stderr and exit code 2, and no run folder is created or touched.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

# `${suffix:x}` -> "_x", or "" when x is empty: an optional `+name=` in the run folder's name.
OmegaConf.register_new_resolver("suffix", lambda x: f"_{x}" if x else "", replace=True)


@hydra.main(config_path="configurations", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from utils.cluster import in_cluster_job

    if cfg.get("cluster") is not None and not in_cluster_job():
        from utils.cluster.submit import queue_submission

        queue_submission(cfg)  # cluster=<name>: submitted once Hydra returns, not trained here
        return
    # Heavy imports happen here, after Hydra parsed the command line (so --help is quick).
    import pytorch_lightning as pl
    import torch

    from experiments import EXPERIMENT_REGISTRY
    from experiments.command_line import fail
    from experiments.components import resolve_auto
    from experiments.run_config import validate_config
    from experiments.sequence_generation import TrainingStopped
    from utils.config_checks import ConfigError
    from utils.loggers import finish_wandb
    from utils.run_info import update_run_info

    try:
        validate_config(cfg)
        resolve_auto(cfg)  # frame=auto -> heading or global, as the data declare; num_layers=auto
        output_dir = Path(HydraConfig.get().runtime.output_dir)
        run_name = cfg.get("name") or f"{cfg.algorithm.name}_{cfg.dataset.name}"
        print(f"outputs: {output_dir}", flush=True)
        pl.seed_everything(cfg.seed, workers=True, verbose=False)
        torch.set_float32_matmul_precision(cfg.experiment.training.float32_matmul_precision)
        experiment = EXPERIMENT_REGISTRY[cfg.experiment.name](cfg, output_dir, run_name)
        try:
            experiment.run()
        finally:
            finish_wandb()
        if pl.utilities.rank_zero_only.rank == 0:
            update_run_info(output_dir, status="finished")
        print(f"done; outputs: {output_dir}", flush=True)
    except ConfigError as error:
        fail(str(error))
    except TrainingStopped as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    from experiments.command_line import prepare

    sys.argv = [sys.argv[0], *prepare(sys.argv[1:])]
    main()
    from utils.cluster.submit import submit_queued

    submit_queued()  # cluster=<name>: every run Hydra composed above, as Slurm job(s)
