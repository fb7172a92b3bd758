"""Datasets by config name: `dataset=<name>` selects `configurations/dataset/<name>.yaml`,
whose `name` key picks the LightningDataModule below."""

from datasets.circular_arcs import CircularArcDataModule

DATASET_REGISTRY = {
    "circular_arcs": CircularArcDataModule,
}
