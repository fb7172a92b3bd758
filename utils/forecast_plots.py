"""Figures of forecasts from a real context: fans of sample quantiles against the truth, and long
generated stretches beside a stretch of held-out data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import Tensor

from utils.plotting import plt, save_figure, to_numpy

FAN_LEVELS = (0.9, 0.5)  # central intervals drawn, widest first


def plot_forecast_fans(windows: Tensor, samples: Tensor, path: str | Path, context_tokens: int,
                       channel_names: tuple[str, ...], max_windows: int = 4, title: str = ""
                       ) -> Path:
    """Up to `max_windows` forecast windows, one row each, one column per generated channel.

    windows `[W, N + H, G + C]` (the real context and continuation), samples `[W, M, H, G']`
    (G' ≥ G: given channels are not drawn): the context and truth as lines, the samples' median
    and 50% / 90% central intervals as a fan over the forecast part."""
    real, paths = to_numpy(windows), to_numpy(samples)
    G = len(channel_names)
    picks = np.unique(np.linspace(0, real.shape[0] - 1, min(max_windows, real.shape[0])).round()
                      .astype(int))
    fig, axes = plt.subplots(len(picks), G, figsize=(4.5 * G, 2.2 * len(picks)), squeeze=False)
    t_future = np.arange(context_tokens, real.shape[1])
    for row, w in enumerate(picks):
        for g in range(G):
            ax = axes[row, g]
            ax.plot(np.arange(real.shape[1]), real[w, :, g], color="black", lw=1.0, label="data")
            for level, alpha in zip(FAN_LEVELS, (0.2, 0.4)):
                lo, hi = np.quantile(paths[w, :, :, g], [(1 - level) / 2, (1 + level) / 2], axis=0)
                ax.fill_between(t_future, lo, hi, color="tab:blue", alpha=alpha, lw=0,
                                label=f"{int(level * 100)}% interval")
            ax.plot(t_future, np.median(paths[w, :, :, g], axis=0), color="tab:blue", lw=1.0,
                    label="median")
            ax.axvline(context_tokens - 0.5, color="grey", lw=0.8, ls=":")
            if row == 0:
                ax.set_title(f"{title} {channel_names[g]}".strip())
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, loc="upper left")
    return save_figure(fig, path)


def plot_long_rollouts(samples: Tensor, truth: Tensor, path: str | Path,
                       channel_names: tuple[str, ...], train_length: int, title: str = "",
                       max_samples: int = 3) -> Path:
    """A few generated stretches `[N, T, G]` above a held-out stretch `[T, G]`, per channel; the
    training window's length is marked."""
    gen, real = to_numpy(samples), to_numpy(truth)
    G = len(channel_names)
    fig, axes = plt.subplots(G, 1, figsize=(11, 2.2 * G), squeeze=False)
    for g in range(G):
        ax = axes[g, 0]
        ax.plot(real[:, g], color="black", lw=0.6, label="held-out data")
        for i in range(min(max_samples, gen.shape[0])):
            ax.plot(gen[i, :, g], lw=0.6, alpha=0.8, label="generated" if i == 0 else None)
        ax.axvline(train_length, color="grey", lw=0.8, ls=":", label="training length")
        ax.set_ylabel(channel_names[g])
        ax.grid(alpha=0.3)
    axes[0, 0].set_title(title)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    return save_figure(fig, path)
