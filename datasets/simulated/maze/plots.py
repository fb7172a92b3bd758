"""Plans drawn on the maze: the model's plan and what the real simulator did tracking it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from datasets.simulated.maze.layout import MazeLayout, draw_maze


def plot_plans(layout: MazeLayout, plans: np.ndarray, executed: list[np.ndarray],
               success: list[bool], goals: np.ndarray, path: Path, title: str = "",
               max_panels: int = 12) -> Path:
    """One panel per pair (the first `max_panels`): the plan `[H, 2]` (dashed), the simulator's
    trajectory `[S, 2]` tracking it (green if it reached the goal, red if not), start and goal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = min(len(plans), max_panels)
    cols = min(count, 4)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= count:
            ax.axis("off")
            continue
        draw_maze(ax, layout)
        plan, run = plans[k], executed[k]
        colour = "tab:green" if success[k] else "tab:red"
        ax.plot(plan[:, 0], plan[:, 1], "--", color="tab:blue", lw=1, label="plan")
        ax.plot(run[:, 0], run[:, 1], "-", color=colour, lw=1.5, label="executed")
        ax.plot(*run[0], "o", color="k", ms=4)
        ax.plot(*goals[k], "*", color="gold", ms=12, mec="k")
    axes.flat[0].legend(loc="lower left", fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
