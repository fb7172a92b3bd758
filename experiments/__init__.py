"""Experiments by config name: `experiment=<name>` selects `configurations/experiment/<name>.yaml`,
whose `name` key picks the class below."""

from experiments.sequence_generation import SequenceGenerationExperiment

EXPERIMENT_REGISTRY = {
    "sequence_generation": SequenceGenerationExperiment,
}
