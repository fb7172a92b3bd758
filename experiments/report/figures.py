"""The report's figures: a metric per panel with every seed and mean ± std, and the horizon curves
of each configuration (mean over seeds, ± std band)."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import numpy as np

from experiments.report.runs import RolloutRecord
from experiments.report.table import Row
from utils.plotting import plt, save_figure


def _grid(count: int, width: float, height: float) -> tuple[plt.Figure, np.ndarray]:
    ncols = min(count, 4) or 1
    nrows = (count + ncols - 1) // ncols or 1
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, axes


def legend_label(row: Row, with_nfe: bool) -> str:
    """The row's label for a legend: without the `algorithm.` prefix, and without the keys a row
    does not set (shown as `–` in the table)."""
    parts = [p for p in row.label(with_nfe).split(", ") if not p.endswith("=–")]
    return ", ".join(p.removeprefix("algorithm.") for p in parts) or row.label(True)


def _reference(records: list[RolloutRecord], key: str) -> float | None:
    values = [r.metrics.get(key) for r in records]
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return statistics.fmean(finite) if finite else None


def plot_report(rows: list[Row], metrics: list[str], path: Path, title: str = "") -> Path:
    """One panel per metric; per row its seeds (dots) and mean ± sample std (bar). A metric with a
    `<metric>_reference` gets a dashed line at the ground truth's own score."""
    fig, axes = _grid(len(metrics), max(3.0, 0.35 * len(rows) + 1.5), 3.4)
    x = np.arange(len(rows))
    with_nfe = len({r.nfe for r in rows}) > 1
    handles = [plt.Line2D([], [], color=f"C{i % 10}", marker="o", ls="")
               for i in range(len(rows))]
    labels = [f"{i + 1}: {legend_label(row, with_nfe)}" for i, row in enumerate(rows)]
    records = [r for row in rows for r in row.records]
    for ax, metric in zip(axes.flat, metrics):
        for i, row in enumerate(rows):
            stat = row.stat(metric)
            seeds = stat.finite
            jitter = np.linspace(-0.12, 0.12, len(seeds)) if len(seeds) > 1 else np.zeros(len(seeds))
            ax.scatter(i + jitter, seeds, s=12, color="grey", alpha=0.7, zorder=2)
            if stat.mean is not None:
                ax.errorbar(i, stat.mean, yerr=stat.std or 0.0, fmt="o", color=f"C{i % 10}",
                            capsize=5, ms=7, zorder=3)
        reference = _reference(records, f"{metric}_reference")
        if reference is not None:
            ax.axhline(reference, color="grey", ls="--", lw=1.0, label="ground truth vs itself")
            ax.legend(fontsize=7)
        ax.set_xticks(x, [str(i + 1) for i in x], fontsize=7)
        ax.set_xlim(-0.6, len(rows) - 0.4)
        ax.set_title(metric, fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    return _legend_below(fig, handles, labels,
                         title or "mean ± std over seeds (dots: each seed)", path)


def _legend_below(fig: plt.Figure, handles: list, labels: list[str], title: str,
                  path: Path) -> Path:
    """One legend under the panels (a row's label can be long; inside a panel it would squeeze
    the panels to nothing), the title above, saved to `path`."""
    height = fig.get_figheight()
    legend_height = 0.2 * len(labels) + 0.2
    fig.set_figheight(height + legend_height)
    fig.legend(handles, labels, loc="lower left", fontsize=7, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, legend_height / (height + legend_height), 1, 1))
    return save_figure(fig, path)


def curve_keys(rows: list[Row]) -> list[str]:
    keys: dict[str, None] = {}
    for row in rows:
        for record in row.records:
            for key in record.curves or {}:
                if key != "window_end" and not key.endswith("_reference"):
                    keys[key] = None
    return list(keys)


def plot_report_curves(rows: list[Row], path: Path, train_length: int | None = None,
                       title: str = "") -> Path | None:
    """One panel per curve (`curves.json`): per row the mean over its seeds against the window end,
    a ± std band, the ground-truth reference dashed and the training length dotted. Seeds whose
    windows differ from the row's first are left out. None when no run wrote curves."""
    keys = curve_keys(rows)
    if not keys:
        return None
    fig, axes = _grid(len(keys), 3.8, 3.0)
    for ax, key in zip(axes.flat, keys):
        for i, row in enumerate(rows):
            curves = [r.curves for r in row.records if r.curves and key in r.curves]
            if not curves:
                continue
            x = np.asarray(curves[0]["window_end"], dtype=np.float64)
            same = [c for c in curves if c["window_end"] == curves[0]["window_end"]]
            y = np.asarray([[np.nan if v is None else v for v in c[key]] for c in same],
                           dtype=np.float64)
            mean = np.nanmean(y, axis=0)
            ax.plot(x, mean, color=f"C{i % 10}", marker=".",
                    label=f"{i + 1}: {legend_label(row, len({r.nfe for r in rows}) > 1)}")
            if len(same) > 1:
                std = np.nanstd(y, axis=0, ddof=1)
                ax.fill_between(x, mean - std, mean + std, color=f"C{i % 10}", alpha=0.2)
            ref = [c.get(f"{key}_reference") for c in same]
            if all(r is not None for r in ref) and ref and i == 0:
                ref_mean = np.nanmean(np.asarray(ref, dtype=np.float64), axis=0)
                ax.plot(x, ref_mean, color="grey", ls="--", lw=1.0, label="ground truth vs itself")
        if train_length is not None:
            ax.axvline(train_length, color="k", ls=":", lw=1.0)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("window end")
        ax.grid(alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    return _legend_below(fig, handles, labels, title or "over the horizon: mean over seeds, "
                         "± std band (dotted: training length)", path)
