"""What the recurrence reads: the previous tokens, as the model will see them at generation.

At generation the context is the model's own imperfect output, so training shows it a
corrupted copy of the data (Diffusion Forcing's noisy surrogate):
  clean     the data itself (teacher forcing; the predictive baseline)
  gaussian  x_{j-1} + σ_j·ε with σ_j ~ U(0, noise_max) per token (in data units, or in RMS
            steps with `noise_unit: rms_step`); a share `clean_prob` of the sequences keeps
            σ = 0 throughout
  surrogate the previous token noised to its own flow time (the seed's z2), built by the loss

With `algorithm.context.level_input: true` the recurrence also reads each context token's
corruption level σ_j (÷ the data's RMS step; 0 at generation, or the stabilisation noise), as
Diffusion Forcing conditions on the noise level of its context.

Given channels (covariates, actions: `SequenceDataModule.given_dim`) are read, never generated:
row j also holds token j's own given values g_j, normalised by their training statistics
(`given_mean`, `given_std` in the statistics), since they are known when token j is generated
(a temperature forecast at j; for actions, a dataset puts the action that led to token j there). Without it the model cannot tell
a clean context from a corrupted one, so at generation it samples as widely as it must after a
corrupted context: a spread that feeds a random walk of the circle's centre (issue 15).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

CORRUPTIONS = ("clean", "gaussian", "surrogate")
NOISE_UNITS = ("data", "rms_step", "rms_step_per_dim", "rms_step_per_channel")
#: `context.noise_unit: auto` means this unless the dataset declares another (`NOISE_UNIT`)
AUTO_NOISE_UNIT = "rms_step"
FEATURES = ("position", "delta")


def shift_right(x: Tensor) -> Tensor:
    """`[B, T, D]` -> context rows: row j holds x_{j-1}; row 0 is zeros (no context)."""
    return torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], dim=1)


def gaussian_corruption(x: Tensor, noise_max: float | Tensor, clean_prob: float = 0.0,
                        walk_max: float | Tensor = 0.0) -> tuple[Tensor, Tensor]:
    """x `[B, T, D]` + σ·ε with σ ~ U(0, noise_max) drawn per token -> (corrupted x, σ `[B, T, 1]`).

    `noise_max` is a number (data units), or a vector `[D]` per channel (`rms_step_per_channel`):
    then one u ~ U(0, 1) per token scales every channel's own maximum, and the σ returned is
    u · `unit_scale(noise_max)`, the level summarised as one number.
    A share `clean_prob` of the sequences keeps a clean context (σ = 0 for every token): with the
    level input, the model then learns what to do after a clean history, which is what it is
    shown at generation (no draw is spent when clean_prob = 0).

    `walk_max` > 0 adds a random walk w_j = Σ_{i ≤ j} s·η_i, with s ~ U(0, walk_max) drawn per
    sequence (a number or `[D]`, like `noise_max`): a slow drift of the whole context, the
    shape of the error a one-step sampler integrates at generation, while the target stays the
    data (issue 29; measured on circles, it does not teach the model to undo its own drift:
    docs/results/drift.md). The level σ returned leaves it out. No draw is spent when
    walk_max = 0 (the default path is unchanged)."""
    per_channel = isinstance(noise_max, Tensor)
    sigma = (1.0 if per_channel else noise_max) * torch.rand(*x.shape[:-1], 1, device=x.device,
                                                             dtype=x.dtype)
    if clean_prob > 0:
        noisy = torch.rand(x.shape[0], *[1] * (x.dim() - 1), device=x.device) >= clean_prob
        sigma = sigma * noisy.to(x.dtype)
    spread = sigma * noise_max.to(x) if per_channel else sigma  # [B, T, D] or [B, T, 1]
    corrupted = x + spread * torch.randn_like(x)
    if per_channel:
        sigma = sigma * unit_scale(noise_max)
    if has_noise(walk_max):
        scale = torch.rand(x.shape[0], *[1] * (x.dim() - 1), device=x.device, dtype=x.dtype)
        walk_max = walk_max.to(x) if isinstance(walk_max, Tensor) else walk_max
        corrupted = corrupted + (scale * walk_max * torch.randn_like(x)).cumsum(dim=1)
    return corrupted, sigma


def rms_step(statistics: dict[str, Tensor]) -> Tensor:
    """The data's RMS step length sqrt(E‖Δ‖²), a scalar, from the per-dimension statistics."""
    return (statistics["step_std"].float() ** 2 + statistics["step_mean"].float() ** 2).sum().sqrt()


