"""Plans executed on the real PointMaze: a plan is a sequence of positions `[H, 2]`; the ball tracks
it with the PD law of `controller.track`, and success is judged on the simulator (the ball within
`success_radius` of the env's goal), never on the plan, so a plan through a wall fails however well
it ends.

`planning_pairs` fixes the start/goal cells of an evaluation; `task_positions` gives the exact
start and goal points the env uses for a pair and a seed (the env adds up to +-0.25 of noise to each
cell centre), which a planner should plan between. `straight_line_plan` is the baseline that ignores
walls, `expert_plan` an upper reference along the BFS path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from datasets.simulated.maze.controller import WaypointController, track
from datasets.simulated.maze.generate import make_env
from datasets.simulated.maze.layout import Cell, MazeLayout

BALL_RADIUS = 0.1  # the PointMaze ball's
# Plan points the tracker aims ahead of its progress along the plan, for plans at the data's rate
# (one point per simulator step; the generated data move 0.04 per step on average). Measured on
# expert plans with one point every 0.05 along the path, 20 `planning_pairs` per maze, mean steps
# to the goal (umaze / medium / large): lookahead 4 -> 181 / 296 / 343, 8 -> 98 / 158 / 180,
# 16 -> 73 / 108 / 131; the scripted controller takes 80 / 126 / 143. All reached 20/20, as did
# lookahead 16 on plans 3x sparser (a target 2.4 ahead still slides round the corners). 16 keeps
# the data's pace; lookahead 1 on such dense plans creeps and reaches nothing in 1 000 steps.
DEFAULT_LOOKAHEAD = 16


def _cell(cell: Sequence[int]) -> Cell:
    return int(cell[0]), int(cell[1])


def planning_pairs(size: str, num_pairs: int, seed: int, min_moves: int = 3) -> list[tuple[Cell, Cell]]:
    """`num_pairs` (start_cell, goal_cell) pairs, start != goal, drawn (by `seed`) from the ordered
    pairs of free cells whose shortest path takes at least `min_moves` moves AND whose straight
    segment between the cell centres is blocked (the ball's disc, radius 0.1, would touch a wall):
    pairs a planner cannot solve by ignoring the walls. The candidates are shuffled once; asking
    for more pairs than exist (umaze has 20) repeats the shuffled list."""
    if num_pairs < 1:
        raise ValueError(f"num_pairs must be >= 1, got {num_pairs}")
    layout = MazeLayout.from_size(size)
    free = layout.free_cells
    candidates = [(s, g) for s in free for g in free
                  if s != g and layout.path_moves(s, g) >= min_moves
                  and not layout.segment_is_clear(layout.cell_to_xy(s), layout.cell_to_xy(g),
                                                  radius=BALL_RADIUS)]
    if not candidates:
        raise ValueError(f"maze {size!r} has no pair with a blocked straight line and >= "
                         f"{min_moves} moves")
    order = np.random.default_rng(int(seed)).permutation(len(candidates))
    return [candidates[int(order[k % len(order)])] for k in range(num_pairs)]


@cache
def _episodic_env(size: str):
    """One episodic env per maze size and process, reused: `reset` rebuilds its whole state
    (`mj_resetData`, the seeded noise), so a run never depends on the runs before it."""
    return make_env(size, continuing=False)


def _reset(env, start_cell: Sequence[int], goal_cell: Sequence[int], seed: int):
    layout_shape = (len(env.maze.maze_map), len(env.maze.maze_map[0]))
    for what, c in (("start", start_cell), ("goal", goal_cell)):
        r, k = _cell(c)
        if not (0 <= r < layout_shape[0] and 0 <= k < layout_shape[1]) or env.maze.maze_map[r][k] == 1:
            raise ValueError(f"{what} cell {(r, k)} is a wall or outside the maze")
    obs, _ = env.reset(seed=int(seed), options={"reset_cell": np.array(_cell(start_cell)),
                                                "goal_cell": np.array(_cell(goal_cell))})
    return obs


def task_positions(size: str, start_cell: Sequence[int], goal_cell: Sequence[int],
                   seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The exact start and goal points `([2], [2])` float64 that `execute_plan` with the same
    arguments puts the ball and the goal at (the cell centres plus the env's seeded noise)."""
    obs = _reset(_episodic_env(size), start_cell, goal_cell, seed)
    return obs["achieved_goal"].copy(), obs["desired_goal"].copy()


@dataclass(frozen=True)
class ExecutionResult:
    """`trajectory`: `[S, 2]` the ball's positions from the start (row 0) to the last step run;
    the run stops at the first step within `success_radius` of `goal_xy` or after `max_steps`.
    `steps_to_goal`: that first step (None when never reached); `final_distance`: from the last
    position to the goal."""

    success: bool
    steps_to_goal: int | None
    trajectory: np.ndarray
    final_distance: float
    start_xy: np.ndarray
    goal_xy: np.ndarray


def execute_plan(size: str, start_cell: Sequence[int], goal_cell: Sequence[int], plan_xy: np.ndarray,
                 max_steps: int, seed: int, success_radius: float = 0.5,
                 lookahead: int = DEFAULT_LOOKAHEAD) -> ExecutionResult:
    """Run the real PointMaze (episodic, one fixed goal; reset with `seed` into the given cells)
    with the ball tracking `plan_xy` `[H, 2]`: at each step the progress index moves to the
    nearest plan point among the current one and the `2 * lookahead + 1` after it (never backwards,
    never jumping through a wall to a later part of the plan), and the PD target is the point
    `lookahead` beyond it; after the plan's end the ball keeps tracking the last point.
    Success: the ball within `success_radius` of the env's goal at some step <= `max_steps`."""
    plan = np.asarray(plan_xy, dtype=np.float64)
    if plan.ndim != 2 or plan.shape[1] != 2 or len(plan) < 1:
        raise ValueError(f"plan_xy must be [H, 2] positions with H >= 1, got shape {plan.shape}")
    if not np.isfinite(plan).all():
        raise ValueError("plan_xy has non-finite positions")
    if max_steps < 0 or lookahead < 0 or not success_radius > 0:
        raise ValueError(f"need max_steps >= 0, lookahead >= 0, success_radius > 0; got "
                         f"{max_steps}, {lookahead}, {success_radius}")
    return _run(size, start_cell, goal_cell, max_steps, seed, success_radius,
                _PlanTracker(plan, lookahead))


def execute_controller(size: str, start_cell: Sequence[int], goal_cell: Sequence[int],
                       max_steps: int, seed: int, success_radius: float = 0.5) -> ExecutionResult:
    """The same task as `execute_plan`, driven by the scripted `WaypointController` (BFS + PD
    toward the env's goal) instead of a plan: the reference a plan's execution is compared with."""
    if max_steps < 0 or not success_radius > 0:
        raise ValueError(f"need max_steps >= 0 and success_radius > 0; got {max_steps}, "
                         f"{success_radius}")
    controller = WaypointController(MazeLayout.from_size(size))
    return _run(size, start_cell, goal_cell, max_steps, seed, success_radius,
                lambda state, goal: controller(state, goal))


class _PlanTracker:
    """The plan-following policy of `execute_plan` (it keeps the progress index)."""

    def __init__(self, plan: np.ndarray, lookahead: int):
        self.plan, self.lookahead = plan, lookahead
        self.window, self.last, self.progress = 2 * lookahead + 1, len(plan) - 1, 0

    def __call__(self, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
        ahead = self.plan[self.progress:self.progress + self.window + 1]
        self.progress += int(np.argmin(np.linalg.norm(ahead - state[:2], axis=1)))
        return track(self.plan[min(self.progress + self.lookahead, self.last)], state)


def _run(size: str, start_cell: Sequence[int], goal_cell: Sequence[int], max_steps: int, seed: int,
         success_radius: float, policy) -> ExecutionResult:
    env = _episodic_env(size)
    obs = _reset(env, start_cell, goal_cell, seed)
    goal = obs["desired_goal"].copy()
    state = obs["observation"]
    positions = [state[:2].copy()]
    steps_to_goal = 0 if np.linalg.norm(state[:2] - goal) <= success_radius else None
    step = 0
    while steps_to_goal is None and step < max_steps:
        obs, *_ = env.step(policy(state, goal))
        state = obs["observation"]
        step += 1
        positions.append(state[:2].copy())
        if np.linalg.norm(state[:2] - goal) <= success_radius:
            steps_to_goal = step
    trajectory = np.array(positions)
    return ExecutionResult(success=steps_to_goal is not None, steps_to_goal=steps_to_goal,
                           trajectory=trajectory,
                           final_distance=float(np.linalg.norm(trajectory[-1] - goal)),
                           start_xy=trajectory[0].copy(), goal_xy=goal)


def straight_line_plan(start_xy: np.ndarray, goal_xy: np.ndarray, horizon: int) -> np.ndarray:
    """`[H, 2]`: `horizon` evenly spaced points from `start_xy` to `goal_xy`, both included (the
    baseline that ignores the walls)."""
    if horizon < 2:
        raise ValueError(f"a plan's horizon must be >= 2 points, got {horizon}")
    a, b = np.asarray(start_xy, dtype=np.float64)[:2], np.asarray(goal_xy, dtype=np.float64)[:2]
    return a + np.linspace(0.0, 1.0, int(horizon))[:, None] * (b - a)


def resample_polyline(points: np.ndarray, horizon: int) -> np.ndarray:
    """`[K, 2]` corner points -> `[H, 2]`: `horizon` points evenly spaced by arc length along the
    polyline, first and last corners included."""
    pts = np.asarray(points, dtype=np.float64)
    if horizon < 2:
        raise ValueError(f"a plan's horizon must be >= 2 points, got {horizon}")
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    if arc[-1] == 0:
        return np.repeat(pts[:1], horizon, axis=0)
    s = np.linspace(0.0, arc[-1], int(horizon))
    return np.stack([np.interp(s, arc, pts[:, 0]), np.interp(s, arc, pts[:, 1])], axis=1)


def expert_plan(size: str, start_cell: Sequence[int], goal_cell: Sequence[int], horizon: int,
                start_xy: np.ndarray | None = None, goal_xy: np.ndarray | None = None) -> np.ndarray:
    """`[H, 2]`: `horizon` points evenly spaced along the BFS cell path, through the cell centres
    from `start_cell` to `goal_cell` (the first and last replaced by `start_xy` / `goal_xy` when
    given, e.g. from `task_positions`): the upper reference a planner is compared with."""
    layout = MazeLayout.from_size(size)
    corners = layout.cell_to_xy(np.array(layout.shortest_path(start_cell, goal_cell)))
    if start_xy is not None:
        corners[0] = np.asarray(start_xy, dtype=np.float64)[:2]
    if goal_xy is not None:
        corners[-1] = np.asarray(goal_xy, dtype=np.float64)[:2]
    return resample_polyline(corners, horizon)


def plan_success_summary(results: Sequence[ExecutionResult]) -> dict[str, float]:
    """`success_rate` (share of results that reached the goal), `mean_steps_to_goal` (over the
    successes; NaN when none), `mean_final_distance`, `num_pairs`."""
    if not results:
        raise ValueError("plan_success_summary needs at least one ExecutionResult")
    steps = [r.steps_to_goal for r in results if r.steps_to_goal is not None]
    return {
        "success_rate": float(np.mean([r.success for r in results])),
        "mean_steps_to_goal": float(np.mean(steps)) if steps else math.nan,
        "mean_final_distance": float(np.mean([r.final_distance for r in results])),
        "num_pairs": len(results),
    }
