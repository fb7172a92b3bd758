"""What the play page drives: a `Stepper` gives frames, one per action, in one of its generator
modes. `EmulatorStepper` is the real game (Pong in the Arcade Learning Environment) at the
model's resolution, for playing it side by side with a model and for the page's tests."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from datasets.video.frames import preprocess


@runtime_checkable
class Stepper(Protocol):
    """A game or a world model, one frame per step. Frames are `[H, W, C]` uint8, C in {1, 3},
    the same shape at every step."""

    action_names: list[str]     # the game's actions; index = action id sent to step()
    key_map: dict[str, int]     # KeyboardEvent.key (e.g. "ArrowUp", " ") -> action id
    default_action: int         # the action while no key is held (NOOP)
    modes: list[str]            # generator modes the page can switch between

    def reset(self, mode: str) -> np.ndarray:
        """Start a new game; its first frame."""
        ...

    def step(self, action: int, mode: str) -> np.ndarray:
        """The next frame after `action` (an index into `action_names`)."""
        ...


#: Pong's play field in the 210 x 160 screen (top, bottom, left, right)
PONG_CROP = (34, 194, 0, 160)
#: the page's actions -> ALE's: NOOP, RIGHT (the paddle moves up), LEFT (down)
PONG_ALE_ACTIONS = (0, 2, 3)


class EmulatorStepper:
    """Pong itself (`ALE/Pong-v5`, frameskip 4, no sticky actions, so a game is a deterministic
    function of the seed and the actions), its frames made as the data's are
    (`datasets.video.frames.preprocess`: the play field box-resized to `size x size`, grey if
    asked). Records the last action and how many steps since the reset."""

    action_names = ["NOOP", "UP", "DOWN"]
    key_map = {"ArrowUp": 1, "ArrowDown": 2, "w": 1, "s": 2}
    default_action = 0
    modes = ["emulator"]

    def __init__(self, size: int = 64, grey: bool = True, seed: int = 0) -> None:
        import ale_py
        import gymnasium as gym

        gym.register_envs(ale_py)
        self.size, self.grey, self.seed = size, grey, seed
        self.env = gym.make("ALE/Pong-v5", frameskip=4, repeat_action_probability=0.0)
        self.last_action: int | None = None
        self.steps = 0
        self._episodes = 0

    def _frame(self, screen: np.ndarray) -> np.ndarray:
        return preprocess(screen, crop=PONG_CROP, size=self.size, grey=self.grey)

    def _check_mode(self, mode: str) -> None:
        if mode not in self.modes:
            raise ValueError(f"mode: {mode!r} is not one of {self.modes}")

    def reset(self, mode: str) -> np.ndarray:
        self._check_mode(mode)
        screen, _ = self.env.reset(seed=self.seed + self._episodes)
        self._episodes += 1
        self.last_action, self.steps = None, 0
        return self._frame(screen)

    def step(self, action: int, mode: str) -> np.ndarray:
        self._check_mode(mode)
        if not 0 <= action < len(self.action_names):
            raise ValueError(f"action: {action} is not in 0..{len(self.action_names) - 1}")
        screen, _, terminated, truncated, _ = self.env.step(PONG_ALE_ACTIONS[action])
        self.last_action = action
        self.steps += 1
        if terminated or truncated:  # a game over: the next one starts at once
            frame = self.reset(mode)
            self.last_action = action
            return frame
        return self._frame(screen)

    def close(self) -> None:
        self.env.close()
