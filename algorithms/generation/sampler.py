"""Generation: a streaming sampler that holds the recurrent state and returns one token per
call, and a rollout of any horizon built on it (memory does not grow with the horizon beyond
the output itself)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from algorithms.generation.solvers import euler_solve
from algorithms.networks.backbones import State
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
    """

    def __init__(self, network: FlowNetwork, nfe: int = 1, solver: Solver = euler_solve,
                 context_noise: float = 0.0, context_level: float | None = None) -> None:
        super().__init__()
        self.network, self.nfe = network, nfe
        self.solver, self.context_noise = solver, context_noise
        self.context_level = context_noise if context_level is None else context_level
        self.state: State | None = None
        self.index = 0
        self.context: Tensor | None = None
        self.previous: Tensor | None = None

    def reset(self, num_streams: int, device: torch.device | str = "cpu",
              dtype: torch.dtype = torch.float32) -> None:
        self.state, self.index = None, 0
        self.context = torch.zeros(num_streams, self.network.token_dim, device=device, dtype=dtype)
        self.previous = torch.zeros_like(self.context)

    @torch.no_grad()
    def step(self, noise: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """The next token of every stream; `noise` `[B, D]` fixes the draw (default: N(0, I))."""
        if self.context is None:
            raise RuntimeError("call reset(num_streams) before step()")
        net = self.network
        if getattr(net, "reads_level", False):  # the level the generated context is said to have
            level = self.context.new_full((*self.context.shape[:-1], 1),
                                          self.context_level if self.index >= 1 else 0.0)
            c, state = net.encode_step(self.context, self.previous, self.index, self.state, level)
        else:
            c, state = net.encode_step(self.context, self.previous, self.index, self.state)
        if noise is None:
            noise = torch.randn(self.context.shape, generator=generator,
                                device=self.context.device, dtype=self.context.dtype)
        moving = getattr(net, "frame", "global") == "heading"  # frame.py: noise, token rotated
        if moving:
            noise = net.noise_token(noise, self.context, self.previous, self.index)
        y, self.state = net.solve_step(c, noise, self.solver, self.nfe, state)
        if moving:
            token = net.decode_token(y, self.context, self.previous, self.index)
        else:
            first = torch.full(y.shape[:-1], self.index == 0, dtype=torch.bool, device=y.device)
            token = net.token_space.decode_step(y, self.context, first)
        context = token
        if self.context_noise > 0:
            context = token + self.context_noise * torch.randn(
                token.shape, generator=generator, device=token.device, dtype=token.dtype)
        self.previous, self.context = self.context, context
        self.index += 1
        return token

    forward = step


@torch.no_grad()
def rollout(network: FlowNetwork, num_samples: int, horizon: int, nfe: int = 1,
            batch_size: int | None = None, device: torch.device | str = "cpu",
            generator: torch.Generator | None = None, solver: Solver = euler_solve,
            context_noise: float = 0.0, context_level: float | None = None) -> Tensor:
    """Generate `[num_samples, horizon, D]` tokens (float32, on the CPU), `batch_size` streams
    at a time. `generator` must live on `device`. `solver`, `context_noise`, `context_level`: see
    `StreamingSampler`."""
    batch_size = batch_size or num_samples
    out = torch.empty(num_samples, horizon, network.token_dim)
    sampler = StreamingSampler(network, nfe, solver, context_noise, context_level)
    for start in range(0, num_samples, batch_size):
        stop = min(start + batch_size, num_samples)
        sampler.reset(stop - start, device=device)
        for j in range(horizon):
            out[start:stop, j] = sampler.step(generator=generator).float().cpu()
    return out
