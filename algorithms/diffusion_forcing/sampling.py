"""Diffusion Forcing's samplers (arXiv 2407.01392) for a flow-matching network: K Euler steps
of the instantaneous velocity per token, under two scheduling matrices.

autoregressive  token j is denoised in K steps, then token j + 1 (`StreamingSampler` with
                `flow_euler_solve`).
pyramid         a chunk of W tokens is denoised together: token i takes its k-th step at row
                i + k (K + W − 1 rows), so each token runs one step behind the one before it.
                A token still being denoised is read by the next one as its current estimate
                of the clean token, x̂ = z_t + (1 − t)·v(z_t, t → t) (no extra call).

Stabilisation: what the recurrence reads of a generated token is that token plus N(0, σ²)
(σ = `stabilization_noise`, data units, like `context.noise_max` in training); the token
returned is the one generated.
"""

from __future__ import annotations

import torch
from torch import Tensor

from algorithms.generation.sampler import StreamingSampler, check_conditioning
from algorithms.networks.backbones import State
from algorithms.networks.context import has_noise
from algorithms.networks.flow_network import FlowNetwork


def pyramid_chunk(network: FlowNetwork, noise: Tensor, stabilization: Tensor, nfe: int,
                  start: int, state: State | None, context: Tensor, previous: Tensor,
                  given: Tensor | None = None) -> tuple[Tensor, State | None, Tensor, Tensor]:
    """Generate W tokens together under the pyramid schedule.

    noise, stabilization `[W, B, D]` (the latter already scaled by σ); `start` the index of the
    chunk's first token; (state, context, previous) as `StreamingSampler` holds them before it;
    given `[W, B, C]`: the tokens' given channels (None: the data have none).
    Returns the tokens `[W, B, D]` and (state, context, previous) after them. The recurrence
    restarts every row from the state after the last finished token: K steps per token.
    """
    W = noise.shape[0]
    z, tokens, done = list(noise.unbind(0)), [None] * W, 0
    for row in range(nfe + W - 1):
        s, ctx, prev = state, context, previous
        for i in range(done, min(W, row + 1)):
            k = row - i
            extra = {} if given is None else {"given": given[i]}
            c, s = network.encode_step(ctx, prev, start + i, s, **extra)
            t = torch.full(z[i].shape[:-1], k / nfe, device=z[i].device, dtype=z[i].dtype)
            v = network.velocity(c, z[i], t, t)
            z[i] = z[i] + v / nfe
            estimate = z[i] + (1 - (k + 1) / nfe) * v
            first = torch.full(t.shape, start + i == 0, dtype=torch.bool, device=t.device)
            token = network.token_space.decode_step(estimate, ctx, first)
            prev, ctx = ctx, token + stabilization[i]
            if k == nfe - 1:  # token i is final (tokens finish in order, one per row)
                tokens[i], done = token, done + 1
                state, context, previous = s, ctx, prev
    return torch.stack(tokens), state, context, previous


@torch.no_grad()
def pyramid_rollout(network: FlowNetwork, num_samples: int, horizon: int, nfe: int, chunk: int,
                    batch_size: int | None = None, device: torch.device | str = "cpu",
                    generator: torch.Generator | None = None, context_noise: float = 0.0,
                    context: Tensor | None = None, given: Tensor | None = None) -> Tensor:
    """`[num_samples, horizon, G + C]` (float32, CPU) in chunks of `chunk` tokens. Per chunk the
    noise is drawn first, then the stabilisation noise (only if context_noise > 0), so a chunk
    of 1 draws what the autoregressive sampler draws and gives the same tokens. `context`,
    `given`: a real past read first and the given channels, as in `generation.sampler.rollout`."""
    check_conditioning(network, num_samples, horizon, context, given)
    batch_size = batch_size or num_samples
    D = network.token_dim
    out = torch.empty(num_samples, horizon, D + (0 if given is None else given.shape[-1]))
    if given is not None:
        out[..., D:] = given
    warm = StreamingSampler(network)
    for begin in range(0, num_samples, batch_size):
        B = min(begin + batch_size, num_samples) - begin
        warm.reset(B, device=device)
        if context is not None:  # the real past: one recurrent update per token, no head call
            warm.warm_up(context[begin:begin + B].to(device))
        state, context_token, previous = warm.state, warm.context, warm.previous
        offset = warm.index
        streams_given = None if given is None else given[begin:begin + B].to(device)
        for start in range(0, horizon, chunk):
            W = min(chunk, horizon - start)
            noise = torch.randn(W, B, D, generator=generator, device=device)
            stabilization = torch.zeros_like(noise)
            if has_noise(context_noise):
                stabilization = context_noise * torch.randn(W, B, D, generator=generator,
                                                            device=device)
            chunk_given = (None if streams_given is None
                           else streams_given[:, start:start + W].transpose(0, 1))
            tokens, state, context_token, previous = pyramid_chunk(
                network, noise, stabilization, nfe, offset + start, state, context_token,
                previous, chunk_given)
            out[begin:begin + B, start:start + W, :D] = tokens.transpose(0, 1).float().cpu()
    return out
