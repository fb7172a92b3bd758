"""The `play` task: a world model played live on the play page (`experiment.play.*`).

    python -m main dataset=pong experiment.tasks=[play] load=<run>   # then open the printed URL

`ModelStepper` answers each action with the next frame from one network call (K with
`nfe=K`): the run's model streams one token per step (`algorithms.generation.streaming.
open_streams`), given the action as the token's given channels, and the tokenizer decodes it.
A reset warms the stream up on `context_tokens` real frames of a test episode (a different one
each time). The page's switch picks a mode: the model at each of `experiment.play.nfe`, and,
with `experiment.play.compare=<run>` (e.g. Diffusion Forcing), that model at each of
`compare_nfe`; a switch carries the last `context_tokens` tokens over, so the two models go on
from the same frames.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, ListConfig

from utils.config_checks import ConfigError, check, is_int, positive_int

#: KeyboardEvent.key -> action name, per game (the page's keys)
KEYS: dict[str, dict[str, str]] = {
    "pong": {"ArrowUp": "UP", "ArrowDown": "DOWN", "w": "UP", "s": "DOWN"},
    "breakout": {"ArrowLeft": "LEFT", "ArrowRight": "RIGHT", " ": "FIRE", "a": "LEFT",
                 "d": "RIGHT"},
    "crafter": {"ArrowLeft": "move_left", "ArrowRight": "move_right", "ArrowUp": "move_up",
                "ArrowDown": "move_down", " ": "do", "Tab": "sleep", "r": "place_stone",
                "t": "place_table", "f": "place_furnace", "p": "place_plant",
                "1": "make_wood_pickaxe", "2": "make_stone_pickaxe", "3": "make_iron_pickaxe",
                "4": "make_wood_sword", "5": "make_stone_sword", "6": "make_iron_sword"},
}


def _nfes(value: Any) -> list[int]:
    return list(value) if isinstance(value, (ListConfig, list, tuple)) else [value]


def check_play_config(cfg: DictConfig) -> None:
    """Raise `ConfigError` naming the first bad `experiment.play.*` key."""
    p = "experiment.play"
    check(cfg, f"{p}.port", lambda v: is_int(v) and 0 <= v <= 65535, "an integer in [0, 65535]")
    check(cfg, f"{p}.host", lambda v: isinstance(v, str) and v, "a host name (127.0.0.1)")
    for key in ("nfe", "compare_nfe"):
        check(cfg, f"{p}.{key}", lambda v: len(_nfes(v)) > 0 and all(
            positive_int(k) for k in _nfes(v)), "a positive integer or a list of them")
    check(cfg, f"{p}.max_seconds", lambda v: v is None or (isinstance(v, (int, float)) and v > 0),
          "null (until Ctrl-C) or a positive number of seconds")
    tasks = list(cfg.experiment.tasks)
    if "training" not in tasks and not cfg.get("load"):
        raise ConfigError("experiment.tasks: play needs a trained model: load=<run> or training "
                          "before play")


class ModelStepper:
    """The play page's `Stepper` over trained models of a frame dataset `data` (a
    `VideoDataModule` with its tokenizer attached). `models`: mode name -> (checkpoint, nfe)."""

    def __init__(self, data: Any, models: dict[str, tuple[Path, int]], seed: int = 0,
                 device: str = "cpu") -> None:
        from algorithms.generation.streaming import open_streams

        self.data, self.seed, self.device = data, seed, device
        self.action_names = list(data.action_names)
        keys = KEYS.get(str(data.cfg.game), {})
        self.key_map = {k: self.action_names.index(a) for k, a in keys.items()
                        if a in self.action_names}
        self.default_action = 0
        self.modes = list(models)
        self.streams = {mode: open_streams(path, 1, nfe, device=device)
                        for mode, (path, nfe) in models.items()}
        self.context_tokens = int(data.cfg.context_tokens)
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self._episode, self._mode, self.history = 0, None, []
        self.steps, self.last_ms = 0, 0.0

    def _check_mode(self, mode: str) -> None:
        if mode not in self.streams:
            raise ValueError(f"mode: {mode!r} is not one of {self.modes}")

    def _warm(self, mode: str, tokens: list[torch.Tensor]) -> None:
        """Start `mode`'s stream on `tokens` (each `[G + C]`)."""
        streams, G = self.streams[mode], self.data.token_dim
        streams.reset(1, device=self.device)
        for token in tokens:
            streams.observe(token[None, :G].to(self.device), token[None, G:].to(self.device))
        self._mode = mode

    def reset(self, mode: str) -> np.ndarray:
        """Warm up on the first `context_tokens` real tokens of the next test episode; its last
        real frame."""
        self._check_mode(mode)
        episodes = self.data.split("test")
        which = self._episode % episodes.shape[0]
        self._episode += 1
        context = list(episodes[which, :self.context_tokens])
        self._warm(mode, context)
        self.history, self.steps = context, 0
        return self.data.split_frames("test")[which, self.context_tokens - 1]

    def step(self, action: int, mode: str) -> np.ndarray:
        """The next frame after `action`, one token of `mode`'s model decoded."""
        self._check_mode(mode)
        if not 0 <= action < len(self.action_names):
            raise ValueError(f"action: {action} is not in 0..{len(self.action_names) - 1}")
        if mode != self._mode:  # the other model goes on from the same frames
            self._warm(mode, self.history[-self.context_tokens:])
        start = time.perf_counter()
        given = torch.zeros(1, len(self.action_names), device=self.device)
        given[0, action] = 1.0
        token = self.streams[mode].step(generator=self.generator, given=given)
        frame = self.data.decode(token.cpu())[0]
        self.last_ms = 1e3 * (time.perf_counter() - start)
        self.history = [*self.history[-self.context_tokens + 1:],
                        torch.cat([token[0].cpu(), given[0].cpu()])]
        self.steps += 1
        return frame


