"""Find run folders and read what their rollouts wrote, saying why anything was left out.

A run folder is any folder holding `.hydra/config.yaml` (a local run, a multirun job, a Slurm job);
its rollout is `rollout/metrics.json` + `rollout/samples.npz`, or one `rollout/nfe_<K>/` of each per
NFE value, with an optional `curves.json` beside them. The forecast and planning tasks write the
same layout under `forecast/` and `planning/`: their scores join the rollout's row of the same NFE
(a run with forecasts or plans and no rollout gets rows of those alone).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from utils.curves import DESCRIPTIVE_KEYS

#: folders a run writes that never hold another run; not searched (wandb alone can be thousands of files)
NOT_RUNS = frozenset({".hydra", ".submitit", "wandb", "checkpoints", "validation", "csv", "rollout",
                      "report", "training", "forecast", "planning"})
#: tasks whose scores join the rollout row of the same NFE (each writes metrics.json and samples.npz)
JOINED_TASKS = ("forecast", "planning")

#: what the report takes from `training/metrics.json` (written at the end of `fit`), and its name
#: among each rollout's metrics
TRAINING_METRICS = {"steps_per_second": "training_steps_per_second"}
#: rollout scores that are not a function of the horizon's prefix: never given an `@<H>` name
NOT_PER_HORIZON = frozenset({"us_per_token_per_stream", *TRAINING_METRICS.values()})


@dataclass(frozen=True)
class Skipped:
    """A folder or file the report left out, and why (one line of the report)."""

    path: Path
    reason: str

    def line(self) -> str:
        return f"skipped {self.path}: {self.reason}"


@dataclass(frozen=True)
class RolloutRecord:
    """One rollout of one run: its run folder, flattened resolved config, NFE, metrics and curves."""

    run_dir: Path
    config: dict[str, Any]
    nfe: int
    metrics: dict[str, Any]
    curves: dict[str, list[Any]] | None

    @property
    def seed(self) -> Any:
        return self.config.get("seed")


def natural_key(path: Path) -> list[Any]:
    """Sort `multirun/.../10` after `.../9`: digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted leaves of a nested dict; a list is one leaf, written as JSON (`[1, 2]`)."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: json.dumps(tree) if isinstance(tree, list) else tree}


def find_run_folders(paths: list[Path]) -> tuple[list[Path], list[Skipped]]:
    """Every folder under `paths` (or one of them) that holds `.hydra/config.yaml`, in natural order."""
    found: dict[Path, None] = {}
    skipped: list[Skipped] = []
    for path in paths:
        if not path.is_dir():
            skipped.append(Skipped(path, "not a folder"))
            continue
        before, skipped_before = len(found), len(skipped)
        for root, dirs, _ in os.walk(path):
            here = Path(root)
            if (here / ".hydra" / "config.yaml").is_file():
                found[here.resolve()] = None
            elif (here / ".hydra").is_dir():
                skipped.append(Skipped(here, "has .hydra/ but no .hydra/config.yaml"))
            dirs[:] = [d for d in dirs if d not in NOT_RUNS]
        if len(found) == before and len(skipped) == skipped_before:
            skipped.append(Skipped(path, "no run folder under it (none holds .hydra/config.yaml)"))
    return sorted(found, key=natural_key), skipped


def read_config(run_dir: Path) -> dict[str, Any]:
    """The run's resolved config, flattened; interpolations that no longer resolve stay as written."""
    config = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    if "auto" in (OmegaConf.select(config, "algorithm.frame", default=None),
                  OmegaConf.select(config, "algorithm.backbone.num_layers", default=None)):
        from experiments.components import resolve_auto

        resolve_auto(config)  # what the run used, as main.py resolved it (frame, layers)
    try:
        tree = OmegaConf.to_container(config, resolve=True)
    except Exception:  # e.g. a custom resolver this process does not know
        tree = OmegaConf.to_container(config, resolve=False)
    return flatten(tree)


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{what} missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{what} truncated or not JSON ({error})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a JSON object")
    return value


def _check_samples(path: Path, what: str) -> None:
    """`samples.npz` must open and hold a float array `samples [N, T, D]`."""
    if not path.is_file():
        raise ValueError(f"{what} missing")
    try:
        with np.load(path) as archive:
            samples = archive["samples"]
    except Exception as error:  # BadZipFile, EOFError, KeyError, zlib.error, ...
        raise ValueError(f"{what} unreadable ({type(error).__name__}: {error})") from None
    if samples.ndim != 3:
        raise ValueError(f"{what} holds an array of shape {samples.shape}, not [N, T, D]")


def _status(run_dir: Path) -> str:
    """`; run.json: status running` where the run says it has not finished, else ``""``."""
    try:
        status = json.loads((run_dir / "run.json").read_text()).get("status")
    except (OSError, ValueError, AttributeError):
        return ""
    return f"; run.json: status {status}" if status and status != "finished" else ""


