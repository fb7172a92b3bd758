"""PointMaze: the layout against the simulator's own cells, BFS, the scripted controller, the
generated episodes (reproducible, replayable, goals redrawn on arrival) and plans executed on the
real simulator (success judged there, not on the plan)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from datasets.simulated.maze.controller import D_GAIN, P_GAIN, WaypointController, track
from datasets.simulated.maze.execute import (
    ExecutionResult,
    execute_controller,
    execute_plan,
    expert_plan,
    plan_success_summary,
    planning_pairs,
    resample_polyline,
    straight_line_plan,
    task_positions,
)
from datasets.simulated.maze.generate import (
    GOAL_RADIUS,
    episode_reset,
    generate_maze_episodes,
    make_env,
)
from datasets.simulated.maze.layout import ENV_IDS, MazeLayout, draw_maze

# The two arms of the U: (3, 1) bottom-left and (1, 1) top-left, a wall cell (2, 1) between them.
LOWER_ARM, UPPER_ARM = (3, 1), (1, 1)


@pytest.mark.parametrize("size", list(ENV_IDS))
def test_layout_matches_the_simulators_cells(size):
    layout = MazeLayout.from_size(size)
    env = make_env(size, continuing=False)
    maze = env.maze
    assert layout.shape == (maze.map_length, maze.map_width)
    assert layout.free_cells == [(r, c) for r in range(maze.map_length)
                                 for c in range(maze.map_width) if maze.maze_map[r][c] != 1]
    rng = np.random.default_rng(0)
    for r in range(maze.map_length):
        for c in range(maze.map_width):
            centre = maze.cell_rowcol_to_xy(np.array([r, c]))
            np.testing.assert_allclose(layout.cell_to_xy((r, c)), centre, atol=1e-12)
            point = centre + rng.uniform(-0.49, 0.49, size=2)
            assert layout.cell_of(point) == tuple(maze.cell_xy_to_rowcol(point))
            assert layout.is_free(point) == (maze.maze_map[r][c] != 1)
    env.close()


def test_bfs_is_shortest_on_hand_made_grids():
    # An open 4 x 5 room: a shortest path takes the Manhattan distance, 3 + 4 moves.
    room = MazeLayout(np.pad(np.zeros((4, 5), bool), 1, constant_values=True))
    path = room.shortest_path((1, 1), (4, 5))
    assert len(path) - 1 == 7 and path[0] == (1, 1) and path[-1] == (4, 5)
    assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in itertools.pairwise(path))
    # Two routes round a block: over the top 8 moves, along the bottom 6; BFS takes the bottom.
    ring = MazeLayout.from_map([[1, 1, 1, 1, 1, 1, 1],
                                [1, 0, 0, 0, 0, 0, 1],
                                [1, 0, 1, 1, 1, 0, 1],
                                [1, 0, 1, 1, 1, 0, 1],
                                [1, 0, 0, 0, 0, 0, 1],
                                [1, 1, 1, 1, 1, 1, 1]])
    assert ring.shortest_path((3, 1), (3, 5)) == [(3, 1), (4, 1), (4, 2), (4, 3), (4, 4), (4, 5),
                                                   (3, 5)]
    assert ring.next_cell((3, 1), (3, 5)) == (4, 1) and ring.next_cell((3, 5), (3, 5)) == (3, 5)
    # A comb: the only way from one tooth to the next is down and up again.
    comb = MazeLayout.from_map([[1, 1, 1, 1, 1],
                                [1, 0, 1, 0, 1],
                                [1, 0, 1, 0, 1],
                                [1, 0, 0, 0, 1],
                                [1, 1, 1, 1, 1]])
    assert comb.path_moves((1, 1), (1, 3)) == 6
    assert comb.is_free((-1.0, 1.0)) and not comb.is_free((0.0, 1.0))  # cells (1, 1) and (1, 2)
    assert comb.cell_of((0.9, -0.9)) == (3, 3)
    with pytest.raises(ValueError, match="no path"):
        MazeLayout.from_map([[0, 1, 0]]).shortest_path((0, 0), (0, 2))
    with pytest.raises(ValueError, match=r"start cell \(1, 2\) is a wall"):
        comb.shortest_path((1, 2), (1, 1))


def test_unknown_size_names_the_allowed_ones():
    with pytest.raises(ValueError, match="unknown maze size 'huge'; allowed: umaze, medium, large"):
        MazeLayout.from_size("huge")
    with pytest.raises(ValueError, match="allowed: umaze"):
        generate_maze_episodes("huge", 1, 10, seed=0)


def test_track_is_the_clipped_pd_law():
    state = np.array([0.0, 0.0, 0.5, -0.2])
    np.testing.assert_allclose(track(np.array([0.02, 0.01]), state),
                               [P_GAIN * 0.02 - D_GAIN * 0.5, P_GAIN * 0.01 + D_GAIN * 0.2])
    np.testing.assert_array_equal(track(np.array([5.0, -5.0]), state), [1.0, -1.0])


@pytest.mark.parametrize("start,goal", [(LOWER_ARM, UPPER_ARM), (UPPER_ARM, LOWER_ARM),
                                        ((1, 3), (3, 1)), ((3, 2), (1, 2))])
def test_controller_reaches_the_goal_on_umaze(start, goal):
    result = execute_controller("umaze", start, goal, max_steps=300, seed=3,
                                success_radius=GOAL_RADIUS)
    assert result.success and result.steps_to_goal < 200, result
    assert MazeLayout.from_size("umaze").free_mask(result.trajectory).all()


def test_generation_is_reproducible_from_the_seed():
    a = generate_maze_episodes("umaze", 3, 150, seed=7)
    b = generate_maze_episodes("umaze", 3, 150, seed=7)
    c = generate_maze_episodes("umaze", 2, 150, seed=7)
    d = generate_maze_episodes("umaze", 3, 150, seed=8)
    assert set(a.groups) == {"position", "velocity", "action", "goal"}
    for name, x in a.groups.items():
        assert x.shape == (3, 150, 2) and x.dtype == np.float32
        np.testing.assert_array_equal(x, b.groups[name])
        np.testing.assert_array_equal(x[:2], c.groups[name])  # episode i depends on (seed, i) only
        assert not np.array_equal(x, d.groups[name])
    assert a.meta == b.meta and a.meta["simulator"] == "PointMaze_UMaze-v3"
    layout = MazeLayout.from_size("umaze")
    for i in range(3):
        start = episode_reset("umaze", 7, i)
        assert start.start_cell != start.goal_cell
        assert layout.cell_of(a.groups["position"][i, 0]) == start.start_cell
        assert layout.cell_of(a.groups["goal"][i, 0]) == start.goal_cell
    assert layout.free_mask(a.groups["position"]).all()


def test_actions_are_what_was_applied_and_replay_exactly():
    episodes = generate_maze_episodes("umaze", 2, 200, seed=11)
    action = episodes.groups["action"]
    np.testing.assert_array_equal(action[:, 0], 0.0)
    assert np.abs(action).max() <= 1.0 and np.abs(action[:, 1:]).max() > 0.5
    env = make_env("umaze", continuing=True)  # a fresh env
    for i in range(2):
        start = episode_reset("umaze", 11, i)
        obs, _ = env.reset(seed=start.env_seed, options=start.options())
        states = [obs["observation"]]
        for j in range(1, 200):
            obs, *_ = env.step(action[i, j])
            states.append(obs["observation"])
        states = np.array(states, dtype=np.float32)
        np.testing.assert_array_equal(states[:, :2], episodes.groups["position"][i])
        np.testing.assert_array_equal(states[:, 2:], episodes.groups["velocity"][i])
    env.close()


def test_noise_free_actions_are_the_controllers():
    episodes = generate_maze_episodes("medium", 1, 300, seed=2, action_noise=0.0)
    g = episodes.groups
    controller = WaypointController(MazeLayout.from_size("medium"))
    state = np.concatenate([g["position"][0], g["velocity"][0]], axis=-1).astype(np.float64)
    expected = np.array([controller(state[j - 1], g["goal"][0, j]) for j in range(1, 300)])
    close = np.abs(expected - g["action"][0, 1:]).max(axis=1) < 1e-3  # float32 states
    assert close.mean() > 0.98, close.mean()


def test_a_goal_is_redrawn_when_reached_and_only_then():
    episodes = generate_maze_episodes("umaze", 3, 400, seed=5)
    position, goal = episodes.groups["position"], episodes.groups["goal"]
    distance = np.linalg.norm(position - goal, axis=-1)[:, :-1]  # [N, T - 1]
    changed = (goal[:, 1:] != goal[:, :-1]).any(axis=-1)  # goal of token j + 1 differs from j's
    assert changed.sum() >= 3 and changed.sum() == episodes.meta["goals_reached"]
    assert (distance[changed] <= GOAL_RADIUS + 1e-5).all()
    assert (distance[~changed][:, None] > GOAL_RADIUS - 1e-5).all()


def test_planning_pairs_need_a_turn_and_are_fixed():
    pairs = planning_pairs("umaze", 20, seed=0)
    assert pairs == planning_pairs("umaze", 20, seed=0) != planning_pairs("umaze", 20, seed=1)
    assert len(set(pairs)) == 20  # every umaze pair with a blocked straight line and >= 3 moves
    assert (LOWER_ARM, UPPER_ARM) in pairs and ((1, 1), (1, 3)) not in pairs  # a clear line
    for size in ("umaze", "large"):
        layout = MazeLayout.from_size(size)
        for start, goal in planning_pairs(size, 20, seed=0):
            assert start != goal and layout.path_moves(start, goal) >= 3
            assert not layout.segment_is_clear(layout.cell_to_xy(start), layout.cell_to_xy(goal))


def test_expert_plan_succeeds_and_is_deterministic_on_umaze():
    layout = MazeLayout.from_size("umaze")
    for k, (start, goal) in enumerate(planning_pairs("umaze", 4, seed=0)):
        start_xy, goal_xy = task_positions("umaze", start, goal, seed=k)
        plan = expert_plan("umaze", start, goal, 128, start_xy, goal_xy)
        assert plan.shape == (128, 2) and layout.free_mask(plan).all()
        result = execute_plan("umaze", start, goal, plan, max_steps=400, seed=k)
        assert result.success and result.final_distance <= 0.5, (start, goal, result.final_distance)
        np.testing.assert_array_equal(result.start_xy, start_xy)
        np.testing.assert_array_equal(result.goal_xy, goal_xy)
        assert len(result.trajectory) == result.steps_to_goal + 1
        assert layout.free_mask(result.trajectory).all()
    again = execute_plan("umaze", start, goal, plan, max_steps=400, seed=k)
    np.testing.assert_array_equal(again.trajectory, result.trajectory)


def test_straight_line_plan_fails_across_the_arms():
    start_xy, goal_xy = task_positions("umaze", LOWER_ARM, UPPER_ARM, seed=0)
    line = straight_line_plan(start_xy, goal_xy, 128)
    np.testing.assert_allclose(line[[0, -1]], [start_xy, goal_xy])
    result = execute_plan("umaze", LOWER_ARM, UPPER_ARM, line, max_steps=400, seed=0)
    assert not result.success and result.steps_to_goal is None and result.final_distance > 0.5
    assert len(result.trajectory) == 401
    expert = expert_plan("umaze", LOWER_ARM, UPPER_ARM, 128, start_xy, goal_xy)
    assert execute_plan("umaze", LOWER_ARM, UPPER_ARM, expert, max_steps=400, seed=0).success


def test_a_plan_through_a_wall_fails_on_the_simulator_though_it_ends_at_the_goal():
    layout = MazeLayout.from_size("umaze")
    start_xy, goal_xy = task_positions("umaze", UPPER_ARM, LOWER_ARM, seed=1)
    # Along the upper arm to (1, 2), straight down through the wall cell (2, 2), then to the goal.
    corners = np.array([start_xy, layout.cell_to_xy((1, 2)), layout.cell_to_xy((3, 2)), goal_xy])
    plan = resample_polyline(corners, 128)
    assert np.linalg.norm(plan[-1] - goal_xy) == 0 and not layout.free_mask(plan).all()
    result = execute_plan("umaze", UPPER_ARM, LOWER_ARM, plan, max_steps=400, seed=1)
    assert not result.success and result.final_distance > 0.5
    assert layout.free_mask(result.trajectory).all()  # the simulator never let the ball through


def test_plan_success_summary_and_bad_plans():
    def result(steps):
        return ExecutionResult(steps is not None, steps, np.zeros((1, 2)), 0.1 if steps else 2.0,
                               np.zeros(2), np.zeros(2))
    summary = plan_success_summary([result(10), result(30), result(None), result(None)])
    assert summary == {"success_rate": 0.5, "mean_steps_to_goal": 20.0,
                       "mean_final_distance": 1.05, "num_pairs": 4}
    assert np.isnan(plan_success_summary([result(None)])["mean_steps_to_goal"])
    with pytest.raises(ValueError, match="at least one"):
        plan_success_summary([])
    with pytest.raises(ValueError, match=r"plan_xy must be \[H, 2\]"):
        execute_plan("umaze", UPPER_ARM, LOWER_ARM, np.zeros((5, 3)), max_steps=10, seed=0)
    with pytest.raises(ValueError, match=r"start cell \(2, 1\) is a wall"):
        execute_plan("umaze", (2, 1), LOWER_ARM, np.zeros((5, 2)), max_steps=10, seed=0)


def test_draw_maze_draws_every_wall_cell():
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    layout = MazeLayout.from_size("medium")
    fig, ax = plt.subplots()
    draw_maze(ax, layout)
    assert len(ax.patches) == int(layout.walls.sum())
    assert ax.get_xlim() == (-4.0, 4.0) and ax.get_ylim() == (-4.0, 4.0)
    plt.close(fig)
