"""A small convolutional autoencoder that turns a frame into one flat token and back: the video
datasets' tokenizer (`algorithms/tokenizer/`). Plain PyTorch.

    encode: frames `[B, C, S, S]` in [0, 1]  ->  latents `[B, D]`, D = latent_channels · (S / (p·2^d))²
    decode: latents `[B, D]`                ->  logits `[B, C, S, S]` (sigmoid: the frame in [0, 1])

The frame is first cut into `patch` x `patch` patches stacked as channels (pixel unshuffle; the
decoder ends with the inverse, pixel shuffle), so no convolution runs at full resolution: on a CPU
those are what a step pays for, and a sprite's place inside a patch is then a channel index, which
the network renders with a linear map instead of learning it through transposed convolutions (a
plain conv autoencoder of the same budget reconstructed Pong as its mean frame after 800 steps).
Then a 3x3 convolution, `blocks` residual 3x3 blocks, and `downsamples` stride-2 4x4 convolutions
(the width doubling, at most to 4x `width`), each followed by `blocks` residual blocks, and a 1x1
convolution to the latent channels. The decoder mirrors it with stride-2 transposed convolutions.
"""

from __future__ import annotations

from torch import Tensor, nn


class Residual(nn.Module):
    """x + conv3x3(SiLU(conv3x3(x))), at one resolution `[B, w, h, h]`."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.SiLU(),
                                  nn.Conv2d(width, width, 3, padding=1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class FrameAutoencoder(nn.Module):
    """Frames of `channels` x `size` x `size` <-> latents of `latent_dim` numbers."""

    def __init__(self, channels: int, size: int, latent_channels: int = 4, width: int = 64,
                 downsamples: int = 1, blocks: int = 1, patch: int = 4) -> None:
        super().__init__()
        if size % (patch * 2 ** downsamples):
            raise ValueError(f"frame size {size} is not divisible by patch·2^downsamples = "
                             f"{patch * 2 ** downsamples}; choose a size that is, or a smaller "
                             f"dataset.tokenizer.patch / downsamples")
        self.channels, self.size, self.latent_channels = channels, size, latent_channels
        self.latent_size = size // (patch * 2 ** downsamples)
        widths = [width * min(2 ** level, 4) for level in range(downsamples + 1)]
        encoder: list[nn.Module] = [nn.PixelUnshuffle(patch),
                                    nn.Conv2d(channels * patch ** 2, widths[0], 3, padding=1),
                                    *(Residual(widths[0]) for _ in range(blocks))]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            encoder += [nn.SiLU(), nn.Conv2d(w_in, w_out, 4, stride=2, padding=1),
                        *(Residual(w_out) for _ in range(blocks))]
        encoder += [nn.SiLU(), nn.Conv2d(widths[-1], latent_channels, 1)]
        self.encoder = nn.Sequential(*encoder)
        decoder: list[nn.Module] = [nn.Conv2d(latent_channels, widths[-1], 3, padding=1),
                                    *(Residual(widths[-1]) for _ in range(blocks))]
        for w_in, w_out in zip(widths[::-1][:-1], widths[::-1][1:]):
            decoder += [nn.SiLU(), nn.ConvTranspose2d(w_in, w_out, 4, stride=2, padding=1),
                        *(Residual(w_out) for _ in range(blocks))]
        decoder += [nn.SiLU(), nn.Conv2d(widths[0], channels * patch ** 2, 3, padding=1),
                    nn.PixelShuffle(patch)]
        self.decoder = nn.Sequential(*decoder)

    @property
    def latent_dim(self) -> int:
        return self.latent_channels * self.latent_size ** 2

    def encode(self, frames: Tensor) -> Tensor:
        """`[B, C, S, S]` in [0, 1] -> `[B, D]`."""
        return self.encoder(frames).flatten(1)

    def decode_logits(self, latents: Tensor) -> Tensor:
        """`[B, D]` -> logits `[B, C, S, S]`."""
        grid = latents.view(-1, self.latent_channels, self.latent_size, self.latent_size)
        return self.decoder(grid)

    def decode(self, latents: Tensor) -> Tensor:
        """`[B, D]` -> frames `[B, C, S, S]` in [0, 1]."""
        return self.decode_logits(latents).sigmoid()


def foreground_mask(frames: Tensor, background: Tensor, threshold: float = 0.08) -> Tensor:
    """`[B, C, S, S]`, background `[C, S, S]` (both in [0, 1]) -> `[B, 1, S, S]` float: 1 where a
    pixel differs from the background by more than `threshold` in any channel (a ball, a paddle,
    a creature), else 0."""
    return ((frames - background).abs().amax(dim=1, keepdim=True) > threshold).float()


def reconstruction_loss(logits: Tensor, frames: Tensor, background: Tensor,
                        foreground_weight: float) -> Tensor:
    """The weighted squared error of `sigmoid(logits)` against `frames` `[B, C, S, S]`, each
    pixel weighted 1 + `foreground_weight` where the frame is foreground (`foreground_mask`):
    Atari's objects cover under 1% of the pixels, and a plain MSE is lowest with them left out;
    normalised by the weights' sum. (Weighting the reconstruction's foreground too fed back on
    itself: measured, the output saturated and training stalled at 9 dB.)"""
    recon = logits.sigmoid()
    weights = 1.0 + foreground_weight * foreground_mask(frames, background)
    return (weights * (recon - frames) ** 2).sum() / (weights.sum() * frames.shape[1])
