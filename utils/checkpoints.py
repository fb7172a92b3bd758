"""Checkpoints: loading weights with errors that say what was found, and atomic writes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.plugins import TorchCheckpointIO
from torch import nn

from utils.config_checks import ConfigError


def load_weights(module: nn.Module, path: str | Path, key: str = "load",
                 algorithm: str | None = None) -> dict[str, Any]:
    """Load a Lightning checkpoint's (or a bare) state dict into `module`, strictly, and return
    the checkpoint. `algorithm`: the name the checkpoint must have been trained as (resume)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{key}={path}: no such checkpoint file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a truncated or foreign file
        raise ConfigError(f"{key}={path}: not a readable checkpoint ({type(error).__name__})") from None
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ConfigError(f"{key}={path}: holds no state dict")
    found = checkpoint.get("algorithm_config", {}).get("name", algorithm)
    if algorithm is not None and found != algorithm:
        raise ConfigError(f"{key}={path.parent.parent}: the run trains algorithm {found}, not "
                          f"{algorithm}; use load= to start a new run from its weights")
    expected = module.state_dict()
    problems = [*(f"missing {k}" for k in expected if k not in state),
                *(f"unexpected {k}" for k in state if k not in expected),
                *(f"{k} has shape {tuple(state[k].shape)}, expected {tuple(v.shape)}"
                  for k, v in expected.items() if k in state and state[k].shape != v.shape)]
    if problems:
        found = checkpoint.get("algorithm_config", {}).get("name", "unknown")
        raise ConfigError(f"{key}={path}: weights do not fit this algorithm (checkpoint algorithm: "
                          f"{found}; {len(problems)} mismatched keys, e.g. {problems[0]})")
    module.load_state_dict(state)
    return checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a temporary file beside its target, then renames it over the
    target: a kill during the write leaves the previous `last.ckpt` intact, never a torn one."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any,
                        storage_options: Any | None = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with temporary.open("wb") as file:
            torch.save(checkpoint, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)


def read_global_step(path: str | Path) -> int:
    """The global step a Lightning checkpoint was saved at."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    return int(checkpoint.get("global_step", 0))


def resumable_checkpoint(folder: Path, logged_steps: set[int], log_every_n_steps: int
                         ) -> Path | None:
    """The checkpoint a resumed run continues from: the newest whose own step is in the log.

    Lightning saves a step's checkpoint before it logs that step's training metrics, so a kill
    between the two leaves `last.ckpt` ahead of the log by one row that a resumed run would never
    write. Such a checkpoint is passed over for the one before it (resumption is exact from any
    checkpoint, so only time is lost). A checkpoint at step G needs the row at the last logging
    step before G: s = ⌊G / L⌋·L − 1 for L = `log_every_n_steps` (none when s < 0).
    """
    candidates = [p for p in [folder / "last.ckpt", *sorted(folder.glob("step_*.ckpt"),
                                                            reverse=True)] if p.is_file()]
    for path in candidates:
        step = read_global_step(path)
        needed = step // log_every_n_steps * log_every_n_steps - 1
        if needed < 0 or needed in logged_steps:
            return path
    return None
