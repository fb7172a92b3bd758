"""The run's components as its config asks for them: the dataset, the algorithm built on the
dataset's token size and statistics, and every `auto` choice resolved for that dataset (the
algorithm gets the dataset's declared symmetries handed in)."""

from __future__ import annotations

import copy
from pathlib import Path

from omegaconf import DictConfig, OmegaConf


def declared_symmetries(cfg: DictConfig) -> frozenset[str]:
    """What the run's dataset declares of its dynamics (`SequenceDataModule.SYMMETRIES`)."""
    from datasets import DATASET_REGISTRY

    dataset = DATASET_REGISTRY.get(OmegaConf.select(cfg, "dataset.name", default=""))
    return frozenset(getattr(dataset, "SYMMETRIES", frozenset()))


def resolve_auto(cfg: DictConfig) -> None:
    """Every `auto` choice of the root config replaced, in place, by what it means for this run
    (`algorithms.base.config_checks.resolve_auto`, given the dataset's declared symmetries)."""
    from algorithms.base.config_checks import resolve_auto as resolve_algorithm_auto
    from datasets import DATASET_REGISTRY

    dataset = DATASET_REGISTRY.get(OmegaConf.select(cfg, "dataset.name", default=""))
    kwargs = {"noise_unit": dataset.NOISE_UNIT} if hasattr(dataset, "NOISE_UNIT") else {}
    resolve_algorithm_auto(cfg, declared_symmetries(cfg), **kwargs)


def build_datamodule(cfg: DictConfig, output_dir: Path | None = None):  # -> SequenceDataModule
    """The run's dataset, as the experiment builds it; frames with the run's tokenizer attached
    where there is one yet (`experiments.tokenizer_task.tokenizer_path`; `output_dir`: the run
    folder, whose own tokenizer comes first)."""
    from datasets import DATASET_REGISTRY

    t = cfg.experiment.training
    data = DATASET_REGISTRY[cfg.dataset.name](cfg.dataset, seed=cfg.seed,
                                              batch_size=t.batch_size, max_steps=t.max_steps)
    if hasattr(data, "attach_tokenizer"):  # frames: tokens through the run's tokenizer
        from experiments.tokenizer_task import attach_tokenizer, tokenizer_path

        path = tokenizer_path(cfg, output_dir)
        if path is not None:
            attach_tokenizer(data, path)
            if output_dir is not None:
                print(f"tokenizer: {path}", flush=True)
    return data


def build_algorithm(cfg: DictConfig, data=None):  # -> TrajectoryModel, with fresh weights
    """The run's algorithm on its dataset's token size and statistics (`auto` resolved on a
    copy; `data`: the dataset if already built)."""
    from algorithms import ALGORITHM_REGISTRY

    cfg = copy.deepcopy(cfg)
    resolve_auto(cfg)
    data = build_datamodule(cfg) if data is None else data
    algorithm = ALGORITHM_REGISTRY[cfg.algorithm.name]
    if not getattr(algorithm, "trainable", True):  # a classical forecaster: fitted per context
        return algorithm(cfg.algorithm, data.token_dim, data.given_dim, seed=cfg.seed)
    return algorithm(cfg.algorithm, cfg.experiment.training, data.token_dim, data.statistics(),
                     seed=cfg.seed)
