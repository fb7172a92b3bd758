"""Frames as the model sees them: an emulator's RGB screen cropped to its play field, resized to
`size x size` by area averaging (PIL's box filter: a small object such as Pong's ball keeps its
mass at any scale, where nearest-neighbour sampling would drop it between pixels), and optionally
turned grey (ITU-R BT.601 luma).

Frames are uint8 `[..., H, W, C]` with C = 1 (grey) or 3 (RGB) everywhere in `datasets/video/`.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: ITU-R BT.601 luma weights of R, G, B
LUMA = np.array([0.299, 0.587, 0.114])


def to_grey(rgb: np.ndarray) -> np.ndarray:
    """`[..., 3]` uint8 RGB -> `[..., 1]` uint8 luma (rounded)."""
    grey = np.rint(rgb.astype(np.float64) @ LUMA)
    return np.clip(grey, 0, 255).astype(np.uint8)[..., None]


def grey_value(rgb: tuple[int, int, int]) -> int:
    """The luma `to_grey` gives one RGB colour."""
    return int(to_grey(np.array(rgb, dtype=np.uint8))[0])


def preprocess(screen: np.ndarray, crop: tuple[int, int, int, int], size: int,
               grey: bool) -> np.ndarray:
    """One screen `[H0, W0, 3]` uint8 -> `[size, size, C]` uint8: rows `crop[0]:crop[1]` and
    columns `crop[2]:crop[3]`, box-resized to `size x size`, grey if asked (C = 1, else 3)."""
    top, bottom, left, right = crop
    field = np.ascontiguousarray(screen[top:bottom, left:right])
    if field.shape[:2] != (size, size):
        field = np.asarray(Image.fromarray(field).resize((size, size), Image.Resampling.BOX))
    return to_grey(field) if grey else field


def scale_factors(crop: tuple[int, int, int, int], size: int) -> tuple[float, float]:
    """(rows, columns) of the screen per frame pixel: how objects shrink from screen to frame."""
    top, bottom, left, right = crop
    return (bottom - top) / size, (right - left) / size
