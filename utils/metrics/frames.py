"""Scores of generated video frames, plain numpy (and scikit-image's SSIM): per-frame PSNR and
SSIM against the true frames, their curves over the forecast horizon, and long-horizon statistics
of a set of generated frames against the data's (colour histograms, edge energy, sharpness,
motion) that need no aligned truth.

Frames are `[..., H, W, C]` with C = 1 (grey) or 3 (RGB), uint8 (or floats on the same 0..255
scale; `data_range` says otherwise).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from skimage.metrics import structural_similarity

#: PSNR given to identical frames (MSE 0), in dB, and the most any frame scores: one grey level
#: off in one pixel is 84 dB in a 64x64 grey frame and 95 dB in a 128x128 RGB one
PSNR_CAP = 100.0

#: frames handled at once by the statistics (bounds the float64 copies in memory)
CHUNK = 256


def _check_frames(x: np.ndarray, name: str, ndim: int | None = None) -> None:
    if x.ndim < 3 or x.shape[-1] not in (1, 3) or (ndim is not None and x.ndim != ndim):
        want = f"{ndim} dimensions " if ndim is not None else ""
        raise ValueError(f"{name} must be {want}[..., H, W, C] with C = 1 or 3; got {x.shape}")


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> np.ndarray:
    """`[...]` float64: the PSNR in dB of each frame of `a` `[..., H, W, C]` against `b` (same
    shape): `10 log10(data_range² / MSE)` with the MSE over H, W and C; identical frames (MSE 0)
    get `PSNR_CAP` (100 dB), and no score exceeds it."""
    _check_frames(a, "a")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; got {a.shape} and {b.shape}")
    diff = a.astype(np.float64) - b.astype(np.float64)
    mse = np.mean(diff * diff, axis=(-3, -2, -1))
    with np.errstate(divide="ignore"):
        value = 10.0 * np.log10(data_range**2 / mse)
    return np.minimum(value, PSNR_CAP)


def ssim_window(height: int, width: int) -> int:
    """The SSIM window side: 7 (skimage's default), or the largest odd number that fits a
    smaller frame (at least 3; smaller frames have no SSIM)."""
    side = min(7, height, width)
    side -= 1 - side % 2
    if side < 3:
        raise ValueError(f"SSIM needs frames of at least 3x3; got {height}x{width}")
    return side


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> np.ndarray:
    """`[...]` float64: the mean SSIM of each frame of `a` `[..., H, W, C]` against `b` (same
    shape), `skimage.metrics.structural_similarity` with a uniform window of `ssim_window(H, W)`
    (7 for 32x32 and larger frames), the channels as `channel_axis` when C = 3. 1 for identical
    frames."""
    _check_frames(a, "a")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; got {a.shape} and {b.shape}")
    height, width, channels = a.shape[-3:]
    side = ssim_window(height, width)
    flat_a = a.reshape(-1, height, width, channels).astype(np.float64)
    flat_b = b.reshape(-1, height, width, channels).astype(np.float64)
    out = np.empty(len(flat_a))
    for i, (x, y) in enumerate(zip(flat_a, flat_b)):
        if channels == 1:
            out[i] = structural_similarity(x[..., 0], y[..., 0], win_size=side,
                                           data_range=data_range)
        else:
            out[i] = structural_similarity(x, y, win_size=side, data_range=data_range,
                                           channel_axis=-1)
    return out.reshape(a.shape[:-3])


def frame_forecast_scores(paths: np.ndarray, truth: np.ndarray, data_range: float = 255.0
                          ) -> tuple[dict[str, float], dict[str, list[float]]]:
    """PSNR and SSIM of forecast frames against the true ones, per step of the horizon.

    Args:
        paths: `[W, M, H_steps, h, w, C]` M generated continuations of each of W windows.
        truth: `[W, H_steps, h, w, C]` what the data did.

    Returns:
        scores: `psnr_mean` / `ssim_mean` (over windows, samples and steps), `psnr_first` /
            `psnr_last` / `ssim_first` / `ssim_last` (the curves' first and last steps), and
            `psnr_best_mean` / `ssim_best_mean` (the best of the M samples per window and step,
            averaged: the usual score of a stochastic video model).
        curves: `step` (1..H_steps), `psnr` and `ssim` (means over windows and samples).
    """
    _check_frames(paths, "paths", ndim=6)
    _check_frames(truth, "truth", ndim=5)
    if truth.shape != (paths.shape[0], *paths.shape[2:]):
        raise ValueError(f"expected paths [W, M, H, h, w, C] and truth [W, H, h, w, C]; got "
                         f"{paths.shape} and {truth.shape}")
    target = np.broadcast_to(truth[:, None], paths.shape)
    per_psnr = psnr(paths, target, data_range)          # [W, M, H]
    per_ssim = ssim(paths, target, data_range)
    psnr_curve = per_psnr.mean(axis=(0, 1))
    ssim_curve = per_ssim.mean(axis=(0, 1))
    scores = {
        "psnr_mean": float(per_psnr.mean()),
        "psnr_first": float(psnr_curve[0]),
        "psnr_last": float(psnr_curve[-1]),
        "psnr_best_mean": float(per_psnr.max(axis=1).mean()),
        "ssim_mean": float(per_ssim.mean()),
        "ssim_first": float(ssim_curve[0]),
        "ssim_last": float(ssim_curve[-1]),
        "ssim_best_mean": float(per_ssim.max(axis=1).mean()),
    }
    curves = {"step": list(range(1, len(psnr_curve) + 1)),
              "psnr": [float(v) for v in psnr_curve], "ssim": [float(v) for v in ssim_curve]}
    return scores, curves


def _chunks(frames: np.ndarray) -> Iterator[np.ndarray]:
    """`frames` `[N, T, H, W, C]` as float64 pieces `[n, T, H, W, C]` of about `CHUNK` frames."""
    per = max(1, CHUNK // max(1, frames.shape[1]))
    for start in range(0, len(frames), per):
        yield frames[start:start + per].astype(np.float64)


def value_histograms(frames: np.ndarray) -> np.ndarray:
    """`[C, 256]`: the share of each pixel value 0..255 per channel, pooled over all frames of
    uint8 `frames` `[..., H, W, C]` (floats are rounded and clipped first)."""
    _check_frames(frames, "frames")
    if frames.dtype != np.uint8:
        frames = np.clip(np.rint(frames), 0, 255).astype(np.uint8)
    values = frames.reshape(-1, frames.shape[-1])
    counts = np.stack([np.bincount(values[:, c], minlength=256) for c in range(values.shape[1])])
    return counts / counts.sum(axis=1, keepdims=True)


def edge_energy(frames: np.ndarray) -> float:
    """The mean gradient magnitude of `frames` `[N, T, H, W, C]` (forward differences along rows
    and columns on the `[H-1, W-1]` grid where both exist, per channel), in values per pixel."""
    total, count = 0.0, 0
    for x in _chunks(frames):
        gy = x[..., 1:, :-1, :] - x[..., :-1, :-1, :]
        gx = x[..., :-1, 1:, :] - x[..., :-1, :-1, :]
        magnitude = np.sqrt(gx * gx + gy * gy)
        total, count = total + float(magnitude.sum()), count + magnitude.size
    return total / count


def sharpness(frames: np.ndarray) -> float:
    """The variance of the (4-neighbour) Laplacian over each frame's interior `[H-2, W-2]`, per
    channel, averaged over frames and channels of `frames` `[N, T, H, W, C]`. Blur lowers it."""
    total, count = 0.0, 0
    for x in _chunks(frames):
        lap = (x[..., :-2, 1:-1, :] + x[..., 2:, 1:-1, :] + x[..., 1:-1, :-2, :]
               + x[..., 1:-1, 2:, :] - 4.0 * x[..., 1:-1, 1:-1, :])
        variance = lap.var(axis=(-3, -2))
        total, count = total + float(variance.sum()), count + variance.size
    return total / count


def motion(frames: np.ndarray) -> float:
    """The mean absolute change of a pixel from one frame to the next in `frames`
    `[N, T, H, W, C]` (NaN when T < 2). A video that freezes has 0."""
    if frames.shape[1] < 2:
        return float("nan")
    total, count = 0.0, 0
    for x in _chunks(frames):
        step = np.abs(np.diff(x, axis=1))
        total, count = total + float(step.sum()), count + step.size
    return total / count


def _ratio(gen: float, ref: float) -> float:
    """gen / ref; 1.0 when both are 0, inf when only ref is."""
    if ref == 0.0:
        return 1.0 if gen == 0.0 else float("inf")
    return gen / ref


@dataclass(frozen=True)
class FrameSummary:
    """What `frame_statistics` needs of a set of frames, computed once (`summarise_frames`): the
    data's side of every comparison, reused across windows and horizons."""

    shape: tuple[int, ...]     # (H, W, C)
    histograms: np.ndarray     # [C, 256]
    edge_energy: float
    sharpness: float
    motion: float


def summarise_frames(frames: np.ndarray) -> FrameSummary:
    """The `FrameSummary` of frames `[N, T, H, W, C]`."""
    _check_frames(frames, "ref", ndim=5)
    return FrameSummary(tuple(frames.shape[2:]), value_histograms(frames), edge_energy(frames),
                        sharpness(frames), motion(frames))


def frame_statistics(gen: np.ndarray, ref: np.ndarray | FrameSummary) -> dict[str, float]:
    """Long-horizon statistics of generated frames against the data's, with no aligned truth.

    Args:
        gen: `[N, T, H, W, C]` generated frames (uint8).
        ref: `[M, T2, H, W, C]` frames of the data (same H, W, C), or their `summarise_frames`.

    Returns:
        histogram_distance: total variation between the pooled histograms of pixel values
            (256 bins per channel; the mean over channels), in [0, 1]; 0 for the same frames.
        intensity_wasserstein: the 1-Wasserstein distance between the same histograms, in
            pixel values (grey levels), the mean over channels.
        edge_energy_ratio: `edge_energy(gen) / edge_energy(ref)` (1 is the data's).
        sharpness_ratio: `sharpness(gen) / sharpness(ref)`: a mean-seeking model blurs, < 1.
        motion_ratio: `motion(gen) / motion(ref)`: 0 for a frozen video (NaN when T or T2 < 2).
        Ratios are 1.0 when both sides are 0 and inf when only the data's is.
    """
    _check_frames(gen, "gen", ndim=5)
    ref = ref if isinstance(ref, FrameSummary) else summarise_frames(ref)
    if tuple(gen.shape[2:]) != ref.shape:
        raise ValueError(f"gen and ref frames differ: {gen.shape[2:]} and {ref.shape}")
    hist_gen = value_histograms(gen)
    cdf_gap = np.abs(np.cumsum(hist_gen, axis=1) - np.cumsum(ref.histograms, axis=1))
    return {
        "histogram_distance": float(0.5 * np.abs(hist_gen - ref.histograms).sum(axis=1).mean()),
        "intensity_wasserstein": float(cdf_gap.sum(axis=1).mean()),
        "edge_energy_ratio": _ratio(edge_energy(gen), ref.edge_energy),
        "sharpness_ratio": _ratio(sharpness(gen), ref.sharpness),
        "motion_ratio": _ratio(motion(gen), ref.motion),
    }
