"""Checks of the composed config before anything is built: each failure is one line naming
the key, the value and what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, ListConfig, OmegaConf

PRECISIONS = ("32-true", "32", "64-true", "64", "bf16-mixed", "bf16-true", "16-mixed", "16-true")
WANDB_MODES = ("offline", "online", "disabled")


class ConfigError(ValueError):
    """A bad value in the config: `main` prints its message as one line and exits with 2."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def positive_int(v: Any) -> bool:
    return _is_int(v) and v >= 1


def positive(v: Any) -> bool:
    return _is_number(v) and v > 0


def non_negative(v: Any) -> bool:
    return _is_number(v) and v >= 0


def probability(v: Any) -> bool:
    return _is_number(v) and 0 <= v <= 1


def one_of(*allowed: Any) -> Callable[[Any], bool]:
    return lambda v: v in allowed


def check(cfg: DictConfig, key: str, ok: Callable[[Any], bool], allowed: str) -> Any:
    value = OmegaConf.select(cfg, key, throw_on_missing=False, default="<missing>")
    if value == "<missing>" or not ok(value):
        raise ConfigError(f"{key}={value}: must be {allowed}")
    return value


def check_choice(cfg: DictConfig, key: str, allowed: tuple | list) -> Any:
    return check(cfg, key, lambda v: v in allowed, f"one of {', '.join(map(str, allowed))}")


