"""Frames on disk: a strip of frames over a rollout's horizon (PNG) and a video of rollouts
beside the real episodes (GIF, pillow), the generated row above the real one. Frames are uint8
`[N, T, H, W, C]`, C = 1 or 3."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

GAP = 2  # pixels between tiles


def _rgb(frames: np.ndarray) -> np.ndarray:
    return np.repeat(frames, 3, axis=-1) if frames.shape[-1] == 1 else frames


def _tile(rows: list[np.ndarray]) -> np.ndarray:
    """Rows of tiles `[k, H, W, 3]` (equal k) -> one image `[rows·(H+GAP), k·(W+GAP), 3]`, on
    white."""
    k, H, W = rows[0].shape[:3]
    out = np.full((len(rows) * (H + GAP), k * (W + GAP), 3), 255, dtype=np.uint8)
    for r, row in enumerate(rows):
        for c in range(k):
            out[r * (H + GAP):r * (H + GAP) + H, c * (W + GAP):c * (W + GAP) + W] = row[c]
    return out


def frame_strip(generated: np.ndarray, real: np.ndarray | None, path: Path, title: str = "",
                train_length: int | None = None, columns: int = 12, scale: int = 2) -> Path:
    """A PNG of `columns` frames evenly spaced over the horizon: one row per generated rollout
    `[N, T, H, W, C]`, each followed by its real episode's row when `real` (same shape) is
    given; the title and the time of each column above."""
    N, T = generated.shape[:2]
    times = np.unique(np.linspace(0, T - 1, min(columns, T)).round().astype(int))
    rows = []
    for n in range(N):
        rows.append(_rgb(generated[n, times]))
        if real is not None:
            rows.append(_rgb(real[n, times]))
    image = _tile(rows)
    image = np.kron(image, np.ones((scale, scale, 1), dtype=np.uint8))
    header = 28
    canvas = Image.new("RGB", (image.shape[1], image.shape[0] + header), "white")
    canvas.paste(Image.fromarray(image), (0, header))
    draw = ImageDraw.Draw(canvas)
    note = " (rows: generated, then real)" if real is not None else ""
    where = f"; training length {train_length}" if train_length else ""
    draw.text((2, 1), f"{title}{note}{where}", fill="black")
    width = (generated.shape[3] + GAP) * scale
    for c, t in enumerate(times):
        draw.text((c * width + 2, 14), f"t={t}", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


def write_video(generated: np.ndarray, real: np.ndarray | None, path: Path, fps: int = 15,
                scale: int = 2) -> Path:
    """A GIF of the rollouts `[N, T, H, W, C]` side by side, the real episodes (same shape, when
    given) in a row below, one frame per token at `fps`."""
    N, T = generated.shape[:2]
    frames = []
    for t in range(T):
        rows = [_rgb(generated[:, t])] + ([_rgb(real[:, t])] if real is not None else [])
        image = np.kron(_tile(rows), np.ones((scale, scale, 1), dtype=np.uint8))
        frames.append(Image.fromarray(image))
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(1000 / fps),
                   loop=0)
    return path
