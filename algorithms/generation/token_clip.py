"""A generation-time clip of every generated token to the range of the training tokens.

A sampler whose output leaves the region the data occupy reads its own out-of-range token back,
and nothing in training ever showed the recurrence such a context: the error feeds itself. On a
video dataset the generated latents leave the tokenizer's range within a few hundred frames and
decode to saturated noise (docs/results/video.md). `algorithm.clip.range: data` clamps each
channel of every generated token to [min − m·(max − min), max + m·(max − min)] of the training
tokens (m = `algorithm.clip.margin`), before it is returned and fed back; `none` (the default)
leaves the sampler untouched. Given channels are never generated, so never clipped.

The bounds come from the dataset's statistics (`token_min`, `token_max`, in data units), so they
are rebuilt with the model wherever the dataset is at hand: a checkpoint holds no bounds.
"""

from __future__ import annotations

from torch import Tensor

CLIP_RANGES = ("none", "data")


def clip_bounds(statistics: dict[str, Tensor], margin: float) -> tuple[Tensor, Tensor]:
    """(low, high) `[D]`: the training tokens' per-channel range, widened by `margin` x its
    width on each side. Raises `ValueError` when the statistics hold no range."""
    if "token_min" not in statistics or "token_max" not in statistics:
        raise ValueError("this dataset's statistics give no token range (token_min, token_max): "
                         "use algorithm.clip.range=none")
    if margin < 0:
        raise ValueError(f"algorithm.clip.margin must be >= 0; got {margin}")
    low, high = statistics["token_min"].float(), statistics["token_max"].float()
    widen = margin * (high - low)
    return low - widen, high + widen


def clip_tokens(tokens: Tensor, bounds: tuple[Tensor, Tensor]) -> Tensor:
    """tokens `[..., D]` clamped channel by channel to bounds (low `[D]`, high `[D]`)."""
    low, high = bounds
    return tokens.clamp(low.to(tokens), high.to(tokens))


def token_bounds(clip_cfg, statistics: dict[str, Tensor]) -> tuple[Tensor, Tensor] | None:
    """`algorithm.clip` (absent or `range: none`: None) -> the bounds a sampler clips to (the
    config checks have refused any other range)."""
    if (clip_cfg or {}).get("range", "none") == "none":
        return None
    return clip_bounds(statistics, float(clip_cfg.get("margin", 0.0)))
