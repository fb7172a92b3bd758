"""Episodes of a simulator, generated once per configuration and cached on disk.

An `Episodes` holds fixed-length episodes as named channel groups `[N, T, k]` (float32): e.g.
`observation` and `action` for a control task, `position`, `velocity`, `action` and `goal` for a
maze. Token j of an episode holds the state reached at step j and, in the `action` group, the
action that led to it (applied between states j - 1 and j; zeros at j = 0, where nothing led to
the start state). A dataset YAML names which groups a model generates and which it is given.

`cached_episodes(cache_dir, name, config, generate)` keys the file by a hash of the generating
config (the simulator, its options, the policy, the seed, the sizes: everything `generate` reads),
so a training run never simulates twice, a changed config never reads a stale file, and a file can
be regenerated bit for bit from the config it records.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

FORMAT_VERSION = 1  # bump when the generators change what a config produces


@dataclass(frozen=True)
class Episodes:
    """`groups`: name -> `[N, T, k]` float32, the same N and T for every group; `meta`: JSON-able
    facts about how they were made (simulator, policy, seed, ...)."""

    groups: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.groups:
            raise ValueError("Episodes need at least one channel group")
        shapes = {name: a.shape for name, a in self.groups.items()}
        if any(len(s) != 3 for s in shapes.values()) or len({s[:2] for s in shapes.values()}) != 1:
            raise ValueError(f"every channel group must be [N, T, k] with one N and T: {shapes}")

    @property
    def num_episodes(self) -> int:
        return next(iter(self.groups.values())).shape[0]

    @property
    def length(self) -> int:
        return next(iter(self.groups.values())).shape[1]

    def width(self, names: list[str]) -> int:
        """The number of channels of the named groups together."""
        return sum(self.groups[n].shape[2] for n in self._known(names))

    def channels(self, names: list[str]) -> np.ndarray:
        """The named groups side by side, `[N, T, sum k]` float32, in the order named."""
        return np.concatenate([self.groups[n] for n in self._known(names)], axis=-1).astype(
            np.float32, copy=False)

    def _known(self, names: list[str]) -> list[str]:
        unknown = [n for n in names if n not in self.groups]
        if unknown:
            raise KeyError(f"no channel group {unknown[0]!r}; these episodes have "
                           f"{sorted(self.groups)}")
        return list(names)

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file renamed into place: a killed run leaves no
        half-written cache)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, __meta__=np.array(json.dumps(self.meta, sort_keys=True)),
                     **{f"group/{k}": v.astype(np.float32, copy=False)
                        for k, v in self.groups.items()})
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Episodes:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["__meta__"]))
            groups = {k.split("/", 1)[1]: f[k] for k in f.files if k.startswith("group/")}
        return cls(groups, meta)


def cache_key(config: dict[str, Any]) -> str:
    """16 hex digits of the SHA-256 of the config as canonical JSON (with the format version)."""
    text = json.dumps({"format": FORMAT_VERSION, **config}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path(cache_dir: str | Path, name: str, config: dict[str, Any]) -> Path:
    return Path(cache_dir) / f"{name}-{cache_key(config)}.npz"


def cached_episodes(cache_dir: str | Path, name: str, config: dict[str, Any],
                    generate: Callable[[], Episodes], verbose: bool = True) -> Episodes:
    """The episodes of `config`: read from `<cache_dir>/<name>-<key>.npz` when there, else made by
    `generate()` (which must depend on nothing but `config`), written, and returned. The config
    is stored in the file's `meta["config"]`."""
    path = cache_path(cache_dir, name, config)
    if path.is_file():
        return Episodes.load(path)
    if verbose:
        print(f"simulating {name} episodes once; cached at {path}", flush=True)
    episodes = generate()
    episodes = Episodes(episodes.groups, {**episodes.meta, "config": config})
    episodes.save(path)
    return episodes
