"""The PointMaze maze as cells: which are free, where their centres lie, shortest paths by BFS.

A maze is a grid of square cells, row `r` from the top and column `c` from the left; `1` is a wall
and anything else (`0`, or the maps' `"g"`, `"r"`, `"c"` markers) is free. Coordinates follow the
simulator's own `Maze.cell_rowcol_to_xy`: the grid is centred on the origin, x grows with the
column and y shrinks with the row, one cell is `scaling` long (1 in PointMaze).

Only `MazeLayout.from_size` and `quiet_robotics` import gymnasium-robotics (for its maps);
`draw_maze` imports matplotlib when called.
"""

from __future__ import annotations

import contextlib
import io
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Cell = tuple[int, int]

ENV_IDS: dict[str, str] = {
    "umaze": "PointMaze_UMaze-v3",
    "medium": "PointMaze_Medium-v3",
    "large": "PointMaze_Large-v3",
}
_MAP_NAMES = {"umaze": "U_MAZE", "medium": "MEDIUM_MAZE", "large": "LARGE_MAZE"}

# Up, down, left, right: the fixed neighbour order that makes BFS ties break the same way always.
_MOVES: tuple[Cell, ...] = ((-1, 0), (1, 0), (0, -1), (0, 1))


def check_size(size: str) -> str:
    """`size` itself when it names a maze, else one line listing the allowed names."""
    if size not in ENV_IDS:
        raise ValueError(f"unknown maze size {size!r}; allowed: {', '.join(ENV_IDS)}")
    return size


def quiet_robotics() -> ModuleType:
    """`gymnasium_robotics`, imported without the Adroit reward notice it writes to stderr on first
    import (it concerns the Adroit hands, not PointMaze), with its environments registered."""
    with contextlib.redirect_stderr(io.StringIO()):
        import gymnasium as gym
        import gymnasium_robotics
    gym.register_envs(gymnasium_robotics)
    return gymnasium_robotics


