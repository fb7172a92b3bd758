"""The `dataset` keys of a video dataset and their types (OmegaConf checks them;
`VideoDataModule.check_config` the ranges and the rules between keys)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING


@dataclass
class TokenizerSchema:
    """`dataset.tokenizer`: where it comes from, its architecture and its training."""

    load: Any = None            # a tokenizer.pt or a run folder holding tokenizer/tokenizer.pt
    latent_channels: int = MISSING
    width: int = MISSING
    downsamples: int = MISSING
    blocks: int = MISSING
    patch: int = MISSING
    steps: int = MISSING
    batch_size: int = MISSING
    lr: float = MISSING
    foreground_weight: float = MISSING
    latent_noise: float = MISSING
    latent_penalty: float = MISSING


@dataclass
class VideoSchema:
    """The `dataset` keys of a video dataset and their types (`check_config`: the ranges)."""

    name: str = MISSING
    source: str = MISSING               # atari | crafter
    game: str = MISSING                 # atari: pong | breakout; crafter: crafter
    size: int = MISSING                 # frames are size x size
    grey: bool = MISSING                # one channel (luma) or RGB
    policy: dict = field(default_factory=dict)
    episodes: dict = MISSING            # {train: N, validation: N, test: N}
    episode_length: int = MISSING       # tokens (frames) per episode
    data_seed: int = 0
    cache_dir: str = "data/video"
    tokenizer: TokenizerSchema = field(default_factory=TokenizerSchema)
    train_length: int = MISSING
    metric_window: Optional[int] = None  # tokens per scored window; None: train_length
    context_tokens: int = MISSING
    forecast_horizon: int = MISSING
    forecast_stride: int = MISSING
    rollout_horizon: int = MISSING
    num_eval_batches: int = MISSING
    frame_eval_samples: int = MISSING   # rollouts / forecast paths per window decoded and scored
    video_samples: int = MISSING        # rollouts written as video beside the real episode
    tasks: list[str] = MISSING
    long_horizon: int = MISSING
    eval_horizons: list[int] = MISSING
