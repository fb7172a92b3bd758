"""Algorithms by config name: `algorithm=<name>` selects `configurations/algorithm/<name>.yaml`,
whose `name` key picks the LightningModule below.

The registry is built on first use (PEP 562 module `__getattr__`), so importing the plain-PyTorch
parts (`algorithms.networks`, `algorithms.generation`: networks, samplers, streaming, export)
imports no Lightning."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name != "ALGORITHM_REGISTRY":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from algorithms.diffusion_forcing.module import DiffusionForcing
    from algorithms.flow_forcing.module import OneStepDiffusionForcing
    from algorithms.predictive.module import PredictiveBaseline

    registry = {"flow_forcing": OneStepDiffusionForcing, "predictive": PredictiveBaseline,
                "diffusion_forcing": DiffusionForcing}
    globals()["ALGORITHM_REGISTRY"] = registry
    return registry
