"""The state error against a simulator, on analytic cases (utils/metrics/dynamics.py)."""

import math

import pytest
import torch

from utils.metrics.dynamics import dynamics_scores, normalised_errors, steps_below


def test_a_perfect_model_scores_zero_error_and_the_whole_horizon():
    truth = torch.randn(3, 10, 4)
    paths = truth[:, None].repeat(1, 5, 1, 1)
    scores, curve = dynamics_scores(paths, truth, torch.ones(4), threshold=0.1)
    assert scores["state_error_first"] == scores["state_error_mean"] == scores["state_error_last"] == 0
    assert scores["error_horizon_median"] == scores["error_horizon_mean"] == 10
    assert scores["error_horizon_fraction"] == 1.0 and curve == [0.0] * 10


def test_the_error_is_the_rms_over_channels_in_units_of_the_scale():
    truth = torch.zeros(1, 2, 2)
    paths = torch.tensor([[[[3.0, 0.0], [3.0, 8.0]]]])  # [W=1, M=1, H=2, G=2]
    errors = normalised_errors(paths, truth, torch.tensor([3.0, 2.0]))
    # step 1: (1, 0) -> sqrt(1/2); step 2: (1, 4) -> sqrt(17/2)
    assert torch.allclose(errors, torch.tensor([[[math.sqrt(0.5), math.sqrt(8.5)]]],
                                               dtype=torch.float64))


def test_a_linearly_growing_error_crosses_the_threshold_where_it_should():
    H = 20
    truth = torch.zeros(2, H, 1)
    drift = 0.1 * torch.arange(1, H + 1, dtype=torch.float32)  # error 0.1 h at step h
    paths = torch.stack([drift, 2 * drift])[:, None, :, None].repeat(1, 3, 1, 1)
    scores, curve = dynamics_scores(paths, truth, torch.ones(1), threshold=0.55)
    # window 0 stays <= 0.55 for steps 1..5 (5 steps), window 1 (0.2 h) for steps 1..2
    assert scores["error_horizon_mean"] == pytest.approx(3.5)
    assert curve[3] == pytest.approx((0.4 + 0.8) / 2)


def test_a_diverged_path_counts_as_over_the_threshold_from_its_first_bad_step():
    errors = torch.tensor([[[0.1, float("nan"), 0.1], [0.1, 0.1, float("inf")]]])
    assert steps_below(errors, 1.0).tolist() == [[1, 2]]
    paths = torch.tensor([[[[0.0], [float("nan")]]]])
    scores, _ = dynamics_scores(paths, torch.zeros(1, 2, 1), torch.ones(1), threshold=1.0)
    assert scores["state_error_last"] == float("inf") and scores["error_horizon_mean"] == 1


def test_bad_shapes_and_scales_are_refused():
    with pytest.raises(ValueError, match="expected paths"):
        normalised_errors(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), torch.ones(4))
    with pytest.raises(ValueError, match="scale must be"):
        normalised_errors(torch.zeros(1, 1, 3, 2), torch.zeros(1, 3, 2), torch.tensor([1.0, 0.0]))
