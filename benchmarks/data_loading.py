"""Training throughput on recorded data against the circles, at the same model size: the default
one-step recipe (GRU 1x128, head 128, batch 64) on

  circles          `dataset=circular_arcs` (64 tokens of 2 channels, generated on the fly)
  elecdemand       `dataset=elecdemand` (its windows of 144 tokens: 1 generated + 2 given)
  elecdemand_64    the same data in windows of 64 tokens, the circles' length: what recorded data
                   and given channels cost per step, with the sequence length held equal

    python -m benchmarks.data_loading [--rounds 5] [--steps 6]

A step is drawn from the dataset's real training stream and trained, inside the timing (the loop of
`benchmarks.training`), so a slow loader would show; the batch draw is also timed alone. Data
loading is never the bottleneck when its share of a step stays small.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

from benchmarks.recipes import build, compose
from benchmarks.timing import interleave, median, paired_ratio, spread
from benchmarks.training import train_step_fn

DATA = {
    "circles": ("dataset=circular_arcs",),
    "elecdemand": ("dataset=elecdemand",),
    "elecdemand_64": ("dataset=elecdemand", "dataset.train_length=64",
                      "dataset.context_tokens=40", "dataset.forecast_horizon=24"),
}


def timers(overrides: tuple[str, ...], steps: int) -> tuple[Callable[[], float],
                                                           Callable[[], float]]:
    """(seconds per step with its batch drawn inside the timing, seconds per batch draw alone)."""
    cfg = compose(*overrides)
    algo, data = build(cfg)
    train_step = train_step_fn(algo, cfg)
    draw = data._train_batch if hasattr(data, "_train_batch") else None
    stream = iter(data.train_dataloader())
    train_step(next(stream))  # warm-up

    def step() -> float:
        start = time.perf_counter()
        for _ in range(steps):
            train_step(next(stream))
        return (time.perf_counter() - start) / steps

    def load() -> float:
        start = time.perf_counter()
        for i in range(steps):
            draw(i) if draw is not None else next(stream)
        return (time.perf_counter() - start) / steps

    return step, load


def run(rounds: int = 5, steps: int = 6) -> dict[str, float]:
    pairs = {name: timers(overrides, steps) for name, overrides in DATA.items()}
    seconds = interleave({**{n: p[0] for n, p in pairs.items()},
                          **{f"{n}_draw": p[1] for n, p in pairs.items()}}, rounds)
    figures = {f"data_train_steps_per_s_{n}": 1 / median(seconds[n]) for n in DATA}
    for n in DATA:
        figures[f"data_draw_share_{n}"] = paired_ratio(seconds[f"{n}_draw"], seconds[n])
    for n in ("elecdemand", "elecdemand_64"):
        figures[f"data_ratio_{n}_over_circles"] = paired_ratio(seconds["circles"], seconds[n])
    print(f"training on recorded data against the circles (default recipe, batch 64; batch drawn "
          f"inside the timing; median of {rounds} interleaved rounds of {steps} steps):")
    for n in DATA:
        print(f"  {n:<14} {figures[f'data_train_steps_per_s_{n}']:7.2f} steps/s   (rounds: "
              f"{spread([1 / x for x in seconds[n]])}); batch draw = "
              f"{100 * figures[f'data_draw_share_{n}']:.2f}% of a step")
    for n in ("elecdemand", "elecdemand_64"):
        print(f"  {n} / circles = {figures[f'data_ratio_{n}_over_circles']:.2f}x steps/s")
    return figures


def main() -> None:
    from benchmarks.machine import machine_line

    parser = argparse.ArgumentParser(prog="python -m benchmarks.data_loading",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=6, help="training steps per round")
    args = parser.parse_args()
    print(machine_line())
    run(args.rounds, args.steps)


if __name__ == "__main__":
    main()
