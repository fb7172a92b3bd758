"""Planning time on the maze: the one-step model at 1 NFE against Diffusion Forcing at K = 1 and
K = 10 and the predictive baseline, at the same model size (the default recipes: GRU 1x128, head
128), planning the same start/goal pairs of `dataset=pointmaze_medium` (64 tokens a plan):

  batch   every pair's plan at once (the planning task)
  single  one plan at a time (an agent replanning on line)

    python -m benchmarks.planning [--rounds 5] [--pairs 50]

Only the generation of the plans is timed (`experiments.planning.model_plans`), not their
execution in the simulator, which costs the same whatever planned. The weights are fresh: the
cost of a plan does not depend on them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Callable

from benchmarks.recipes import build, compose
from benchmarks.timing import interleave, median, paired_ratio, spread

#: name -> (overrides, NFE)
PLANNERS = {
    "one_step": (("algorithm=flow_forcing",), 1),
    "df_k1": (("algorithm=diffusion_forcing",), 1),
    "df_k10": (("algorithm=diffusion_forcing",), 10),
    "predictive": (("algorithm=predictive",), 1),
}
# a few short episodes (the statistics only; timing needs no trained model), cached apart from the
# repository's data folder
DATA = ("dataset=pointmaze_medium", "dataset.episodes.train=4", "dataset.episodes.validation=1",
        "dataset.episodes.test=1", "dataset.episode_length=800",
        f"dataset.cache_dir={Path(tempfile.gettempdir()) / 'odf-benchmark-episodes'}")


def planner(overrides: tuple[str, ...], nfe: int, pairs: int, single: bool
            ) -> Callable[[], float]:
    """Seconds per plan of `pairs` plans, all at once or one at a time."""
    import numpy as np
    import torch

    from datasets.simulated.maze.execute import planning_pairs, task_positions
    from experiments.planning import model_plans, start_tokens

    cfg = compose(*DATA, *overrides)
    algo, data = build(cfg)
    size = cfg.dataset.simulator.removeprefix("pointmaze_")
    chosen = planning_pairs(size, pairs, 0)
    positions = [task_positions(size, s, g, k) for k, (s, g) in enumerate(chosen)]
    starts, goals = np.array([a for a, _ in positions]), np.array([b for _, b in positions])
    context = start_tokens(starts, goals, data.token_dim)
    goal_tensor = torch.as_tensor(goals, dtype=torch.float32)
    horizon = int(cfg.dataset.planning_horizon)

    def plan() -> float:
        start = time.perf_counter()
        if single:
            for k in range(pairs):
                model_plans(algo, context[k:k + 1], goal_tensor[k:k + 1], horizon, nfe, 1, 1, 0)
        else:
            model_plans(algo, context, goal_tensor, horizon, nfe, 1, pairs, 0)
        return (time.perf_counter() - start) / pairs

    plan()  # warm-up
    return plan


def run(rounds: int = 5, pairs: int = 50) -> dict[str, float]:
    candidates = {f"{name}_{mode}": planner(overrides, nfe, pairs if mode == "batch" else 4,
                                            mode == "single")
                  for name, (overrides, nfe) in PLANNERS.items() for mode in ("batch", "single")}
    seconds = interleave(candidates, rounds)
    figures = {f"planning_ms_per_plan_{n}": 1e3 * median(s) for n, s in seconds.items()}
    for mode in ("batch", "single"):
        for other in ("df_k10", "df_k1", "predictive"):
            figures[f"planning_ratio_{other}_over_one_step_{mode}"] = paired_ratio(
                seconds[f"{other}_{mode}"], seconds[f"one_step_{mode}"])
    print(f"planning time on pointmaze_medium (64 tokens a plan; default recipes; median of "
          f"{rounds} interleaved rounds):")
    for n, s in seconds.items():
        print(f"  {n:<18} {figures[f'planning_ms_per_plan_{n}']:8.3f} ms a plan   (rounds: "
              f"{spread([1e3 * x for x in s])})")
    for mode in ("batch", "single"):
        print(f"  {mode}: DF K=10 / one-step = "
              f"{figures[f'planning_ratio_df_k10_over_one_step_{mode}']:.2f}x, DF K=1 / one-step = "
              f"{figures[f'planning_ratio_df_k1_over_one_step_{mode}']:.2f}x, predictive / "
              f"one-step = {figures[f'planning_ratio_predictive_over_one_step_{mode}']:.2f}x")
    return figures


def main() -> None:
    from benchmarks.machine import machine_line

    parser = argparse.ArgumentParser(prog="python -m benchmarks.planning")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=50)
    args = parser.parse_args()
    print(machine_line())
    run(args.rounds, args.pairs)


if __name__ == "__main__":
    main()
