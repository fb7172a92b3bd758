"""One row per configuration: the config keys that vary across runs, mean ± std over seeds, n.

A config key *varies* when two runs give it different values (a key absent from one run counts as a
value, the same as null: a key added later with a null default changes nothing). Keys of a config
group (`algorithm.*`, `dataset.*`, `experiment.*`: any top-level entry with a `name`) are compared
only between runs that chose the same group: `algorithm=flow_forcing,predictive` varies
`algorithm.name` only, not every key in which the two algorithms' YAML files differ. Seeds, run
names, wandb and cluster settings and paths are never settings. Runs that agree on every varying
key (and on NFE) are seeds of one configuration.
"""

from __future__ import annotations

import csv
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments.report.runs import RolloutRecord
from utils.curves import COST_METRICS, DESCRIPTIVE_KEYS

#: top-level keys that say where or how a run ran, not what it computed
NOT_SETTINGS = frozenset({"seed", "name", "resume", "run_roots", "wandb", "cluster", "hydra"})
#: rollout NFE: each rollout is its own record with its `nfe`, so the list that asked for it is not a setting
ROLLOUT_NFE = "experiment.rollout.nfe"
MISSING = "–"  # a key the run's config does not have


def is_setting(key: str) -> bool:
    """False for seeds, run names, wandb/cluster settings and paths (`*dir`, `*path`)."""
    last = key.rsplit(".", 1)[-1]
    return (key.split(".", 1)[0] not in NOT_SETTINGS and key != ROLLOUT_NFE
            and not last.endswith(("dir", "dirs", "path", "paths")))


def value(config: dict[str, Any], key: str) -> Any:
    """The config's value for ``key``; ``MISSING`` when it has none or null."""
    found = config.get(key)
    return MISSING if found is None else found


def varying_keys(configs: list[dict[str, Any]]) -> list[str]:
    """The setting keys whose values differ across ``configs`` (flattened configs): the group
    choices (``algorithm.name``, ...) first, then the others in config order."""
    keys = list(dict.fromkeys(k for c in configs for k in c if is_setting(k)))
    groups = {k.split(".")[0] for k in keys if k.count(".") == 1 and k.endswith(".name")}
    varying = []
    for key in keys:
        group = key.split(".")[0]
        if group in groups and key != f"{group}.name":
            by_choice: dict[Any, set[Any]] = defaultdict(set)
            for c in configs:
                by_choice[c.get(f"{group}.name")].add(value(c, key))
            varies = any(len(values) > 1 for values in by_choice.values())
        else:
            varies = len({value(c, key) for c in configs}) > 1
        if varies:
            varying.append(key)
    return sorted(varying, key=lambda k: short(k) == k)  # stable: group choices first


def metric_keys(records: list[RolloutRecord]) -> list[str]:
    """Numeric scores written by any run, in the order of its metrics.json."""
    keys: dict[str, None] = {}
    for record in records:
        for key, value in record.metrics.items():
            if key not in DESCRIPTIVE_KEYS and (value is None or (
                    isinstance(value, (int, float)) and not isinstance(value, bool))):
                keys[key] = None
    return list(keys)


def horizon_of(key: str) -> int | None:
    """`keep_circle_share@256` -> 256; None for a name without `@<integer>`."""
    name, at, horizon = key.rpartition("@")
    return int(horizon) if at and name and horizon.isdigit() else None


def default_metrics(available: list[str], headline: tuple[str, ...],
                    per_horizon: tuple[str, ...]) -> list[str]:
    """The table's default columns among `available`: each of `per_horizon` at every horizon any
    run was scored at (ascending; `<metric>@<H>`, the first H tokens of each rollout), the other
    `headline` metrics (at the full horizon), then `COST_METRICS`. Runs without `@<H>` names show
    the plain ones instead. The names are the runs' datasets' (`SequenceDataModule.METRICS`)."""
    horizons = sorted({h for k in available if (h := horizon_of(k)) is not None})
    chosen: list[str] = []
    for metric in per_horizon:
        at = [f"{metric}@{h}" for h in horizons if f"{metric}@{h}" in available]
        chosen += at or ([metric] if metric in headline and metric in available else [])
    chosen += [m for m in headline if m in available and m not in per_horizon
               and m not in COST_METRICS]
    return chosen + [m for m in COST_METRICS if m in available]


