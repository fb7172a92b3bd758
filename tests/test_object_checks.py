"""Object checks of Pong and Breakout frames (`datasets/video/objects.py`) on real emulator frames:
perfect on the game's own frames at several sizes, grey and RGB; bad on frames shuffled in time,
blurred, with a second ball pasted in, with the ball gone too long, or with bricks coming back."""

from __future__ import annotations

import ale_py  # requirements/video.txt (CI installs every group)
import gymnasium as gym
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from datasets.video.frames import preprocess
from datasets.video.objects import (
    BREAKOUT,
    BREAKOUT_CROP,
    PONG,
    PONG_CROP,
    object_checks,
)

STEPS = 400
WINDOWS = 4
#: (size, grey) the checks are run at
FORMATS = [(64, True), (64, False), (48, True), (80, False)]
CROPS = {"pong": PONG_CROP, "breakout": BREAKOUT_CROP}
GAMES = {"pong": PONG, "breakout": BREAKOUT}


def play(env_id: str, actions: list[int], seed: int, persistence: float = 0.9
         ) -> tuple[np.ndarray, np.ndarray]:
    """`STEPS` screens `[STEPS, 210, 160, 3]` and rewards of random play that keeps its action
    with probability `persistence` (the observation of reset, in another palette, left out)."""
    gym.register_envs(ale_py)
    env = gym.make(env_id, frameskip=4, repeat_action_probability=0.0)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    action, screens, rewards = actions[0], [], []
    for _ in range(STEPS):
        if rng.random() > persistence:
            action = int(rng.choice(actions))
        screen, reward, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
        screens.append(screen)
        rewards.append(reward)
    env.close()
    return np.array(screens), np.array(rewards)


@pytest.fixture(scope="module")
def screens() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Real screens of both games: Pong (NOOP, up, down) and Breakout (NOOP, FIRE, RIGHT, LEFT,
    a seed whose first 400 steps break bricks before the game ends)."""
    pong = play("ALE/Pong-v5", [0, 2, 3], seed=0)
    breakout = play("ALE/Breakout-v5", [1, 0, 2, 3], seed=7)
    assert len(pong[0]) == STEPS and len(breakout[0]) == STEPS
    return {"pong": pong, "breakout": breakout}


def windows(screens: np.ndarray, game: str, size: int, grey: bool) -> np.ndarray:
    """`[WINDOWS, T, size, size, C]` frames of the screens, cut into consecutive windows."""
    frames = np.stack([preprocess(s, CROPS[game], size, grey) for s in screens])
    return frames[: len(frames) // WINDOWS * WINDOWS].reshape(WINDOWS, -1, *frames.shape[1:])


def checks(game: str, frames: np.ndarray, size: int, **kwargs) -> dict[str, float]:
    return object_checks(game, frames, CROPS[game], size, **kwargs)


def true_ball_rate(screens: np.ndarray) -> float:
    """The share of Pong screens with the ball's colour in the play field (exact colours)."""
    field = screens[:, PONG_CROP[0]:PONG_CROP[1]]
    return float((field == PONG.ball).all(-1).any(axis=(1, 2)).mean())


@pytest.mark.parametrize("game", ["pong", "breakout"])
@pytest.mark.parametrize(("size", "grey"), FORMATS)
def test_emulator_frames_are_perfect(screens, game, size, grey):
    frames = windows(screens[game][0], game, size, grey)
    rates = checks(game, frames, size, reference=frames)
    for name, value in rates.items():
        if name.startswith("no_ball_rate"):
            continue
        target = 0.0 if name.startswith("multi_ball_rate") else 1.0
        assert value == target, f"{name} = {value} on the game's own frames ({rates})"
    assert rates["no_ball_rate"] == rates["no_ball_rate_data"]
    assert 0.0 < rates["no_ball_rate"] < 0.6, "the ball is seen in most frames, not all"
    if game == "pong":      # the ball is missed exactly where the screen has none
        truth = 1.0 - true_ball_rate(screens[game][0])
        assert abs(rates["no_ball_rate"] - truth) <= 0.01, (rates["no_ball_rate"], truth)


@pytest.mark.parametrize("game", ["pong", "breakout"])
@pytest.mark.parametrize(("size", "grey"), [(64, True), (80, False)])
def test_frames_shuffled_in_time_fail_the_ball_speed(screens, game, size, grey):
    order = np.random.default_rng(1).permutation(len(screens[game][0]))
    frames = windows(screens[game][0][order], game, size, grey)
    rates = checks(game, frames, size)
    assert rates["ball_speed_ok_rate"] < 0.25, rates
    assert rates["frames_ok_rate"] < 0.8, rates
    assert rates["ball_ok_rate"] == 1.0, "each frame on its own is still right"