def validate(cfg: DictConfig, algorithms: list[str], datasets: list[str],
             experiments: list[str]) -> None:
    """Raise `ConfigError` on the first bad value; registries give the allowed names."""
    from algorithms.common.backbones import BACKBONES
    from algorithms.common.context import CORRUPTIONS, FEATURES
    from algorithms.common.token_space import TOKEN_SPACES
    from algorithms.flow_forcing.time_sampler import TIME_SAMPLERS

    check(cfg, "seed", lambda v: _is_int(v) and v >= 0, "a non-negative integer")
    check_choice(cfg, "wandb.mode", WANDB_MODES)
    check_choice(cfg, "experiment.name", experiments)
    check_choice(cfg, "algorithm.name", algorithms)
    check_choice(cfg, "dataset.name", datasets)

    # dataset
    train_length = check(cfg, "dataset.train_length", lambda v: _is_int(v) and v >= 3,
                         "an integer >= 3")
    check(cfg, "dataset.rollout_horizon", lambda v: _is_int(v) and v >= train_length,
          f"an integer >= dataset.train_length ({train_length})")
    for key in ("radius", "dt"):
        check(cfg, f"dataset.{key}", positive, "a positive number")
    check(cfg, "dataset.angular_speed", lambda v: _is_number(v) and v != 0, "a non-zero number")
    check(cfg, "dataset.noise_std", non_negative, "a non-negative number")
    low = check(cfg, "dataset.centre_low", _is_number, "a number")
    check(cfg, "dataset.centre_high", lambda v: _is_number(v) and v > low,
          f"a number above dataset.centre_low ({low})")
    check(cfg, "dataset.num_eval_batches", positive_int, "a positive integer")

    # algorithm
    check_choice(cfg, "algorithm.backbone.name", BACKBONES)
    check(cfg, "algorithm.backbone.hidden_size", positive_int, "a positive integer")
    check(cfg, "algorithm.backbone.num_layers", positive_int, "a positive integer")
    check(cfg, "algorithm.backbone.dropout", lambda v: _is_number(v) and 0 <= v < 1, "in [0, 1)")
    token_space = check_choice(cfg, "algorithm.token_space", TOKEN_SPACES)
    corruption = check_choice(cfg, "algorithm.context.corruption", CORRUPTIONS)
    if corruption == "surrogate" and token_space != "absolute":
        raise ConfigError("algorithm.context.corruption=surrogate: needs "
                          "algorithm.token_space=absolute (the seed's recipe)")
    if corruption == "surrogate" and cfg.algorithm.name != "flow_forcing":
        raise ConfigError(f"algorithm.context.corruption=surrogate: only flow_forcing draws flow "
                          f"times, not {cfg.algorithm.name}")
    check(cfg, "algorithm.context.noise_max", non_negative, "a non-negative number")
    check(cfg, "algorithm.context.features",
          lambda v: isinstance(v, ListConfig) and len(v) > 0 and set(v) <= set(FEATURES),
          f"a non-empty list from {list(FEATURES)}")
    check(cfg, "algorithm.head.width", positive_int, "a positive integer")
    check(cfg, "algorithm.head.depth", lambda v: _is_int(v) and v >= 0, "a non-negative integer")
    check(cfg, "algorithm.head.time_dim", lambda v: positive_int(v) and v % 2 == 0,
          "a positive even integer")
    check_choice(cfg, "algorithm.head.prediction", ("endpoint", "velocity"))
    check(cfg, "algorithm.ema.decay", lambda v: v is None or (_is_number(v) and 0 <= v < 1),
          "null or a number in [0, 1)")
    if cfg.algorithm.name == "flow_forcing":
        check_choice(cfg, "algorithm.time_sampler.kind", TIME_SAMPLERS)
        check(cfg, "algorithm.time_sampler.full_jump_prob", probability, "in [0, 1]")
        check(cfg, "algorithm.loss.flow_weight", non_negative, "a non-negative number")
        check(cfg, "algorithm.loss.shortcut_weight", non_negative, "a non-negative number")

    # experiment
    check(cfg, "experiment.tasks", lambda v: isinstance(v, ListConfig) and len(v) > 0,
          "a non-empty list of task names, e.g. [training,rollout]")
    t = "experiment.training"
    for key in ("max_steps", "batch_size", "num_nodes", "log_every_n_steps",
                "checkpoint_every_n_steps"):
        check(cfg, f"{t}.{key}", positive_int, "a positive integer")
    for key in ("lr",):
        check(cfg, f"{t}.{key}", positive, "a positive number")
    for key in ("weight_decay", "warmup_steps", "gradient_clip_val"):
        check(cfg, f"{t}.{key}", non_negative, "a non-negative number")
    check(cfg, f"{t}.min_lr_ratio", probability, "in [0, 1]")
    check(cfg, f"{t}.betas", lambda v: isinstance(v, ListConfig) and len(v) == 2
          and all(probability(b) for b in v), "two numbers in [0, 1]")
    check_choice(cfg, f"{t}.lr_schedule", ("cosine", "constant"))
    check(cfg, f"{t}.precision", lambda v: str(v) in PRECISIONS, f"one of {', '.join(PRECISIONS)}")
    check(cfg, f"{t}.devices", lambda v: positive_int(v) or v == "auto", "a positive integer or auto")
    check_choice(cfg, f"{t}.accelerator", ("auto", "cpu", "gpu", "cuda", "mps"))
    check_choice(cfg, f"{t}.float32_matmul_precision", ("highest", "high", "medium"))
    check(cfg, f"{t}.compile", lambda v: isinstance(v, bool), "true or false")
    for group in ("validation", "rollout"):
        g = f"experiment.{group}"
        check(cfg, f"{g}.num_samples", positive_int, "a positive integer")
        check(cfg, f"{g}.horizon", lambda v: _is_int(v) and v >= train_length,
              f"an integer >= dataset.train_length ({train_length})")
    check(cfg, "experiment.validation.every_n_steps", positive_int, "a positive integer")
    check(cfg, "experiment.validation.nfe", positive_int, "a positive integer")
    check(cfg, "experiment.rollout.nfe", lambda v: positive_int(v) or (
        isinstance(v, ListConfig) and len(v) > 0 and all(positive_int(n) for n in v)),
        "a positive integer or a non-empty list of them, e.g. [1,2,4]")
    check(cfg, "experiment.rollout.batch_size", positive_int, "a positive integer")
    for key in ("load", "resume"):
        check(cfg, key, lambda v: v is None or (isinstance(v, str) and v != ""),
              "null, a run folder, a checkpoint file (load) or a wandb run id")
    check(cfg, "run_roots", lambda v: isinstance(v, ListConfig) and all(isinstance(r, str) for r in v),
          "a list of folders, e.g. [outputs,multirun]")
    check(cfg, f"{t}.max_bad_steps", lambda v: _is_int(v) and v >= 0, "a non-negative integer")


def validate_config(cfg: DictConfig) -> None:
    """`validate` with the registries' names (imports the registries, hence torch)."""
    from algorithms import ALGORITHM_REGISTRY
    from datasets import DATASET_REGISTRY
    from experiments import EXPERIMENT_REGISTRY

    validate(cfg, list(ALGORITHM_REGISTRY), list(DATASET_REGISTRY), list(EXPERIMENT_REGISTRY))
    allowed = EXPERIMENT_REGISTRY[cfg.experiment.name].available_tasks()
    unknown = [t for t in cfg.experiment.tasks if t not in allowed]
    if unknown:
        raise ConfigError(f"experiment.tasks: unknown task {unknown[0]!r}; "
                          f"allowed: {', '.join(allowed)}")
