"""Generation: a streaming sampler that holds the recurrent state and returns one token per
call, and a rollout of any horizon built on it (memory does not grow with the horizon beyond
the output itself)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from algorithms.generation.calibration import ResidualCalibration
from algorithms.generation.solvers import euler_solve
from algorithms.generation.token_clip import clip_tokens
from algorithms.networks.backbones import State
from algorithms.networks.context import has_noise
from algorithms.networks.flow_network import FlowNetwork, Solver


class StreamingSampler(nn.Module):
    """A batch of generation streams: `reset(B)`, then each `step()` returns the next token `[B, D]`.

    Per token: one recurrent update on the previous token, then `nfe` head calls from noise
    (`solver`, default `euler_solve`; the seed's network instead makes `nfe` calls that each
    run the recurrence one step on the noisy token, see seed_network.py). The generated token
    becomes the next context exactly as generated, or with N(0, context_noise²) added
    (Diffusion Forcing's stabilisation; the token returned is the one generated, the noisy copy
    is only what the recurrence reads). A network that reads the context's corruption level
    (`reads_level`, context.py) is told `context_level` for every generated context token
    (default None: context_noise, 0 by default); token 0's empty context is always level 0.

    `observe(token)` feeds a real token instead of generating one (a recurrent update, no head
    call): the warm-up on a real past before a forecast. A real context token is clean, so the
    next token reads it at level 0 and without stabilisation noise. With given channels
    (`network.given_dim` C > 0) every `step` and `observe` takes token j's given values `[B, C]`.
    `calibration` (calibration.py; the global frame only) subtracts a fitted mean residual from
    each normalised sample before it is decoded, so the corrected token is returned and fed back.
    `bounds` (low `[D]`, high `[D]`; token_clip.py) clamp each generated token, in data units,
    before it is returned and fed back.
    """

    def __init__(self, network: FlowNetwork, nfe: int = 1, solver: Solver = euler_solve,
                 context_noise: float = 0.0, context_level: float | None = None,
                 calibration: ResidualCalibration | None = None,
                 bounds: tuple[Tensor, Tensor] | None = None) -> None:
        super().__init__()
        self.network, self.nfe = network, nfe
        self.solver, self.context_noise = solver, context_noise
        if calibration is not None and getattr(network, "frame", "global") == "heading":
            raise ValueError("a residual calibration needs the global frame")
        self.calibration, self.bounds = calibration, bounds
        self.context_level = context_noise if context_level is None else context_level
        self.state: State | None = None
        self.index = 0
        self.context: Tensor | None = None
        self.previous: Tensor | None = None
        self.context_is_real = False

    def reset(self, num_streams: int, device: torch.device | str = "cpu",
              dtype: torch.dtype = torch.float32) -> None:
        self.state, self.index, self.context_is_real = None, 0, False
        self.context = torch.zeros(num_streams, self.network.token_dim, device=device, dtype=dtype)
        self.previous = torch.zeros_like(self.context)

    def _encode(self, given: Tensor | None) -> tuple[Tensor, State]:
        """Token `index`'s conditioning from the context held, and the moved state."""
        if self.context is None:
            raise RuntimeError("call reset(num_streams) before step() or observe()")
        net = self.network
        extra = {} if given is None else {"given": given.to(self.context)}
        if getattr(net, "reads_level", False):  # the level the context is said to have
            real = self.index == 0 or self.context_is_real
            level = self.context.new_full((*self.context.shape[:-1], 1),
                                          0.0 if real else self.context_level)
            return net.encode_step(self.context, self.previous, self.index, self.state, level,
                                   **extra)
        return net.encode_step(self.context, self.previous, self.index, self.state, **extra)

    @torch.no_grad()
    def observe(self, token: Tensor, given: Tensor | None = None) -> None:
        """Feed the real token `index` `[B, D]` (with its given channels `[B, C]`)."""
        if not getattr(self.network, "observes", True):
            raise ValueError("this network cannot read a real context (the seed's network moves "
                             "its recurrence only on noisy tokens): use algorithm.network.kind=split")
        _, self.state = self._encode(given)
        self.previous, self.context = self.context, token.to(self.context)
        self.context_is_real = True
        self.index += 1

    def warm_up(self, context: Tensor) -> None:
        """`observe` every real token of `context` `[B, T0, G + C]` in order."""
        for j in range(context.shape[1]):
            self.observe(*split_channels(context[:, j], self.network.token_dim))

    @torch.no_grad()
    def step(self, noise: Tensor | None = None, generator: torch.Generator | None = None,
             given: Tensor | None = None) -> Tensor:
        """The next token of every stream; `noise` `[B, D]` fixes the draw (default: N(0, I));
        `given` `[B, C]`: the token's given channels, when the data have them."""
        c, state = self._encode(given)
        net = self.network
        if noise is None:
            noise = torch.randn(self.context.shape, generator=generator,
                                device=self.context.device, dtype=self.context.dtype)
        moving = getattr(net, "frame", "global") == "heading"  # frame.py: noise, token rotated
        if moving:
            noise = net.noise_token(noise, self.context, self.previous, self.index)
        y, self.state = net.solve_step(c, noise, self.solver, self.nfe, state)
        if self.calibration is not None:  # global frame only (checked in __init__)
            y = self.calibration(y, self.context, self.index)
        if moving:
            token = net.decode_token(y, self.context, self.previous, self.index)
        else:
            first = torch.full(y.shape[:-1], self.index == 0, dtype=torch.bool, device=y.device)
            token = net.token_space.decode_step(y, self.context, first)
        if self.bounds is not None:
            token = clip_tokens(token, self.bounds)
        context = token
        if has_noise(self.context_noise):
            context = token + self.context_noise * torch.randn(
                token.shape, generator=generator, device=token.device, dtype=token.dtype)
        self.previous, self.context = self.context, context
        self.context_is_real = False
        self.index += 1
        return token

    forward = step