@dataclass(frozen=True)
class Stat:
    """Mean and sample std (ddof = 1; None with fewer than two values) of the finite values."""

    values: tuple[float | None, ...]  # one per run, None where the run wrote null or nothing

    @property
    def finite(self) -> list[float]:
        return [v for v in self.values if v is not None and math.isfinite(v)]

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.finite) if self.finite else None

    @property
    def std(self) -> float | None:
        return statistics.stdev(self.finite) if len(self.finite) >= 2 else None

    @property
    def missing(self) -> int:
        return len(self.values) - len(self.finite)


@dataclass
class Row:
    settings: dict[str, Any]  # varying key -> value
    nfe: int
    records: list[RolloutRecord] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.records)

    @property
    def seeds(self) -> list[Any]:
        return [r.seed for r in self.records]

    def stat(self, key: str) -> Stat:
        def number(value: Any) -> float | None:
            return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        return Stat(tuple(number(r.metrics.get(key)) for r in self.records))

    def label(self, with_nfe: bool = True) -> str:
        parts = [f"{short(k)}={v}" for k, v in self.settings.items()]
        parts += [f"{self.nfe} NFE"] if with_nfe or not parts else []
        return ", ".join(parts)


def short(key: str) -> str:
    """`algorithm.name` -> `algorithm` (the group choice, as typed on the command line)."""
    return key[: -len(".name")] if key.count(".") == 1 and key.endswith(".name") else key


def group_rows(records: list[RolloutRecord], ignore: tuple[str, ...] = ()
               ) -> tuple[list[str], list[Row]]:
    """The varying keys, and one row per (their values, NFE) in the order runs were found. Keys
    in `ignore` (or under one of them) are not settings: runs that differ only there share a row."""
    keys = [k for k in varying_keys([r.config for r in records])
            if not any(k == i or k.startswith(f"{i}.") for i in ignore)]
    rows: dict[tuple[Any, ...], Row] = {}
    for record in records:
        settings = {k: value(record.config, k) for k in keys}
        key = (*settings.values(), record.nfe)
        rows.setdefault(key, Row(settings, record.nfe)).records.append(record)
    return keys, list(rows.values())


def format_number(x: float) -> str:
    return f"{x:.4g}"


def format_cell(stat: Stat) -> str:
    """`mean ± std` (no std for one value), `–` for none, and how many runs had no finite value."""
    if stat.mean is None:
        return "–"
    text = format_number(stat.mean)
    if stat.std is not None:
        text += f" ± {stat.std:.2g}"
    if stat.missing:
        text += f" ({stat.missing} of {len(stat.values)} null)"
    return text


def _seeds(row: Row) -> str:
    return ",".join(str(s) for s in row.seeds)


def markdown_table(keys: list[str], rows: list[Row], metrics: list[str]) -> str:
    header = [short(k) for k in keys] + ["nfe", "n", "seeds"] + metrics
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [str(v) for v in row.settings.values()] + [str(row.nfe), str(row.n), _seeds(row)]
        cells += [format_cell(row.stat(m)) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def reference_line(records: list[RolloutRecord], metrics: list[str]) -> str | None:
    """The ground-truth references of the shown distances, averaged over every run read."""
    parts = []
    for metric in metrics:
        values = [r.metrics.get(f"{metric}_reference") for r in records]
        finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        if finite:
            parts.append(f"{metric} {format_number(statistics.fmean(finite))}")
    if not parts:
        return None
    return ("Perfect, at these sample sizes (two ground-truth draws, mean over the runs): "
            + "; ".join(parts) + ".")


def table_data(keys: list[str], rows: list[Row], metrics: list[str]
               ) -> tuple[list[str], list[list[Any]]]:
    """The full table: settings, `nfe`, `n`, `seeds`, `runs` (run folders), then per metric
    `<metric>_mean`, `<metric>_std` (None for one seed) and `<metric>_n` (finite values)."""
    header = [*keys, "nfe", "n", "seeds", "runs",
              *(f"{m}_{s}" for m in metrics for s in ("mean", "std", "n"))]
    data = []
    for row in rows:
        cells: list[Any] = [*row.settings.values(), row.nfe, row.n, _seeds(row),
                            ";".join(str(r.run_dir) for r in row.records)]
        for metric in metrics:
            stat = row.stat(metric)
            cells += [stat.mean, stat.std, len(stat.finite)]
        data.append(cells)
    return header, data


def write_csv(header: list[str], data: list[list[Any]], path: Path) -> Path:
    """`table_data` as CSV; None is an empty cell, floats keep every digit."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in row] for row in data])
    return path
