"""Loading weights from a checkpoint file, with errors that say what was found."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from utils.config_checks import ConfigError


def load_weights(module: nn.Module, path: str | Path) -> None:
    """Load a Lightning checkpoint's (or a bare) state dict into `module`, strictly."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"load={path}: no such checkpoint file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a truncated or foreign file
        raise ConfigError(f"load={path}: not a readable checkpoint ({type(error).__name__})") from None
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ConfigError(f"load={path}: holds no state dict")
    expected = module.state_dict()
    problems = [*(f"missing {k}" for k in expected if k not in state),
                *(f"unexpected {k}" for k in state if k not in expected),
                *(f"{k} has shape {tuple(state[k].shape)}, expected {tuple(v.shape)}"
                  for k, v in expected.items() if k in state and state[k].shape != v.shape)]
    if problems:
        found = checkpoint.get("algorithm_config", {}).get("name", "unknown")
        raise ConfigError(f"load={path}: weights do not fit this algorithm (checkpoint algorithm: "
                          f"{found}; {len(problems)} mismatched keys, e.g. {problems[0]})")
    module.load_state_dict(state)
