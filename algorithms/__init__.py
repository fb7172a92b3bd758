"""Algorithms by config name: `algorithm=<name>` selects `configurations/algorithm/<name>.yaml`,
whose `name` key picks the LightningModule below."""

from algorithms.diffusion_forcing.module import DiffusionForcing
from algorithms.flow_forcing.module import OneStepDiffusionForcing
from algorithms.predictive.module import PredictiveBaseline

ALGORITHM_REGISTRY = {
    "flow_forcing": OneStepDiffusionForcing,
    "predictive": PredictiveBaseline,
    "diffusion_forcing": DiffusionForcing,
}
