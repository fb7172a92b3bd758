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



def fetch_online_run(wandb_id: str, entity: str | None, project: str, root: str | Path) -> Path:
    """An online run that is not on this machine, rebuilt under `<root>/resumed/<id>/` from wandb:
    the overrides it was started with (recorded in its wandb config as `_overrides`) and its
    newest checkpoint artifact (`model-<id>:latest`, uploaded by `wandb.log_checkpoints`).
    A second call finds the folder already there."""
    import wandb
    import yaml

    from utils.run_info import update_run_info

    folder = (Path(root) / "resumed" / wandb_id).resolve()
    if is_run_folder(folder):
        return folder
    path = "/".join(p for p in (entity, project, wandb_id) if p)
    try:
        api = wandb.Api()
        run = api.run(path)
    except Exception as error:  # no network, no such run, no permission
        raise ConfigError(f"resume={wandb_id}: not found locally, and wandb could not fetch run "
                          f"{path}: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
                          ) from None
    overrides = run.config.get("_overrides")
    if not isinstance(overrides, list):
        raise ConfigError(f"resume={wandb_id}: wandb run {path} records no _overrides (not started "
                          f"by this framework?)")
    checkpoint = None
    try:
        artifact = api.artifact(f"{path.rsplit('/', 1)[0]}/model-{wandb_id}:latest", type="model")
        checkpoint = next(iter(sorted(Path(artifact.download(
            root=str(folder / ".artifact"))).glob("*.ckpt"))), None)
    except Exception:  # no checkpoint uploaded yet: the run starts again from step 0
        checkpoint = None
    (folder / ".hydra").mkdir(parents=True, exist_ok=True)
    (folder / "checkpoints").mkdir(exist_ok=True)
    if checkpoint is not None:
        checkpoint.replace(folder / "checkpoints" / "last.ckpt")
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
    update_run_info(folder, wandb_id=wandb_id, wandb_mode="online", output_dir=str(folder),
                    status="running", fetched_from=path)
    return folder
