"""Atari episodes from the Arcade Learning Environment (ale-py: its wheel carries the ROMs, so
nothing is downloaded): frames of the play field and the action that led to each.

The emulator runs with `frameskip=4` and no sticky actions (`repeat_action_probability=0`), so
a game is a deterministic function of its start state and the actions: the recorded continuation
of a window is exactly what the emulator gives replaying its actions from that state (the
forecast task's ground truth). Each game uses a few of its actions (`GAMES[game]["actions"]`),
numbered 0.. in the tokens' given channels (one-hot).

Behaviour policy, one member per episode (`policy.tracking_probability`): random actions held
for a geometric number of steps (mean `policy.hold_mean`), or a player that reads the screen and
moves its paddle toward the ball, taking a random action with probability `policy.epsilon`
(random play in Breakout loses its five balls within seconds and leaves the wall untouched; the
player keeps the ball in play, so the data hold rallies, bounces and broken bricks).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from datasets.video.frames import preprocess

#: per game: the ALE id, the play-field crop (top, bottom, left, right) of the 210 x 160 screen,
#: the actions used (ALE action ids, and their names), the player's paddle colour and rows /
#: columns where the tracking player finds it, and the ball's colour
GAMES: dict[str, dict[str, Any]] = {
    "pong": {
        "env_id": "ALE/Pong-v5", "crop": (34, 194, 0, 160),
        "actions": (0, 2, 3), "action_names": ("NOOP", "UP", "DOWN"),
        "paddle_colour": (92, 186, 92), "paddle_columns": (140, 144), "axis": 0,
        "ball_colour": (236, 236, 236), "moves": {-1: 1, 1: 2},  # toward smaller / larger row
    },
    "breakout": {
        "env_id": "ALE/Breakout-v5", "crop": (32, 196, 8, 152),
        "actions": (0, 1, 2, 3), "action_names": ("NOOP", "FIRE", "RIGHT", "LEFT"),
        "paddle_colour": (200, 72, 72), "paddle_rows": (189, 193), "axis": 1,
        "ball_colour": (200, 72, 72), "moves": {-1: 3, 1: 2}, "fire": 1,
    },
}


def make_env(game: str):
    """The game's gymnasium env (frameskip 4, no sticky actions); a clear error if ale-py is
    missing."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    return gym.make(GAMES[game]["env_id"], frameskip=4, repeat_action_probability=0.0)


def _centre(mask: np.ndarray, axis: int) -> float | None:
    """The mean coordinate along `axis` (0: rows, 1: columns) of a boolean mask; None if empty."""
    where = np.nonzero(mask)[axis]
    return float(where.mean()) if where.size else None


def tracking_action(game: str, screen: np.ndarray, rng: np.random.Generator,
                    epsilon: float) -> int:
    """The tracking player's action index (into `GAMES[game]["actions"]`) for a screen
    `[210, 160, 3]`: move the paddle's centre toward the ball's along the paddle's axis (rows for
    Pong, columns for Breakout), NOOP within 3 pixels, FIRE when Breakout has no ball in play; a
    uniform random action with probability `epsilon`."""
    spec = GAMES[game]
    if rng.random() < epsilon:
        return int(rng.integers(len(spec["actions"])))
    top, bottom, _, _ = spec["crop"]
    if "paddle_columns" in spec:
        lo, hi = spec["paddle_columns"]
        paddle = np.all(screen[top:bottom, lo:hi] == spec["paddle_colour"], axis=-1)
        ball_region = screen[top:bottom, :lo - 4]
    else:
        lo, hi = spec["paddle_rows"]
        paddle = np.all(screen[lo:hi] == spec["paddle_colour"], axis=-1)
        ball_region = screen[93:lo - 1]  # below the bricks, above the paddle
    ball = np.all(ball_region == spec["ball_colour"], axis=-1)
    axis = spec["axis"]
    paddle_at, ball_at = _centre(paddle, axis), _centre(ball, axis)
    if ball_at is None or paddle_at is None:
        return int(spec.get("fire", 0))
    if abs(ball_at - paddle_at) <= 3:
        return 0
    return int(spec["moves"][1 if ball_at > paddle_at else -1])


def simulate_atari(game: str, num_episodes: int, length: int, seed: int, size: int,
                   grey: bool, policy: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """`num_episodes` episodes of `length` tokens: frames `[N, T, size, size, C]` uint8 and
    actions `[N, T]` int64 (token 0: the frame after reset, action 0 = NOOP; token t: the frame
    after action t). Episode i resets the game with seed `seed * 100_003 + i` and draws its
    policy from `np.random.default_rng([seed, i])`. An episode whose game ends before `length`
    tokens is replaced by the next seed (so every episode is one uninterrupted game)."""
    spec = GAMES[game]
    hold_mean = float(policy.get("hold_mean", 4))
    tracking_probability = float(policy.get("tracking_probability", 0.5))
    epsilon = float(policy.get("epsilon", 0.2))
    channels = 1 if grey else 3
    frames = np.zeros((num_episodes, length, size, size, channels), dtype=np.uint8)
    actions = np.zeros((num_episodes, length), dtype=np.int64)
    env = make_env(game)
    try:
        done, attempt = 0, 0
        while done < num_episodes:
            rng = np.random.default_rng([seed, attempt])
            screen, _ = env.reset(seed=seed * 100_003 + attempt)
            attempt += 1
            tracking = rng.random() < tracking_probability
            held, left = 0, 0
            frames[done, 0] = preprocess(screen, spec["crop"], size, grey)
            for t in range(1, length):
                if tracking:
                    action = tracking_action(game, screen, rng, epsilon)
                else:
                    if left == 0:
                        held, left = int(rng.integers(len(spec["actions"]))), int(
                            rng.geometric(1.0 / hold_mean))
                    action, left = held, left - 1
                screen, _, terminated, truncated, _ = env.step(spec["actions"][action])
                if terminated or truncated:
                    break
                frames[done, t], actions[done, t] = preprocess(screen, spec["crop"], size,
                                                               grey), action
            else:
                done += 1
    finally:
        env.close()
    return frames, actions
