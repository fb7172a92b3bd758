"""The recorded-series datamodule: the time split, windows drawn from the training part alone as a
function of (seed, step, rank), statistics of the training part only, forecast windows that tile
the test part, and the two packaged datasets loading offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from benchmarks.recipes import compose
from datasets.recorded.datamodule import RecordedSeriesDataModule
from tests.network_guard import no_network  # noqa: F401  (a fixture, used by name below)

pytestmark = pytest.mark.usefixtures("no_network")
ROWS = 400


def write_csv(path: Path, rows: int = ROWS, test_value: float | None = None) -> Path:
    """Columns: t (hourly), index (the row number: a window shows where it came from), load
    (generated), temp (given). `test_value` replaces every generated value of the last 20%."""
    index = np.arange(rows, dtype=float)
    load = np.sin(index / 5.0) + 0.01 * index
    if test_value is not None:
        load[int(rows * 0.8):] = test_value
    times = np.datetime64("2020-01-01T00:00") + np.arange(rows) * np.timedelta64(1, "h")
    lines = ["t,index,load,temp"] + [f"{t},{i:g},{v:.6f},{20 + i % 7:g}"
                                     for t, i, v in zip(times.astype(str), index, load)]
    path.write_text("\n".join(lines) + "\n")
    return path


def datamodule(path: Path, batch_size: int = 8, **overrides) -> RecordedSeriesDataModule:
    cfg = OmegaConf.create({
        "name": "csv", "rdataset": None, "path": str(path), "generated": ["index", "load"],
        "given": ["temp"], "time_column": "t", "frequency": "1h", "missing": "error",
        "validation_fraction": 0.1, "test_fraction": 0.2, "train_length": 24,
        "context_tokens": 16, "forecast_horizon": 8, "forecast_stride": 8, "season_length": 24,
        "rollout_horizon": 48, "num_eval_batches": 2, **overrides})
    return RecordedSeriesDataModule(cfg, seed=0, batch_size=batch_size, max_steps=10)


def test_split_is_by_time_without_overlap(tmp_path: Path) -> None:
    data = datamodule(write_csv(tmp_path / "s.csv"))
    parts = data.parts
    assert (parts["train"].start, parts["train"].stop) == (0, 280)
    assert parts["validation"].start == 280 and parts["validation"].stop == parts["test"].start
    assert parts["test"].stop == ROWS
    rows = [set(range(p.start, p.stop)) for p in parts.values()]
    assert not (rows[0] & rows[1]) and not (rows[1] & rows[2]) and not (rows[0] & rows[2])
    assert data.token_dim == 2 and data.given_dim == 1


def test_training_windows_come_from_the_training_part_as_a_function_of_the_step(tmp_path: Path
                                                                                ) -> None:
    data = datamodule(write_csv(tmp_path / "s.csv"))
    train_stop = data.parts["train"].stop
    batches = [data._train_batch(i) for i in range(50)]
    for batch in batches:
        index = batch[..., 0]
        assert batch.shape == (8, 24, 3)
        assert torch.all(index[:, 1:] - index[:, :-1] == 1)  # contiguous windows
        assert index.max() < train_stop  # never a validation or test row
    assert torch.equal(data._train_batch(7), batches[7])  # a pure function of the index
    assert not torch.equal(batches[7], batches[8])
    for batch in data.val_dataloader():
        assert batch[..., 0].min() >= train_stop and batch[..., 0].max() < data.parts["test"].start


def test_statistics_come_from_the_training_part_only(tmp_path: Path) -> None:
    plain = datamodule(write_csv(tmp_path / "a.csv")).statistics()
    altered = datamodule(write_csv(tmp_path / "b.csv", test_value=1e4)).statistics()
    for key, value in plain.items():
        assert torch.equal(value, altered[key]), key
    assert set(plain) >= {"given_mean", "given_std"}


def test_forecast_windows_tile_the_test_part_after_their_context(tmp_path: Path) -> None:
    data = datamodule(write_csv(tmp_path / "s.csv"))
    windows = data.forecast_windows(16, 8)
    test = data.parts["test"]
    first_targets = windows[:, 16, 0].long()
    assert first_targets.tolist() == list(range(test.start, test.stop - 8 + 1, 8))
    assert torch.all(windows[:, :, 0].diff(dim=1) == 1)  # context right before the target
    assert windows[:, -1, 0].max() < test.stop
    long = data.rollout_context(5, 16, 48)
    assert long[:, 16, 0].min() >= test.start and long[:, -1, 0].max() < test.stop


def test_too_short_a_series_is_one_line_naming_the_file(tmp_path: Path) -> None:
    from datasets.recorded.series import DataError

    data = datamodule(write_csv(tmp_path / "short.csv", rows=50))
    with pytest.raises(DataError, match="short.csv: 50 rows, shorter than three training"):
        data.series


@pytest.mark.parametrize("name,shape,given", [("elecdemand", (17520, 3), 2),
                                              ("eu_stock_markets", (1860, 4), 0)])
def test_packaged_datasets_load_offline(name: str, shape: tuple[int, int], given: int) -> None:
    cfg = compose(f"dataset={name}")
    data = RecordedSeriesDataModule(cfg.dataset, seed=0, batch_size=4, max_steps=1)
    assert tuple(data.values.shape) == shape and data.given_dim == given
    assert data.token_dim == shape[1] - given
    windows = data.forecast_windows(cfg.dataset.context_tokens, cfg.dataset.forecast_horizon)
    expected = (data.parts["test"].stop - data.parts["test"].start
                - cfg.dataset.forecast_horizon) // cfg.dataset.forecast_stride + 1
    assert windows.shape == (expected, cfg.dataset.context_tokens + cfg.dataset.forecast_horizon,
                             shape[1])
    assert torch.isfinite(data._train_batch(0)).all()


def test_calendar_features_are_given_channels_on_the_time_axis(tmp_path: Path) -> None:
    data = datamodule(write_csv(tmp_path / "s.csv"), time_features=["time_of_day", "day_of_week"])
    assert data.given_dim == 1 + 4 and data.channel_names[-4:] == (
        "time_of_day_sin", "time_of_day_cos", "day_of_week_sin", "day_of_week_cos")
    hours = np.arange(ROWS) % 24  # hourly from midnight: the phase of the day is known exactly
    expected = np.sin(2 * np.pi * hours / 24)
    assert np.allclose(data.values[:, 3].numpy(), expected, atol=1e-5)
    assert np.allclose(data.values[:, 3:5].square().sum(1).numpy(), 1.0, atol=1e-5)
    assert set(data.statistics()) >= {"given_mean"} and data.statistics()["given_mean"].numel() == 5


def test_calendar_features_need_a_time_axis_and_known_names(tmp_path: Path) -> None:
    from datasets.recorded.series import DataError

    with pytest.raises(DataError, match="'hour' is not one of time_of_day, day_of_week"):
        datamodule(write_csv(tmp_path / "s.csv"), time_features=["hour"]).values
    with pytest.raises(DataError, match="needs a time axis"):
        datamodule(write_csv(tmp_path / "t.csv"), time_features=["time_of_day"],
                   time_column=None, frequency=None, generated=["index", "load"],
                   given=["temp"]).values


@pytest.mark.parametrize("name", ["elecdemand", "eu_stock_markets"])
def test_packaged_defaults_fit_their_data(name: str) -> None:
    """`python -m main dataset=<name>` as it is: its rollout horizon and contexts fit the test part."""
    RecordedSeriesDataModule.check_data(compose(f"dataset={name}"))
    with pytest.raises(Exception, match="must be at most the test part"):
        RecordedSeriesDataModule.check_data(compose(f"dataset={name}",
                                                    "experiment.rollout.horizon=100000"))
