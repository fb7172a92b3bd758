"""PointMaze episodes from the scripted controller with action noise, in continuing mode: each time
the ball reaches its goal (the env's 0.45 radius) the env draws a new one, so an episode strings
several goals together, as D4RL's maze2d data.

Each episode is a pure function of `(seed, episode index)` (`episode_reset`): its start cell, first
goal cell, the env's reset seed (which fixes the env's noise on the start and goal positions and the
goals it draws later) and the action noise. The applied actions are rounded to float32 before the
step, so the stored `action` group is exactly what the simulator got and a replay from the same
reset gives the same states bit for bit.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from datasets.simulated.episodes import Episodes
from datasets.simulated.maze.controller import D_GAIN, P_GAIN, WaypointController
from datasets.simulated.maze.layout import (
    ENV_IDS,
    Cell,
    MazeLayout,
    check_size,
    quiet_robotics,
)
from datasets.simulated.mujoco_log import route_mujoco_warnings

DEFAULT_ACTION_NOISE = 0.5  # std of the Gaussian added to each action before clipping (D4RL's noisy maze2d)
GOAL_RADIUS = 0.45  # the env's own: a goal is reached (and redrawn) within this distance


def make_env(size: str, continuing: bool) -> Any:
    """The bare `PointMazeEnv` of `size` (no time limit or other wrapper): `continuing=True` for
    data (goals redrawn on arrival, never terminated), False for executing a plan (a fixed goal)."""
    check_size(size)
    quiet_robotics()
    route_mujoco_warnings()  # not into MUJOCO_LOG.TXT in the current directory
    import gymnasium as gym

    env = gym.make(ENV_IDS[size], continuing_task=continuing, reset_target=continuing,
                   max_episode_steps=None).unwrapped
    # The env writes its maze's MJCF to a temporary file it never removes; MuJoCo has read it.
    with contextlib.suppress(OSError):
        os.remove(env.tmp_xml_file_path)
    return env


@dataclass(frozen=True)
class EpisodeReset:
    """How episode `index` of `seed` starts: its cells, and the seed passed to `env.reset`."""

    start_cell: Cell
    goal_cell: Cell
    env_seed: int

    def options(self) -> dict[str, np.ndarray]:
        """The `options` of `env.reset` that put the ball and the goal in these cells."""
        return {"reset_cell": np.array(self.start_cell), "goal_cell": np.array(self.goal_cell)}


def _episode_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(index)])


def _draw_reset(layout: MazeLayout, rng: np.random.Generator) -> EpisodeReset:
    free = layout.free_cells
    i, j = rng.choice(len(free), size=2, replace=False)
    return EpisodeReset(free[int(i)], free[int(j)], int(rng.integers(2 ** 31 - 1)))


def episode_reset(size: str, seed: int, index: int) -> EpisodeReset:
    """The start of episode `index` in `generate_maze_episodes(size, ..., seed=seed)`: a random free
    start cell, a different random free goal cell, the env's reset seed."""
    return _draw_reset(MazeLayout.from_size(size), _episode_rng(seed, index))


def generate_maze_episodes(size: str, num_episodes: int, length: int, seed: int,
                           action_noise: float = DEFAULT_ACTION_NOISE) -> Episodes:
    """`num_episodes` episodes of `length` states each on the PointMaze `size`.

    Groups (float32): `position` `[N, T, 2]` and `velocity` `[N, T, 2]`, the state reached at step
    j; `action` `[N, T, 2]`, the action applied between states j - 1 and j (zeros at j = 0);
    `goal` `[N, T, 2]`, the goal in force during that step, i.e. the one the action of token j
    was steering to (at j = 0, the first goal). The step where the ball comes within 0.45 of
    `goal[:, j]` is the last token with that goal; `goal[:, j + 1]` is the env's new draw.
    `meta` records the simulator, the policy, the seed and `goals_reached` (over all episodes).
    """
    check_size(size)
    if num_episodes < 1 or length < 1:
        raise ValueError(f"need num_episodes >= 1 and length >= 1, got {num_episodes} and {length}")
    if not action_noise >= 0:
        raise ValueError(f"action_noise is a standard deviation, must be >= 0, got {action_noise}")
    layout = MazeLayout.from_size(size)
    controller = WaypointController(layout)
    env = make_env(size, continuing=True)
    n, t = int(num_episodes), int(length)
    position = np.zeros((n, t, 2), np.float32)
    velocity = np.zeros((n, t, 2), np.float32)
    action = np.zeros((n, t, 2), np.float32)
    goal = np.zeros((n, t, 2), np.float32)
    reached = np.zeros(n, np.int64)
    try:
        for i in range(n):
            rng = _episode_rng(seed, i)
            start = _draw_reset(layout, rng)
            obs, _ = env.reset(seed=start.env_seed, options=start.options())
            state, target = obs["observation"], obs["desired_goal"]
            position[i, 0], velocity[i, 0], goal[i, 0] = state[:2], state[2:], target
            noise = rng.standard_normal((t, 2)) * action_noise
            for j in range(1, t):
                a = np.clip(controller(state, target) + noise[j], -1.0, 1.0).astype(np.float32)
                obs, _, _, _, info = env.step(a)
                state = obs["observation"]
                position[i, j], velocity[i, j], action[i, j] = state[:2], state[2:], a
                goal[i, j] = obs["desired_goal"]  # the goal this step steered to (before any redraw)
                if info["success"]:
                    reached[i] += 1
                    target = env.goal.copy()  # the env's redraw, in force from the next step
    finally:
        env.close()
    meta = {
        "simulator": ENV_IDS[size], "size": size, "mode": "continuing, goals redrawn on arrival",
        "policy": "waypoint_pd", "p_gain": P_GAIN, "d_gain": D_GAIN,
        "action_noise": float(action_noise), "seed": int(seed), "num_episodes": n, "length": t,
        "episode_start": "episode_reset(size, seed, index)", "goal_radius": GOAL_RADIUS,
        "goals_reached": int(reached.sum()),
        "episodes_reaching_no_goal": int((reached == 0).sum()),
    }
    return Episodes({"position": position, "velocity": velocity, "action": action, "goal": goal},
                    meta)
