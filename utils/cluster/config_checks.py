"""Checks of the `cluster.*` keys (configurations/cluster/), one line per failure, before
anything is submitted; and their translation into sbatch options (`sbatch_options`)."""

from __future__ import annotations

import re
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from utils.config_checks import ConfigError, check, positive_int
from utils.packages import Extra

#: what submitting and supervising a job needs beyond the base install
CLUSTER_EXTRA = Extra("cluster", ("submitit",))
KEYS = ("partition", "account", "qos", "time", "nodes", "tasks_per_node", "gpus_per_node",
        "cpus_per_task", "mem", "constraint", "setup", "sbatch", "job_name", "signal_delay_s",
        "max_timeouts")
# Options with a key of their own, or that submitit writes itself (logs, array, signal):
# `cluster.sbatch` may not set them.
MANAGED = {"partition", "account", "qos", "time", "nodes", "ntasks-per-node", "gpus-per-node",
           "cpus-per-task", "mem", "constraint", "job-name", "output", "error", "array",
           "open-mode", "signal", "ntasks", "wrap"}
TIME = re.compile(r"^(?:\d+-)?\d+(?::\d+){0,2}$")  # Slurm's --time formats
MEMORY = re.compile(r"^\d+[KMGT]?$")


def optional_text(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() != "" and "\n" not in v)


def optional_positive_int(v: Any) -> bool:
    return v is None or positive_int(v)


def non_negative_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def minutes(value: int | str) -> int:
    """Slurm's --time as whole minutes (submitit counts in minutes). Slurm reads "M", "M:S",
    "H:M:S", "D-H", "D-H:M" and "D-H:M:S"."""
    if isinstance(value, int):
        return value
    days, _, rest = value.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if days:
        hours, mins, secs = (parts + [0, 0])[:3]
    else:
        hours, mins, secs = {1: [0, parts[0], 0], 2: [0, *parts], 3: parts}[len(parts)]
    total = (((int(days or 0) * 24 + hours) * 60 + mins) * 60) + secs
    return -(-total // 60)  # rounded up


def valid_time(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return v >= 1
    return isinstance(v, str) and TIME.match(v) is not None and minutes(v) >= 1


def check_cluster_config(cfg: DictConfig) -> None:
    """Raise `ConfigError` naming the first bad `cluster.*` key (a cluster is selected), or the
    missing package of the cluster group."""
    cluster = cfg.cluster
    unknown = sorted(set(cluster) - set(KEYS))
    if unknown:
        raise ConfigError(f"cluster.{unknown[0]}={cluster[unknown[0]]}: unknown key; the keys are "
                          f"{', '.join(KEYS)} (other sbatch options go in cluster.sbatch)")
    for key in ("partition", "account", "qos", "constraint", "job_name"):
        check(cfg, f"cluster.{key}", optional_text, "null or a non-empty string")
    check(cfg, "cluster.time", valid_time,
          'a number of minutes >= 1, or "HH:MM:SS" / "D-HH:MM:SS"')
    for key in ("nodes", "tasks_per_node"):
        check(cfg, f"cluster.{key}", positive_int, "a positive integer")
    for key in ("gpus_per_node", "cpus_per_task"):
        check(cfg, f"cluster.{key}", optional_positive_int, "null or a positive integer")
    check(cfg, "cluster.mem", lambda v: v is None or non_negative_int(v)
          or (isinstance(v, str) and MEMORY.match(v) is not None),
          "null, megabytes (0: all of a node's) or a size such as 64G")
    check(cfg, "cluster.setup", lambda v: isinstance(v, ListConfig), "a list of shell lines")
    for line in OmegaConf.to_container(cluster.setup, resolve=False):
        if not isinstance(line, str):
            raise ConfigError(f"cluster.setup: {line!r} is not a shell line (a string)")
        if "${" in line.replace("\\${", ""):
            raise ConfigError(f"cluster.setup: {line!r}: ${{...}} is OmegaConf's interpolation; "
                              f"write $VAR, or \\${{VAR}} for the shell's ${{VAR}}")
    check(cfg, "cluster.sbatch", lambda v: isinstance(v, DictConfig), "a mapping of sbatch options")
    for key, value in cluster.sbatch.items():
        name = str(key).replace("_", "-")
        if name in MANAGED:
            own = f"cluster.{key}" if key in KEYS else "the cluster code"
            raise ConfigError(f"cluster.sbatch.{key}={value}: --{name} is set by {own}")
        if not (value is None or isinstance(value, (str, int, float))):
            raise ConfigError(f"cluster.sbatch.{key}={value}: must be a string, number, true "
                              f"or null")
        if value is False:
            raise ConfigError(f"cluster.sbatch.{key}=false: leave it out, or null")
    check(cfg, "cluster.signal_delay_s", non_negative_int, "a non-negative integer")
    check(cfg, "cluster.max_timeouts", non_negative_int, "a non-negative integer")

    # Lightning under Slurm: one process per task, so devices and nodes must match the allocation.
    t = cfg.experiment.training
    if t.devices != cluster.tasks_per_node:
        raise ConfigError(f"experiment.training.devices={t.devices}: must equal "
                          f"cluster.tasks_per_node ({cluster.tasks_per_node}); Lightning runs one "
                          f"process per Slurm task")
    if t.num_nodes != cluster.nodes:
        raise ConfigError(f"experiment.training.num_nodes={t.num_nodes}: must equal "
                          f"cluster.nodes ({cluster.nodes})")
    gpus = cluster.gpus_per_node
    if gpus is not None and gpus < cluster.tasks_per_node:
        raise ConfigError(f"cluster.gpus_per_node={gpus}: fewer GPUs than tasks per node "
                          f"({cluster.tasks_per_node}); each task trains on one GPU")
    if job_name(cfg) in ("bash", "interactive"):  # Lightning then ignores Slurm's layout
        raise ConfigError(f"cluster.job_name={cluster.job_name}: the job would be named "
                          f"{job_name(cfg)!r}, which Lightning takes for an interactive session; "
                          f"set cluster.job_name to another name")
    CLUSTER_EXTRA.require("cluster (Slurm submission)")


def job_name(cfg: DictConfig) -> str:
    """The Slurm job's name: cluster.job_name, else the run's name (as wandb's)."""
    return (cfg.cluster.job_name or cfg.get("name")
            or f"{cfg.algorithm.name}_{cfg.dataset.name}")


def sbatch_options(cluster: DictConfig) -> dict[str, Any]:
    """submitit's SlurmExecutor parameters for a checked `cluster` node. Unset (null) options
    are left out, so the job script never holds a "None"."""
    named = {"partition": cluster.partition, "account": cluster.account, "qos": cluster.qos,
             "time": minutes(cluster.time), "nodes": cluster.nodes,
             "ntasks_per_node": cluster.tasks_per_node, "gpus_per_node": cluster.gpus_per_node,
             "cpus_per_task": cluster.cpus_per_task, "mem": cluster.mem,
             "constraint": cluster.constraint, "signal_delay_s": cluster.signal_delay_s}
    extra = {str(k).replace("_", "-"): v
             for k, v in OmegaConf.to_container(cluster.sbatch, resolve=True).items()
             if v is not None}
    options = {k: v for k, v in named.items() if v is not None}
    if extra:
        options["additional_parameters"] = extra
    return options
