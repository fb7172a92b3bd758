"""minGRU and minLSTM (arXiv 2410.01201, "Were RNNs All We Needed?"): recurrences whose gates
read only the input, so the state update is linear in the state and a whole sequence is one
parallel scan in log space (training), while generation steps one token with a carried state.

Per layer, for input x_t `[B, I]` and state h_{t−1} `[B, H]` (h_0 = 0):

    minGRU   z_t = σ(W_z x_t),  h̃_t = g(W_h x_t)
             h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h̃_t
    minLSTM  f_t = σ(W_f x_t),  i_t = σ(W_i x_t),  h̃_t = g(W_h x_t)
             f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t)
             h_t = f'_t ⊙ h_{t−1} + i'_t ⊙ h̃_t

with g(x) = x + 1/2 for x ≥ 0 and σ(x) otherwise (continuous, positive: the paper's choice so
that h stays positive and its log exists). Both are h_t = a_t ⊙ h_{t−1} + b_t with a_t, b_t > 0,
whose solution from h_0 = 0 is (Heinsen's log-space scan)

    log h_t = A_t + logcumsumexp_{k ≤ t}(log b_k − A_k),   A_t = Σ_{k ≤ t} log a_k.

Layers stack like `nn.GRU`: layer l reads layer l − 1's outputs, with dropout between layers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def log_g(x: Tensor) -> Tensor:
    """log g(x): log(x + 1/2) for x ≥ 0, log σ(x) = −softplus(−x) otherwise."""
    return torch.where(x >= 0, (F.relu(x) + 0.5).log(), -F.softplus(-x))


def g(x: Tensor) -> Tensor:
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_space_scan(log_a: Tensor, log_b: Tensor, h0: Tensor | None = None) -> Tensor:
    """h_t = a_t ⊙ h_{t−1} + b_t for a, b > 0 given as logs `[B, T, H]` -> h, from h_0 = 0 or
    from a positive carried state h0 `[B, H]` (h_t = A_t·h0 + the sum from zero: log h0 joins
    the cumulative log-sum as one more term)."""
    a_star = log_a.cumsum(dim=1)
    terms = torch.logcumsumexp(log_b - a_star, dim=1)
    if h0 is not None:
        terms = torch.logaddexp(terms, h0.clamp_min(torch.finfo(h0.dtype).tiny).log()
                                .unsqueeze(1))
    return (a_star + terms).exp()


class MinGRULayer(nn.Module):
    """One minGRU layer: `sequence` `[B, T, I]` -> `[B, T, H]`; `step` `[B, I]`, h `[B, H]` -> h."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.to_gate_and_candidate = nn.Linear(input_size, 2 * hidden_size)

    def sequence(self, x: Tensor, h0: Tensor | None = None) -> Tensor:
        k, candidate = self.to_gate_and_candidate(x).chunk(2, dim=-1)
        # log z = −softplus(−k), log(1 − z) = −softplus(k)
        return log_space_scan(-F.softplus(k), -F.softplus(-k) + log_g(candidate), h0)

    def step(self, x: Tensor, h: Tensor) -> Tensor:
        k, candidate = self.to_gate_and_candidate(x).chunk(2, dim=-1)
        z = torch.sigmoid(k)
        return (1 - z) * h + z * g(candidate)


class MinLSTMLayer(nn.Module):
    """One minLSTM layer (normalised gates, no separate cell state): same interface as minGRU."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.to_gates_and_candidate = nn.Linear(input_size, 3 * hidden_size)

    def sequence(self, x: Tensor, h0: Tensor | None = None) -> Tensor:
        f, i, candidate = self.to_gates_and_candidate(x).chunk(3, dim=-1)
        # log f' = −softplus(d), log i' = −softplus(−d), d = log i − log f
        d = F.softplus(-f) - F.softplus(-i)
        return log_space_scan(-F.softplus(d), -F.softplus(-d) + log_g(candidate), h0)

    def step(self, x: Tensor, h: Tensor) -> Tensor:
        f, i, candidate = self.to_gates_and_candidate(x).chunk(3, dim=-1)
        f, i = torch.sigmoid(f), torch.sigmoid(i)
        return (f * h + i * g(candidate)) / (f + i)


class MinRNN(nn.Module):
    """A stack of minGRU or minLSTM layers with the backbone interface.

    sequence: inputs `[B, T, I]` -> outputs `[B, T, H]` (zero initial state, log-space scan).
    scan:     inputs `[B, T, I]`, state `[L, B, H]` or None -> outputs, final state.
    step:     input `[B, I]`, state `[L, B, H]` or None -> output `[B, H]`, new state `[L, B, H]`.
    The state is the last hidden vector of every layer: its size does not depend on T.
    """

    layers_by_kind = {"mingru": MinGRULayer, "minlstm": MinLSTMLayer}

    def __init__(self, kind: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if kind not in self.layers_by_kind:
            raise ValueError(f"unknown min-RNN {kind!r}; choose one of "
                             f"{sorted(self.layers_by_kind)}")
        self.kind, self.hidden_size = kind, hidden_size
        layer = self.layers_by_kind[kind]
        self.layers = nn.ModuleList(
            [layer(input_size if i == 0 else hidden_size, hidden_size) for i in range(num_layers)])
        self.dropout = nn.Dropout(dropout if num_layers > 1 else 0.0)

    def sequence(self, inputs: Tensor) -> Tensor:
        return self.scan(inputs, None)[0]

    def scan(self, inputs: Tensor, state: Tensor | None) -> tuple[Tensor, Tensor]:
        x, last = inputs, []
        for i, layer in enumerate(self.layers):
            x = layer.sequence(self.dropout(x) if i > 0 else x,
                               None if state is None else state[i])
            last.append(x[:, -1])
        return x, torch.stack(last)

    def step(self, inputs: Tensor, state: Tensor | None) -> tuple[Tensor, Tensor]:
        if state is None:
            state = inputs.new_zeros(len(self.layers), inputs.shape[0], self.hidden_size)
        x, new_state = inputs, []
        for i, layer in enumerate(self.layers):
            x = layer.step(self.dropout(x) if i > 0 else x, state[i])
            new_state.append(x)
        return x, torch.stack(new_state)