def model_checkpoint(cfg: DictConfig, output_dir: Path) -> Path:
    """The run's own model: `load=`'s checkpoint, else this run's `checkpoints/last.ckpt`."""
    from utils.run_lookup import resolve_checkpoint

    if cfg.get("load"):
        return resolve_checkpoint(cfg.load, "load", cfg.run_roots)
    last = output_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        raise ConfigError(f"play: {last} does not exist; train first or pass load=<run>")
    return last


def play_modes(cfg: DictConfig, output_dir: Path) -> dict[str, tuple[Path, int]]:
    """Mode name -> (checkpoint, nfe): the run's model at each `play.nfe`, then the compared
    run's at each `play.compare_nfe`."""
    from utils.run_lookup import resolve_checkpoint

    p = cfg.experiment.play
    own, name = model_checkpoint(cfg, output_dir), cfg.algorithm.name
    modes = {f"{name}, {k} NFE": (own, int(k)) for k in _nfes(p.nfe)}
    if p.get("compare"):
        other = resolve_checkpoint(p.compare, "experiment.play.compare", cfg.run_roots)
        label = torch.load(other, map_location="cpu", weights_only=True).get(
            "algorithm_config", {}).get("name", "compare")
        modes.update({f"{label}, {k} NFE (compare)": (other, int(k))
                      for k in _nfes(p.compare_nfe)})
    return modes


def run_play(cfg: DictConfig, data: Any, output_dir: Path) -> None:
    """Serve the page until Ctrl-C or `experiment.play.max_seconds`."""
    from experiments.play.server import PlayServer

    p = cfg.experiment.play
    stepper = ModelStepper(data, play_modes(cfg, output_dir), int(cfg.seed))
    server = PlayServer(stepper, host=str(p.host), port=int(p.port))
    print(f"play: {', '.join(stepper.modes)}; keys {stepper.key_map}", flush=True)
    server.serve_forever_until(p.max_seconds)
