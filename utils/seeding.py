"""Deterministic random streams: every draw is a pure function of (seed, stream, index)."""

from __future__ import annotations

import numpy as np
import torch


def stream_generator(seed: int, stream: int, index: int, device: str | torch.device = "cpu"
                     ) -> torch.Generator:
    """A torch generator seeded from a well-mixed hash of (seed, stream, index).

    `index` may be negative (reserved draws such as data statistics); numpy's SeedSequence
    mixes the words so neighbouring indices give unrelated streams.
    """
    words = [int(seed) & 0xFFFFFFFF, int(stream) & 0xFFFFFFFF, int(index) & 0xFFFFFFFFFFFF]
    state = np.random.SeedSequence(words).generate_state(2, dtype=np.uint32)
    generator = torch.Generator(device=device)
    generator.manual_seed(int(state[0]) << 31 ^ int(state[1]))
    return generator
