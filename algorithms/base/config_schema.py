"""The `algorithm` keys every trajectory model shares, as a structured config: OmegaConf checks
their names, types and choices (`utils.config_checks.check_types`); the values are in each
algorithm's YAML (`MISSING` here). Ranges and rules between keys are `config_checks.py`'s.

An algorithm subclasses `TrajectoryModelSchema` with its own keys (e.g. `flow_forcing`'s loss)
and names it as its `config_schema`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING

from algorithms.generation.calibration import CALIBRATIONS
from algorithms.generation.token_clip import CLIP_RANGES
from algorithms.networks.backbones import BACKBONES
from algorithms.networks.build import NETWORK_KINDS
from algorithms.networks.context import CORRUPTIONS, FEATURES, NOISE_UNITS
from algorithms.networks.flow_head import PREDICTIONS
from algorithms.networks.frame import FRAME_STARTS, FRAMES
from algorithms.networks.token_space import TOKEN_SPACES
from utils.config_checks import choices

TokenSpace = choices("TokenSpace", TOKEN_SPACES)
Corruption = choices("Corruption", CORRUPTIONS)
NoiseUnit = choices("NoiseUnit", (*NOISE_UNITS, "auto"))
Feature = choices("Feature", FEATURES)
Frame = choices("Frame", FRAMES)
FrameStart = choices("FrameStart", FRAME_STARTS)
NetworkKind = choices("NetworkKind", NETWORK_KINDS)
Backbone = choices("Backbone", BACKBONES)
Calibration = choices("Calibration", CALIBRATIONS)
ClipRange = choices("ClipRange", CLIP_RANGES)
Prediction = choices("Prediction", PREDICTIONS)


@dataclass
class ContextSchema:
    """What stands in for generated tokens in training (`networks/context.py`)."""

    corruption: Corruption = MISSING
    noise_max: float = MISSING
    noise_unit: Optional[NoiseUnit] = None  # absent: data units
    clean_prob: Optional[float] = None  # absent: 0
    walk_max: Optional[float] = None  # absent: 0 (no random walk in the context)
    features: list[Feature] = MISSING
    level_input: bool = MISSING


@dataclass
class NetworkSchema:
    kind: NetworkKind = MISSING


@dataclass
class BackboneSchema:
    name: Backbone = MISSING
    hidden_size: int = MISSING
    num_layers: Any = MISSING  # a positive integer or "auto" (checked in config_checks.py)
    dropout: float = MISSING


@dataclass
class HeadSchema:
    width: int = MISSING
    depth: int = MISSING
    time_dim: int = MISSING
    time_scale: float = MISSING
    prediction: Prediction = MISSING


@dataclass
class EmaSchema:
    decay: Optional[float] = MISSING  # null: evaluate the raw weights
    # Generate with the EMA (true) or with the trained weights (false), the EMA still kept: a
    # short run's EMA is mostly its first steps (0.999^700 = 0.50 of the start's weights).
    generate: bool = True


@dataclass
class EvaluationSchema:
    validation_nfe: int = MISSING
    rollout_nfe: Any = MISSING  # a positive integer or a list of them


@dataclass
class GenerationSchema:
    """`algorithm.sampling` of the algorithms that sample (flow_forcing, diffusion_forcing)."""

    stabilization_noise: float = MISSING
    context_level: Optional[float] = MISSING
    # the residual calibration (issue 29; generation/calibration.py): absent in an older config,
    # which then means none
    calibration: Calibration = "none"
    calibration_sequences: int = 4096
    calibration_length: Optional[int] = None
    calibration_rollouts: int = 512
    calibration_probe: float = 0.02
    calibration_iterations: int = 1
    calibration_rcond: float = 0.05


@dataclass
class ClipSchema:
    """`algorithm.clip` (absent: none): generated tokens clamped to the training tokens' range
    (generation/token_clip.py)."""

    range: ClipRange = "none"
    margin: float = 0.0


@dataclass
class BurnInSchema:
    """`algorithm.burn_in` (absent: off): the loss on one window of the training sequence, the
    tokens before it read by the recurrence without gradient (`TrajectoryModel.loss_window`)."""

    loss_tokens: Optional[int] = None  # null: the loss covers the whole sequence


@dataclass
class TrajectoryModelSchema:
    name: str = MISSING
    token_space: TokenSpace = MISSING
    context: ContextSchema = field(default_factory=ContextSchema)
    frame: Frame = MISSING
    frame_start: Optional[FrameStart] = None  # absent: position
    frame_noise_scale: Optional[float] = None  # absent: 1
    network: NetworkSchema = field(default_factory=NetworkSchema)
    backbone: BackboneSchema = field(default_factory=BackboneSchema)
    head: HeadSchema = field(default_factory=HeadSchema)
    ema: EmaSchema = field(default_factory=EmaSchema)
    evaluation: EvaluationSchema = field(default_factory=EvaluationSchema)
    burn_in: BurnInSchema = field(default_factory=BurnInSchema)
    clip: ClipSchema = field(default_factory=ClipSchema)