@pytest.mark.parametrize("game", ["pong", "breakout"])
@pytest.mark.parametrize(("size", "grey"), [(64, True), (64, False), (48, False)])
def test_blurred_frames_lose_their_objects(screens, game, size, grey):
    frames = windows(screens[game][0], game, size, grey)
    blurred = gaussian_filter(frames.astype(np.float64), sigma=(0, 0, 1.5, 1.5, 0))
    rates = checks(game, np.clip(np.rint(blurred), 0, 255).astype(np.uint8), size)
    paddles = "paddles_ok_rate" if game == "pong" else "paddle_ok_rate"
    assert rates[paddles] < 0.1, rates
    assert rates["frames_ok_rate"] < 0.1, rates


#: field rows (above, below) where a second ball is pasted: open field, clear of Breakout's bricks
PASTE_ROWS = {"pong": (30, 120), "breakout": (75, 125)}


def paste_ball(screens: np.ndarray, game: str) -> np.ndarray:
    """The screens with a second ball drawn in the open field, away from the real one."""
    out = screens.copy()
    spec, (top, _, left, _) = GAMES[game], CROPS[game]
    upper, lower = PASTE_ROWS[game]
    for screen in out:
        open_field = screen[top + upper - 20:top + lower + 20]
        rows, _ = np.nonzero((open_field == spec.ball).all(-1))
        row = top + (upper if len(rows) and rows.mean() > 20 + (lower - upper) / 2 else lower)
        screen[row:row + 4, left + 70:left + 72] = spec.ball
    return out


@pytest.mark.parametrize("game", ["pong", "breakout"])
@pytest.mark.parametrize(("size", "grey"), [(64, True), (64, False), (80, True)])
def test_a_second_ball_is_counted(screens, game, size, grey):
    frames = windows(paste_ball(screens[game][0], game), game, size, grey)
    rates = checks(game, frames, size)
    seen = 1.0 - checks(game, windows(screens[game][0], game, size, grey), size)["no_ball_rate"]
    assert rates["multi_ball_rate"] >= seen - 0.02, (rates, seen)
    assert rates["ball_ok_rate"] <= 1.0 - seen + 0.02, (rates, seen)
    assert rates["no_ball_rate"] == 0.0, "the pasted ball is always seen"


@pytest.mark.parametrize("grey", [True, False])
def test_pong_ball_gone_too_long_fails(screens, grey):
    pong = screens["pong"][0].copy()
    field = pong[:, PONG_CROP[0]:PONG_CROP[1]]
    ball = (field == PONG.ball).all(-1)
    field[20:80][ball[20:80]] = PONG.background        # no ball for 60 steps
    frames = windows(pong, "pong", 64, grey)
    rates = checks("pong", frames, 64)
    assert rates["ball_absence_ok_rate"] < 0.9, rates
    assert rates["ball_ok_rate"] == 1.0, "each frame on its own is legal"


@pytest.mark.parametrize(("size", "grey"), [(64, True), (48, False)])
def test_breakout_bricks_that_come_back_fail(screens, size, grey):
    game_screens, rewards = screens["breakout"]
    hits = int((rewards > 0).sum())
    assert hits >= 3, "the fixture's play breaks bricks"
    frames = windows(game_screens[::-1], "breakout", size, grey)
    rates = checks("breakout", frames, size)
    steps = frames.shape[0] * (frames.shape[1] - 1)
    assert rates["bricks_ok_rate"] <= 1.0 - (hits - WINDOWS) / steps, (rates, hits)
    assert rates["frames_ok_rate"] < 1.0


def test_bad_arguments_are_refused(screens):
    frames = windows(screens["pong"][0][:8], "pong", 64, True)
    with pytest.raises(ValueError, match="game must be one of"):
        object_checks("pacman", frames, PONG_CROP, 64)
    with pytest.raises(ValueError, match="must lie inside the play field"):
        object_checks("pong", frames, (24, 194, 0, 160), 64)
    with pytest.raises(ValueError, match=r"frames must be \[\.\.\., T, 48, 48, C\]"):
        object_checks("pong", frames, PONG_CROP, 48)


def test_breakout_a_new_wall_may_appear(screens):
    cleared = screens["breakout"][0].copy()
    cleared[:150, 57:93, 8:152] = 0                   # the wall cleared, then a new one (step 150)
    rates = checks("breakout", windows(cleared, "breakout", 64, True), 64)
    assert rates["bricks_ok_rate"] == 1.0, rates
    half = screens["breakout"][0].copy()
    half[:150, 57:75, 8:152] = 0                      # half a wall coming back is no new wall
    rates = checks("breakout", windows(half, "breakout", 64, True), 64)
    assert rates["bricks_ok_rate"] == 1.0 - 1 / (WINDOWS * (STEPS // WINDOWS - 1)), rates
