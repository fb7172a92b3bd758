"""Training a `FrameTokenizer` on frames: Adam on the foreground-weighted reconstruction loss
(`algorithms.networks.frame_autoencoder.reconstruction_loss`), with Gaussian noise added to the
latents during training (`latent_noise`, in units of the latents' running RMS) so that the decoder
also renders the slightly-off latents a sequence model generates, and a small L2 penalty
(`latent_penalty`) that keeps the latents' scale from drifting; gradients clipped to norm 1.
Plain PyTorch."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import torch

from algorithms.networks.frame_autoencoder import reconstruction_loss
from algorithms.tokenizer.frame_tokenizer import FrameTokenizer


def background_of(frames: np.ndarray, max_frames: int = 4096) -> torch.Tensor:
    """The per-pixel median `[C, H, W]` in [0, 1] of (up to `max_frames` evenly spaced) frames
    `[N, H, W, C]`: the static part of a game screen."""
    pick = np.linspace(0, len(frames) - 1, min(len(frames), max_frames)).astype(int)
    return torch.from_numpy(np.median(frames[pick], axis=0)).permute(2, 0, 1).float() / 255.0


def psnr_of(tokenizer: FrameTokenizer, frames: np.ndarray) -> float:
    """Mean per-frame PSNR (dB, 255 peak; a frame reconstructed exactly counts 100 dB) of the
    round trip encode -> decode on uint8 frames `[N, H, W, C]`."""
    recon = tokenizer.decode(tokenizer.encode(frames)).astype(np.float64)
    mse = ((recon - frames.astype(np.float64)) ** 2).reshape(len(frames), -1).mean(1)
    return float(np.where(mse > 0, 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-12)),
                          100.0).mean())


def fit_tokenizer(train: np.ndarray, validation: np.ndarray, settings: dict[str, Any],
                  seed: int, device: torch.device | str = "cpu",
                  log: Callable[[int, dict[str, float]], None] | None = None
                  ) -> tuple[FrameTokenizer, dict[str, Any]]:
    """A tokenizer trained on uint8 frames `train` `[N, H, W, C]` for `settings["steps"]` steps of
    `batch_size` random frames (drawn from `torch.Generator` seeded with `seed`), and its
    metrics: the round trip's PSNR on `validation` frames, the final loss, the seconds taken.
    `log(step, values)` is called every 100 steps."""
    size, channels = train.shape[1], train.shape[3]
    if train.shape[1] != train.shape[2]:
        raise ValueError(f"frames must be square, got {train.shape[1:3]}")
    torch.manual_seed(seed)
    tokenizer = FrameTokenizer.new(size, channels, settings, background_of(train)).to(device)
    network, background = tokenizer.network.train(), tokenizer.background
    steps, batch = int(settings["steps"]), int(settings["batch_size"])
    optimiser = torch.optim.Adam(network.parameters(), lr=float(settings["lr"]))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, float(settings["lr"]),
                                                   total_steps=steps, pct_start=0.05)
    noise, penalty = float(settings["latent_noise"]), float(settings["latent_penalty"])
    weight = float(settings["foreground_weight"])
    generator = torch.Generator().manual_seed(seed)
    frames = torch.from_numpy(train)
    rms, start, loss = torch.ones((), device=device), time.perf_counter(), torch.zeros(())
    for step in range(1, steps + 1):
        pick = torch.randint(0, len(frames), (batch,), generator=generator)
        x = FrameTokenizer.to_unit(frames[pick]).to(device)
        z = network.encode(x)
        rms = 0.99 * rms + 0.01 * z.detach().pow(2).mean().sqrt()
        noisy = z + noise * rms * torch.randn(z.shape, generator=generator).to(device)
        recon_loss = reconstruction_loss(network.decode_logits(noisy), x, background, weight)
        loss = recon_loss + penalty * z.pow(2).mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        if log is not None and (step % 100 == 0 or step == steps):
            log(step, {"tokenizer/loss": loss.item(), "tokenizer/reconstruction":
                       recon_loss.item(), "tokenizer/latent_rms": rms.item()})
    tokenizer.network.eval().requires_grad_(False)
    seconds = time.perf_counter() - start
    metrics = {"steps": steps, "batch_size": batch, "final_loss": loss.item(),
               "fit_seconds": seconds, "train_frames": int(len(train)),
               "validation_frames": int(len(validation)),
               "validation_psnr": psnr_of(tokenizer, validation),
               "latent_dim": tokenizer.latent_dim}
    tokenizer.info.update(metrics=metrics, settings={k: v for k, v in settings.items()
                                                     if k != "load"})
    return tokenizer, metrics
