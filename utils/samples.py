"""Generated samples on disk: `samples.npz`, key `samples`, float32 `[N, T, D]` in data units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import Tensor


def save_samples(samples: Tensor, path: Path) -> Path:
    np.savez_compressed(path, samples=samples.detach().cpu().float().numpy())
    return path
