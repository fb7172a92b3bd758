"""The circular-arc data: geometry, reproducibility, independent streams."""

from __future__ import annotations

import math

import torch
from omegaconf import OmegaConf

from datasets.circular_arcs import CircularArcDataModule, CircularArcs
from datasets.circular_arcs.circle_fit import fit_circle


def make_datamodule(**overrides: float) -> CircularArcDataModule:
    cfg = OmegaConf.load("configurations/dataset/circular_arcs.yaml")
    cfg = OmegaConf.merge(cfg, overrides)
    return CircularArcDataModule(cfg, seed=7, batch_size=32, max_steps=10)


def test_geometry_matches_the_definition() -> None:
    arcs = CircularArcs(radius=1.5, angular_speed=2.0, dt=0.05)
    x = arcs.sample(64, 100, torch.Generator().manual_seed(0))
    assert x.shape == (64, 100, 2) and x.dtype == torch.float32
    centre, radius = fit_circle(x)
    assert torch.allclose(radius, torch.full((64,), 1.5), atol=1e-4)
    assert ((centre >= -2) & (centre <= 2)).all()
    steps = (x[:, 1:] - x[:, :-1]).norm(dim=-1)
    assert torch.allclose(steps, torch.full_like(steps, 2 * 1.5 * math.sin(0.05)), atol=1e-4)
    # counter-clockwise: the cross product of radius vector and step is positive
    r = x[:, :-1] - centre[:, None]
    d = x[:, 1:] - x[:, :-1]
    assert ((r[..., 0] * d[..., 1] - r[..., 1] * d[..., 0]) > 0).all()


def test_noise_is_added() -> None:
    x = CircularArcs(noise_std=0.1).sample(256, 64, torch.Generator().manual_seed(0))
    _, radius = fit_circle(x)
    assert (radius - 1).abs().mean() > 1e-3


def test_batches_are_reproducible_and_distinct() -> None:
    dm, again = make_datamodule(), make_datamodule()
    batches = list(dm.train_dataloader())
    assert len(batches) == 10 and batches[0].shape == (32, 64, 2)
    assert all(torch.equal(a, b) for a, b in zip(batches, again.train_dataloader()))
    assert not torch.equal(batches[3], batches[4])
    assert not torch.equal(batches[0], dm.val_dataloader().dataset[0])
    assert not torch.equal(dm.val_dataloader().dataset[0], dm.test_dataloader().dataset[0])


def test_training_stream_is_a_function_of_step_and_rank() -> None:
    """A resumed run continues the stream at its global step; ranks draw different batches."""
    from datasets.step_batches import StepBatches

    dm = make_datamodule()
    draw = lambda index: torch.tensor([index])  # noqa: E731
    assert [int(b) for b in StepBatches(draw, 7, 10)] == [7, 8, 9]
    rank0, rank1 = (list(StepBatches(draw, 2, 5, rank=r, world_size=2)) for r in (0, 1))
    assert [int(b) for b in rank0] == [4, 6, 8] and [int(b) for b in rank1] == [5, 7, 9]

    class Resumed:  # what Lightning's trainer says after restoring a checkpoint of step 6
        global_step, global_rank, world_size = 6, 0, 1

    resumed = make_datamodule()
    resumed.trainer = Resumed()  # type: ignore[assignment]
    full = list(dm.train_dataloader())
    tail = list(resumed.train_dataloader())
    assert len(tail) == 4 and all(torch.equal(a, b) for a, b in zip(full[6:], tail))


def test_ground_truth_of_any_length() -> None:
    dm = make_datamodule()
    truth = dm.ground_truth(16, 1000)
    assert truth.shape == (16, 1000, 2)
    metrics = dm.evaluate(truth)
    assert metrics["keep_circle_share"] == 1.0 and metrics["radius_error_median"] < 1e-4


def test_statistics_of_the_steps() -> None:
    stats = make_datamodule().statistics()
    assert set(stats) == {"token_mean", "token_std", "first_mean", "first_std", "step_mean",
                          "step_std", "token_min", "token_max"}
    # positions: a centre in [−2, 2]² plus a unit circle, so within [−3, 3] and near its ends
    assert (stats["token_min"] >= -3).all() and (stats["token_min"] < -2.8).all()
    assert (stats["token_max"] <= 3).all() and (stats["token_max"] > 2.8).all()
    # steps of length 0.1 in a uniformly random direction: per-coordinate std 0.1/√2
    assert torch.allclose(stats["step_std"], torch.full((2,), 0.1 / math.sqrt(2)), atol=3e-3)
    # centre U(−2, 2) plus a unit circle: per-coordinate std √(16/12 + 1/2)
    assert torch.allclose(stats["first_std"], torch.full((2,), math.sqrt(16 / 12 + 0.5)), atol=0.06)
