"""Video episodes: frames `[N, T, H, W, C]` uint8 and the action that led to each frame
`[N, T]` int64, generated once per configuration and cached on disk, keyed by the hash of the
generating config (`datasets.simulated.episodes.cache_key`: a changed config never reads a stale
file, and a file can be regenerated bit for bit from the config it records)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from datasets.simulated.episodes import cache_key


@dataclass(frozen=True)
class FrameEpisodes:
    """`frames` `[N, T, H, W, C]` uint8, `actions` `[N, T]` int64 (token t's frame follows action
    t; action 0 at t = 0, where nothing led to the first frame), `meta` JSON-able facts."""

    frames: np.ndarray
    actions: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.frames.ndim != 5 or self.frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 [N, T, H, W, C], got {self.frames.dtype} "
                             f"{self.frames.shape}")
        if self.actions.shape != self.frames.shape[:2]:
            raise ValueError(f"actions {self.actions.shape} must be [N, T] = "
                             f"{self.frames.shape[:2]}")

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file renamed into place)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, frames=self.frames, actions=self.actions.astype(np.int64),
                     __meta__=np.array(json.dumps(self.meta, sort_keys=True)))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> FrameEpisodes:
        with np.load(path, allow_pickle=False) as f:
            return cls(f["frames"], f["actions"], json.loads(str(f["__meta__"])))


def cached_frame_episodes(cache_dir: str | Path, name: str, config: dict[str, Any],
                          generate: Callable[[], tuple[np.ndarray, np.ndarray]],
                          verbose: bool = True) -> FrameEpisodes:
    """The episodes of `config`: read from `<cache_dir>/<name>-<key>.npz` when there, else made
    by `generate()` (frames, actions; it must depend on nothing but `config`), written, and
    returned."""
    path = Path(cache_dir) / f"{name}-{cache_key({'kind': 'frames', **config})}.npz"
    if path.is_file():
        return FrameEpisodes.load(path)
    if verbose:
        print(f"recording {name} episodes once; cached at {path}", flush=True)
    frames, actions = generate()
    episodes = FrameEpisodes(frames, actions, {"config": config})
    episodes.save(path)
    return episodes
