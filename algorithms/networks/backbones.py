"""Recurrent backbones with constant memory: a whole-sequence mode for training and a
one-step mode that carries the state for generation. Both modes compute the same function,
and the carried state has a fixed size, whatever the number of tokens generated.

Every backbone has this interface (`algorithm.backbone.name` picks one from `BACKBONES`):
    sequence(inputs `[B, T, I]`) -> outputs `[B, T, H]`        (zero initial state)
    scan(inputs `[B, T, I]`, state or None) -> outputs, state   (from a carried state)
    step(input `[B, I]`, state or None) -> output `[B, H]`, state
`scan` over a sequence equals `scan` over its first part then over the rest from the state it
returned, and `step` token by token: `recur` uses that to warm the state on a prefix without
gradient (`algorithm.burn_in`).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from algorithms.networks.min_rnn import MinRNN
from algorithms.networks.selective_ssm import SelectiveSSM

State = Any  # a backbone's carried state: a tensor, or a tuple of tensors (LSTM, selective SSM)


class RecurrentBackbone(nn.Module):
    """Wraps `nn.GRU` / `nn.LSTM` (batch first).

    sequence: inputs `[B, T, I]` -> outputs `[B, T, H]` (zero initial state).
    scan:     inputs `[B, T, I]`, state or None -> outputs, final state.
    step:     input `[B, I]`, state -> output `[B, H]`, new state.
    """

    cells = {"gru": nn.GRU, "lstm": nn.LSTM}

    def __init__(self, kind: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if kind not in self.cells:
            raise ValueError(f"unknown backbone {kind!r}; choose one of {sorted(self.cells)}")
        self.kind, self.hidden_size = kind, hidden_size
        self.rnn = self.cells[kind](input_size, hidden_size, num_layers=num_layers,
                                    dropout=dropout if num_layers > 1 else 0.0, batch_first=True)

    def sequence(self, inputs: Tensor) -> Tensor:
        outputs, _ = self.rnn(inputs)
        return outputs

    def scan(self, inputs: Tensor, state: State | None) -> tuple[Tensor, State]:
        return self.rnn(inputs, state)

    def step(self, inputs: Tensor, state: State | None) -> tuple[Tensor, State]:
        outputs, state = self.rnn(inputs.unsqueeze(1), state)
        return outputs.squeeze(1), state


# name -> (input_size, hidden_size, num_layers, dropout) -> module
_BUILDERS: dict[str, Callable[[int, int, int, float], nn.Module]] = {
    "gru": lambda i, h, n, p: RecurrentBackbone("gru", i, h, n, p),
    "lstm": lambda i, h, n, p: RecurrentBackbone("lstm", i, h, n, p),
    "mingru": lambda i, h, n, p: MinRNN("mingru", i, h, n, p),        # arXiv 2410.01201
    "minlstm": lambda i, h, n, p: MinRNN("minlstm", i, h, n, p),      # arXiv 2410.01201
    "selective_ssm": lambda i, h, n, p: SelectiveSSM(i, h, n, p),     # Mamba-style, CPU scan
}
BACKBONES = tuple(_BUILDERS)

# `algorithm.backbone.num_layers=auto`: two layers for the min-RNNs, whose gates read the input
# alone (one layer of width 128 holds 2.3 k parameters on 8 inputs, against the GRU's 53 k), one
# for the others.
AUTO_LAYERS: dict[str, int] = {"mingru": 2, "minlstm": 2}


def resolve_layers(name: str, num_layers: int | str) -> int:
    """`num_layers`, with `"auto"` replaced by the backbone's own depth (`AUTO_LAYERS`, else 1)."""
    return AUTO_LAYERS.get(name, 1) if num_layers == "auto" else int(num_layers)


def build_backbone(name: str, input_size: int, hidden_size: int, num_layers: int | str,
                   dropout: float) -> nn.Module:
    """The backbone registry: `algorithm.backbone.name` -> module with `sequence` and `step`
    (`num_layers` may be `"auto"`: `resolve_layers`)."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return _BUILDERS[name](input_size, hidden_size, resolve_layers(name, num_layers), dropout)


def recur(backbone: nn.Module, inputs: Tensor, burn_in: int = 0) -> Tensor:
    """The backbone's outputs `[B, T − burn_in, H]` for the inputs `[B, T, I]` after the first
    `burn_in`: those only warm the state, without gradient (no graph is kept for them), so the
    outputs are those of the whole sequence while backpropagation covers the rest alone.
    `burn_in=0` is `backbone.sequence(inputs)`."""
    if burn_in <= 0:
        return backbone.sequence(inputs)
    with torch.no_grad():
        _, state = backbone.scan(inputs[:, :burn_in], None)
    return backbone.scan(inputs[:, burn_in:], state)[0]


def state_numel(state: State) -> int:
    """Number of elements a carried state holds (for checks that memory does not grow)."""
    if isinstance(state, Tensor):
        return state.numel()
    return sum(state_numel(s) for s in state)
