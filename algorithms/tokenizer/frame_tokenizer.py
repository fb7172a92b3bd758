"""`FrameTokenizer`: a trained `FrameAutoencoder` with what it needs to work on uint8 frames (the
frame shape, the training frames' per-pixel median as the background), saved and loaded as one
file (`tokenizer.pt`).

    tokenizer = FrameTokenizer.load("run/tokenizer/tokenizer.pt")
    latents = tokenizer.encode(frames)      # uint8 [N, H, W, C] -> float32 [N, D]
    frames = tokenizer.decode(latents)      # [N, D] -> uint8 [N, H, W, C]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from algorithms.networks.frame_autoencoder import FrameAutoencoder

FORMAT = "frame_tokenizer/1"
#: the keys of `dataset.tokenizer` that shape the network (the rest are training settings)
ARCHITECTURE_KEYS = ("latent_channels", "width", "downsamples", "blocks", "patch")


class FrameTokenizer:
    """Frames `[H, W, C]` uint8 (H = W = `size`, C = `channels`) <-> tokens `[latent_dim]`."""

    def __init__(self, network: FrameAutoencoder, background: Tensor,
                 info: dict[str, Any] | None = None) -> None:
        self.network = network.eval()
        self.background = background  # [C, S, S] in [0, 1]
        self.info = dict(info or {})

    @classmethod
    def new(cls, size: int, channels: int, architecture: dict[str, Any], background: Tensor
            ) -> FrameTokenizer:
        """An untrained tokenizer for frames of `size` x `size` x `channels`."""
        network = FrameAutoencoder(channels, size, **{k: int(architecture[k])
                                                      for k in ARCHITECTURE_KEYS})
        return cls(network, background, {"architecture": {k: int(architecture[k])
                                                          for k in ARCHITECTURE_KEYS}})

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        n = self.network
        return (n.size, n.size, n.channels)

    @property
    def latent_dim(self) -> int:
        return self.network.latent_dim

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def to(self, device: torch.device | str) -> FrameTokenizer:
        self.network.to(device)
        self.background = self.background.to(device)
        return self

    def check_frames(self, shape: tuple[int, ...], what: str = "frames") -> None:
        """Raise `ValueError` if frames of `shape` `[..., H, W, C]` are not this tokenizer's."""
        if tuple(shape[-3:]) != self.frame_shape:
            raise ValueError(f"{what} are {tuple(shape[-3:])} (H, W, C) but the tokenizer was "
                             f"trained on {self.frame_shape}; train a tokenizer for these frames "
                             f"(experiment.tasks=[tokenizer, ...]) or load a matching one")

    @staticmethod
    def to_unit(frames: np.ndarray | Tensor) -> Tensor:
        """uint8 `[N, H, W, C]` -> float `[N, C, H, W]` in [0, 1]."""
        x = torch.as_tensor(np.asarray(frames) if not isinstance(frames, Tensor) else frames)
        return x.permute(0, 3, 1, 2).float() / 255.0

    @staticmethod
    def to_uint8(frames: Tensor) -> np.ndarray:
        """float `[N, C, H, W]` in [0, 1] -> uint8 `[N, H, W, C]` (rounded)."""
        x = (frames.clamp(0, 1) * 255.0).round().to(torch.uint8)
        return x.permute(0, 2, 3, 1).cpu().numpy()

    @torch.no_grad()
    def encode(self, frames: np.ndarray, batch_size: int = 512) -> Tensor:
        """uint8 `[N, H, W, C]` -> latents `[N, D]` float32 (CPU)."""
        self.check_frames(frames.shape)
        out = [self.network.encode(self.to_unit(frames[i:i + batch_size]).to(self.device)).cpu()
               for i in range(0, len(frames), batch_size)]
        return torch.cat(out) if out else torch.zeros(0, self.latent_dim)

    @torch.no_grad()
    def decode(self, latents: Tensor, batch_size: int = 512) -> np.ndarray:
        """latents `[N, D]` -> uint8 frames `[N, H, W, C]`."""
        if latents.shape[-1] != self.latent_dim:
            raise ValueError(f"latents have {latents.shape[-1]} numbers, the tokenizer "
                             f"{self.latent_dim}")
        out = [self.to_uint8(self.network.decode(latents[i:i + batch_size].float()
                                                 .to(self.device)))
               for i in range(0, len(latents), batch_size)]
        return (np.concatenate(out) if out
                else np.zeros((0, *self.frame_shape), dtype=np.uint8))

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file renamed into place)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        net = self.network
        torch.save({"format": FORMAT, "size": net.size, "channels": net.channels,
                    "info": self.info, "background": self.background.cpu(),
                    "state_dict": {k: v.cpu() for k, v in net.state_dict().items()}}, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> FrameTokenizer:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such tokenizer file")
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(saved, dict) or saved.get("format") != FORMAT:
            raise ValueError(f"{path}: not a tokenizer written by the tokenizer task "
                             f"(format {FORMAT})")
        tokenizer = cls.new(int(saved["size"]), int(saved["channels"]),
                            saved["info"]["architecture"], saved["background"])
        tokenizer.network.load_state_dict(saved["state_dict"])
        tokenizer.network.requires_grad_(False)
        tokenizer.info = saved["info"]
        return tokenizer
