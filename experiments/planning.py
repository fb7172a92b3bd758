"""The planning task on a maze: the model plans a path from a start to a goal, the real simulator
executes it with the PD tracker of the data's controller, and success is judged there.

The plan comes from goal conditioning: the maze datasets give the model the goal in force at each
token (`dataset.given=[goal]`; in the data, the goal the scripted controller is heading to), so a
plan is an ordinary rollout from the start state with the goal as every token's given channels:
one network evaluation per planned token at 1 NFE, as for any rollout. With
`experiment.planning.num_candidates` M > 1, M plans are drawn per pair and the one whose last
point lies nearest the goal is executed (a Monte-Carlo choice that reads only the model's plans,
never the simulator). Two references are executed on the same pairs in every run: the straight
line from start to goal (ignores the walls) and the expert's path (breadth-first search over the
maze cells, the data's own planner).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from torch import Tensor

from utils.config_checks import ConfigError
from utils.samples import save_samples


def check_planning_config(cfg: DictConfig) -> None:
    """Raise `ConfigError` unless the dataset is a maze whose model is given the goal only (the
    root config given; checked before any run folder is created)."""
    d = cfg.dataset
    if not str(d.get("simulator", "")).startswith("pointmaze_"):
        raise ConfigError(f"experiment.tasks: planning needs a maze dataset (dataset="
                          f"pointmaze_umaze|pointmaze_medium|pointmaze_large); got dataset={d.name}")
    if list(d.generated)[:1] != ["position"] or list(d.given) != ["goal"]:
        raise ConfigError(f"experiment.tasks: planning needs dataset.generated to start with "
                          f"position and dataset.given=[goal]; got generated={list(d.generated)}, "
                          f"given={list(d.given)}")


def start_tokens(starts: np.ndarray, goals: np.ndarray, token_dim: int) -> Tensor:
    """The context `[P, 1, G + 2]` of P plans: the ball at rest at its start `[P, 2]`, given
    its goal `[P, 2]`."""
    context = torch.zeros(len(starts), 1, token_dim + 2)
    context[:, 0, :2] = torch.as_tensor(starts, dtype=torch.float32)
    context[:, 0, token_dim:] = torch.as_tensor(goals, dtype=torch.float32)
    return context


def model_plans(algo: Any, context: Tensor, goals: Tensor, horizon: int, nfe: int,
                num_candidates: int, batch_size: int, seed: int) -> tuple[Tensor, float]:
    """The executed plan `[P, H, 2]` of each pair (the nearest-to-goal of `num_candidates`), and
    the generation's wall time in seconds (all candidates)."""
    P = goals.shape[0]
    context = context.repeat_interleave(num_candidates, dim=0)
    given = goals.repeat_interleave(num_candidates, dim=0)[:, None].expand(-1, horizon, -1)
    start = time.perf_counter()
    plans = algo.generate(P * num_candidates, horizon, nfe, batch_size, seed=seed,
                          context=context, given=given.contiguous())
    seconds = time.perf_counter() - start
    positions = plans[..., :2].view(P, num_candidates, horizon, 2)
    final = (positions[:, :, -1] - goals[:, None]).norm(dim=-1)
    final = torch.where(torch.isfinite(final), final, torch.full_like(final, float("inf")))
    best = final.argmin(dim=1)
    return positions[torch.arange(P), best], seconds


