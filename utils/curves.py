"""Curves of a rollout, on disk and in wandb: metrics per window against the horizon, and metrics
against NFE when several NFE are rolled out.

On disk a curve is a table of columns: `<name>.json` (`{"column": [values...]}`, null for a
non-finite value) and `<name>.csv` (one row per point). In wandb it is a `wandb.Table` (re-plot it
there as you like) plus one line plot per column.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:  # Lightning is imported only where a logger is used: the report does not need it
    from pytorch_lightning.loggers import Logger

@dataclass(frozen=True)
class MetricNames:
    """How a reader reads a dataset's rollout scores (each dataset declares its own, as
    `SequenceDataModule.METRICS`): the names a run shows first, where it shows them. Figures,
    NFE curves, the printed summary and the report show those a run wrote."""

    #: what a reader looks at first, in this order (figures, NFE curves, the report's columns)
    headline: tuple[str, ...]
    #: of those, the ones the report shows at every horizon a run was scored at (`<name>@<H>`)
    per_horizon: tuple[str, ...]
    #: the printed summary line: these at every evaluated horizon ...
    summary_per_horizon: tuple[str, ...]
    #: ... then these at the full horizon
    summary: tuple[str, ...]


#: the cost of a run, shown after any dataset's scores
COST_METRICS = ("training_steps_per_second", "us_per_token_per_stream",
                "forecast_us_per_token_per_stream", "planning_ms_per_plan")

#: metrics.json entries that describe the rollout rather than score it.
DESCRIPTIVE_KEYS = frozenset({"algorithm", "nfe", "num_samples", "horizon", "window", "device",
                              "generation_seconds", "context_tokens", "forecast_horizon",
                              "num_windows", "forecast_seconds", "num_pairs",
                              "planning_seconds", "error_threshold"})


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def write_columns(columns: Mapping[str, Sequence[Any]], folder: Path, name: str) -> Path:
    """Write equal-length columns as `folder/<name>.json` and `folder/<name>.csv`; returns the JSON."""
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of {name} differ in length: {sorted(lengths)}")
    folder.mkdir(parents=True, exist_ok=True)
    clean = {k: [_clean(v) for v in values] for k, values in columns.items()}
    path = folder / f"{name}.json"
    path.write_text(json.dumps(clean, indent=1, allow_nan=False) + "\n")
    with open(folder / f"{name}.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(list(clean))
        writer.writerows(zip(*clean.values()))
    return path


def nfe_curve(metrics_by_nfe: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Columns ``nfe`` and every numeric score (quality and ``us_per_token_per_stream``) from one
    ``metrics.json`` dict per NFE value, ordered by NFE."""
    rows = sorted(metrics_by_nfe, key=lambda m: m["nfe"])
    keys = [k for k, v in rows[0].items() if k not in DESCRIPTIVE_KEYS
            and isinstance(v, (int, float)) and not isinstance(v, bool)]
    return {"nfe": [m["nfe"] for m in rows], **{k: [m.get(k) for m in rows] for k in keys}}


def log_curves(loggers: Sequence["Logger"], key: str, columns: Mapping[str, Sequence[Any]], x: str,
               step: int, title: str = "", figure: Path | None = None) -> None:
    """To every WandbLogger: `key` as a wandb.Table, `key/<column>` as a line plot against `x`, and
    the PNG `figure`, if given, as the image `key/figure`."""
    from pytorch_lightning.loggers import WandbLogger

    wandb_loggers = [lg for lg in loggers if isinstance(lg, WandbLogger)]
    if not wandb_loggers:
        return
    import wandb

    names = list(columns)
    data = [list(row) for row in zip(*(map(_clean, columns[k]) for k in names))]
    for logger in wandb_loggers:
        table = wandb.Table(columns=names, data=data)
        plots = {f"{key}/{name}": wandb.plot.line(table, x, name, title=f"{title} {name}".strip())
                 for name in names if name != x}
        logger.log_metrics({key: table, **plots}, step=step)
        if figure is not None:
            logger.log_image(key=f"{key}/figure", images=[str(figure)], step=step)