def with_horizon_names(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metrics of a rollout written before `<metric>@<H>` existed: each score also under
    `<score>@<horizon>` (the plain names are those of the full horizon), so its row fills the
    report's per-horizon columns. Newer metrics, or ones without `horizon`, come back as they are."""
    horizon = metrics.get("horizon")
    if any("@" in k for k in metrics) or not isinstance(horizon, int) or isinstance(horizon, bool):
        return metrics
    return {**metrics, **{f"{k}@{horizon}": v for k, v in metrics.items()
                          if k not in DESCRIPTIVE_KEYS and k not in NOT_PER_HORIZON
                          and (v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)))}}


def read_training(run_dir: Path) -> tuple[dict[str, Any], list[Skipped]]:
    """`TRAINING_METRICS` from the run's `training/metrics.json`; nothing (and no line) when the run
    wrote none (an older run, or one that did not train), a line when it is unreadable."""
    path = run_dir / "training" / "metrics.json"
    if not path.exists():
        return {}, []
    try:
        written = _read_json(path, "training/metrics.json")
    except ValueError as error:
        return {}, [Skipped(run_dir, f"{error}; its rollouts are used, its training speed is not")]
    return {name: written.get(key) for key, name in TRAINING_METRICS.items()}, []


def _entries(run_dir: Path, task: str) -> list[Path] | None:
    """The task's result folders (`<task>/nfe_<K>/`, else `<task>/` itself); None without any."""
    folder = run_dir / task
    entries = sorted((p for p in folder.glob("nfe_*") if p.is_dir()), key=natural_key)
    return entries or ([folder] if folder.is_dir() else None)


def _read_results(run_dir: Path, task: str, skipped: list[Skipped]
                  ) -> dict[int, tuple[dict[str, Any], Path]]:
    """The task's metrics by NFE (and each one's folder); unreadable ones get a `skipped` line."""
    results: dict[int, tuple[dict[str, Any], Path]] = {}
    for entry in _entries(run_dir, task) or []:
        where = entry.relative_to(run_dir).as_posix()
        try:
            metrics = _read_json(entry / "metrics.json", f"{where}/metrics.json")
            _check_samples(entry / "samples.npz", f"{where}/samples.npz")
        except ValueError as error:
            skipped.append(Skipped(run_dir, f"{error}{_status(run_dir)}"))
            continue
        nfe = metrics.get("nfe", int(entry.name[4:]) if entry.name.startswith("nfe_") else 1)
        results[int(nfe)] = (metrics, entry)
    return results


def read_run(run_dir: Path) -> tuple[list[RolloutRecord], list[Skipped]]:
    """The run's rollouts (one per NFE value), each with the forecast and planning scores of its
    NFE if the run has them; a rollout with a missing or broken file is skipped."""
    try:
        config = read_config(run_dir)
    except Exception as error:
        return [], [Skipped(run_dir, f".hydra/config.yaml unreadable ({type(error).__name__}: {error})")]
    if all(_entries(run_dir, task) is None for task in ("rollout", *JOINED_TASKS)):
        return [], [Skipped(run_dir, "no rollout/ folder (no rollout task, or the run stopped "
                                     f"before it{_status(run_dir)})")]
    training, skipped = read_training(run_dir)
    rollouts = _read_results(run_dir, "rollout", skipped)
    joined = {task: _read_results(run_dir, task, skipped) for task in JOINED_TASKS}
    records: list[RolloutRecord] = []
    for nfe in sorted(set(rollouts).union(*joined.values())):
        metrics, entry = rollouts.get(nfe) or next(r[nfe] for r in joined.values() if nfe in r)
        curves = None
        if nfe in rollouts and (entry / "curves.json").is_file():
            where = entry.relative_to(run_dir).as_posix()
            try:
                curves = _read_json(entry / "curves.json", f"{where}/curves.json")
            except ValueError as error:
                skipped.append(Skipped(run_dir, f"{error}; its metrics are used, its curves are not"))
        extra: dict[str, Any] = {}
        for results in joined.values():
            if nfe in results and results[nfe][1] != entry:
                extra.update(results[nfe][0])
        records.append(RolloutRecord(run_dir, config, nfe,
                                     {**extra, **with_horizon_names(metrics), **training},
                                     curves))
    return records, skipped


def read_runs(paths: list[Path]) -> tuple[list[RolloutRecord], list[Skipped]]:
    """Every readable rollout under `paths`, and one `Skipped` line per thing left out."""
    folders, skipped = find_run_folders(paths)
    records: list[RolloutRecord] = []
    for folder in folders:
        found, problems = read_run(folder)
        records += found
        skipped += problems
    return records, skipped
