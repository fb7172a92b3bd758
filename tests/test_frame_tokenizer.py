"""The frame tokenizer without Lightning: shapes, the size rule, the file round trip, and a short
training on real Pong frames that renders the objects (better than the static background)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from algorithms.networks.frame_autoencoder import FrameAutoencoder, foreground_mask
from algorithms.tokenizer.fit import background_of, fit_tokenizer, psnr_of
from algorithms.tokenizer.frame_tokenizer import FrameTokenizer

SETTINGS = {"latent_channels": 4, "width": 32, "downsamples": 1, "blocks": 1, "patch": 4,
            "steps": 400, "batch_size": 32, "lr": 1e-3, "foreground_weight": 20,
            "latent_noise": 0.05, "latent_penalty": 1e-6}


@pytest.mark.parametrize("channels,size,patch,downsamples", [(1, 64, 4, 1), (3, 32, 2, 2),
                                                             (3, 48, 4, 0)])
def test_autoencoder_shapes(channels, size, patch, downsamples):
    net = FrameAutoencoder(channels, size, latent_channels=3, width=8, downsamples=downsamples,
                           patch=patch)
    x = torch.rand(5, channels, size, size)
    z = net.encode(x)
    side = size // (patch * 2 ** downsamples)
    assert z.shape == (5, 3 * side * side) == (5, net.latent_dim)
    y = net.decode(z)
    assert y.shape == x.shape and bool(((y >= 0) & (y <= 1)).all())


def test_a_size_the_network_cannot_halve_is_refused():
    with pytest.raises(ValueError, match="not divisible by patch"):
        FrameAutoencoder(1, 60, patch=4, downsamples=1)


def test_foreground_mask_marks_what_differs_from_the_background():
    background = torch.full((1, 4, 4), 0.3)
    frames = background.expand(2, 1, 4, 4).clone()
    frames[1, 0, 2, 1] = 0.9
    mask = foreground_mask(frames, background)
    assert mask.sum() == 1 and mask[1, 0, 2, 1] == 1


def test_the_file_round_trip_is_exact(tmp_path):
    tokenizer = FrameTokenizer.new(32, 3, {**SETTINGS, "width": 8}, torch.rand(3, 32, 32))
    frames = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    tokenizer.save(tmp_path / "t.pt")
    loaded = FrameTokenizer.load(tmp_path / "t.pt")
    assert torch.equal(tokenizer.encode(frames), loaded.encode(frames))
    assert np.array_equal(tokenizer.decode(tokenizer.encode(frames)),
                          loaded.decode(loaded.encode(frames)))
    with pytest.raises(ValueError, match=r"\(64, 64, 1\).*trained on \(32, 32, 3\)"):
        loaded.encode(np.zeros((2, 64, 64, 1), dtype=np.uint8))
    torch.save({"format": "something else"}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a tokenizer"):
        FrameTokenizer.load(tmp_path / "bad.pt")


@pytest.fixture(scope="module")
def pong_frames() -> np.ndarray:
    from datasets.video.atari import simulate_atari

    frames, _ = simulate_atari("pong", 5, 200, 0, 64, True, {})
    return frames


def test_a_short_training_renders_real_pong_frames(pong_frames):
    """400 steps (about 15 s): the round trip of held-out frames reaches 30 dB, and beats the
    static background by at least 1 dB where the objects are (a tokenizer that dropped the ball
    and paddles would score the background's PSNR there)."""
    torch.set_num_threads(1)
    train, held = pong_frames[:4].reshape(-1, 64, 64, 1), pong_frames[4].reshape(-1, 64, 64, 1)
    tokenizer, metrics = fit_tokenizer(train, held, SETTINGS, seed=0)
    assert metrics["validation_psnr"] > 30.0
    assert metrics["validation_psnr"] == pytest.approx(psnr_of(tokenizer, held))
    background = (background_of(train) * 255).round().permute(1, 2, 0).numpy()
    mask = foreground_mask(FrameTokenizer.to_unit(held), background_of(train))[:, 0].numpy() > 0
    recon = tokenizer.decode(tokenizer.encode(held)).astype(float)
    err_model = ((recon - held)[..., 0][mask] ** 2).mean()
    err_background = ((background[None] - held)[..., 0][mask] ** 2).mean()
    assert 10 * np.log10(err_background / err_model) > 1.0
