"""Recurrent backbones with constant memory: a whole-sequence mode for training and a
one-step mode that carries the state for generation. Both modes compute the same function."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

State = Any  # a backbone's carried state: a tensor, or a tuple of tensors (LSTM)


class RecurrentBackbone(nn.Module):
    """Wraps `nn.GRU` / `nn.LSTM` (batch first).

    sequence: inputs `[B, T, I]` -> outputs `[B, T, H]` (zero initial state).
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

    def step(self, inputs: Tensor, state: State | None) -> tuple[Tensor, State]:
        outputs, state = self.rnn(inputs.unsqueeze(1), state)
        return outputs.squeeze(1), state


BACKBONES = tuple(RecurrentBackbone.cells)


def build_backbone(name: str, input_size: int, hidden_size: int, num_layers: int,
                   dropout: float) -> RecurrentBackbone:
    """The backbone registry: `algorithm.backbone.name` -> module."""
    return RecurrentBackbone(name, input_size, hidden_size, num_layers, dropout)
