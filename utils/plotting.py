"""Figures for rollouts of any dataset: 2-D trajectories, metric curves over the horizon, NFE curves.
A dataset's own figures live beside it (e.g. `datasets/circular_arcs/plots.py`)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures are only ever written to files

import matplotlib.pyplot as plt  # noqa: E402  (must follow the backend choice)
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402


def to_numpy(x: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def save_figure(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)  # avoid leaking figures over many evaluation calls
    return path


def _draw_trajectories(ax: Axes, traj: np.ndarray, max_samples: int, train_length: int | None, title: str) -> None:
    """Draw up to ``max_samples`` trajectories ``[N, T, 2]``; extrapolated part (after train_length) dashed."""
    colours = plt.get_cmap("tab10")
    for i, xy in enumerate(traj[:max_samples]):
        colour = colours(i % 10)
        split = xy.shape[0] if train_length is None else min(max(train_length, 1), xy.shape[0])
        ax.plot(xy[:split, 0], xy[:split, 1], color=colour, lw=1.0)
        if split < xy.shape[0]:
            # start one point early so the dashed continuation joins the solid part
            ax.plot(xy[split - 1 :, 0], xy[split - 1 :, 1], color=colour, lw=0.8, ls="--", alpha=0.5)
        ax.plot(xy[0, 0], xy[0, 1], "o", color=colour, ms=3)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(title)
    ax.grid(alpha=0.3)


def plot_trajectories(
    samples: np.ndarray | torch.Tensor,
    path: str | Path,
    ground_truth: np.ndarray | torch.Tensor | None = None,
    max_samples: int = 16,
    title: str = "",
    train_length: int | None = None,
) -> Path:
    """Plot 2-D trajectories ``[N, T, 2]`` (start dotted); ground truth ``[M, T', 2]`` in a second panel.

    If ``train_length`` is given, steps after it are dashed and lighter, so extrapolation beyond the
    training horizon is visible. Returns the path written.
    """
    panels = [("generated", to_numpy(samples))]
    if ground_truth is not None:
        panels.append(("ground truth", to_numpy(ground_truth)))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 5), squeeze=False)
    for ax, (name, traj) in zip(axes[0], panels):
        suffix = "" if train_length is None else f" (dashed: t >= {train_length})"
        _draw_trajectories(ax, traj, max_samples, train_length, name + suffix)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def _panel_grid(count: int) -> tuple[plt.Figure, np.ndarray]:
    """A figure with `count` visible panels, up to 4 a row; `axes.flat` in reading order."""
    ncols = min(count, 4) or 1
    nrows = (count + ncols - 1) // ncols or 1
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.5 * ncols, 3 * nrows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, axes


def plot_metric_curves(
    curves: dict[str, list[float]],
    path: str | Path,
    train_length: int | None = None,
    title: str = "",
) -> Path:
    """One panel per metric in ``curves`` against ``curves["window_end"]``.

    A key ``<metric>_reference`` (the ground truth against itself) is drawn dashed in the panel of
    ``<metric>``. A vertical line marks ``train_length``; the y axis is logarithmic when all finite
    values are > 0.
    """
    x = np.asarray(curves["window_end"], dtype=np.float64)
    keys = [k for k in curves if k != "window_end" and not
            (k.endswith("_reference") and k.removesuffix("_reference") in curves)]
    fig, axes = _panel_grid(len(keys))
    for ax, key in zip(axes.flat, keys):
        y = np.asarray(curves[key], dtype=np.float64)
        ax.plot(x, y, marker=".")
        if f"{key}_reference" in curves:
            ref = np.asarray(curves[f"{key}_reference"], dtype=np.float64)
            ax.plot(x, ref, color="grey", ls="--", lw=1.0, label="ground truth vs itself")
            ax.legend(fontsize=7)
            y = np.concatenate((y, ref))
        finite = y[np.isfinite(y)]
        if finite.size and (finite > 0).all():
            ax.set_yscale("log")
        if train_length is not None:
            ax.axvline(train_length, color="k", ls=":", lw=1.0)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("window end")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_nfe_curve(curve: dict[str, list[float | None]], path: str | Path, keys: list[str],
                   title: str = "") -> Path:
    """One panel per metric in ``keys`` against ``curve["nfe"]`` (log2 x axis): quality and cost of
    sampling the same network with more steps per token. ``<key>_reference`` is drawn dashed."""
    x = np.asarray(curve["nfe"], dtype=np.float64)
    fig, axes = _panel_grid(len(keys))
    for ax, key in zip(axes.flat, keys):
        y = np.asarray([np.nan if v is None else v for v in curve[key]], dtype=np.float64)
        ax.plot(x, y, marker="o")
        if f"{key}_reference" in curve:
            ref = [np.nan if v is None else v for v in curve[f"{key}_reference"]]
            ax.plot(x, ref, color="grey", ls="--", lw=1.0, label="ground truth vs itself")
            ax.legend(fontsize=7)
        ax.set_xscale("log", base=2)
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("NFE per token")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
