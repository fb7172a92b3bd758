"""Curves on disk (utils.curves): JSON and CSV columns, the NFE curve, and its figure."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from datasets.circular_arcs import CircularArcDataModule
from utils.curves import COST_METRICS, nfe_curve, write_columns
from utils.plotting import plot_nfe_curve


def test_columns_are_written_as_json_and_csv(tmp_path: Path) -> None:
    columns = {"window_end": [16, 32], "energy_distance": [0.5, math.nan]}
    path = write_columns(columns, tmp_path / "rollout", "curves")
    assert json.loads(path.read_text()) == {"window_end": [16, 32], "energy_distance": [0.5, None]}
    with open(tmp_path / "rollout" / "curves.csv", newline="") as f:
        assert list(csv.reader(f)) == [["window_end", "energy_distance"], ["16", "0.5"], ["32", ""]]
    with pytest.raises(ValueError, match="differ in length"):
        write_columns({"a": [1], "b": [1, 2]}, tmp_path, "bad")


def test_nfe_curve_orders_by_nfe_and_keeps_scores_only(tmp_path: Path) -> None:
    metrics = [{"algorithm": "x", "nfe": n, "num_samples": 8, "device": "cpu",
                "keep_circle_share": 1 / n, "energy_distance_last": 0.1 * n,
                "energy_distance_last_reference": 0.05, "us_per_token_per_stream": 3.0 * n,
                "generation_seconds": 1.0}
               for n in (4, 1, 2)]
    curve = nfe_curve(metrics)
    assert curve == {"nfe": [1, 2, 4], "keep_circle_share": [1.0, 0.5, 0.25],
                     "energy_distance_last": [0.1, 0.2, 0.4],
                     "energy_distance_last_reference": [0.05, 0.05, 0.05],
                     "us_per_token_per_stream": [3.0, 6.0, 12.0]}
    keys = [k for k in (*CircularArcDataModule.METRICS.headline, *COST_METRICS) if k in curve]
    assert keys == ["keep_circle_share", "energy_distance_last", "us_per_token_per_stream"]
    assert plot_nfe_curve(curve, tmp_path / "nfe_curve.png", keys).stat().st_size > 1000
