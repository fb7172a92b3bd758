"""Simulated episodes as a dataset (datasets/simulated/datamodule.py): the cache keyed by the
generating config and reused, the split by episode, statistics from training episodes only, the
given channels (actions) read and never generated, and the forecast truth being the simulator's
own replay of the recorded actions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from datasets.simulated import datamodule as simulated
from datasets.simulated.datamodule import SimulatedEpisodesDataModule
from experiments.components import build_algorithm
from tests.conftest import REPO
from tests.network_guard import no_network  # noqa: F401  (a fixture, used by name below)
from utils.config_checks import ConfigError

SMALL = ["dataset.episodes.train=6", "dataset.episodes.validation=2", "dataset.episodes.test=3",
         "dataset.episode_length=60", "dataset.train_length=16", "dataset.context_tokens=4",
         "dataset.forecast_horizon=12", "dataset.forecast_stride=20", "dataset.rollout_horizon=32",
         "experiment.rollout.horizon=48", "experiment.rollout.eval_horizons=null",
         "experiment.training.batch_size=8", "dataset.num_eval_batches=2",
         "algorithm.backbone.hidden_size=16", "algorithm.head.width=16", "algorithm.head.time_dim=8"]


def config(tmp_path: Path, dataset: str = "pendulum", *overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(REPO / "configurations"), version_base=None):
        cfg = compose("config", overrides=[f"dataset={dataset}", *SMALL,
                                           f"dataset.cache_dir={tmp_path / 'cache'}", *overrides])
    return cfg


def datamodule(cfg: DictConfig) -> SimulatedEpisodesDataModule:
    return SimulatedEpisodesDataModule(cfg.dataset, seed=cfg.seed, batch_size=8, max_steps=4)


def test_episodes_are_simulated_once_per_config_and_read_back(tmp_path, monkeypatch):
    cfg = config(tmp_path)
    first = datamodule(cfg)
    values = first.values
    files = list((tmp_path / "cache").glob("pendulum-*.npz"))
    assert len(files) == 1 and values.shape == (11, 60, 4)

    def no_simulation(config):
        raise AssertionError("the cache should have been read")

    monkeypatch.setattr(simulated, "simulate", no_simulation)
    again = datamodule(config(tmp_path))
    assert torch.equal(again.values, values)  # read, not simulated
    # the run's own seed does not change the data; the data seed does (a new file, new values)
    assert torch.equal(datamodule(config(tmp_path, "pendulum", "seed=5")).values, values)
    monkeypatch.undo()
    other = datamodule(config(tmp_path, "pendulum", "dataset.data_seed=1"))
    assert not torch.equal(other.values, values)
    assert len(list((tmp_path / "cache").glob("pendulum-*.npz"))) == 2


def test_splits_are_whole_episodes_and_statistics_come_from_training_episodes(tmp_path):
    data = datamodule(config(tmp_path))
    assert [data.split(s).shape[0] for s in ("train", "validation", "test")] == [6, 2, 3]
    train = data.split("train")
    stats = data.statistics()
    assert torch.allclose(stats["token_mean"], train[..., :3].reshape(-1, 3).mean(0))
    assert torch.allclose(stats["given_mean"], train[..., 3:].reshape(-1, 1).mean(0))
    data.values[6:] += 100.0  # held-out episodes changed: the statistics are not
    assert torch.allclose(data.statistics()["token_mean"], stats["token_mean"])
    # every training window lies inside one training episode
    batch = data._train_batch(0)
    rows = {tuple(np.round(r.numpy(), 6)) for r in train.reshape(-1, 4)}
    assert batch.shape == (8, 16, 4) and all(tuple(np.round(t.numpy(), 6)) in rows
                                            for t in batch.reshape(-1, 4))
    # a batch is a function of (seed, index) only
    assert torch.equal(data._train_batch(3), datamodule(config(tmp_path))._train_batch(3))


def test_the_forecast_truth_is_the_simulator_replaying_the_recorded_actions(tmp_path):
    from datasets.simulated.control import replay

    cfg = config(tmp_path)
    data = datamodule(cfg)
    windows = data.forecast_windows(4, 12)
    assert windows.shape == (3 * 3, 16, 4)  # 3 test episodes x starts 0, 20, 40
    test = data.episodes.groups["sim_state"][data.split_slices["test"]]
    # window 1: test episode 0 from token 20; the simulator from the state at token 23 (the
    # context's last), fed the actions of tokens 24..35, gives the window's continuation
    states = replay("Pendulum-v1", {}, test[0, 23], windows[1, 4:, 3:].double().numpy())
    assert np.allclose(states[1:], windows[1, 4:, :3].numpy(), atol=1e-6)
    # a perfect model scores no state error and the whole horizon below the threshold
    truth = windows[:, 4:, :3]
    scores, _ = data.forecast_evaluation(truth[:, None].repeat(1, 5, 1, 1), truth)
    assert scores["state_error_mean"] == 0 and scores["error_horizon_fraction"] == 1
    assert scores["crps"] == 0


def test_actions_are_read_never_generated_and_change_the_rollout(tmp_path):
    cfg = config(tmp_path)
    data = datamodule(cfg)
    algo = build_algorithm(cfg, data)
    real = data.rollout_context(4, 4, 20)
    context, given = real[:, :4], real[:, 4:, 3:]
    samples = algo.generate(4, 20, 1, None, seed=0, context=context, given=given)
    assert samples.shape == (4, 20, 4) and torch.equal(samples[..., 3:], given)
    other = algo.generate(4, 20, 1, None, seed=0, context=context, given=-given)
    assert torch.equal(other[..., 3:], -given)
    assert not torch.allclose(other[..., :3], samples[..., :3])  # only the actions changed
    again = algo.generate(4, 20, 1, None, seed=0, context=context, given=given)
    assert torch.equal(again, samples)


def test_evaluation_scores_constraints_beside_the_data_s_own(tmp_path):
    data = datamodule(config(tmp_path))
    real = data.rollout_context(6, 0, 48)
    metrics = data.evaluate(real)
    assert metrics["unit_circle_error_data"] < 1e-6 and metrics["unit_circle_error_last"] < 1e-6
    broken = real.clone()
    broken[..., :2] *= 1.5  # cos and sin off the unit circle
    assert data.evaluate(broken)["unit_circle_error_last"] > 0.5
    for key in ("marginal_wasserstein_last", "acf_error_last", "energy_distance_last"):
        assert np.isfinite(metrics[key])


@pytest.mark.parametrize("override, message", [
    ("dataset.simulator=pong", "dataset.simulator=pong: must be one of pendulum, "),
    ("dataset.given=[torque]", "dataset.given: 'torque' is not a channel group of pendulum; it has "
                               "observation, action, sim_state"),
    ("dataset.given=[observation]", "dataset.given: ['observation'] also in dataset.generated"),
    ("dataset.train_length=61", "dataset.train_length=61: must be an integer in [2, "
                                "dataset.episode_length=60]"),
    ("dataset.forecast_horizon=57", "dataset.forecast_horizon=57: must be at most 56 "
                                    "(dataset.episode_length=60, less dataset.context_tokens)"),
])
def test_bad_keys_get_one_line_naming_them(tmp_path, override, message):
    cfg = config(tmp_path, "pendulum", override)
    with pytest.raises(ConfigError) as error:
        SimulatedEpisodesDataModule.check_config(cfg)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_rollout_longer_than_the_test_episodes_is_refused_before_any_run(tmp_path):
    cfg = config(tmp_path, "pendulum", "experiment.rollout.horizon=100")
    with open_dict(cfg):
        cfg.experiment.tasks = ["training", "rollout"]
    with pytest.raises(ConfigError, match=r"experiment.rollout.horizon=100: with "
                                          r"experiment.rollout.context_tokens=4 it must be at most "
                                          r"the 60 tokens of an episode less the context \(56\)"):
        SimulatedEpisodesDataModule.check_data(cfg)


def test_simulating_a_mujoco_task_writes_nothing_in_the_current_directory(tmp_path):
    """MuJoCo appends its warnings (HalfCheetah's deprecated settotalmass) to MUJOCO_LOG.TXT in
    the current directory unless a handler takes them (datasets/simulated/mujoco_log.py)."""
    import os
    import subprocess
    import sys

    code = ("from datasets.simulated.control import simulate_control; "
            "simulate_control('half_cheetah', 1, 5, 0, {'kind': 'persistent_random'})")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []
    assert done.stderr.count("settotalmass") <= 1  # said once, on stderr


def test_a_token_every_k_steps_keeps_every_kth_state_and_refuses_actions(tmp_path):
    maze = ["dataset.episode_length=61", "dataset.rollout_horizon=16", "dataset.forecast_horizon=8"]
    every = datamodule(config(tmp_path, "pointmaze_umaze", *maze, "dataset.token_every=4"))
    each = datamodule(config(tmp_path, "pointmaze_umaze", *maze, "dataset.token_every=1"))
    assert every.values.shape == (11, 16, 6) and each.values.shape == (11, 61, 6)
    assert torch.equal(every.values, each.values[:, ::4])  # one cache, two views
    assert len(list((tmp_path / "cache").glob("pointmaze_umaze-*.npz"))) == 1
    cfg = config(tmp_path, "pointmaze_umaze", *maze, "dataset.token_every=4",
                 "dataset.given=[action]")
    with pytest.raises(ConfigError, match=r"dataset.token_every=4: a token per 4 simulator steps "
                                          r"would drop the actions between tokens"):
        SimulatedEpisodesDataModule.check_config(cfg)


@pytest.mark.parametrize("dataset", ["pendulum", "half_cheetah", "hopper", "pointmaze_umaze",
                                     "pointmaze_medium", "pointmaze_large"])
def test_every_simulator_makes_its_episodes_with_the_network_off(tmp_path, dataset, no_network):
    extra = ["dataset.rollout_horizon=16", "dataset.forecast_horizon=8"] \
        if dataset.startswith("pointmaze") else []
    cfg = config(tmp_path, dataset, "dataset.episode_length=80", *extra)
    SimulatedEpisodesDataModule.check_config(cfg)
    data = datamodule(cfg)
    tokens = 80 // int(cfg.dataset.token_every)
    assert data.values.shape[:2] == (11, tokens) and torch.isfinite(data.values).all()
    assert data.values.shape[2] == data.token_dim + data.given_dim
    assert len(data.channel_names) == data.token_dim + data.given_dim
    assert data.statistics()["token_std"].min() > 0
