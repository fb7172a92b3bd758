"""Entry point: `python -m main [group=choice ...] [key=value ...]`.

Hydra composes `configurations/config.yaml` with one `experiment`, `algorithm` and `dataset`
YAML each; the experiment then runs its `experiment.tasks` in order. Examples:

    python -m main                                  # train the one-step model, roll it out
    python -m main algorithm=predictive             # the deterministic baseline
    python -m main load=<ckpt> experiment.tasks=[rollout]
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

CONFIG_DIR = Path(__file__).resolve().parent / "configurations"
GROUPS = ("experiment", "algorithm", "dataset")

# `${suffix:x}` -> "_x", or "" when x is empty: an optional `+name=` in the run folder's name.
OmegaConf.register_new_resolver("suffix", lambda x: f"_{x}" if x else "", replace=True)


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


def check_group_choices(argv: list[str]) -> None:
    """Catch `algorithm=nope` before Hydra, whose own message spans many lines. A multirun's
    `a,b` is checked name by name; other sweep syntax (`choice(...)`, ...) is left to Hydra."""
    for arg in argv:
        key, sep, value = arg.lstrip("+~").partition("=")
        if not sep or key not in GROUPS or "(" in value:
            continue
        for name in value.split(","):
            if name not in group_options(key):
                fail(f"{key}={name}: unknown; choose one of {', '.join(group_options(key))}")


@hydra.main(config_path="configurations", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    # Heavy imports happen here, after Hydra parsed the command line (so --help is quick).
    import pytorch_lightning as pl
    import torch

    from algorithms import ALGORITHM_REGISTRY
    from datasets import DATASET_REGISTRY
    from experiments import EXPERIMENT_REGISTRY
    from utils.config_checks import ConfigError, validate
    from utils.loggers import finish_wandb

    try:
        validate(cfg, list(ALGORITHM_REGISTRY), list(DATASET_REGISTRY), list(EXPERIMENT_REGISTRY))
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
        print(f"done; outputs: {output_dir}", flush=True)
    except ConfigError as error:
        fail(str(error))


if __name__ == "__main__":
    check_group_choices(sys.argv[1:])
    main()
