"""`dataset.metric_window`: the scored windows' length, by default the training length. With
longer training sequences (`algorithm.burn_in`) the scores stay those of the data's own window."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from datasets.circular_arcs import CircularArcDataModule
from experiments import command_line as main


def arcs(**overrides) -> CircularArcDataModule:
    cfg = OmegaConf.load(main.CONFIG_DIR / "dataset" / "circular_arcs.yaml")
    cfg.update(overrides)
    return CircularArcDataModule(cfg, seed=0, batch_size=8, max_steps=1)


def test_scores_follow_the_metric_window_not_the_training_length() -> None:
    torch.manual_seed(0)
    data = arcs()
    samples = data.ground_truth(64, 256)
    samples[:, 128:] += torch.tensor([0.3, 0.0])  # every circle jumps once: a drift of 0.3
    default = data.evaluate(samples)
    longer = arcs(train_length=128).evaluate(samples)
    kept = arcs(train_length=128, metric_window=64).evaluate(samples)
    assert data.metric_window(samples) == 64 and kept == default
    # windows of 128 fit [0, 128) and [128, 256): the same drift, but other residuals and centres
    assert longer != default
    assert default["centre_drift_median"] == pytest.approx(0.3, abs=1e-3)
    assert arcs(metric_window=300).metric_window(samples) == 256  # clipped to the rollout


def test_eval_horizons_need_the_scored_window_not_the_training_length() -> None:
    """With `dataset.metric_window` set, a rollout prefix needs one scored window, however long
    the training sequences are (`algorithm.burn_in` with 256-token sequences, scored at 64)."""
    from benchmarks.recipes import compose
    from experiments.config_checks import check_training_config
    from utils.config_checks import ConfigError

    longer = ("dataset.train_length=256", "experiment.rollout.eval_horizons=[64,1024]")
    cfg = compose(*longer, "dataset.metric_window=64")
    check_training_config(cfg, ["training", "rollout"])
    with pytest.raises(ConfigError, match=r">= dataset.train_length \(256\)"):
        check_training_config(compose(*longer), ["training", "rollout"])
    with pytest.raises(ConfigError, match=r">= dataset.metric_window \(100\)"):
        check_training_config(compose(*longer, "dataset.metric_window=100"),
                              ["training", "rollout"])
