"""`python -m benchmarks [training] [generation] [memory] [data_loading] [planning] [video] [time_to_quality] [--quick] [--json F]`

Runs the named benchmarks (default: training, generation, memory, data_loading, planning and video; time_to_quality takes
minutes to hours, so it runs only when named) and prints every figure with the machine it ran
on. `--quick` shrinks every benchmark to a few iterations (a smoke test: the figures are noise).
Each benchmark also runs alone, with its own options: `python -m benchmarks.<name> --help`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks import (
    data_loading,
    generation,
    memory,
    planning,
    time_to_quality,
    training,
    video,
)
from benchmarks.machine import describe, machine_line

BENCHMARKS = {"training": training, "generation": generation, "memory": memory,
              "data_loading": data_loading, "planning": planning, "video": video,
              "time_to_quality": time_to_quality}
DEFAULT = ("training", "generation", "memory", "data_loading", "planning", "video")
QUICK = {  # a few iterations each: proves the benchmarks run and print their ratios
    "training": {"rounds": 2, "steps": 1},
    "generation": {"rounds": 2, "aoti": False, "latency_tokens": 20, "throughput_tokens": 2,
                   "batch": 64},
    "memory": {"short": 20, "long": 60, "batch": 4},
    "data_loading": {"rounds": 2, "steps": 1},
    "planning": {"rounds": 1, "pairs": 2},
    "video": {"rounds": 1, "frames": 4, "steps": 1},
    "time_to_quality": {"budget_seconds": 1, "eval_every": 2, "samples": 16},
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="Benchmarks as "
                                     "ratios, measured side by side in one run (issue 17).")
    parser.add_argument("which", nargs="*", metavar="benchmark",
                        help=f"from {', '.join(BENCHMARKS)} (default: {' '.join(DEFAULT)})")
    parser.add_argument("--quick", action="store_true", help="a few iterations each")
    parser.add_argument("--json", type=Path, help="also write every figure (and the machine) here")
    args = parser.parse_args()
    unknown = sorted(set(args.which) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from "
                     f"{', '.join(BENCHMARKS)}")
    print(machine_line(), flush=True)
    figures: dict[str, float] = {}
    start = time.perf_counter()
    for name in args.which or DEFAULT:
        figures.update(BENCHMARKS[name].run(**(QUICK[name] if args.quick else {})))
    print(f"({time.perf_counter() - start:.0f} s in all; {machine_line()})")
    if args.json:
        args.json.write_text(json.dumps({"machine": describe(), "figures": figures}, indent=1))


if __name__ == "__main__":
    main()
