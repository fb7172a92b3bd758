"""Checks of the composed config before anything is built: each failure is one line naming
the key, the value and what is allowed. The helpers below are shared by the classes that own
each group's keys (`check_config` of every algorithm, dataset and experiment)."""

from __future__ import annotations

import dataclasses
import re

from typing import Any, Callable

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, ValidationError

WANDB_MODES = ("offline", "online", "disabled")


class ConfigError(ValueError):
    """A bad value in the config: `main` prints its message as one line and exits with 2."""


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def positive_int(v: Any) -> bool:
    return is_int(v) and v >= 1


def positive(v: Any) -> bool:
    return is_number(v) and v > 0


def non_negative(v: Any) -> bool:
    return is_number(v) and v >= 0


def probability(v: Any) -> bool:
    return is_number(v) and 0 <= v <= 1


def one_of(*allowed: Any) -> Callable[[Any], bool]:
    return lambda v: v in allowed


def check(cfg: DictConfig, key: str, ok: Callable[[Any], bool], allowed: str) -> Any:
    value = OmegaConf.select(cfg, key, throw_on_missing=False, default="<missing>")
    if value == "<missing>" or not ok(value):
        raise ConfigError(f"{key}={value}: must be {allowed}")
    return value


def check_choice(cfg: DictConfig, key: str, allowed: tuple | list) -> Any:
    return check(cfg, key, lambda v: v in allowed, f"one of {', '.join(map(str, allowed))}")


TYPE_WORDS = {"Integer": "an integer", "Float": "a number", "Boolean": "true or false",
              "Bool": "true or false", "String": "a string"}


def check_types(cfg: DictConfig, group: str, schema: type) -> None:
    """Types and key names of `cfg[group]` against a dataclass of its keys (`MISSING` values:
    the YAML holds the defaults), checked by OmegaConf's structured configs; ranges and rules
    between keys are the owner's `check_config`. One line naming the key on failure."""
    values = OmegaConf.create(OmegaConf.to_container(cfg[group], resolve=True))
    try:
        OmegaConf.merge(OmegaConf.structured(schema), values)
    except ConfigKeyError as error:
        owner = error.object_type if dataclasses.is_dataclass(error.object_type) else schema
        allowed = ", ".join(f.name for f in dataclasses.fields(owner))
        raise ConfigError(f"{group}.{error.full_key}: unknown key; allowed: {allowed}") from None
    except ValidationError as error:
        found = re.search(r"converted to (\w+)|not a valid (\w+)", str(error.msg))
        wanted = next((g for g in found.groups() if g), "") if found else ""
        raise ConfigError(f"{group}.{error.full_key}={error.value}: must be "
                          f"{TYPE_WORDS.get(wanted.capitalize(), wanted or 'of another type')}"
                          ) from None


def validate(cfg: DictConfig, registries: dict[str, dict[str, Any]]) -> None:
    """Raise `ConfigError` on the first bad value. The root keys are checked here; each group's
    keys by the class that owns them (`check_config(cfg)`: an algorithm's beside the algorithm),
    so adding an algorithm, dataset or experiment never means editing this file."""
    check(cfg, "seed", lambda v: is_int(v) and v >= 0, "a non-negative integer")
    check_choice(cfg, "wandb.mode", WANDB_MODES)
    check(cfg, "wandb.log_checkpoints", lambda v: isinstance(v, bool), "true or false")
    for group, registry in registries.items():
        check_choice(cfg, f"{group}.name", list(registry))
    for key in ("load", "resume"):
        check(cfg, key, lambda v: v is None or (isinstance(v, str) and v != ""),
              "null, a run folder, a checkpoint file (load) or a wandb run id")
    check(cfg, "run_roots", lambda v: isinstance(v, ListConfig) and all(isinstance(r, str) for r in v),
          "a list of folders, e.g. [outputs,multirun]")
    for group, registry in registries.items():
        owner = registry[cfg[group].name]
        if getattr(owner, "config_schema", None) is not None:
            check_types(cfg, group, owner.config_schema)
        owner.check_config(cfg)
    if cfg.get("cluster") is not None:  # cluster=<name>: its keys, checked beside the Slurm code
        from utils.cluster.config_checks import check_cluster_config

        check_cluster_config(cfg)


def validate_config(cfg: DictConfig) -> None:
    """`validate` with the registries' names (imports the registries, hence torch)."""
    from algorithms import ALGORITHM_REGISTRY
    from datasets import DATASET_REGISTRY
    from experiments import EXPERIMENT_REGISTRY

    validate(cfg, {"dataset": DATASET_REGISTRY, "algorithm": ALGORITHM_REGISTRY,
                   "experiment": EXPERIMENT_REGISTRY})
