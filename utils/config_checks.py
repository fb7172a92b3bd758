"""Checks of the composed config before anything is built: each failure is one line naming
the key, the value and what is allowed. The helpers below are shared by the classes that own
each group's keys (`check_config` of every algorithm, dataset and experiment)."""

from __future__ import annotations

import dataclasses
import enum
import re
from typing import Any, Callable, Iterable

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


def choices(name: str, allowed: Iterable[str]) -> type[enum.Enum]:
    """An Enum whose members are the `allowed` strings, for a field of a config schema: OmegaConf
    then rejects any other value (`check_types` says which ones are allowed)."""
    return enum.Enum(name, {value: value for value in allowed})


TYPE_WORDS = {"Integer": "an integer", "Float": "a number", "Boolean": "true or false",
              "Bool": "true or false", "String": "a string"}


def check_types(cfg: DictConfig, group: str, schema: type) -> None:
    """Types and key names of `cfg[group]` against a dataclass of its keys (`MISSING` values:
    the YAML holds the defaults), checked by OmegaConf's structured configs; ranges and rules
    between keys are the owner's `check_config`. One line naming the key on failure."""
    values = OmegaConf.create(OmegaConf.to_container(cfg[group], resolve=True))
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), values)
    except ConfigKeyError as error:
        owner = error.object_type if dataclasses.is_dataclass(error.object_type) else schema
        allowed = ", ".join(f.name for f in dataclasses.fields(owner))
        raise ConfigError(f"{group}.{error.full_key}: unknown key; allowed: {allowed}") from None
    except ValidationError as error:
        key = re.sub(r"\[\d+\]$", "", str(error.full_key))  # a list's entry: name the list
        choice = re.search(r"expected one of \[([^\]]*)\]", str(error.msg))
        if choice:
            value = OmegaConf.select(values, key) if key != error.full_key else error.value
            value = OmegaConf.to_container(value) if isinstance(value, ListConfig) else value
            raise ConfigError(f"{group}.{key}={value}: must be one of {choice.group(1)}"
                              + (" (each entry)" if key != error.full_key else "")) from None
        found = re.search(r"converted to (\w+)|not a valid (\w+)", str(error.msg))
        wanted = next((g for g in found.groups() if g), "") if found else ""
        raise ConfigError(f"{group}.{error.full_key}={error.value}: must be "
                          f"{TYPE_WORDS.get(wanted.capitalize(), wanted or 'of another type')}"
                          ) from None
    missing = sorted(OmegaConf.missing_keys(merged))
    if missing:
        raise ConfigError(f"{group}.{missing[0]}: missing; the {group} {cfg[group].get('name')} "
                          f"needs it (add it with +{group}.{missing[0]}=...)")


def validate(cfg: DictConfig, registries: dict[str, dict[str, Any]]) -> None:
    """Raise `ConfigError` on the first bad value. The root keys are checked here; each group's
    keys by the class that owns them (`config_schema` for names and types, `check_config(cfg)`
    for ranges and rules between keys: an algorithm's beside the algorithm), so adding an
    algorithm, dataset or experiment never means editing this file. `registries` maps each
    group to its classes by name (handed down by `experiments/run_config.py`)."""
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
        if getattr(owner, "EXTRA", None) is not None:  # an optional dependency group (packages.py)
            owner.EXTRA.require(f"{group}={cfg[group].name}")
