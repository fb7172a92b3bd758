"""`python -m experiments.report --horizons` (score a rollout's prefix from its samples) and `--ignore`
(keys that do not make a row of their own), on run folders written here."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import torch
import yaml
from omegaconf import OmegaConf

from datasets.circular_arcs import CircularArcDataModule
from experiments import command_line as main
from experiments.report.__main__ import main as report_main


def arcs_run(folder: Path, seed: int, samples: np.ndarray, algorithm: dict | None = None,
             **extra) -> Path:
    dataset = OmegaConf.to_container(OmegaConf.load(main.CONFIG_DIR / "dataset" / "circular_arcs.yaml"))
    config = {"experiment": {"name": "sequence_generation", "rollout": {"nfe": 1}},
              "algorithm": {"name": "flow_forcing", **(algorithm or {})}, "dataset": dataset,
              "seed": seed, **extra}
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "rollout").mkdir()
    np.savez_compressed(folder / "rollout" / "samples.npz", samples=samples)
    data = CircularArcDataModule(OmegaConf.create(dataset), seed=seed, batch_size=8, max_steps=1)
    metrics = {"algorithm": "flow_forcing", "nfe": 1, "horizon": samples.shape[1],
               **data.evaluate(torch.from_numpy(samples))}
    (folder / "rollout" / "metrics.json").write_text(json.dumps(metrics))
    return folder


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_horizons_score_the_prefix_as_the_rollout_task_does(tmp_path: Path) -> None:
    cfg = OmegaConf.load(main.CONFIG_DIR / "dataset" / "circular_arcs.yaml")
    data = CircularArcDataModule(cfg, seed=0, batch_size=8, max_steps=1)
    truth = data.ground_truth(64, 256)
    # Circles that hold for 128 tokens, then drift away: the prefix keeps them, the whole does not.
    drift = torch.zeros_like(truth)
    drift[:, 128:] = torch.linspace(0, 3, 128).view(1, -1, 1)
    samples = (truth + drift).numpy().astype(np.float32)
    arcs_run(tmp_path / "run", 0, samples)
    assert report_main([str(tmp_path / "run"), "--out", str(tmp_path / "r"),
                        "--horizons", "128,256,512"]) == 0
    (row,) = rows(tmp_path / "r" / "report.csv")
    expected = data.evaluate(torch.from_numpy(samples[:, :128]))
    assert float(row["keep_circle_share@128_mean"]) == expected["keep_circle_share"] == 1.0
    assert float(row["centre_drift_median@128_mean"]) == expected["centre_drift_median"]
    assert float(row["keep_circle_share@256_mean"]) == 0.0  # the run's own full-horizon score
    assert not any(k.startswith("keep_circle_share@512") for k in row), "beyond the rollout"


def test_ignore_joins_runs_that_differ_only_in_an_ignored_key(tmp_path: Path) -> None:
    cfg = OmegaConf.load(main.CONFIG_DIR / "dataset" / "circular_arcs.yaml")
    truth = CircularArcDataModule(cfg, seed=0, batch_size=8, max_steps=1).ground_truth(16, 64)
    for seed in (0, 1):
        arcs_run(tmp_path / "runs" / str(seed), seed, truth.numpy(), load=f"/ckpt/{seed}.ckpt")
    assert report_main([str(tmp_path / "runs"), "--out", str(tmp_path / "a")]) == 0
    assert len(rows(tmp_path / "a" / "report.csv")) == 2
    assert report_main([str(tmp_path / "runs"), "--out", str(tmp_path / "b"), "--ignore", "load"]) == 0
    (row,) = rows(tmp_path / "b" / "report.csv")
    assert row["n"] == "2" and row["seeds"] == "0,1"


def test_frame_auto_is_reported_as_the_frame_the_run_used(tmp_path: Path) -> None:
    cfg = OmegaConf.load(main.CONFIG_DIR / "dataset" / "circular_arcs.yaml")
    truth = CircularArcDataModule(cfg, seed=0, batch_size=8, max_steps=1).ground_truth(16, 64)
    model = {"network": {"kind": "split"}, "token_space": "relative"}
    arcs_run(tmp_path / "runs" / "0", 0, truth.numpy(), {**model, "frame": "auto"})
    arcs_run(tmp_path / "runs" / "1", 1, truth.numpy(), {**model, "frame": "heading"})
    arcs_run(tmp_path / "runs" / "2", 2, truth.numpy(), {**model, "frame": "global"})
    assert report_main([str(tmp_path / "runs"), "--out", str(tmp_path / "r")]) == 0
    frames = {row["algorithm.frame"]: row["seeds"] for row in rows(tmp_path / "r" / "report.csv")}
    assert frames == {"heading": "0,1", "global": "2"}
