"""Checks of the `experiment` keys of experiments that train with Lightning and roll out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

from utils.config_checks import (
    check,
    check_choice,
    is_int,
    non_negative,
    positive,
    positive_int,
    probability,
)


@dataclass
class TrainingSchema:
    max_steps: int = MISSING
    batch_size: int = MISSING
    lr: float = MISSING
    weight_decay: float = MISSING
    betas: list[float] = MISSING
    lr_schedule: str = MISSING
    warmup_steps: int = MISSING
    min_lr_ratio: float = MISSING
    gradient_clip_val: float = MISSING
    precision: str = MISSING
    accelerator: str = MISSING
    devices: Any = MISSING  # an integer or "auto"
    num_nodes: int = MISSING
    strategy: str = MISSING
    log_every_n_steps: int = MISSING
    checkpoint_every_n_steps: int = MISSING
    max_bad_steps: int = MISSING
    compile: bool = MISSING
    float32_matmul_precision: str = MISSING


@dataclass
class ValidationSchema:
    every_n_steps: int = MISSING
    num_samples: int = MISSING
    horizon: int = MISSING
    nfe: int = MISSING
    context_tokens: int = MISSING


@dataclass
class RolloutSchema:
    num_samples: int = MISSING
    horizon: int = MISSING
    eval_horizons: Optional[list[int]] = MISSING  # null: the full horizon only
    nfe: Any = MISSING  # an integer or a list of them
    batch_size: int = MISSING
    context_tokens: int = MISSING


@dataclass
class ForecastSchema:
    context_tokens: int = MISSING
    horizon: int = MISSING
    num_windows: int = MISSING
    num_samples: int = MISSING
    nfe: Any = MISSING  # an integer or a list of them
    batch_size: int = MISSING


@dataclass
class PlaySchema:
    host: str = MISSING
    port: int = MISSING
    nfe: Any = MISSING  # an integer or a list of them
    compare: Any = None  # a run folder, checkpoint or wandb id
    compare_nfe: Any = MISSING
    max_seconds: Any = None


@dataclass
class PlanningSchema:
    num_pairs: int = MISSING
    horizon: int = MISSING
    max_steps: int = MISSING
    num_candidates: int = MISSING
    nfe: Any = MISSING  # an integer or a list of them
    batch_size: int = MISSING
    pairs_seed: int = MISSING
    success_radius: float = MISSING
    lookahead: int = MISSING


@dataclass
class TrainingExperimentSchema:
    """The keys and types of an experiment that trains with Lightning and rolls out (values in
    its YAML); OmegaConf checks them, `check_training_config` the ranges."""
    name: str = MISSING
    tasks: list[str] = MISSING
    training: TrainingSchema = field(default_factory=TrainingSchema)
    validation: ValidationSchema = field(default_factory=ValidationSchema)
    rollout: RolloutSchema = field(default_factory=RolloutSchema)
    forecast: ForecastSchema = field(default_factory=ForecastSchema)
    planning: PlanningSchema = field(default_factory=PlanningSchema)
    play: PlaySchema = field(default_factory=PlaySchema)


PRECISIONS = ("32-true", "32", "64-true", "64", "bf16-mixed", "bf16-true", "16-mixed", "16-true")


def check_training_config(cfg: DictConfig, tasks: list[str]) -> None:
    """Raise `ConfigError` naming the first bad `experiment.*` key; `tasks`: the allowed ones."""
    check(cfg, "experiment.tasks", lambda v: isinstance(v, (ListConfig, list)) and len(v) > 0
          and all(task in tasks for task in v),
          f"a non-empty list of tasks from {', '.join(tasks)}")
    t = "experiment.training"
    for key in ("max_steps", "batch_size", "num_nodes", "log_every_n_steps",
                "checkpoint_every_n_steps"):
        check(cfg, f"{t}.{key}", positive_int, "a positive integer")
    check(cfg, f"{t}.lr", positive, "a positive number")
    for key in ("weight_decay", "warmup_steps", "gradient_clip_val"):
        check(cfg, f"{t}.{key}", non_negative, "a non-negative number")
    check(cfg, f"{t}.max_bad_steps", lambda v: is_int(v) and v >= 0, "a non-negative integer")
    check(cfg, f"{t}.min_lr_ratio", probability, "in [0, 1]")
    check(cfg, f"{t}.betas", lambda v: isinstance(v, ListConfig) and len(v) == 2
          and all(probability(b) for b in v), "two numbers in [0, 1]")
    check_choice(cfg, f"{t}.lr_schedule", ("cosine", "constant"))
    check(cfg, f"{t}.precision", lambda v: str(v) in PRECISIONS, f"one of {', '.join(PRECISIONS)}")
    check(cfg, f"{t}.devices", lambda v: positive_int(v) or v == "auto", "a positive integer or auto")
    check_choice(cfg, f"{t}.accelerator", ("auto", "cpu", "gpu", "cuda", "mps"))
    check_choice(cfg, f"{t}.float32_matmul_precision", ("highest", "high", "medium"))
    check(cfg, f"{t}.compile", lambda v: isinstance(v, bool), "true or false")
    train_length = cfg.dataset.train_length
    for group in ("validation", "rollout"):
        g = f"experiment.{group}"
        check(cfg, f"{g}.num_samples", positive_int, "a positive integer")
        check(cfg, f"{g}.horizon", lambda v: is_int(v) and v >= train_length,
              f"an integer >= dataset.train_length ({train_length})")
    check(cfg, "experiment.validation.every_n_steps", positive_int, "a positive integer")
    check(cfg, "experiment.validation.nfe", positive_int, "a positive integer")
    for group in ("rollout", "forecast", "planning"):
        check(cfg, f"experiment.{group}.nfe", lambda v: positive_int(v) or (
            isinstance(v, ListConfig) and len(v) > 0 and all(positive_int(n) for n in v)),
            "a positive integer or a non-empty list of them, e.g. [1,2,4]")
        check(cfg, f"experiment.{group}.batch_size", positive_int, "a positive integer")
    for group in ("validation", "rollout", "forecast"):
        check(cfg, f"experiment.{group}.context_tokens", lambda v: is_int(v) and v >= 0,
              "a non-negative integer")
    for key in ("horizon", "num_windows", "num_samples"):
        check(cfg, f"experiment.forecast.{key}", positive_int, "a positive integer")
    if "forecast" in cfg.experiment.tasks:
        check(cfg, "experiment.forecast.context_tokens", lambda v: is_int(v) and v >= 1,
              "a positive integer (a forecast reads a real past)")
    for key in ("num_pairs", "horizon", "max_steps", "num_candidates", "lookahead"):
        check(cfg, f"experiment.planning.{key}", positive_int, "a positive integer")
    check(cfg, "experiment.planning.pairs_seed", lambda v: is_int(v) and v >= 0,
          "a non-negative integer")
    check(cfg, "experiment.planning.success_radius", positive, "a positive number")
    # a prefix is scored on windows of dataset.metric_window tokens (null: the training length)
    window = OmegaConf.select(cfg, "dataset.metric_window", default=None)
    if not is_int(window):  # null, or a bad value the dataset's own check names
        window = None
    window_key = "dataset.train_length" if window is None else "dataset.metric_window"
    window = train_length if window is None else window
    check(cfg, "experiment.rollout.eval_horizons", lambda v: v is None or (
        isinstance(v, ListConfig) and len(v) > 0
        and all(is_int(h) and h >= window for h in v)),
        f"null or a non-empty list of integers >= {window_key} ({window}), "
        "e.g. [256,1024] (entries above experiment.rollout.horizon are clipped to it)")


def eval_horizons(requested: list[int] | None, horizon: int) -> list[int]:
    """The prefix lengths a rollout of `horizon` tokens is scored at: `requested` clipped to the
    horizon, without repeats, ascending, and always the full horizon (`requested` None: only it)."""
    return sorted({min(int(h), horizon) for h in requested or []} | {horizon})
