"""Device choice shared by training and generation."""

from __future__ import annotations

import torch


def resolve_device(accelerator: str) -> torch.device:
    """`auto` picks CUDA, then MPS, then CPU; `gpu`/`cuda`, `mps` and `cpu` are taken as given."""
    if accelerator == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device("cuda" if accelerator == "gpu" else accelerator)
