"""Algorithms by config name: `algorithm=<name>` selects `configurations/algorithm/<name>.yaml`,
whose `name` key picks the LightningModule below (or, for the classical references
`seasonal_naive` and `ets`, a forecaster fitted on each context: algorithms/classical/).

The registry is built on first use (PEP 562 module `__getattr__`), so importing the plain-PyTorch
parts (`algorithms.networks`, `algorithms.generation`: networks, samplers, streaming, export)
imports no Lightning."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name != "ALGORITHM_REGISTRY":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from algorithms.classical import CLASSICAL_FORECASTERS
    from algorithms.diffusion_forcing.module import DiffusionForcing
    from algorithms.flow_forcing.module import OneStepDiffusionForcing
    from algorithms.predictive.module import PredictiveBaseline

    registry = {"flow_forcing": OneStepDiffusionForcing, "predictive": PredictiveBaseline,
                "diffusion_forcing": DiffusionForcing, **CLASSICAL_FORECASTERS}
    globals()["ALGORITHM_REGISTRY"] = registry
    return registry