def run_planning(algo: Any, data: Any, p: DictConfig, nfe: int, seed: int, out_dir: Path
                 ) -> dict[str, Any]:
    """Plan every pair with the model at `nfe` evaluations per token, execute the plans and the
    references in the simulator; write `plans.npz` and a figure under `out_dir`; return the
    metrics (`success_rate`, `mean_steps_to_goal`, ..., the references' `straight_line_*` and
    `expert_*`, `planning_ms_per_plan`). Files: `samples.npz` (the executed plans `[P, H, 2]`),
    `execution.npz` (pairs `[P, 2, 2]` of cells, start and goal `[P, 2]`, success `[P]`, the
    simulator's trajectories `[P, S, 2]`, NaN after each one's end) and `plans.png`."""
    from datasets.simulated.maze.execute import (
        execute_plan,
        expert_plan,
        plan_success_summary,
        planning_pairs,
        straight_line_plan,
        task_positions,
    )
    from datasets.simulated.maze.layout import MazeLayout

    size = data.cfg.simulator.removeprefix("pointmaze_")
    layout = MazeLayout.from_size(size)
    pairs = planning_pairs(size, p.num_pairs, p.pairs_seed)
    # the exact start and goal of pair k in the simulator (its reset noise drawn from seed k)
    positions = [task_positions(size, s, g, p.pairs_seed + k) for k, (s, g) in enumerate(pairs)]
    starts, goal_xy = np.array([a for a, _ in positions]), np.array([b for _, b in positions])
    goals = torch.as_tensor(goal_xy, dtype=torch.float32)
    plans, seconds = model_plans(algo, start_tokens(starts, goal_xy, data.token_dim), goals,
                                 p.horizon, nfe, p.num_candidates, p.batch_size, seed)

    def execute(plan_xy: np.ndarray, k: int):
        start, goal = pairs[k]
        return execute_plan(size, start, goal, plan_xy, max_steps=p.max_steps,
                            seed=p.pairs_seed + k, success_radius=p.success_radius,
                            lookahead=p.lookahead)

    every = int(data.cfg.get("token_every", 1))
    results = [execute(per_step(plans[k].double().numpy(), every), k) for k in range(len(pairs))]
    references = {
        "straight_line": [execute(straight_line_plan(starts[k], goal_xy[k], p.horizon * every), k)
                          for k in range(len(pairs))],
        "expert": [execute(expert_plan(size, s, g, p.horizon * every, starts[k], goal_xy[k]), k)
                   for k, (s, g) in enumerate(pairs)]}
    metrics: dict[str, Any] = {**plan_success_summary(results)}
    for name, rows in references.items():
        metrics.update({f"{name}_{k}": v for k, v in plan_success_summary(rows).items()
                        if k != "num_pairs"})
    metrics.update(planning_seconds=seconds,
                   planning_ms_per_plan=1e3 * seconds / len(pairs),
                   planning_us_per_token_per_stream=1e6 * seconds
                   / (len(pairs) * p.num_candidates * p.horizon))
    out_dir.mkdir(parents=True, exist_ok=True)
    save_samples(plans, out_dir / "samples.npz")  # the executed plans [P, H, 2]
    np.savez(out_dir / "execution.npz", pairs=np.array(pairs), start=starts, goal=goal_xy,
             success=np.array([r.success for r in results]),
             trajectory=padded([r.trajectory for r in results]))
    from datasets.simulated.maze.plots import plot_plans

    plot_plans(layout, plans.numpy(), [r.trajectory for r in results],
               [r.success for r in results], goal_xy, out_dir / "plans.png",
               title=f"{algo.__class__.__name__}, {nfe} NFE: "
                     f"{metrics['success_rate']:.0%} reached")
    return metrics



def padded(trajectories: list[np.ndarray]) -> np.ndarray:
    """Trajectories `[S_k, 2]` of different lengths as one array `[P, max S_k, 2]`, NaN-padded."""
    out = np.full((len(trajectories), max(len(t) for t in trajectories), 2), np.nan)
    for k, t in enumerate(trajectories):
        out[k, :len(t)] = t
    return out


def per_step(plan: np.ndarray, every: int) -> np.ndarray:
    """A plan `[H, 2]` of one token per `every` simulator steps as one point per step
    `[(H - 1) · every + 1, 2]`, linear between tokens (the tracker's lookahead counts steps)."""
    if every == 1:
        return plan
    steps = np.arange((len(plan) - 1) * every + 1) / every
    tokens = np.arange(len(plan))
    return np.stack([np.interp(steps, tokens, plan[:, d]) for d in range(plan.shape[1])], axis=1)
