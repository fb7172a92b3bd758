"""What each simulator gives: its name in `dataset.simulator`, its channel groups and their
channel names, and the function that simulates its episodes (control tasks: control.py; mazes:
maze/generate.py). Nothing here imports a simulator until it is called."""

from __future__ import annotations

from typing import Any

from datasets.simulated.episodes import Episodes

MAZE_PREFIX = "pointmaze_"


def known_simulators() -> list[str]:
    from datasets.simulated.control import ENVIRONMENTS
    from datasets.simulated.maze.layout import ENV_IDS

    return [*ENVIRONMENTS, *(MAZE_PREFIX + size for size in ENV_IDS)]


def channel_groups(simulator: str) -> tuple[str, ...]:
    """The channel groups a simulator's episodes hold."""
    if simulator.startswith(MAZE_PREFIX):
        return ("position", "velocity", "action", "goal")
    return ("observation", "action", "sim_state")


def group_channel_names(simulator: str, group: str, width: int) -> list[str]:
    if group == "observation" and not simulator.startswith(MAZE_PREFIX):
        from datasets.simulated.control import ENVIRONMENTS, channel_names

        return list(channel_names(ENVIRONMENTS[simulator]["env_id"]))
    if group in ("position", "velocity", "goal", "action") and width == 2:
        return [f"{group}_x", f"{group}_y"]
    return [f"{group}_{i}" for i in range(width)]


def simulate(config: dict[str, Any]) -> Episodes:
    """The episodes of a generating config (`SimulatedEpisodesDataModule.generating_config`)."""
    simulator = config["simulator"]
    if simulator.startswith(MAZE_PREFIX):
        from datasets.simulated.maze.generate import generate_maze_episodes

        return generate_maze_episodes(simulator[len(MAZE_PREFIX):], config["num_episodes"],
                                      config["episode_length"], config["data_seed"],
                                      **config["policy"])
    from datasets.simulated.control import ENVIRONMENTS, simulate_control

    env = ENVIRONMENTS[simulator]
    kwargs = {**env.get("env_kwargs", {}), **config["env_kwargs"]}
    return simulate_control(env["env_id"], config["num_episodes"], config["episode_length"],
                            config["data_seed"], config["policy"], kwargs)
