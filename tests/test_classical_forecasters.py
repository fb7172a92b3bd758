"""The classical forecasting references (algorithms/classical/): the seasonal naive forecast and
ETS, through the neural models' `generate` interface, on series whose continuation is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from omegaconf import DictConfig, OmegaConf

from algorithms.classical import CLASSICAL_FORECASTERS, ETS, EXTRA, SeasonalNaive
from algorithms.classical.forecaster import ClassicalForecaster
from utils.config_checks import ConfigError, check_types
from utils.metrics.probabilistic import forecast_scores


def naive_cfg(season_length: int = 1) -> DictConfig:
    return OmegaConf.create({"name": "seasonal_naive", "season_length": season_length})


def ets_cfg(season_length: int = 1, trend: str = "add", damped_trend: bool = True) -> DictConfig:
    return OmegaConf.create({"name": "ets", "season_length": season_length, "trend": trend,
                             "damped_trend": damped_trend})


def test_registry_and_dependency_groups() -> None:
    assert CLASSICAL_FORECASTERS == {"seasonal_naive": SeasonalNaive, "ets": ETS}
    assert EXTRA is ETS.EXTRA and EXTRA.group == "timeseries" and EXTRA.modules == ("statsmodels",)
    assert SeasonalNaive.EXTRA is None
    assert not SeasonalNaive.trainable and not ETS.trainable
    model = SeasonalNaive(naive_cfg(), token_dim=1, given_dim=0)
    assert model.to("cuda") is model


def test_seasonal_naive_continues_a_periodic_series_and_copies_the_given_channels() -> None:
    period = torch.tensor([[1.0, -2.0], [3.0, 0.5], [0.0, 4.0], [-1.0, 1.0]])  # m = 4, G = 2
    history = period.repeat(3, 1)  # [12, 2]: zero seasonal differences
    covariate = torch.randn(5, 12, 1, generator=torch.Generator().manual_seed(0))
    context = torch.cat([history.expand(5, 12, 2), covariate], dim=-1)  # [5, 12, G + C = 3]
    given = torch.randn(5, 6, 1, generator=torch.Generator().manual_seed(1))
    out = SeasonalNaive(naive_cfg(4), token_dim=2, given_dim=1).generate(
        5, 6, context=context, given=given)
    assert out.shape == (5, 6, 3) and out.dtype == torch.float32
    torch.testing.assert_close(out[..., :2], period.repeat(2, 1)[:6].expand(5, 6, 2),
                               rtol=0, atol=0)
    assert torch.equal(out[..., 2:], given)


def test_random_walk_increments_are_the_contexts_increments() -> None:
    steps = torch.randn(30, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    history = steps.cumsum(0)  # [30, 2]
    out = SeasonalNaive(naive_cfg(1), token_dim=2, given_dim=0).generate(
        8, 10, seed=3, context=history.expand(8, 30, 2))
    path = torch.cat([history[-1].expand(8, 1, 2), out.double()], dim=1)
    increments = (path[:, 1:] - path[:, :-1]).reshape(-1, 2)  # [80, 2]
    allowed = history[1:] - history[:-1]  # [29, 2]
    distances = torch.cdist(increments, allowed, compute_mode="donot_use_mm_for_euclid_dist")
    # each step's increment is one of the context's, both channels from the same step (up to
    # the float32 rounding of the output)
    assert distances.min(dim=1).values.max() < 1e-5
    assert len(set(distances.argmin(dim=1).tolist())) > 10  # resampled, not one increment


def test_paths_are_reproducible_from_the_seeds() -> None:
    history = torch.randn(1, 20, 1, generator=torch.Generator().manual_seed(4)).expand(4, 20, 1)
    a = SeasonalNaive(naive_cfg(2), 1, 0, seed=0).generate(4, 5, seed=7, context=history)
    assert torch.equal(a, SeasonalNaive(naive_cfg(2), 1, 0, seed=0).generate(4, 5, seed=7,
                                                                              context=history))
    assert not torch.equal(a, SeasonalNaive(naive_cfg(2), 1, 0, seed=0).generate(
        4, 5, seed=8, context=history))
    assert not torch.equal(a, SeasonalNaive(naive_cfg(2), 1, 0, seed=1).generate(
        4, 5, seed=7, context=history))


@pytest.mark.parametrize("cls,cfg", [(SeasonalNaive, naive_cfg(1)), (ETS, ets_cfg(1))])
def test_identical_context_rows_are_fitted_once(cls: type[ClassicalForecaster], cfg: DictConfig,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = cls.sample_paths

    def counted(self: ClassicalForecaster, history: np.ndarray, horizon: int, num_paths: int,
                rng: np.random.Generator) -> np.ndarray:
        calls.append(num_paths)
        return real(self, history, horizon, num_paths, rng)

    monkeypatch.setattr(cls, "sample_paths", counted)
    distinct = torch.randn(3, 16, 1, generator=torch.Generator().manual_seed(5)).cumsum(1)
    order = torch.tensor([0, 1, 0, 2, 1, 0, 2])
    covariate = torch.randn(7, 16, 1)  # differs row by row: the fit never reads it
    context = torch.cat([distinct[order], covariate], dim=-1)
    out = cls(cfg, token_dim=1, given_dim=1).generate(7, 4, context=context,
                                                      given=torch.zeros(7, 4, 1))
    assert sorted(calls) == [2, 2, 3]  # one fit per distinct history, a path per row
    rows_of_0 = out[order == 0, :, 0]
    assert not torch.equal(rows_of_0[0], rows_of_0[1])  # independent paths of one fit


def test_a_missing_or_short_context_is_refused() -> None:
    model = SeasonalNaive(naive_cfg(4), token_dim=1, given_dim=0)
    message = ("algorithm=seasonal_naive forecasts from a real context: set "
               "experiment.rollout.context_tokens (or use the forecast task)")
    with pytest.raises(ValueError) as error:
        model.generate(2, 3)
    assert str(error.value) == message
    with pytest.raises(ValueError, match="forecasts from a real context"):
        model.generate(2, 3, context=torch.zeros(2, 1, 1))
    with pytest.raises(ValueError, match="season_length=4 needs more than 4 context tokens"):
        model.generate(2, 3, context=torch.zeros(2, 4, 1))
    with pytest.raises(ValueError, match="given"):
        SeasonalNaive(naive_cfg(1), 1, 1).generate(2, 3, context=torch.zeros(2, 5, 2))
    with pytest.raises(ValueError, match="non-finite"):
        model.generate(1, 3, context=torch.full((1, 8, 1), math.nan))


def test_ets_continues_a_noiseless_linear_trend() -> None:
    line = 3.0 + 0.5 * torch.arange(40, dtype=torch.float64)
    context = line[:30, None].expand(50, 30, 1)
    out = ETS(ets_cfg(trend="add", damped_trend=False), 1, 0).generate(50, 10, context=context)
    median = out[..., 0].median(dim=0).values.double()
    torch.testing.assert_close(median, line[30:], atol=0.05, rtol=0)
    damped = ETS(ets_cfg(trend="add", damped_trend=True), 1, 0).generate(50, 10, context=context)
    damped_median = damped[..., 0].median(dim=0).values.double()
    # a damped trend (φ <= 0.98) undershoots the line by at most 1 - φ^h of its steps
    assert (damped_median <= line[30:] + 0.05).all()
    assert (damped_median - line[30:]).abs().max() < 1.0


def test_ets_beats_the_mean_and_seasonal_naive_on_a_noisy_seasonal_series() -> None:
    """sin of period 12 plus N(0, 0.2²) noise, 4 seasons of context, one season ahead, 6
    series: ETS smooths the noise the seasonal naive forecast repeats."""
    rng = np.random.default_rng(6)
    t = np.arange(60)
    series = np.sin(2 * np.pi * t / 12) + 0.2 * rng.normal(size=(6, 60))
    context = torch.from_numpy(series[:, :48, None]).repeat_interleave(100, dim=0)  # [600, 48, 1]
    truth = torch.from_numpy(series[:, 48:, None])  # [6, 12, 1]

    def scores(model: ClassicalForecaster) -> dict[str, float]:
        out = model.generate(600, 12, seed=1, context=context)  # rows 100k.. share a series
        return forecast_scores(out.reshape(6, 100, 12, 1).double(), truth)

    ets = scores(ETS(ets_cfg(season_length=12), 1, 0))
    naive = scores(SeasonalNaive(naive_cfg(12), 1, 0))
    mean_error = float(np.abs(series[:, :48].mean(1, keepdims=True) - series[:, 48:]).mean())
    assert ets["median_abs_error"] < 0.5 * mean_error
    assert ets["median_abs_error"] < naive["median_abs_error"]
    assert ets["crps"] < naive["crps"]
    assert 0.6 < ets["coverage_90"] <= 1.0


def test_ets_model_choice_and_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    model = ETS(ets_cfg(season_length=12), 1, 0)
    assert model.specifications(24) == [("add", True, 12), (None, False, 12), (None, False, None)]
    assert model.specifications(23) == [("add", True, None), (None, False, None)]  # < 2 seasons
    assert ETS(ets_cfg(trend="none"), 1, 0).specifications(30) == [(None, False, None)]

    import statsmodels.tsa.exponential_smoothing.ets as sm_ets

    tried: list[str | None] = []
    real = sm_ets.ETSModel

    def failing_with_trend(endog: np.ndarray, **kwargs: object) -> object:
        tried.append(kwargs["trend"])
        if kwargs["trend"] is not None:
            raise np.linalg.LinAlgError("a failing fit")
        return real(endog, **kwargs)

    monkeypatch.setattr(sm_ets, "ETSModel", failing_with_trend)
    history = np.cumsum(np.random.default_rng(7).normal(size=(20, 1)), axis=0)
    paths = ETS(ets_cfg(), 1, 0).sample_paths(history, 5, 3, np.random.default_rng(0))
    assert tried == ["add", None] and paths.shape == (3, 5, 1) and np.isfinite(paths).all()


def root(algorithm: DictConfig) -> DictConfig:
    return OmegaConf.create({"algorithm": algorithm})


@pytest.mark.parametrize("cls,cfg,key,value,message", [
    (SeasonalNaive, naive_cfg(), "season_length", 0,
     "algorithm.season_length=0: must be a positive integer"),
    (ETS, ets_cfg(), "season_length", 2.5,
     "algorithm.season_length=2.5: must be a positive integer"),
    (ETS, ets_cfg(), "trend", "mul", "algorithm.trend=mul: must be one of add, none"),
    (ETS, ets_cfg(), "damped_trend", "yes", "algorithm.damped_trend=yes: must be true or false"),
])
def test_bad_config_values_give_one_line(cls: type[ClassicalForecaster], cfg: DictConfig,
                                         key: str, value: object, message: str) -> None:
    cls.check_config(root(cfg))  # the YAML's values pass
    cfg[key] = value
    with pytest.raises(ConfigError) as error:
        cls.check_config(root(cfg))
    assert str(error.value) == message


def test_config_schemas_and_yamls() -> None:
    for name, cls in CLASSICAL_FORECASTERS.items():
        yaml = OmegaConf.load(f"configurations/algorithm/{name}.yaml")
        cfg = OmegaConf.create({"algorithm": yaml, "dataset": {"season_length": 48}})
        assert cfg.algorithm.name == name and cfg.algorithm.season_length == 48
        check_types(cfg, "algorithm", cls.config_schema)
        cls.check_config(cfg)
        assert OmegaConf.create({"algorithm": yaml}).algorithm.season_length == 1  # no dataset key
    bad = root(ets_cfg())
    bad.algorithm.seasonality = "add"
    with pytest.raises(ConfigError, match=r"^algorithm.seasonality: unknown key; allowed: name, "
                                          r"season_length, trend, damped_trend$"):
        check_types(bad, "algorithm", ETS.config_schema)


@pytest.mark.parametrize("tasks,context,message", [
    (["validation"], 8, "experiment.tasks: algorithm=seasonal_naive has no validation loss"),
    (["training", "test"], 8, "has no test loss"),
    (["training", "rollout"], 0, "experiment.rollout.context_tokens=0: algorithm=seasonal_naive "
                                 "forecasts from a real context of at least 2 tokens"),
])
def test_tasks_a_classical_reference_cannot_run_are_refused(tasks: list[str], context: int,
                                                           message: str) -> None:
    cfg = OmegaConf.create({"algorithm": naive_cfg(),
                            "experiment": {"tasks": tasks, "rollout": {"context_tokens": context}}})
    with pytest.raises(ConfigError, match=message):
        SeasonalNaive.check_config(cfg)
