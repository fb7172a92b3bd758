"""Video data with no network: frames from both sources (ale-py's bundled ROMs, crafter), the
cache keyed and reused, the emulator's replay equal to the recorded continuation, the tokens'
layout (latent, then the action one-hot), and bad keys stopped with one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from datasets.video.atari import GAMES, make_env, simulate_atari
from datasets.video.crafter_source import ACTION_NAMES, simulate_crafter
from datasets.video.datamodule import VideoDataModule
from datasets.video.frames import preprocess
from tests.conftest import REPO
from utils.config_checks import ConfigError

SMALL = {"episodes": {"train": 2, "validation": 1, "test": 1}, "episode_length": 40,
         "train_length": 8, "context_tokens": 2, "forecast_horizon": 6, "forecast_stride": 8,
         "rollout_horizon": 16, "long_horizon": 32, "eval_horizons": [16, 32]}


def dataset_config(name: str, tmp_path, **overrides):
    cfg = OmegaConf.load(REPO / "configurations" / "dataset" / f"{name}.yaml")
    if "defaults" in cfg:
        base = OmegaConf.load(REPO / "configurations" / "dataset" / "pong.yaml")
        cfg = OmegaConf.merge(base, {k: v for k, v in cfg.items() if k != "defaults"})
    return OmegaConf.merge(cfg, SMALL, {"cache_dir": str(tmp_path)}, overrides)


def root(dataset, tasks=("tokenizer", "training")):
    return OmegaConf.create({"dataset": dataset, "load": None, "resume": None,
                             "experiment": {"tasks": list(tasks)}})


class FakeTokenizer:
    """Mean of 4x4 blocks as the latent (exact for block-constant frames)."""

    latent_dim = 16 * 16

    def __init__(self, shape=(64, 64, 1)) -> None:
        self.frame_shape = shape

    def check_frames(self, shape, what="frames"):
        if tuple(shape[-3:]) != self.frame_shape:
            raise ValueError(f"{what} are {tuple(shape[-3:])}")

    def encode(self, frames):
        x = torch.as_tensor(frames).float()[..., 0]
        return x.view(len(x), 16, 4, 16, 4).mean((2, 4)).flatten(1)

    def decode(self, latents):
        x = latents.view(-1, 16, 1, 16, 1).expand(-1, 16, 4, 16, 4).reshape(-1, 64, 64)
        return x.round().clamp(0, 255).to(torch.uint8).numpy()[..., None]


@pytest.mark.parametrize("game", sorted(GAMES))
def test_atari_frames_replay_exactly_from_the_seed_and_the_actions(game):
    frames, actions = simulate_atari(game, 2, 30, seed=3, size=48, grey=False, policy={})
    assert frames.shape == (2, 30, 48, 48, 3) and frames.dtype == np.uint8
    assert actions.shape == (2, 30) and actions[:, 0].tolist() == [0, 0]
    assert set(np.unique(actions)) <= set(range(len(GAMES[game]["actions"])))
    assert frames.std() > 5  # a play field, not a blank screen
    env = make_env(game)  # the recorded continuation is the emulator's under the same actions
    screen, _ = env.reset(seed=3 * 100_003 + 1)
    replay = [preprocess(screen, GAMES[game]["crop"], 48, False)]
    for a in actions[1, 1:]:
        screen = env.step(GAMES[game]["actions"][a])[0]
        replay.append(preprocess(screen, GAMES[game]["crop"], 48, False))
    assert np.array_equal(np.stack(replay), frames[1])


def test_crafter_frames_come_from_its_own_world_with_no_network():
    frames, actions = simulate_crafter(1, 12, seed=0, size=32, grey=True, policy={})
    assert frames.shape == (1, 12, 32, 32, 1) and frames.std() > 5
    assert actions.max() < len(ACTION_NAMES)
    again, _ = simulate_crafter(1, 12, seed=0, size=32, grey=True, policy={})
    assert np.array_equal(frames, again)


def test_the_cache_is_keyed_by_the_generating_config_and_reused(tmp_path, capsys):
    data = VideoDataModule(dataset_config("pong", tmp_path), seed=0, batch_size=4, max_steps=5)
    first = data.episodes.frames
    assert "recording pong episodes once" in capsys.readouterr().out
    again = VideoDataModule(dataset_config("pong", tmp_path), seed=1, batch_size=4, max_steps=5)
    assert np.array_equal(again.episodes.frames, first)  # another run seed: the same data
    assert capsys.readouterr().out == ""
    other = VideoDataModule(dataset_config("pong", tmp_path, data_seed=1), 0, 4, 5)
    assert not np.array_equal(other.episodes.frames, first)
    assert len(list(tmp_path.glob("pong-*.npz"))) == 2


def test_tokens_are_the_latents_then_the_action_one_hot(tmp_path):
    data = VideoDataModule(dataset_config("pong", tmp_path), seed=0, batch_size=4, max_steps=5)
    with pytest.raises(RuntimeError, match="no tokenizer attached"):
        data.values
    data.attach_tokenizer(FakeTokenizer())
    assert data.token_dim == 256 and data.given_dim == 3
    values = data.values
    assert values.shape == (4, 40, 259)
    actions = torch.from_numpy(data.episodes.actions)
    assert torch.equal(values[..., 256:].argmax(-1), actions)
    assert torch.equal(values[..., 256:].sum(-1), torch.ones(4, 40))
    decoded = data.decode(values[:1, :3])
    assert decoded.shape == (1, 3, 64, 64, 1)
    stats = data.statistics()
    assert bool((stats["token_std"] >= 0.1 * stats["token_std"].mean() - 1e-6).all())
    batch = next(iter(data.train_dataloader()))
    assert batch.shape == (4, 8, 259)
    with pytest.raises(ValueError, match="frames are"):
        data.attach_tokenizer(FakeTokenizer((32, 32, 3)))


def test_forecast_scores_read_the_emulator_frames_of_the_same_windows(tmp_path):
    data = VideoDataModule(dataset_config("pong", tmp_path), seed=0, batch_size=4, max_steps=5)
    data.attach_tokenizer(FakeTokenizer())
    windows = data.forecast_windows(2, 6)
    truth = windows[:, 2:, :256]
    paths = truth[:, None].repeat(1, 3, 1, 1)
    scores, curves = data.forecast_evaluation(paths, truth)
    # a model that returns the true tokens scores what the tokenizer's round trip scores
    assert scores["psnr_mean"] == pytest.approx(scores["tokenizer_psnr_mean"])
    assert curves["step"] == list(range(1, 7))
    with pytest.raises(ValueError, match="last forecast_windows"):
        data.forecast_evaluation(paths + 1, truth + 1)


@pytest.mark.parametrize("key,value,message", [
    ("source", "doom", "dataset.source=doom: must be one of atari, crafter"),
    ("game", "tetris", "dataset.game=tetris: must be one of pong, breakout"),
    ("size", 60, "dataset.size=60: must be a positive multiple of"),
    ("tokenizer.patch", 0, "dataset.tokenizer.patch=0: must be an integer >= 1"),
    ("train_length", 100, "dataset.train_length=100: must be an integer in [2,"),
])
def test_bad_keys_get_one_line(tmp_path, key, value, message):
    cfg = root(dataset_config("pong", tmp_path))
    OmegaConf.update(cfg, f"dataset.{key}", value)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        VideoDataModule.check_config(cfg)


def test_frames_without_a_tokenizer_are_refused_before_any_run(tmp_path):
    with pytest.raises(ConfigError, match=r"frames need a tokenizer; run experiment.tasks=\[tokenizer"):
        VideoDataModule.check_config(root(dataset_config("pong", tmp_path), ["training"]))
    with pytest.raises(ConfigError, match="tokenizer must come first"):
        VideoDataModule.check_config(root(dataset_config("pong", tmp_path),
                                          ["training", "tokenizer"]))
    cfg = root(dataset_config("pong", tmp_path, tokenizer={"load": "some/run"}), ["training"])
    VideoDataModule.check_config(cfg)  # a tokenizer to reuse: fine


def test_rollouts_are_scored_as_frames_over_the_horizon(tmp_path):
    data = VideoDataModule(dataset_config("pong", tmp_path, frame_eval_samples=2), seed=0,
                           batch_size=4, max_steps=5)
    data.attach_tokenizer(FakeTokenizer())
    real = data.ground_truth(3, 24)  # the test episodes' own tokens: frames of the data
    curves = data.curves(real)
    assert curves["window_end"] == [8, 12, 16, 20, 24]
    for key in ("histogram_distance", "sharpness_ratio", "frames_ok_rate", "ball_ok_rate"):
        assert len(curves[key]) == 5, key
    scores = data.evaluate(real)
    assert scores["frames_ok_rate_data"] > 0.99
    assert scores["histogram_distance_last"] < 0.2  # block means of real frames: near the data's
    noise = real.clone()
    noise[..., :256] = torch.rand(3, 24, 256) * 255
    assert data.evaluate(noise)["histogram_distance_last"] > 0.5


def test_a_rollout_longer_than_a_test_episode_is_refused_before_any_run(tmp_path):
    cfg = root(dataset_config("pong", tmp_path), ["tokenizer", "training", "rollout"])
    cfg.experiment.update({"rollout": {"horizon": 39, "context_tokens": 2},
                           "validation": {"horizon": 16, "context_tokens": 2}})
    with pytest.raises(ConfigError, match=r"experiment.rollout.horizon=39: .* at most the 40 "
                                          r"tokens of an episode less the context \(38\)"):
        VideoDataModule.check_data(cfg)
    cfg.experiment.rollout.horizon = 38
    VideoDataModule.check_data(cfg)