def split_channels(tokens: Tensor, generated_dim: int) -> tuple[Tensor, Tensor | None]:
    """`[..., G + C]` -> (generated `[..., G]`, given `[..., C]` or None when C = 0)."""
    given = tokens[..., generated_dim:]
    return tokens[..., :generated_dim], (given if given.shape[-1] else None)


def check_conditioning(network: FlowNetwork, num_samples: int, horizon: int,
                       context: Tensor | None, given: Tensor | None) -> None:
    """Raise ValueError unless context `[N, T0, G + C]` and given `[N, horizon, C]` fit."""
    G, C = network.token_dim, getattr(network, "given_dim", 0)
    if context is not None and (context.dim() != 3 or context.shape[0] != num_samples
                                or context.shape[2] != G + C):
        raise ValueError(f"context must be [{num_samples}, T0, {G + C}]; got "
                         f"{list(context.shape)}")
    if C and (given is None or tuple(given.shape) != (num_samples, horizon, C)):
        got = None if given is None else list(given.shape)
        raise ValueError(f"the data have {C} given channels: given must be "
                         f"[{num_samples}, {horizon}, {C}]; got {got}")
    if not C and given is not None and given.shape[-1]:
        raise ValueError("given channels passed to a network that reads none")


@torch.no_grad()
def rollout(network: FlowNetwork, num_samples: int, horizon: int, nfe: int = 1,
            batch_size: int | None = None, device: torch.device | str = "cpu",
            generator: torch.Generator | None = None, solver: Solver = euler_solve,
            context_noise: float = 0.0, context_level: float | None = None,
            context: Tensor | None = None, given: Tensor | None = None,
            calibration: ResidualCalibration | None = None,
            bounds: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """Generate `[num_samples, horizon, G + C]` tokens (float32, on the CPU), `batch_size` streams
    at a time. `generator` must live on `device`. `solver`, `context_noise`, `context_level`,
    `calibration`, `bounds`: see `StreamingSampler`. `context` `[num_samples, T0, G + C]`: real
    tokens each stream reads first (`observe`), then it generates `horizon` more; `given`
    `[num_samples, horizon, C]`: the given channels of the generated tokens (needed when the
    network reads C > 0), copied into the output as they are."""
    check_conditioning(network, num_samples, horizon, context, given)
    G = network.token_dim
    batch_size = batch_size or num_samples
    out = torch.empty(num_samples, horizon, G + (0 if given is None else given.shape[-1]))
    if given is not None:
        out[..., G:] = given
    sampler = StreamingSampler(network, nfe, solver, context_noise, context_level, calibration,
                               bounds)
    for start in range(0, num_samples, batch_size):
        stop = min(start + batch_size, num_samples)
        sampler.reset(stop - start, device=device)
        if context is not None:
            sampler.warm_up(context[start:stop].to(device))
        streams_given = None if given is None else given[start:stop].to(device)
        for j in range(horizon):
            step_given = None if streams_given is None else streams_given[:, j]
            out[start:stop, j, :G] = sampler.step(generator=generator,
                                                  given=step_given).float().cpu()
    return out
