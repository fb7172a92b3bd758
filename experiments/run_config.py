"""The whole config of one run checked where every group's registry is in reach: each group
by its owner, plus the rules between groups (the moving frame needs data that declare its
symmetries) and the cluster's keys.

`main.py`, the command-line checks and the benchmarks call this; the lower floors (`utils/`,
`algorithms/`, `datasets/`) get what they need handed in and never import a registry."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from experiments.components import declared_symmetries
from utils.config_checks import ConfigError, validate


def registries() -> dict[str, dict[str, Any]]:
    """Each config group's classes by name (imports them, hence torch and Lightning)."""
    from algorithms import ALGORITHM_REGISTRY
    from datasets import DATASET_REGISTRY
    from experiments import EXPERIMENT_REGISTRY

    return {"dataset": DATASET_REGISTRY, "algorithm": ALGORITHM_REGISTRY,
            "experiment": EXPERIMENT_REGISTRY}


def validate_config(cfg: DictConfig) -> None:
    """Raise `ConfigError` (one line naming the key) on the first bad value of the root config."""
    from algorithms.base.config_checks import check_frame_symmetries

    validate(cfg, registries())
    check_frame_symmetries(cfg, declared_symmetries(cfg))
    check_burn_in_length(cfg)
    check_calibration_data(cfg)
    if cfg.get("cluster") is not None:  # cluster=<name>: its keys, checked beside the Slurm code
        from utils.cluster.config_checks import check_cluster_config

        check_cluster_config(cfg)


def check_burn_in_length(cfg: DictConfig) -> None:
    """`algorithm.burn_in.loss_tokens` fits in the training sequences (`dataset.train_length`,
    the key every dataset names them by)."""
    n = OmegaConf.select(cfg, "algorithm.burn_in.loss_tokens", default=None)
    length = OmegaConf.select(cfg, "dataset.train_length", default=None)
    if n is not None and length is not None and n > length:
        raise ConfigError(f"algorithm.burn_in.loss_tokens={n}: more than the {length} tokens of "
                          f"the dataset's training sequences; choose at most {length} or raise "
                          f"dataset.train_length")


def check_calibration_data(cfg: DictConfig) -> None:
    """`algorithm.sampling.calibration` needs real sequences of the dataset's own calibration
    stream (`SequenceDataModule.calibration_sequences`): circles give them."""
    from datasets import DATASET_REGISTRY

    kind = OmegaConf.select(cfg, "algorithm.sampling.calibration", default=None)
    dataset = DATASET_REGISTRY.get(OmegaConf.select(cfg, "dataset.name", default=""))
    if kind not in (None, "none") and dataset is not None and not dataset.supports_calibration():
        supported = sorted(n for n, d in DATASET_REGISTRY.items() if d.supports_calibration())
        raise ConfigError(f"algorithm.sampling.calibration={kind}: dataset "
                          f"{cfg.dataset.name} gives no calibration sequences; it runs on "
                          f"{', '.join(supported)} (or set it to none)")
