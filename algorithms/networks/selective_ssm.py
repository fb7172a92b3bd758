"""A small selective state-space backbone in the style of Mamba (arXiv 2312.00752), in plain
PyTorch with a sequential scan, so it runs on a CPU; `step` carries a fixed-size state.

One mixer layer, for u_t `[B, W]` (E = expand·W channels, N = state_size per channel; expand
is 1 here, not Mamba's 2, so that a layer has about the parameters of a GRU layer of the same
width: 60 k against 52 k at width 128):

    x_t, g_t = split(W_in u_t)                          x, g `[B, E]`
    x_t      = SiLU(causal depthwise conv_k(x)_t)        (the last k inputs)
    Δ_t      = softplus(W_Δ (W_r x_t) + b_Δ)             `[B, E]`   input-dependent step
    B_t, C_t = W_B x_t, W_C x_t                          `[B, N]`   input-dependent in/out maps
    A        = −exp(A_log)                               `[E, N]`   diagonal, negative: stable
    h_t      = exp(Δ_t A) ⊙ h_{t−1} + (Δ_t B_t) ⊙ x_t    `[B, E, N]` (zero-order hold on A,
                                                                      Euler on B, as Mamba)
    y_t      = (h_t · C_t) + D ⊙ x_t,   out_t = W_out (y_t ⊙ SiLU(g_t))

The stack: a linear map of the inputs to width W, then per layer u ← u + mixer(LayerNorm(u))
(dropout on every mixer's output but the last, as `nn.GRU` between layers), then a LayerNorm.
The carried state per layer is the conv window `[B, E, k − 1]` and h `[B, E, N]`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SSMState = tuple[Tensor, Tensor]  # conv windows `[L, B, E, k − 1]`, scan states `[L, B, E, N]`


class SelectiveSSMLayer(nn.Module):
    """The mixer above. `sequence` `[B, T, W]`, (window, h) or None -> `[B, T, W]`, (window,
    h); `step` `[B, W]`, (window, h) -> `[B, W]`, (window, h)."""

    def __init__(self, width: int, state_size: int = 16, expand: int = 1, conv_size: int = 4,
                 dt_min: float = 1e-3, dt_max: float = 1e-1) -> None:
        super().__init__()
        inner, rank = expand * width, max(1, math.ceil(width / 16))
        self.inner, self.state_size, self.conv_size, self.rank = inner, state_size, conv_size, rank
        self.in_proj = nn.Linear(width, 2 * inner)
        self.conv = nn.Conv1d(inner, inner, conv_size, groups=inner)  # padded on the left by hand
        self.to_dt_b_c = nn.Linear(inner, rank + 2 * state_size, bias=False)
        self.dt_proj = nn.Linear(rank, inner)
        # Δ starts log-uniform in [dt_min, dt_max] (Mamba's init): bias = softplus⁻¹(Δ).
        dt = torch.exp(torch.rand(inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, state_size + 1, dtype=torch.float32))
                                  .repeat(inner, 1))
        self.D = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, width)

    def _selection(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """x `[..., E]` -> Δ `[..., E]`, B `[..., N]`, C `[..., N]`."""
        dt, b, c = self.to_dt_b_c(x).split([self.rank, self.state_size, self.state_size], dim=-1)
        return F.softplus(self.dt_proj(dt)), b, c

    def sequence(self, u: Tensor, state: SSMState | None = None) -> tuple[Tensor, SSMState]:
        """u `[B, T, W]` from a carried (window, h) or zeros -> outputs, the final (window, h)."""
        x, gate = self.in_proj(u).chunk(2, dim=-1)
        x = x.transpose(1, 2)
        if state is None:
            padded = F.pad(x, (self.conv_size - 1, 0))
            h = u.new_zeros(u.shape[0], self.inner, self.state_size)
        else:
            padded, h = torch.cat([state[0], x], dim=-1), state[1]
        window = padded[..., padded.shape[-1] - (self.conv_size - 1):]
        x = F.silu(self.conv(padded).transpose(1, 2))
        dt, b, c = self._selection(x)
        A = -self.A_log.exp()
        ys = []
        # The sequential scan: T small updates of a [B, E, N] state. Nothing of size
        # [B, T, E, N] is built, and the per-token slices come from one unbind (whose backward
        # is one stack, where indexing in the loop would allocate a full-size gradient per t).
        for dt_t, x_t, b_t, c_t in zip(dt.unbind(1), x.unbind(1), b.unbind(1), c.unbind(1)):
            drive = (dt_t * x_t).unsqueeze(-1) * b_t.unsqueeze(-2)
            h = torch.exp(dt_t.unsqueeze(-1) * A) * h + drive
            ys.append((h * c_t.unsqueeze(-2)).sum(-1))
        y = torch.stack(ys, dim=1) + self.D * x
        return self.out_proj(y * F.silu(gate)), (window, h)

    def step(self, u: Tensor, state: SSMState) -> tuple[Tensor, SSMState]:
        window, h = state
        x, gate = self.in_proj(u).chunk(2, dim=-1)
        window = torch.cat([window, x.unsqueeze(-1)], dim=-1)                # [B, E, k]
        x = F.silu((window * self.conv.weight.squeeze(1)).sum(-1) + self.conv.bias)
        dt, b, c = self._selection(x)
        A = -self.A_log.exp()
        h = torch.exp(dt.unsqueeze(-1) * A) * h + (dt * x).unsqueeze(-1) * b.unsqueeze(-2)
        y = (h * c.unsqueeze(-2)).sum(-1) + self.D * x
        return self.out_proj(y * F.silu(gate)), (window[..., 1:], h)


class SelectiveSSM(nn.Module):
    """The residual stack with the backbone interface.

    sequence: inputs `[B, T, I]` -> outputs `[B, T, H]` (zero initial state).
    scan:     inputs `[B, T, I]`, state or None -> outputs, final state (as `step`'s).
    step:     input `[B, I]`, state (windows `[L, B, E, k − 1]`, h `[L, B, E, N]`) or None
              -> output `[B, H]`, new state of the same fixed size.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 dropout: float = 0.0, state_size: int = 16, expand: int = 1,
                 conv_size: int = 4) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.input_proj = nn.Linear(input_size, hidden_size)
        self.norms = nn.ModuleList([nn.LayerNorm(hidden_size) for _ in range(num_layers)])
        self.layers = nn.ModuleList([SelectiveSSMLayer(hidden_size, state_size, expand, conv_size)
                                     for _ in range(num_layers)])
        self.dropout = nn.Dropout(dropout if num_layers > 1 else 0.0)
        self.final_norm = nn.LayerNorm(hidden_size)

    def _branch(self, i: int, out: Tensor) -> Tensor:
        return self.dropout(out) if i < len(self.layers) - 1 else out

    def sequence(self, inputs: Tensor) -> Tensor:
        return self.scan(inputs, None)[0]

    def scan(self, inputs: Tensor, state: SSMState | None) -> tuple[Tensor, SSMState]:
        u, windows, hs = self.input_proj(inputs), [], []
        for i, (norm, layer) in enumerate(zip(self.norms, self.layers)):
            out, (window, h) = layer.sequence(norm(u), None if state is None
                                              else (state[0][i], state[1][i]))
            u = u + self._branch(i, out)
            windows.append(window)
            hs.append(h)
        return self.final_norm(u), (torch.stack(windows), torch.stack(hs))

    def initial_state(self, batch: int, like: Tensor) -> SSMState:
        first = self.layers[0]
        L = len(self.layers)
        return (like.new_zeros(L, batch, first.inner, first.conv_size - 1),
                like.new_zeros(L, batch, first.inner, first.state_size))

    def step(self, inputs: Tensor, state: SSMState | None) -> tuple[Tensor, SSMState]:
        windows, hs = state if state is not None else self.initial_state(inputs.shape[0], inputs)
        u, new_windows, new_hs = self.input_proj(inputs), [], []
        for i, (norm, layer) in enumerate(zip(self.norms, self.layers)):
            out, (window, h) = layer.step(norm(u), (windows[i], hs[i]))
            u = u + self._branch(i, out)
            new_windows.append(window)
            new_hs.append(h)
        return self.final_norm(u), (torch.stack(new_windows), torch.stack(new_hs))
