"""The generation-time clip to the training tokens' range (algorithms/generation/token_clip.py),
on analytic cases and a tiny network, without Lightning; its config checks; and the range every
dataset's statistics give."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from algorithms.flow_forcing.module import OneStepDiffusionForcing
from algorithms.generation.sampler import StreamingSampler, rollout
from algorithms.generation.token_clip import clip_bounds, clip_tokens, token_bounds
from algorithms.networks.build import build_network
from experiments import command_line as main
from tests.test_calibration import STATS, small_config

RANGE = {**STATS, "token_min": torch.tensor([-1.0, 0.0]), "token_max": torch.tensor([3.0, 0.5])}


def test_bounds_are_the_range_widened_by_the_margin() -> None:
    low, high = clip_bounds(RANGE, 0.25)
    assert torch.equal(low, torch.tensor([-2.0, -0.125]))
    assert torch.equal(high, torch.tensor([4.0, 0.625]))
    tokens = torch.tensor([[[-5.0, 0.3], [1.0, 9.0]]])
    assert torch.equal(clip_tokens(tokens, (low, high)),
                       torch.tensor([[[-2.0, 0.3], [1.0, 0.625]]]))
    assert token_bounds(None, RANGE) is None
    assert token_bounds(OmegaConf.create({"range": "none", "margin": 0.1}), RANGE) is None
    with pytest.raises(ValueError, match="no token range"):
        clip_bounds(STATS, 0.1)
    with pytest.raises(ValueError, match="margin"):
        clip_bounds(RANGE, -0.1)


def clipped_rollouts(bounds):
    torch.manual_seed(0)
    network = build_network(small_config(), 2, RANGE).eval()
    generator = torch.Generator().manual_seed(3)
    return rollout(network, 64, 40, generator=generator, bounds=bounds)


def test_the_sampler_keeps_every_token_inside_and_is_untouched_by_a_wide_range() -> None:
    free = clipped_rollouts(None)
    wide = clipped_rollouts((free.amin((0, 1)) - 1, free.amax((0, 1)) + 1))
    assert torch.equal(free, wide)  # bit for bit: nothing reached the bounds
    low, high = torch.tensor([-0.5, -0.2]), torch.tensor([0.4, 0.3])
    assert ((free < low) | (free > high)).any()  # an untrained network leaves that box
    tight = clipped_rollouts((low, high))
    assert (tight >= low).all() and (tight <= high).all()
    assert not torch.equal(tight[:, 1:], free[:, 1:].clamp(-0.5, 0.4))  # it is fed back


def test_a_clipped_stream_equals_the_batch_rollout() -> None:
    bounds = (torch.tensor([-0.5, -0.2]), torch.tensor([0.4, 0.3]))
    batch = clipped_rollouts(bounds)
    torch.manual_seed(0)
    network = build_network(small_config(), 2, RANGE).eval()
    sampler = StreamingSampler(network, bounds=bounds)
    sampler.reset(64)
    generator = torch.Generator().manual_seed(3)
    streamed = torch.stack([sampler.step(generator=generator) for _ in range(40)], dim=1)
    assert torch.equal(streamed, batch)


def test_the_model_builds_its_bounds_from_the_statistics_and_generates_inside() -> None:
    cfg = small_config()
    cfg.clip = {"range": "data", "margin": 0.0}
    train = OmegaConf.load(main.CONFIG_DIR / "experiment" / "sequence_generation.yaml").training
    model = OneStepDiffusionForcing(cfg, train, 2, RANGE)
    samples = model.generate(32, 20)
    assert (samples >= RANGE["token_min"]).all() and (samples <= RANGE["token_max"]).all()
    cfg.clip = {"range": "none", "margin": 0.0}
    assert OneStepDiffusionForcing(cfg, train, 2, RANGE).token_bounds is None


@pytest.mark.parametrize("dataset", ["circular_arcs", "pendulum", "elecdemand"])
def test_each_dataset_gives_its_training_tokens_range(dataset, tmp_path) -> None:
    from experiments.components import build_datamodule

    small = ["dataset.cache_dir=" + str(tmp_path), "dataset.episodes.train=2",
             "dataset.episodes.validation=1", "dataset.episodes.test=1",
             "dataset.episode_length=120"]
    cfg = main.compose([f"dataset={dataset}", *(small if dataset == "pendulum" else [])])
    stats = build_datamodule(cfg).statistics()
    low, high = stats["token_min"], stats["token_max"]
    assert low.shape == high.shape == stats["token_mean"].shape
    assert (low < stats["token_mean"]).all() and (stats["token_mean"] < high).all()