def noise_unit(context_cfg, statistics: dict[str, Tensor]) -> float:
    """What `context.noise_max` is measured in (`context.noise_unit`, `unit_value`): data units
    (1.0), or the data's RMS step (its length, or per coordinate), so that the corruption scales
    with how far a token moves (the same recipe then fits arcs of any radius and speed)."""
    unit = context_cfg.get("noise_unit", "data")
    if unit == "auto":  # what it means depends on the dataset: resolved before any build
        raise ValueError("algorithm.context.noise_unit=auto is resolved by the dataset "
                         "(experiments.components.resolve_auto) before the model is built")
    if unit not in NOISE_UNITS:
        raise ValueError(f"unknown context noise unit {unit!r}; choose one of {NOISE_UNITS}")
    return unit_value(unit, statistics)


def unit_value(unit: str, statistics: dict[str, Tensor]) -> float | Tensor:
    """One noise unit in data units: 1 (`data`), the RMS step length ‖Δ‖ (`rms_step`), the
    RMS step per coordinate ‖Δ‖ / √D (`rms_step_per_dim`), or each channel's own RMS step
    sqrt(E Δ_d²), a vector `[D]` (`rms_step_per_channel`). The corruption is drawn per
    coordinate, so in `rms_step` units it is √D times a coordinate's step: the same for tokens
    of 2 or 3 numbers, and 16x it for a 256-number frame latent (measured: a training loss of
    ~600, the context drowned), which `rms_step_per_dim` keeps at the step's own size. Where the
    channels move on different scales (HalfCheetah: joint angles against velocities), only the
    per-channel unit corrupts each channel in proportion to its own step."""
    if unit == "data":
        return 1.0
    if unit == "rms_step_per_channel":
        return (statistics["step_std"].float() ** 2 + statistics["step_mean"].float() ** 2).sqrt()
    length = float(rms_step(statistics))
    return length / statistics["step_std"].numel() ** 0.5 if unit == "rms_step_per_dim" else length


def unit_scale(unit: float | Tensor) -> float:
    """A noise unit as one number: itself, or a per-channel unit's root mean square (what a
    level is told in, `LevelInput`; `rms_step_per_dim`'s value where all channels agree)."""
    return float(unit.float().pow(2).mean().sqrt()) if isinstance(unit, Tensor) else float(unit)


def generation_noise(stabilization: float, level: float | None, unit: float | Tensor
                     ) -> tuple[float | Tensor, float | None]:
    """`algorithm.sampling.stabilization_noise` and `.context_level` (in the noise unit) in data
    units: the stabilisation noise's scale (a number, or `[D]` per channel; 0.0 when off) and
    the level a network reading its context's level is told (None: the noise's own)."""
    if isinstance(unit, Tensor):
        noise = stabilization * unit if stabilization else 0.0
        return noise, (stabilization if level is None else level) * unit_scale(unit)
    return stabilization * unit, None if level is None else level * unit


def has_noise(scale: float | Tensor) -> bool:
    """Whether a stabilisation noise scale (a number or a per-channel vector) adds any noise."""
    return bool((scale > 0).any()) if isinstance(scale, Tensor) else scale > 0


class LevelInput(nn.Module):
    """The context's corruption level as one more input column: σ `[..., 1]` (data units) ÷ the
    data's RMS step, or zeros when no level is given; nothing when disabled (`size` 0)."""

    def __init__(self, enabled: bool, statistics: dict[str, Tensor]) -> None:
        super().__init__()
        self.size = int(enabled)
        if enabled:
            self.register_buffer("scale", rms_step(statistics))

    def forward(self, like: Tensor, level: Tensor | None) -> list[Tensor]:
        """[] when disabled, else [σ ÷ scale] shaped like `like[..., :1]` (σ broadcasts)."""
        if not self.size:
            return []
        if level is None:
            return [torch.zeros_like(like[..., :1])]
        return [(level / self.scale).to(like.dtype).expand_as(like[..., :1])]


def given_dim(statistics: dict[str, Tensor]) -> int:
    """The number C of given channels the statistics describe (0 without `given_mean`)."""
    return int(statistics["given_mean"].numel()) if "given_mean" in statistics else 0


class GivenInput(nn.Module):
    """Token j's given channels `[..., C]` as (g − μ_g)/σ_g input columns; nothing when C = 0."""

    def __init__(self, statistics: dict[str, Tensor]) -> None:
        super().__init__()
        self.size = given_dim(statistics)
        if self.size:
            self.register_buffer("mean", statistics["given_mean"].detach().clone().float())
            std = statistics["given_std"].detach().clone().float()
            self.register_buffer("std", torch.where(std > 0, std, torch.ones_like(std)))

    def forward(self, given: Tensor | None) -> list[Tensor]:
        """[] without given channels, else [(g − μ)/σ]; raises if they are expected and missing
        (or given to a network that has none): a silent zero would be a wrong covariate."""
        if not self.size:
            if given is not None and given.shape[-1]:
                raise ValueError(f"this network reads no given channels; got {given.shape[-1]}")
            return []
        if given is None or given.shape[-1] != self.size:
            got = None if given is None else given.shape[-1]
            raise ValueError(f"this network reads {self.size} given channels per token; got {got}")
        return [(given - self.mean) / self.std]


class ContextFeatures(nn.Module):
    """Normalised inputs of the recurrence from the context tokens.

    sequence(context `[B, T, D]`, level `[B, T, 1]` | None, given `[B, T, C]` | None) -> `[B, T, F]`;
    row j describes the context of token j:
      position: (c_j − μ)/σ,   delta: (c_j − c_{j−1} − μ_Δ)/σ_Δ,   plus flags
      "has a context" (j ≥ 1) and "has a delta" (j ≥ 2), then the level column (LevelInput) if
      enabled, then token j's given channels (GivenInput) if the data have any. Missing parts
      are zeros.
    step(context, previous `[B, D]`, index, level `[B, 1]` | None, given `[B, C]` | None) ->
    `[B, F]`: the same row for token `index`.
    """

    def __init__(self, features: list[str], token_dim: int, statistics: dict[str, Tensor],
                 level_input: bool = False) -> None:
        super().__init__()
        unknown = sorted(set(features) - set(FEATURES))
        if unknown or not features:
            raise ValueError(f"context features must be a non-empty subset of {FEATURES}")
        self.features = list(features)
        for key in ("token_mean", "token_std", "step_mean", "step_std"):
            self.register_buffer(key, statistics[key].detach().clone().float())
        self.level = LevelInput(level_input, statistics)
        self.given = GivenInput(statistics)
        self.size = len(self.features) * token_dim + 2 + self.level.size + self.given.size

    def _row(self, context: Tensor, previous: Tensor, has_context: Tensor, has_delta: Tensor,
             level: Tensor | None, given: Tensor | None) -> Tensor:
        parts = []
        if "position" in self.features:
            parts.append(has_context * (context - self.token_mean) / self.token_std)
        if "delta" in self.features:
            parts.append(has_delta * (context - previous - self.step_mean) / self.step_std)
        return torch.cat([*parts, has_context, has_delta, *self.level(context, level),
                          *self.given(given)], dim=-1)

    def sequence(self, context: Tensor, level: Tensor | None = None, given: Tensor | None = None
                 ) -> Tensor:
        index = torch.arange(context.shape[1], device=context.device).view(1, -1, 1)
        has_context = (index >= 1).to(context.dtype).expand(*context.shape[:-1], 1)
        has_delta = (index >= 2).to(context.dtype).expand(*context.shape[:-1], 1)
        return self._row(context, shift_right(context), has_context, has_delta, level, given)

    def step(self, context: Tensor, previous: Tensor, index: int, level: Tensor | None = None,
             given: Tensor | None = None) -> Tensor:
        flag = context.new_ones(*context.shape[:-1], 1)
        return self._row(context, previous, flag * (index >= 1), flag * (index >= 2), level,
                         given)
