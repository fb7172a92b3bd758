"""The scripted PointMaze controller: BFS over the maze's cells, then a PD law toward the next cell
centre on the path (the goal itself once in the goal cell), as D4RL's maze2d data were made.

`track` is the same PD law toward any target point, which is how a plan is executed. Plain numpy:
no simulator here. A state is `[4]` (x, y, vx, vy), as PointMaze's `observation`.
"""

from __future__ import annotations

import numpy as np

from datasets.simulated.maze.layout import MazeLayout

# action = P_GAIN * (target - position) - D_GAIN * velocity, clipped to [-1, 1]: D4RL's maze2d
# waypoint gains (p = 10, d = 1). Checked by a sweep of p in {5, 10, 20} x d in {0.5, 1, 2} on this
# simulator, no action noise, 20 random start/goal cell pairs per maze, steps until the env's 0.45
# goal radius: every setting reached 20/20; p = 10, d = 1 took 53 / 104 / 151 steps on average
# (umaze / medium / large), within 6% of the fewest of any setting (52 / 99 / 151); d = 2 or p = 5
# are up to 2x slower, p = 20 (saturated for most of the way) at most 5% faster.
P_GAIN = 10.0
D_GAIN = 1.0


def _split(state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(state, dtype=np.float64)
    if s.shape[-1] != 4:
        raise ValueError(f"a PointMaze state is (x, y, vx, vy), got shape {s.shape}")
    return s[:2], s[2:4]


def pd_action(target_xy: np.ndarray, position: np.ndarray, velocity: np.ndarray,
              p_gain: float = P_GAIN, d_gain: float = D_GAIN) -> np.ndarray:
    """`[2]` float64 in [-1, 1]: `p_gain * (target - position) - d_gain * velocity`, clipped."""
    a = p_gain * (np.asarray(target_xy, dtype=np.float64) - position) - d_gain * velocity
    return np.clip(a, -1.0, 1.0)


def track(position_target: np.ndarray, state: np.ndarray) -> np.ndarray:
    """The PD law toward an arbitrary point: `position_target` `[2]` (x, y), `state` `[4]`
    (x, y, vx, vy) -> action `[2]` in [-1, 1]."""
    position, velocity = _split(state)
    return pd_action(position_target, position, velocity)


class WaypointController:
    """Steers the ball to `goal_xy` through the maze: the next cell centre on a shortest cell path
    from the ball's cell to the goal's cell, or the goal itself once in the goal's cell.

    Stateless: every call plans from the current cell (BFS tables cached per goal cell in the
    layout), so a noisy or pushed ball never follows a stale plan. Heading from anywhere in a free
    cell to the centre of a 4-neighbour free cell stays inside the two cells (a convex 1x2
    rectangle), so the straight run never cuts a wall corner.
    """

    def __init__(self, layout: MazeLayout, p_gain: float = P_GAIN, d_gain: float = D_GAIN):
        self.layout = layout
        self.p_gain = p_gain
        self.d_gain = d_gain

    def waypoint(self, position: np.ndarray, goal_xy: np.ndarray) -> np.ndarray:
        """`[2]`: the point the ball at `position` `[2]` heads to next on its way to `goal_xy`."""
        here = self.layout.nearest_free_cell(position)
        goal_cell = self.layout.nearest_free_cell(goal_xy)
        if here == goal_cell:
            return np.asarray(goal_xy, dtype=np.float64)[:2]
        return self.layout.cell_to_xy(self.layout.next_cell(here, goal_cell))

    def __call__(self, state: np.ndarray, goal_xy: np.ndarray) -> np.ndarray:
        """`state` `[4]` (x, y, vx, vy), `goal_xy` `[2]` -> action `[2]` in [-1, 1]."""
        position, velocity = _split(state)
        return pd_action(self.waypoint(position, goal_xy), position, velocity,
                         self.p_gain, self.d_gain)
