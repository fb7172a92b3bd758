"""Build the report: read the runs, group them, write `report.md`, `report.csv` and the figures,
and optionally log them to a new wandb run (job_type `report`)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.report.figures import plot_report, plot_report_curves
from experiments.report.runs import RolloutRecord, Skipped, read_runs
from experiments.report.table import (
    Row,
    default_metrics,
    group_rows,
    horizon_of,
    markdown_table,
    metric_keys,
    reference_line,
    table_data,
    write_csv,
)


class NoRuns(Exception):
    """Nothing to report: no rollout could be read (`skipped` says why), or a bad request."""

    def __init__(self, message: str, skipped: list[Skipped] | None = None) -> None:
        super().__init__(message)
        self.skipped = skipped or []


@dataclass
class Report:
    out_dir: Path
    keys: list[str]
    rows: list[Row]
    metrics: list[str]
    skipped: list[Skipped]
    files: dict[str, Path]
    markdown: str
    wandb_id: str | None = None

    def summary(self) -> str:
        lines = [s.line() for s in self.skipped]
        lines += [self.markdown_table, ""]
        lines += [f"wrote {name}: {path}" for name, path in self.files.items()]
        if self.wandb_id:
            lines.append(f"wandb report run: {self.wandb_id}")
        return "\n".join(lines)

    @property
    def markdown_table(self) -> str:
        return markdown_table(self.keys, self.rows, self.metrics)


def default_out_dir(folders: list[Path]) -> Path:
    if len(folders) == 1:
        return folders[0] / "report"
    return Path(os.path.commonpath([f.resolve() for f in folders])) / "report"


def metric_names(records: list[RolloutRecord]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The headline and per-horizon metric names of the runs' datasets, in order, without
    repeats (`SequenceDataModule.METRICS`). A run whose dataset is not registered (renamed, or
    not named in its config) gets every registered dataset's: the table shows what it wrote."""
    from datasets import DATASET_REGISTRY

    headline: dict[str, None] = {}
    per_horizon: dict[str, None] = {}
    for name in dict.fromkeys(r.config.get("dataset.name") for r in records):
        owners = [DATASET_REGISTRY[name]] if name in DATASET_REGISTRY else DATASET_REGISTRY.values()
        for owner in owners:
            headline.update(dict.fromkeys(owner.METRICS.headline))
            per_horizon.update(dict.fromkeys(owner.METRICS.per_horizon))
    return tuple(headline), tuple(per_horizon)


def _train_length(records: list[RolloutRecord]) -> int | None:
    lengths = {r.config.get("dataset.train_length") for r in records}
    return lengths.pop() if len(lengths) == 1 and None not in lengths else None


def _markdown(report_keys: list[str], rows: list[Row], metrics: list[str], records: list[RolloutRecord],
              folders: list[Path], skipped: list[Skipped], files: dict[str, Path]) -> str:
    varying = ", ".join(f"`{k}`" for k in report_keys) or "none (every run has the same settings)"
    lines = [
        f"# Report: {len(records)} rollouts, {len(rows)} configurations",
        "",
        "Read from " + ", ".join(f"`{f}`" for f in folders) + ".",
        f"Keys that vary across the runs: {varying}. A row holds the runs that differ only in their "
        "seed: mean ± sample std (ddof 1) over them, n runs, their seeds.",
        "",
        markdown_table(report_keys, rows, metrics),
        "",
    ]
    if any(horizon_of(m) is not None for m in metrics):
        lines += ["`<metric>@<H>`: scored on the first H tokens of each rollout; the other scores "
                  "on the whole rollout (`experiment.rollout.horizon`).", ""]
    if "training_steps_per_second" in metrics:
        lines += ["`training_steps_per_second`: training steps over the wall time of the run's "
                  "`fit` (validation and checkpoints included; `training/metrics.json`). "
                  "`us_per_token_per_stream`: generation time of the whole rollout over "
                  "samples x tokens.", ""]
    reference = reference_line(records, metrics)
    if reference:
        lines += [reference, ""]
    for name in ("figure", "curves"):
        if name in files:
            lines += [f"![{name}]({files[name].name})", ""]
    lines += [f"Every metric, with its std and count: `{files['csv'].name}`.", ""]
    if skipped:
        lines += [f"## Skipped ({len(skipped)})", ""]
        lines += [f"- `{s.path}`: {s.reason}" for s in skipped]
        lines.append("")
    return "\n".join(lines)


def log_to_wandb(records: list[RolloutRecord], header: list[str], data: list[list[Any]],
                 files: dict[str, Path], out_dir: Path, mode: str) -> str:
    """A new wandb run (job_type `report`) in `out_dir/wandb`, with the table, the figures and, in
    its config, the run folders and their wandb ids (from each `run.json`)."""
    import wandb

    first = records[0].config
    runs = []
    for folder in dict.fromkeys(r.run_dir for r in records):
        try:
            wandb_id = json.loads((folder / "run.json").read_text()).get("wandb_id")
        except (OSError, ValueError, AttributeError):
            wandb_id = None
        runs.append({"folder": str(folder), "wandb_id": wandb_id})
    run = wandb.init(project=first.get("wandb.project") or "one-step-diffusion-forcing",
                     entity=first.get("wandb.entity"), mode=mode, job_type="report",
                     name=f"report_{out_dir.parent.name}", dir=str(out_dir),
                     config={"runs": runs})
    try:
        logged: dict[str, Any] = {"report/table": wandb.Table(columns=header, data=data)}
        for name in ("figure", "curves"):
            if name in files:
                logged[f"report/{name}"] = wandb.Image(str(files[name]))
        run.log(logged)
        return run.id
    finally:
        run.finish()


def build_report(folders: list[Path], out_dir: Path | None = None, metrics: list[str] | None = None,
                 wandb_mode: str | None = None, horizons: list[int] | None = None,
                 ignore: tuple[str, ...] = ()) -> Report:
    """Read every rollout under `folders` and write the report to `out_dir` (see `default_out_dir`).

    Raises:
        NoRuns: when no rollout could be read, or `metrics` names one no run wrote.
    """
    records, skipped = read_runs(folders)
    if horizons:  # score older rollouts at horizons they did not write (rescore.py)
        from experiments.report.rescore import rescore

        records = rescore(records, horizons)
    if not records:
        raise NoRuns(f"no run could be read from {', '.join(map(str, folders))} "
                     f"({len(skipped)} skipped)", skipped)
    available = metric_keys(records)
    if metrics is None:
        metrics = default_metrics(available, *metric_names(records))
    unknown = [m for m in metrics if m not in available]
    if unknown:
        raise NoRuns(f"--metrics: no run wrote {', '.join(unknown)}; "
                     f"available: {', '.join(available)}", skipped)
    keys, rows = group_rows(records, ignore)
    out_dir = default_out_dir(folders) if out_dir is None else out_dir
    out_dir.mkdir(parents=True, exist_ok=True)

    header, data = table_data(keys, rows, available)
    files = {"csv": write_csv(header, data, out_dir / "report.csv"),
             "figure": plot_report(rows, metrics, out_dir / "report.png")}
    curves = plot_report_curves(rows, out_dir / "report_curves.png", _train_length(records))
    if curves is not None:
        files["curves"] = curves
    markdown = _markdown(keys, rows, metrics, records, folders, skipped, files)
    files = {"markdown": out_dir / "report.md", **files}
    files["markdown"].write_text(markdown)
    report = Report(out_dir, keys, rows, metrics, skipped, files, markdown)
    if wandb_mode is not None:
        report.wandb_id = log_to_wandb(records, header, data, files, out_dir, wandb_mode)
    return report
