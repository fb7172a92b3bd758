"""Circular arcs, the first seed's toy task (`dataset=circular_arcs`): the data (`datamodule.py`),
the circle fits and scores only these data have (`circle_fit.py`, `circle_metrics.py`,
`coverage.py` and its noise band `calibrate_coverage.py`), and the figure of fitted centres
(`plots.py`)."""

from datasets.circular_arcs.datamodule import CircularArcDataModule, CircularArcs

__all__ = ["CircularArcDataModule", "CircularArcs"]
