"""Deterministic random streams: every draw is a pure function of (seed, stream, index...).

Training data and noise are functions of (seed, global step, rank), never of a generator's
history, so a run resumed from a checkpoint draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

import numpy as np
import torch


def stream_seed(seed: int, stream: int, *indices: int) -> int:
    """A 62-bit seed from a well-mixed hash of (seed, stream, *indices).

    Indices may be negative (reserved draws such as data statistics); numpy's SeedSequence
    mixes the words so neighbouring indices give unrelated streams.
    """
    words = [int(seed) & 0xFFFFFFFF, int(stream) & 0xFFFFFFFF,
             *(int(i) & 0xFFFFFFFFFFFF for i in indices)]
    state = np.random.SeedSequence(words).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 ^ int(state[1])


def stream_generator(seed: int, stream: int, index: int, device: str | torch.device = "cpu"
                     ) -> torch.Generator:
    """A torch generator seeded with `stream_seed(seed, stream, index)`."""
    generator = torch.Generator(device=device)
    generator.manual_seed(stream_seed(seed, stream, index))
    return generator
