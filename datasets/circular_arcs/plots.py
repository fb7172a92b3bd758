"""The circle dataset's own figure: where the fitted centres lie against the data's centre square."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.patches import Rectangle

from utils.plotting import save_figure, to_numpy


def plot_centres(centres: np.ndarray | torch.Tensor, path: str | Path, low: float, high: float, title: str = "") -> Path:
    """Scatter fitted centres ``[N, 2]`` with the reference square ``[low, high]^2`` outlined."""
    c = to_numpy(centres).reshape(-1, 2)
    c = c[np.isfinite(c).all(axis=1)]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.add_patch(Rectangle((low, low), high - low, high - low, fill=False, ec="k", ls="--", lw=1.0))
    ax.scatter(c[:, 0], c[:, 1], s=6, alpha=0.6)
    ax.autoscale_view()
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(title or f"fitted centres (N={len(c)})")
    ax.grid(alpha=0.3)
    return save_figure(fig, path)
