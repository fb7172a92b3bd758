"""Experiments by config name: `experiment=<name>` selects `configurations/experiment/<name>.yaml`,
whose `name` key picks the class below.

This floor wires the others together: the registry below, the whole-run config checks
(`run_config.py`), the command line checked before Hydra runs (`command_line.py`) and the report
across runs (`python -m experiments.report`). The registry is built on first use (PEP 562
module `__getattr__`), so the command-line checks import no Lightning until they need it."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name != "EXPERIMENT_REGISTRY":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from experiments.sequence_generation import SequenceGenerationExperiment

    registry = {"sequence_generation": SequenceGenerationExperiment}
    globals()["EXPERIMENT_REGISTRY"] = registry
    return registry
