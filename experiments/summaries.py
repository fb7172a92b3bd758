"""What a task writes and prints of its scores: strict JSON files and one-line summaries."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from utils.curves import MetricNames

#: the forecast scores printed after each forecast (all are in metrics.json)
FORECAST_SUMMARY = ("crps_sum_norm", "crps_norm", "energy_score", "coverage_50", "coverage_90",
                    "median_abs_error_norm")


#: the planning scores printed after each planning run (all are in metrics.json)
PLANNING_SUMMARY = ("success_rate", "mean_steps_to_goal", "straight_line_success_rate",
                    "expert_success_rate", "planning_ms_per_plan")


def write_json(metrics: dict, path: Path) -> None:
    """Strict JSON: a metric with no finite value (every rollout diverged) is written as null."""
    clean = {k: None if isinstance(v, float) and not math.isfinite(v) else v
             for k, v in metrics.items()}
    path.write_text(json.dumps(clean, indent=2, allow_nan=False) + "\n")


def number(value: Any) -> str:
    return "null" if value is None else f"{value:.4g}"


def summarise(metrics: dict, names: MetricNames) -> str:
    """One line: the dataset's `summary_per_horizon` metrics at each evaluated horizon (`@<H>`),
    then its `summary` metrics at the full horizon."""
    horizons = metrics.get("eval_horizons") or []
    parts = [f"{k}@{h}={number(metrics[f'{k}@{h}'])}" for h in horizons
             for k in names.summary_per_horizon if f"{k}@{h}" in metrics]
    if not parts:  # no prefix metrics: the plain (full-horizon) names
        parts = [f"{k}={number(metrics[k])}" for k in names.summary_per_horizon if k in metrics]
    full = f"@{horizons[-1]}" if horizons else ""
    parts += [f"{k}{full}={number(metrics[k])}" for k in names.summary if k in metrics]
    return "  " + "  ".join(parts)


def vector(values: list[float]) -> str:
    """A short vector of numbers for a log line."""
    return "[" + ", ".join(f"{v:.3g}" for v in values) + "]"
