"""`algorithm.ema.generate`: the EMA is kept either way; generation (and the evaluation losses)
use it by default, or the trained weights when it is false. A short run needs the latter: an EMA
of decay d after n steps still holds d^n of its first weights."""

from __future__ import annotations

import torch

from algorithms import ALGORITHM_REGISTRY
from benchmarks.recipes import compose


def test_generate_false_samples_with_the_trained_weights() -> None:
    outs = {}
    for generate in (True, False):
        cfg = compose("dataset=eu_stock_markets", "algorithm.backbone.hidden_size=8",
                      "algorithm.head.width=8", f"algorithm.ema.generate={str(generate).lower()}")
        stats = {k: torch.ones(4) if "std" in k else torch.zeros(4)
                 for k in ("token_mean", "token_std", "first_mean", "first_std", "step_mean",
                           "step_std")}
        torch.manual_seed(0)
        algo = ALGORITHM_REGISTRY["flow_forcing"](cfg.algorithm, cfg.experiment.training, 4, stats)
        with torch.no_grad():  # the trained weights move; the EMA (never updated) stays at the start
            for p in algo.network.parameters():
                p.add_(0.1)
        assert algo.ema is not None
        assert (algo.generation_network is algo.ema.module) == generate
        outs[generate] = algo.generate(3, 5, seed=0)
    assert not torch.allclose(outs[True], outs[False])