@dataclass(frozen=True, eq=False)
class MazeLayout:
    """`walls`: `[R, C]` bool, True where a cell is a wall; `name`: the size name or a label."""

    walls: np.ndarray
    name: str = "custom"
    scaling: float = 1.0
    _next_hop: dict[Cell, dict[Cell, Cell]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        w = np.asarray(self.walls, dtype=bool)
        if w.ndim != 2 or min(w.shape) < 1:
            raise ValueError(f"maze walls must be a 2-d grid of cells, got shape {w.shape}")
        if not (~w).any():
            raise ValueError(f"maze {self.name!r} has no free cell")
        object.__setattr__(self, "walls", w)

    @classmethod
    def from_map(cls, maze_map: Sequence[Sequence[Any]], name: str = "custom",
                 scaling: float = 1.0) -> MazeLayout:
        """From a gymnasium-robotics style map: a list of rows, `1` = wall, anything else free."""
        rows = [[v == 1 for v in row] for row in maze_map]
        if len({len(r) for r in rows}) > 1:
            raise ValueError(f"maze map {name!r} has rows of different lengths")
        return cls(np.array(rows, dtype=bool), name, scaling)

    @classmethod
    def from_size(cls, size: str) -> MazeLayout:
        """The map of `PointMaze_<size>-v3`: `size` is one of `ENV_IDS` ("umaze", "medium",
        "large")."""
        check_size(size)
        quiet_robotics()
        from gymnasium_robotics.envs.maze import maps
        return cls.from_map(getattr(maps, _MAP_NAMES[size]), size, 1.0)

    # ----- cells and coordinates -----

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return self.walls.shape  # type: ignore[return-value]

    @property
    def free_cells(self) -> list[Cell]:
        """Every free cell `(r, c)`, in row-major order."""
        return [(int(r), int(c)) for r, c in np.argwhere(~self.walls)]

    def in_bounds(self, cell: Sequence[int]) -> bool:
        r, c = int(cell[0]), int(cell[1])
        return 0 <= r < self.shape[0] and 0 <= c < self.shape[1]

    def is_free_cell(self, cell: Sequence[int]) -> bool:
        """Whether `(r, c)` lies in the grid and is not a wall."""
        return self.in_bounds(cell) and not self.walls[int(cell[0]), int(cell[1])]

    def cell_to_xy(self, cells: np.ndarray | Sequence[int]) -> np.ndarray:
        """Cell centres: `[..., 2]` (r, c) -> `[..., 2]` float64 (x, y), as the simulator's
        `cell_rowcol_to_xy`."""
        rc = np.asarray(cells, dtype=np.float64)
        rows, cols = self.shape
        x = (rc[..., 1] + 0.5) * self.scaling - cols / 2 * self.scaling
        y = rows / 2 * self.scaling - (rc[..., 0] + 0.5) * self.scaling
        return np.stack([x, y], axis=-1)

    def cells_of(self, xy: np.ndarray) -> np.ndarray:
        """The cell holding each point: `[..., 2]` (x, y) -> `[..., 2]` int64 (r, c), as the
        simulator's `cell_xy_to_rowcol` (possibly outside the grid)."""
        p = np.asarray(xy, dtype=np.float64)
        rows, cols = self.shape
        r = np.floor((rows / 2 * self.scaling - p[..., 1]) / self.scaling)
        c = np.floor((p[..., 0] + cols / 2 * self.scaling) / self.scaling)
        return np.stack([r, c], axis=-1).astype(np.int64)

    def cell_of(self, xy: np.ndarray | Sequence[float]) -> Cell:
        """The cell `(r, c)` holding the point `xy` `[2]` (possibly outside the grid)."""
        r, c = self.cells_of(np.asarray(xy, dtype=np.float64)[:2])
        return int(r), int(c)

    def is_free(self, xy: np.ndarray | Sequence[float]) -> bool:
        """Whether the point `xy` `[2]` lies in a free cell (the ball's radius is not counted)."""
        return self.is_free_cell(self.cell_of(xy))

    def free_mask(self, xy: np.ndarray) -> np.ndarray:
        """`[...]` bool: whether each point of `xy` `[..., 2]` lies in a free cell."""
        rc = self.cells_of(xy)
        rows, cols = self.shape
        inside = (rc[..., 0] >= 0) & (rc[..., 0] < rows) & (rc[..., 1] >= 0) & (rc[..., 1] < cols)
        out = np.zeros(rc.shape[:-1], dtype=bool)
        out[inside] = ~self.walls[rc[..., 0][inside], rc[..., 1][inside]]
        return out

    def nearest_free_cell(self, xy: np.ndarray | Sequence[float]) -> Cell:
        """The free cell whose centre is nearest to `xy` `[2]` (the point's own cell if free)."""
        cell = self.cell_of(xy)
        if self.is_free_cell(cell):
            return cell
        free = np.array(self.free_cells)
        d = np.linalg.norm(self.cell_to_xy(free) - np.asarray(xy, dtype=np.float64)[:2], axis=-1)
        r, c = free[int(np.argmin(d))]
        return int(r), int(c)

    # ----- shortest paths -----

    def neighbours(self, cell: Cell) -> list[Cell]:
        """The free 4-neighbours of `cell`, in the fixed order up, down, left, right."""
        out = []
        for dr, dc in _MOVES:
            n = (cell[0] + dr, cell[1] + dc)
            if self.is_free_cell(n):
                out.append(n)
        return out

    def _check_free(self, cell: Sequence[int], what: str) -> Cell:
        c = (int(cell[0]), int(cell[1]))
        if not self.is_free_cell(c):
            raise ValueError(f"{what} cell {c} is a wall or outside the {self.shape[0]}x"
                             f"{self.shape[1]} maze {self.name!r}")
        return c

    def _bfs(self, source: Cell) -> dict[Cell, Cell | None]:
        """BFS parents from `source` over the free cells (source's parent is None)."""
        parent: dict[Cell, Cell | None] = {source: None}
        queue = deque([source])
        while queue:
            cell = queue.popleft()
            for n in self.neighbours(cell):
                if n not in parent:
                    parent[n] = cell
                    queue.append(n)
        return parent

    def shortest_path(self, start_cell: Sequence[int], goal_cell: Sequence[int]) -> list[Cell]:
        """The cells from `start_cell` to `goal_cell`, both included, each a 4-neighbour of the
        last (BFS: as few moves as possible; `len - 1` moves)."""
        start = self._check_free(start_cell, "start")
        goal = self._check_free(goal_cell, "goal")
        parent = self._bfs(goal)  # from the goal: each parent is one step nearer to it
        if start not in parent:
            raise ValueError(f"no path from {start} to {goal} in maze {self.name!r}")
        path = [start]
        while path[-1] != goal:
            path.append(parent[path[-1]])  # type: ignore[arg-type]
        return path

    def next_cell(self, cell: Sequence[int], goal_cell: Sequence[int]) -> Cell:
        """The next cell on a shortest path from `cell` to `goal_cell` (`goal_cell` itself once
        there). Tables are built once per goal and cached."""
        goal = self._check_free(goal_cell, "goal")
        table = self._next_hop.get(goal)
        if table is None:
            parent = self._bfs(goal)
            table = {c: (p if p is not None else c) for c, p in parent.items()}
            self._next_hop[goal] = table
        here = (int(cell[0]), int(cell[1]))
        if here not in table:
            self._check_free(here, "current")
            raise ValueError(f"no path from {here} to {goal} in maze {self.name!r}")
        return table[here]

    def path_moves(self, start_cell: Sequence[int], goal_cell: Sequence[int]) -> int:
        """The number of moves of a shortest path (0 when start == goal)."""
        return len(self.shortest_path(start_cell, goal_cell)) - 1

    # ----- walls and segments -----

    def clearance(self, xy: np.ndarray) -> np.ndarray:
        """`[...]` float64: the distance from each point of `xy` `[..., 2]` to the nearest wall
        cell or the grid's outer edge (0 inside a wall)."""
        p = np.asarray(xy, dtype=np.float64)[..., None, :]  # [..., 1, 2]
        rows, cols = self.shape
        half = self.scaling / 2
        centres = self.cell_to_xy(np.argwhere(self.walls))  # [W, 2]
        d = np.maximum(np.abs(p - centres) - half, 0.0)  # [..., W, 2] to each wall square
        to_walls = np.sqrt((d ** 2).sum(-1)).min(-1) if len(centres) else np.inf
        x, y = p[..., 0, 0], p[..., 0, 1]
        hx, hy = cols / 2 * self.scaling, rows / 2 * self.scaling
        to_edge = np.minimum.reduce([x + hx, hx - x, y + hy, hy - y])
        return np.minimum(to_walls, np.maximum(to_edge, 0.0))

    def segment_is_clear(self, a_xy: np.ndarray | Sequence[float], b_xy: np.ndarray | Sequence[float],
                         radius: float = 0.1, step: float = 0.02) -> bool:
        """Whether a disc of `radius` (the ball's is 0.1) slides from `a_xy` to `b_xy` along the
        straight segment without touching a wall (checked every `step` along it)."""
        a, b = np.asarray(a_xy, dtype=np.float64), np.asarray(b_xy, dtype=np.float64)
        n = max(2, int(np.ceil(np.linalg.norm(b - a) / step)) + 1)
        points = a + np.linspace(0.0, 1.0, n)[:, None] * (b - a)
        return bool((self.clearance(points) >= radius).all())


def draw_maze(ax: Axes, layout: MazeLayout, wall_color: str = "0.35") -> Axes:
    """Draw the maze's wall cells as filled squares on `ax`, in the simulator's (x, y), with equal
    axes bounded by the grid; plans and trajectories `[T, 2]` can then be drawn on top."""
    from matplotlib.patches import Rectangle

    s = layout.scaling
    for r, c in np.argwhere(layout.walls):
        x, y = layout.cell_to_xy((r, c))
        ax.add_patch(Rectangle((x - s / 2, y - s / 2), s, s, facecolor=wall_color,
                               edgecolor="none", zorder=0))
    rows, cols = layout.shape
    ax.set_xlim(-cols / 2 * s, cols / 2 * s)
    ax.set_ylim(-rows / 2 * s, rows / 2 * s)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax
