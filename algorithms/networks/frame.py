"""A moving frame: a model whose inputs and output carry no global orientation or position.

`algorithm.frame: heading` (default `global`: the plain network of flow_network.py). For 2-D tokens:

  recurrence input, row j   the context step d_j = c_j − c_{j−1}, rotated into the frame of the
                            step before it, d_{j−1} (row 2, which has no step before it: into its
                            own frame, so only its length is left), divided by the data's RMS step
                            length s (an isotropic scale: a per-dimension std would pick axes)
  output token j ≥ 2        the step x_j − c_j in the frame of the last context step d_j, ÷ s;
                            it is rotated back to the global frame to give the token
  noise                     drawn in the global frame and rotated into that same frame, so a
                            rotated stream with rotated noise gives the rotated token exactly

Steps only, so everything after the start is translation-invariant; the frames make it
rotation-invariant. The model is then exactly equivariant under rotations and translations of
the plane for every token j ≥ 2, at one network evaluation (`tests/test_frame.py`). A bias in the
one-step sampler can then only be fixed in the moving frame (a radius or speed error), never a
shared direction in the plane, which is what made the global model's centres drift together.

The start is where the circle's place is decided, and there the data are not equivariant (the
centres lie in a square). Token 0 is drawn as in the relative token space (its absolute position,
÷ the first token's per-dimension std); token 1 is the global-frame step from token 0 (÷ the
step's per-dimension std), and with `algorithm.frame_start: position` (default) the head of
token 1 only also sees token 0's absolute position (it never enters the recurrence, so later
tokens stay equivariant). `frame_start: none` leaves it out. `frame_noise_scale` (default 1)
scales the generation noise of tokens ≥ 2 (a sampling knob; see `HeadingFlowNetwork`).

The model assumes the data's continuations are rotation- and translation-equivariant: a dataset
must declare it (`SequenceDataModule.symmetries`), and the config check refuses it otherwise.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch import Tensor, nn

from algorithms.networks.backbones import State, recur
from algorithms.networks.context import LevelInput, rms_step, shift_right
from algorithms.networks.flow_network import Solver, build_backbone_and_head

FRAMES = ("global", "heading", "auto")  # auto: resolve_frame (config_checks.py)
FRAME_STARTS = ("position", "none")
# What the data must declare (`SequenceDataModule.symmetries`) for each frame.
FRAME_NEEDS = {"global": frozenset(), "heading": frozenset({"rotation", "translation"})}


def heading(d: Tensor) -> Tensor:
    """Unit vector `[..., 2]` along d `[..., 2]` ((1, 0) where d = 0)."""
    angle = torch.atan2(d[..., 1], d[..., 0])
    return torch.stack([angle.cos(), angle.sin()], dim=-1)


def to_frame(v: Tensor, u: Tensor) -> Tensor:
    """v `[..., 2]` in the frame whose first axis is the unit vector u: rotate by −angle(u)."""
    return torch.stack([u[..., 0] * v[..., 0] + u[..., 1] * v[..., 1],
                        u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]], dim=-1)


def from_frame(v: Tensor, u: Tensor) -> Tensor:
    """The inverse of `to_frame`: rotate v `[..., 2]` by +angle(u)."""
    return torch.stack([u[..., 0] * v[..., 0] - u[..., 1] * v[..., 1],
                        u[..., 1] * v[..., 0] + u[..., 0] * v[..., 1]], dim=-1)


def _row_index(x: Tensor) -> Tensor:
    """`[1, T, 1]` token indices for a sequence `[B, T, D]`."""
    return torch.arange(x.shape[1], device=x.device).view(1, -1, 1)


class HeadingTokenSpace(nn.Module):
    """The output token in the moving frame (see the module docstring).

    Sequence mode: encode(x `[B, T, 2]`, context `[B, T, 2]`) -> y, decode(y, context) -> x,
    with `context[:, j]` the token shown to token j (row 0 unused). Step mode (one token `[B, 2]`):
    encode_step / decode_step / noise_step take also `previous` (the context of the token before)
    and the token's index. `frame_of(context, previous)` is the unit vector of the last context step.
    """

    kind = "relative"

    def __init__(self, statistics: dict[str, Tensor]) -> None:
        super().__init__()
        for key in ("first_mean", "first_std", "step_mean", "step_std"):
            self.register_buffer(key, statistics[key].detach().clone().float())
        self.register_buffer("scale", rms_step(statistics))

    # --- one rule for every row, selected by the index (a tensor broadcasting to x[..., :1]) ---
    def _encode(self, x: Tensor, context: Tensor, previous: Tensor, index: Tensor) -> Tensor:
        first = (x - self.first_mean) / self.first_std
        second = (x - context - self.step_mean) / self.step_std
        later = to_frame(x - context, heading(context - previous)) / self.scale
        return torch.where(index == 0, first, torch.where(index == 1, second, later))

    def _decode(self, y: Tensor, context: Tensor, previous: Tensor, index: Tensor) -> Tensor:
        first = y * self.first_std + self.first_mean
        second = y * self.step_std + self.step_mean + context
        later = context + from_frame(y * self.scale, heading(context - previous))
        return torch.where(index == 0, first, torch.where(index == 1, second, later))

    def encode(self, x: Tensor, context: Tensor) -> Tensor:
        return self._encode(x, context, shift_right(context), _row_index(x))

    def decode(self, y: Tensor, context: Tensor) -> Tensor:
        return self._decode(y, context, shift_right(context), _row_index(y))

    def encode_step(self, x: Tensor, context: Tensor, previous: Tensor, index: int) -> Tensor:
        return self._encode(x, context, previous, torch.tensor(index, device=x.device))

    def decode_step(self, y: Tensor, context: Tensor, previous: Tensor, index: int) -> Tensor:
        return self._decode(y, context, previous, torch.tensor(index, device=y.device))

    def noise_step(self, noise: Tensor, context: Tensor, previous: Tensor, index: int) -> Tensor:
        """Global-frame noise `[B, 2]` -> the token space's (rotated into the moving frame from
        token 2 on; an orthogonal map, so N(0, I) stays N(0, I))."""
        if index < 2:
            return noise
        return to_frame(noise, heading(context - previous))


class HeadingContextFeatures(nn.Module):
    """Inputs of the recurrence with no global orientation or position.

    Row j: [v_j (2), has_context (j ≥ 1), has_step (j ≥ 2), has_turn (j ≥ 3)], where
    v_j = d_j in the frame of d_{j−1} (j ≥ 3) or of d_j itself (j = 2), ÷ the RMS step; zeros
    before; then the corruption level (context.py's `LevelInput`, a scalar: invariant) if
    enabled. `start(context)`: token 0's normalised absolute position, for token 1's head only.
    """

    def __init__(self, statistics: dict[str, Tensor], level_input: bool = False) -> None:
        super().__init__()
        for key in ("first_mean", "first_std"):
            self.register_buffer(key, statistics[key].detach().clone().float())
        self.register_buffer("scale", rms_step(statistics))
        self.level = LevelInput(level_input, statistics)
        self.size = 5 + self.level.size

    def _row(self, context: Tensor, previous: Tensor, before: Tensor, index: Tensor,
             level: Tensor | None) -> Tensor:
        d = context - previous
        reference = torch.where(index >= 3, previous - before, d)
        has_context, has_step, has_turn = (index >= 1), (index >= 2), (index >= 3)
        v = to_frame(d, heading(reference)) / self.scale * has_step
        flags = torch.cat([has_context, has_step, has_turn], dim=-1).to(context.dtype)
        return torch.cat([v, flags.expand(*context.shape[:-1], 3), *self.level(context, level)],
                         dim=-1)

    def sequence(self, context: Tensor, level: Tensor | None = None) -> Tensor:
        previous = shift_right(context)
        return self._row(context, previous, shift_right(previous), _row_index(context), level)

    def step(self, context: Tensor, previous: Tensor, before: Tensor, index: int,
             level: Tensor | None = None) -> Tensor:
        index_t = torch.tensor(index, device=context.device).view(1, 1)
        return self._row(context, previous, before, index_t, level)

    def start(self, context: Tensor) -> Tensor:
        return (context - self.first_mean) / self.first_std


class HeadingFlowNetwork(nn.Module):
    """The flow network of flow_network.py (recurrence + per-token head) in the moving frame.

    Same interface as `FlowNetwork`, except that the step-mode token space needs the context of
    the token before (`decode_token`, `noise_token`), and the state carries that context along
    with the backbone's state. `frame = "heading"` tells the sampler so.
    """

    frame = "heading"

    def __init__(self, cfg: DictConfig, token_dim: int, statistics: dict[str, Tensor]) -> None:
        super().__init__()
        if token_dim != 2:
            raise ValueError(f"algorithm.frame=heading needs 2-D tokens, got {token_dim}")
        self.token_dim = token_dim
        self.token_space = HeadingTokenSpace(statistics)
        self.context_features = HeadingContextFeatures(
            statistics, bool(cfg.context.get("level_input", False)))
        self.backbone, self.head = build_backbone_and_head(cfg, self.context_features.size,
                                                           token_dim)
        start = cfg.get("frame_start", "position")
        if start not in FRAME_STARTS:
            raise ValueError(f"unknown frame_start {start!r}; choose one of {FRAME_STARTS}")
        self.start = nn.Linear(token_dim, cfg.head.width) if start == "position" else None
        # Generation only: the noise of tokens ≥ 2 (the continuation) is scaled by this. 1 samples
        # the learned conditional; lower values trade its spread (which is wide, as training
        # contexts are noisy) for less random-walk drift of the centre. Measured, not assumed:
        # on data with noisy continuations (dataset.noise_std > 0) keep it at 1.
        self.noise_scale = float(cfg.get("frame_noise_scale", 1.0))

    given_dim = 0  # no given channels in the moving frame (build.py refuses them)

    @property
    def reads_level(self) -> bool:
        return bool(self.context_features.level.size)

    def encode(self, context: Tensor, level: Tensor | None = None, given: None = None,
               burn_in: int = 0) -> Tensor:
        features = self.context_features.sequence(context, level)
        c = self.head.condition(recur(self.backbone, features, burn_in))
        if self.start is not None:
            second = (_row_index(context) == 1).to(c.dtype)[:, burn_in:]
            c = c + second * self.start(self.context_features.start(context))[:, burn_in:]
        return c

    def encode_step(self, context: Tensor, previous: Tensor, index: int, state: State | None,
                    level: Tensor | None = None, given: None = None) -> tuple[Tensor, State]:
        inner, before = state if state is not None else (None, torch.zeros_like(context))
        features = self.context_features.step(context, previous, before, index, level)
        h, inner = self.backbone.step(features, inner)
        c = self.head.condition(h)
        if self.start is not None and index == 1:
            c = c + self.start(self.context_features.start(context))
        return c, (inner, previous)

    def velocity(self, c: Tensor, z: Tensor, t_start: Tensor, t_end: Tensor) -> Tensor:
        return self.head(c, z, t_start, t_end)

    def solve_step(self, c: Tensor, noise: Tensor, solver: Solver, nfe: int, state: State | None
                   ) -> tuple[Tensor, State | None]:
        return solver(lambda z, t0, t1: self.velocity(c, z, t0, t1), noise, nfe), state

    def noise_token(self, noise: Tensor, context: Tensor, previous: Tensor, index: int) -> Tensor:
        noise = self.token_space.noise_step(noise, context, previous, index)
        return noise * self.noise_scale if index >= 2 and self.noise_scale != 1.0 else noise

    def decode_token(self, y: Tensor, context: Tensor, previous: Tensor, index: int) -> Tensor:
        return self.token_space.decode_step(y, context, previous, index)
