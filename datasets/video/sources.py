"""What each frame source gives: `dataset.source` (atari, crafter), its games, their actions and
play-field crop, and the function that records episodes. Nothing here imports an emulator until
it is called."""

from __future__ import annotations

from typing import Any

import numpy as np

SOURCES = ("atari", "crafter")


def games(source: str) -> tuple[str, ...]:
    """The `dataset.game` values of a source."""
    if source == "atari":
        from datasets.video.atari import GAMES

        return tuple(GAMES)
    return ("crafter",)


def action_names(source: str, game: str) -> tuple[str, ...]:
    """The actions the episodes use, in the order of the tokens' one-hot given channels."""
    if source == "atari":
        from datasets.video.atari import GAMES

        return tuple(GAMES[game]["action_names"])
    from datasets.video.crafter_source import ACTION_NAMES

    return ACTION_NAMES


def play_field_crop(source: str, game: str) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the emulator screen the frames show; None for crafter (its
    frames are rendered at the frame size)."""
    if source == "atari":
        from datasets.video.atari import GAMES

        return tuple(GAMES[game]["crop"])
    return None


def record(config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Frames `[N, T, S, S, C]` uint8 and actions `[N, T]` of a generating config
    (`VideoDataModule.generating_config`)."""
    args = (config["num_episodes"], config["episode_length"], config["data_seed"],
            config["size"], config["grey"], config["policy"])
    if config["source"] == "atari":
        from datasets.video.atari import simulate_atari

        return simulate_atari(config["game"], *args)
    from datasets.video.crafter_source import simulate_crafter

    return simulate_crafter(*args)
