"""`python -m experiments.report <folders...> [--out DIR] [--metrics a,b] [--wandb offline|online]
[--horizons 256,1024]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.report.build import NoRuns, build_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.report",
        description="One table across runs: a row per configuration, mean ± std over seeds.")
    parser.add_argument("folders", nargs="+", type=Path,
                        help="run folders, or folders to search for them (multirun, Slurm sweep)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write report.md/.csv/.png (default: <folder>/report, or the "
                             "folders' common parent/report)")
    parser.add_argument("--metrics", default=None,
                        help="comma-separated metrics for the markdown table and figure (the CSV "
                             "always has all); default: the headline metrics the runs wrote")
    parser.add_argument("--wandb", choices=("offline", "online"), default=None,
                        help="also log the table and figures to a new wandb run (job_type=report)")
    parser.add_argument("--horizons", default=None,
                        help="comma-separated horizons (e.g. 256,1024): score every rollout that "
                             "reaches H and did not write <metric>@H, from its samples")
    parser.add_argument("--ignore", default="",
                        help="comma-separated config keys that do not make a row of their own "
                             "(e.g. load,experiment.tasks: a rollout of a loaded checkpoint joins "
                             "the runs of its recipe)")
    args = parser.parse_args(argv)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    try:
        horizons = [int(h) for h in args.horizons.split(",")] if args.horizons else None
        ignore = tuple(k.strip() for k in args.ignore.split(",") if k.strip())
        report = build_report(args.folders, args.out, metrics, args.wandb, horizons, ignore)
    except NoRuns as error:
        for skipped in error.skipped:
            print(skipped.line(), flush=True)
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    print(report.summary(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
