"""Frame scores (`utils/metrics/frames.py`) on cases with known answers: PSNR's cap and its value
under noise of known power, SSIM of identical frames, the forecast curves, and the long-horizon
statistics (histograms, edges, sharpness, motion) of copies, shifts and blurs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from utils.metrics.frames import (
    PSNR_CAP,
    frame_forecast_scores,
    frame_statistics,
    psnr,
    ssim,
    ssim_window,
)


def blocky(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """uint8 frames `[..., H, W, C]` of random 4x4 blocks in 40..215 (room for noise)."""
    *lead, height, width, channels = shape
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 216, size=(*lead, height // 4, width // 4, channels))
    return np.repeat(np.repeat(coarse, 4, axis=-3), 4, axis=-2).astype(np.uint8)


@pytest.mark.parametrize("shape", [(3, 32, 32, 1), (2, 4, 64, 64, 3)])
def test_identical_frames_get_the_cap_and_ssim_one(shape):
    frames = blocky(shape)
    assert psnr(frames, frames).shape == shape[:-3]
    assert np.all(psnr(frames, frames) == PSNR_CAP) and PSNR_CAP == 100.0
    assert np.allclose(ssim(frames, frames), 1.0)


def test_psnr_of_noise_of_known_power():
    rng = np.random.default_rng(1)
    frames = blocky((5, 64, 64, 3))
    noise = rng.integers(-20, 21, size=frames.shape)          # uniform on -20..20
    noisy = (frames.astype(int) + noise).astype(np.uint8)     # no clipping: 40-20 .. 215+20
    mse = (noise.astype(float) ** 2).mean(axis=(1, 2, 3))
    assert np.allclose(psnr(noisy, frames), 10 * np.log10(255.0**2 / mse), rtol=0, atol=1e-9)
    variance = (41**2 - 1) / 12                               # the discrete uniform's: 140
    assert np.allclose(mse, variance, rtol=0.03)
    assert abs(psnr(noisy, frames).mean() - 10 * math.log10(255.0**2 / variance)) < 0.15
    assert np.all(psnr(noisy, frames, data_range=1.0) < psnr(noisy, frames))


def test_ssim_drops_with_noise_and_fits_small_frames():
    frames = blocky((2, 32, 32, 1))
    noisy = np.clip(frames + np.random.default_rng(2).normal(0, 30, frames.shape), 0, 255)
    assert np.all(ssim(noisy.astype(np.uint8), frames) < 0.8)
    assert (ssim_window(32, 32), ssim_window(6, 6), ssim_window(4, 9)) == (7, 5, 3)
    tiny = blocky((1, 8, 8, 3))[..., :5, :5, :]
    assert np.allclose(ssim(tiny, tiny), 1.0)
    with pytest.raises(ValueError, match="at least 3x3"):
        ssim_window(2, 2)


def test_forecast_scores_and_curves():
    windows, samples, horizon = 3, 4, 6
    truth = blocky((windows, horizon, 32, 32, 3))
    rng = np.random.default_rng(3)
    # sample 0 is exact; the others' noise grows with the step
    spread = np.arange(1, horizon + 1)[None, None, :, None, None, None] * 3.0
    noise = rng.normal(0, 1, (windows, samples, horizon, 32, 32, 3)) * spread
    noise[:, 0] = 0
    paths = np.clip(np.rint(truth[:, None] + noise), 0, 255).astype(np.uint8)
    scores, curves = frame_forecast_scores(paths, truth)
    assert curves["step"] == list(range(1, horizon + 1))
    assert len(curves["psnr"]) == len(curves["ssim"]) == horizon
    assert all(a > b for a, b in zip(curves["psnr"], curves["psnr"][1:])), curves["psnr"]
    assert all(a > b for a, b in zip(curves["ssim"], curves["ssim"][1:])), curves["ssim"]
    per = psnr(paths, np.broadcast_to(truth[:, None], paths.shape))
    assert scores["psnr_first"] == pytest.approx(per[:, :, 0].mean())
    assert scores["psnr_last"] == pytest.approx(per[:, :, -1].mean())
    assert scores["psnr_mean"] == pytest.approx(per.mean())
    assert scores["psnr_best_mean"] == PSNR_CAP and scores["ssim_best_mean"] == pytest.approx(1)
    assert scores["ssim_first"] > scores["ssim_last"]
    with pytest.raises(ValueError, match="expected paths"):
        frame_forecast_scores(paths, truth[:, :-1])


def test_statistics_of_a_copy_a_shift_a_blur_and_a_freeze():
    ref = blocky((4, 10, 64, 64, 3), seed=4)
    gen = blocky((3, 12, 64, 64, 3), seed=5)            # other frames of the same kind
    same = frame_statistics(ref, ref)
    assert same["histogram_distance"] == 0.0 and same["intensity_wasserstein"] == 0.0
    assert same["edge_energy_ratio"] == same["sharpness_ratio"] == same["motion_ratio"] == 1.0
    alike = frame_statistics(gen, ref)
    assert alike["histogram_distance"] < 0.15 and alike["intensity_wasserstein"] < 2.0
    assert abs(alike["sharpness_ratio"] - 1) < 0.1 and abs(alike["edge_energy_ratio"] - 1) < 0.1

    shifted = frame_statistics(ref + np.uint8(30), ref)   # 40..215 -> 70..245: no wrap
    assert shifted["intensity_wasserstein"] == pytest.approx(30.0)
    assert shifted["histogram_distance"] > 0.15                # ~30 of 176 values moved
    dark, light = np.full((1, 2, 8, 8, 1), 10, np.uint8), np.full((2, 3, 8, 8, 1), 200, np.uint8)
    apart = frame_statistics(dark, light)
    assert apart["histogram_distance"] == 1.0 and apart["intensity_wasserstein"] == 190.0
    assert shifted["sharpness_ratio"] == pytest.approx(1.0)

    blurred = gaussian_filter(ref.astype(float), sigma=(0, 0, 1.5, 1.5, 0))
    blur = frame_statistics(np.rint(blurred).astype(np.uint8), ref)
    assert blur["sharpness_ratio"] < 0.3, blur
    assert blur["edge_energy_ratio"] < 0.8, blur

    frozen = np.repeat(ref[:, :1], 10, axis=1)
    assert frame_statistics(frozen, ref)["motion_ratio"] == 0.0
    with pytest.raises(ValueError, match="differ"):
        frame_statistics(ref[..., :32, :], ref)
