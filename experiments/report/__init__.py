"""A report across runs: `python -m experiments.report <multirun folder | sweep folder | run folders...>`.

Reads every run's resolved config and rollout metrics, groups runs that differ only in their seed,
and writes one table (markdown and CSV, mean ± std over seeds, n) and its figures.
"""

from experiments.report.build import Report, build_report

__all__ = ["Report", "build_report"]
