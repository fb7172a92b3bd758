"""Finding a run from what a user types: a run folder, a checkpoint file, or a wandb run id.

Runs are found locally first, under `run_roots` (default `outputs/` and `multirun/`, relative
to the current directory), through the `run.json` every run writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from utils.config_checks import ConfigError
from utils.run_info import read_run_info

DEFAULT_ROOTS = ("outputs", "multirun")


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and ((path / "run.json").is_file() or (path / ".hydra").is_dir())


def find_runs(wandb_id: str, roots: Sequence[str | Path] = DEFAULT_ROOTS) -> list[Path]:
    """Every run folder under `roots` whose `run.json` records `wandb_id`."""
    found = []
    for root in roots:
        for info in sorted(Path(root).glob("**/run.json")):
            if read_run_info(info.parent).get("wandb_id") == wandb_id:
                found.append(info.parent.resolve())
    return sorted(set(found))


def find_run(token: str, key: str, roots: Sequence[str | Path] = DEFAULT_ROOTS) -> Path:
    """The run folder named by `token` (a folder, or a wandb id found exactly once)."""
    path = Path(token).expanduser()
    if is_run_folder(path):
        return path.resolve()
    if path.exists():
        raise ConfigError(f"{key}={token}: not a run folder (no run.json or .hydra/ inside)")
    runs = find_runs(token, roots)
    if not runs:
        raise ConfigError(f"{key}={token}: no run folder and no run with this wandb id under "
                          f"{', '.join(map(str, roots))} (set run_roots=[...] to search elsewhere)")
    if len(runs) > 1:
        raise ConfigError(f"{key}={token}: wandb id found in {len(runs)} run folders "
                          f"({', '.join(map(str, runs))}); pass the folder instead")
    return runs[0]


def resolve_checkpoint(token: str, key: str, roots: Sequence[str | Path] = DEFAULT_ROOTS) -> Path:
    """`load=`: a checkpoint file as given, or the `last.ckpt` of the run a token names."""
    path = Path(token).expanduser()
    if path.is_file():
        return path
    run = find_run(token, key, roots)
    last = run / "checkpoints" / "last.ckpt"
    if not last.is_file():
        raise ConfigError(f"{key}={token}: run {run} has no checkpoints/last.ckpt yet")
    return last

