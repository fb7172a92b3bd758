"""A recorded series from a CSV file. Every bad input is one DataError line naming the file, the
column and the row, a row being the file's line number (header = line 1) so the file can be opened
there. The standard library's csv reader splits the records, since it knows the line each one
starts on (pandas' reader does not); pandas parses the numbers and times. Blank lines are skipped.
Nothing is written to disk."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from datasets.recorded.assemble import assemble
from datasets.recorded.columns import check_column_lists, listing
from datasets.recorded.missing_values import check_missing_mode
from datasets.recorded.numbers import parse_column
from datasets.recorded.series import DataError, RecordedSeries
from datasets.recorded.time_axis import parse_frequency, parse_times


def read_csv(path: str | Path, generated: list[str], given: list[str], time_column: str | None,
             frequency: str | None, missing: str = "error") -> RecordedSeries:
    """The series of CSV file `path`: [T, G + C] values of the `generated` then the `given`
    columns, the times of `time_column` (None: rows equally spaced, no frequency allowed) at
    `frequency` (a pandas offset alias, or None for no gap checks), NaNs and gaps an error or
    interpolated (`missing`: "error" or "interpolate")."""
    check_missing_mode(missing)
    source = str(path)
    offset = None
    if frequency is not None:
        if time_column is None:
            raise DataError(f"dataset.frequency={frequency} needs dataset.time_column: without a "
                            f"time column the rows are taken as equally spaced")
        offset = parse_frequency(frequency)
    header, header_line, records, lines = read_records(Path(path))
    check_column_lists(source, header, generated, given, time_column)
    used = [*generated, *given, *([time_column] if time_column is not None else [])]
    for name in used:
        places = [i + 1 for i, h in enumerate(header) if h == name]
        if len(places) > 1:
            raise DataError(f"{source}: row {header_line}: column '{name}' appears "
                            f"{len(places)} times in the header (fields {listing(places)})")
    index = {name: header.index(name) for name in used}
    values = np.stack([parse_column(source, name, [r[index[name]] for r in records], lines)
                       for name in (*generated, *given)], axis=1)
    times = None
    if time_column is not None:
        times = parse_times(source, time_column, [r[index[time_column]] for r in records], lines)
    return assemble(source, values, lines, tuple(generated), tuple(given), times, offset, missing)


def read_records(path: Path) -> tuple[list[str], int, list[list[str]], np.ndarray]:
    """(header names, the header's line, the data records padded to the header's width, [T]
    int64 line of each record) of the CSV file at `path`; DataError when it cannot be read."""
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[list[str]] = []
    lines: list[int] = []
    end = 0  # the line the last record ended on
    try:
        for record in reader:
            start, end = end + 1, reader.line_num
            if record and not (len(record) == 1 and not record[0].strip()):
                records.append(record)
                lines.append(start)
    except csv.Error as error:
        raise DataError(f"{path}: row {reader.line_num}: not readable as CSV ({error})") from None
    if not records:
        raise DataError(f"{path}: the file is empty")
    header, header_line = [name.strip() for name in records[0]], lines[0]
    if len(records) == 1:
        raise DataError(f"{path}: a header (row {header_line}) and no data rows")
    width = len(header)
    for record, line in zip(records[1:], lines[1:]):
        if len(record) > width:
            raise DataError(f"{path}: row {line}: {len(record)} fields, more than the header's "
                            f"{width} (row {header_line})")
        record.extend([""] * (width - len(record)))
    return header, header_line, records[1:], np.array(lines[1:], dtype=np.int64)


def read_text(path: Path) -> str:
    """The text of the file at `path` (UTF-8, a byte-order mark dropped); DataError when it does
    not exist, is a folder, cannot be read or is not UTF-8."""
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: a folder, not a CSV file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror or error})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(f"{path}: row {line}: not UTF-8 text (byte {error.start}: "
                        f"{data[error.start:error.start + 1]!r})") from None

