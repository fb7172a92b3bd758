"""Time to quality: training wall time until a recipe's 1-NFE rollouts keep their circles, for
the default recipe against the seed-faithful configuration, trained side by side.

    python -m benchmarks.time_to_quality [--budget-seconds 600] [--eval-every 500]
                                         [--samples 512] [--recipes default,seed_faithful]

The bar is the quality issue's first one: keep_circle_share >= 0.95 of `--samples` rollouts at
256 tokens (4x the training length), one network call per token, the EMA weights where the recipe
has them. Each recipe trains with its own schedule (`experiment.training.max_steps` of its config) in a
plain PyTorch loop (benchmarks/training.py: loss, backward, clip, AdamW, lr schedule, EMA), on the
real data stream. The recipes take turns, `--eval-every` steps each, so a slow spell of a shared
machine falls on both; the clock counts training only, not the evaluations. A recipe stops when
it meets the bar, at its max_steps, or at the first evaluation after its training time passes
`--budget-seconds`.

Recipes: `default` (`python -m main` as it is when this runs), `seed_faithful`
(benchmarks/recipes.py, at the seed's size: batch 32, GRU 2x256, head width 256), and the
default with either frame (`frame_global`, `frame_heading`: algorithms/networks/frame.py).
"""

from __future__ import annotations

import argparse
import time

from benchmarks.recipes import DESIGNS, SEED_SIZE, build, compose
from benchmarks.training import train_step_fn

RECIPES = {
    "default": DESIGNS["default"],
    "seed_faithful": (*DESIGNS["seed_faithful"], *SEED_SIZE),
    "frame_global": (*DESIGNS["default"], "algorithm.frame=global"),
    "frame_heading": (*DESIGNS["default"], "algorithm.frame=heading"),
}
KEEP_BAR, HORIZON = 0.95, 256
SHOWN = ("keep_circle_share", "centre_drift_median", "radius_error_median", "coverage_ratio")


class Trainee:
    """One recipe being trained: `train(steps)` advances it, `evaluate()` scores its rollouts."""

    def __init__(self, name: str, samples: int) -> None:
        self.name, self.samples = name, samples
        self.cfg = compose(*RECIPES[name])
        self.algo, self.data = build(self.cfg)
        self.train_step = train_step_fn(self.algo, self.cfg, schedule=True)
        self.batches = iter(self.data.train_dataloader())
        self.max_steps = int(self.cfg.experiment.training.max_steps)
        self.steps, self.seconds = 0, 0.0
        self.history: list[dict[str, float]] = []
        self.reached: dict[str, float] | None = None

    def train(self, steps: int) -> None:
        steps = min(steps, self.max_steps - self.steps)
        batches = [next(self.batches) for _ in range(steps)]  # drawn off the clock
        start = time.perf_counter()
        for batch in batches:
            self.train_step(batch)
        self.seconds += time.perf_counter() - start
        self.steps += steps

    def evaluate(self) -> dict[str, float]:
        samples = self.algo.generate(self.samples, HORIZON, nfe=1, seed=int(self.cfg.seed))
        metrics = self.data.evaluate(samples)
        row = {"step": self.steps, "train_seconds": self.seconds,
               **{k: float(metrics[k]) for k in SHOWN}}
        self.history.append(row)
        if self.reached is None and row["keep_circle_share"] >= KEEP_BAR:
            self.reached = row
        return row


def run(budget_seconds: float = 600, eval_every: int = 500, samples: int = 512,
        recipes: tuple[str, ...] = ("default", "seed_faithful")) -> dict[str, float]:
    trainees = [Trainee(name, samples) for name in recipes]
    print(f"time to quality (keep_circle_share >= {KEEP_BAR} of {samples} rollouts at {HORIZON} "
          f"tokens, 1 NFE; evaluated every {eval_every} steps; training budget "
          f"{budget_seconds:g} s per recipe; the recipes take turns):", flush=True)
    active = list(trainees)
    while active:
        for trainee in list(active):
            trainee.train(eval_every)
            row = trainee.evaluate()
            print(f"  {trainee.name:<14} step {row['step']:5d}  {row['train_seconds']:7.1f} s  "
                  + "  ".join(f"{k}={row[k]:.4g}" for k in SHOWN), flush=True)
            if trainee.reached or trainee.steps >= trainee.max_steps \
                    or trainee.seconds >= budget_seconds:
                active.remove(trainee)
    figures: dict[str, float] = {}
    for t in trainees:
        best = max(t.history, key=lambda r: r["keep_circle_share"])
        figures[f"ttq_steps_per_s_{t.name}"] = t.steps / t.seconds
        figures[f"ttq_best_keep_{t.name}"] = best["keep_circle_share"]
        if t.reached:
            figures[f"ttq_seconds_{t.name}"] = t.reached["train_seconds"]
            print(f"  {t.name}: reached at step {t.reached['step']} after "
                  f"{t.reached['train_seconds']:.1f} s of training")
        else:
            print(f"  {t.name}: NOT reached within {t.steps} steps ({t.seconds:.1f} s of training, "
                  f"{t.steps / t.seconds:.2f} steps/s); best keep {best['keep_circle_share']:.3f} "
                  f"at step {best['step']}")
    reached = {t.name: t.reached["train_seconds"] for t in trainees if t.reached}
    if "default" in reached and "seed_faithful" in reached:
        figures["ttq_ratio_seed_faithful_over_default"] = reached["seed_faithful"] / reached[
            "default"]
        print(f"  seed_faithful / default = {figures['ttq_ratio_seed_faithful_over_default']:.2f}x")
    return figures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--budget-seconds", type=float, default=600,
                        help="training time per recipe before giving up")
    parser.add_argument("--eval-every", type=int, default=500, help="steps between evaluations")
    parser.add_argument("--samples", type=int, default=512, help="rollouts per evaluation")
    parser.add_argument("--recipes", default="default,seed_faithful",
                        help=f"comma-separated, from {', '.join(RECIPES)}")


def main() -> None:
    from benchmarks.machine import machine_line

    parser = argparse.ArgumentParser(prog="python -m benchmarks.time_to_quality",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    unknown = sorted(set(args.recipes.split(",")) - set(RECIPES))
    if unknown:
        parser.error(f"unknown recipe(s) {', '.join(unknown)}; choose from {', '.join(RECIPES)}")
    print(machine_line())
    run(args.budget_seconds, args.eval_every, args.samples, tuple(args.recipes.split(",")))
    print(machine_line())  # the load may have changed over a long run


if __name__ == "__main__":
    main()
