"""Crafter episodes (crafter 1.8, MIT: a 2-D Minecraft-like world rendered in numpy, no OpenGL):
frames of the agent's local view and the action that led to each.

The world is a function of its seed and the actions (its creatures move by the world's own
random generator), so a recorded continuation is the emulator's. All 17 actions are kept, in
crafter's order (`ACTION_NAMES`). The behaviour policy holds a random action for a geometric
number of steps (mean `policy.hold_mean`), drawing moves and `do` (collect, attack) more often
than the crafting actions (`policy.move_weight`): uniform actions spend a third of the time
crafting with nothing to craft, and the view barely moves.

Random play dies of thirst or to a zombie after about 180 steps; crafter's world keeps running
after that (its `done` flag only reports it: the view, the creatures and the day-night cycle go
on, and the agent still moves), so an episode is `length` steps of one world, past the death
where there is one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from datasets.video.frames import to_grey

ACTION_NAMES = ("noop", "move_left", "move_right", "move_up", "move_down", "do", "sleep",
                "place_stone", "place_table", "place_furnace", "place_plant",
                "make_wood_pickaxe", "make_stone_pickaxe", "make_iron_pickaxe",
                "make_wood_sword", "make_stone_sword", "make_iron_sword")


def action_weights(move_weight: float) -> np.ndarray:
    """`[17]` probabilities: `move_weight` times more for the four moves and `do` than for the
    rest."""
    weights = np.ones(len(ACTION_NAMES))
    weights[1:6] = move_weight
    return weights / weights.sum()


def simulate_crafter(num_episodes: int, length: int, seed: int, size: int, grey: bool,
                     policy: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """`num_episodes` episodes of `length` tokens: frames `[N, T, size, size, C]` uint8 (crafter
    renders at `size`) and actions `[N, T]` int64 (token 0: the frame after reset, action 0 =
    noop). Episode i's world has seed `seed * 100_003 + i` and its policy draws from
    `np.random.default_rng([seed, i])`."""
    import crafter

    hold_mean = float(policy.get("hold_mean", 4))
    weights = action_weights(float(policy.get("move_weight", 6)))
    channels = 1 if grey else 3
    frames = np.zeros((num_episodes, length, size, size, channels), dtype=np.uint8)
    actions = np.zeros((num_episodes, length), dtype=np.int64)
    for i in range(num_episodes):
        rng = np.random.default_rng([seed, i])
        env = crafter.Env(size=(size, size), length=None, seed=seed * 100_003 + i)
        screen, held, left = env.reset(), 0, 0
        frames[i, 0] = to_grey(screen) if grey else screen
        for t in range(1, length):
            if left == 0:
                held = int(rng.choice(len(ACTION_NAMES), p=weights))
                left = int(rng.geometric(1.0 / hold_mean))
            left -= 1
            screen = env.step(held)[0]
            frames[i, t], actions[i, t] = (to_grey(screen) if grey else screen), held
    return frames, actions
