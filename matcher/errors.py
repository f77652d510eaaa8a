"""Errors that the matcher reports to users.

Every error a user can cause (bad data, bad options) is a :class:`MatcherError`. The CLI
prints its message on one line and exits with status 1; no traceback is shown.
Messages never contain patient-level data (pseudonyms, dates, values): they name the
file, the column and row numbers instead.

    >>> raise DataError("patients.parquet: column 'sex': 2 rows hold values outside F, M, U")
    Traceback (most recent call last):
    ...
    matcher.errors.DataError: patients.parquet: column 'sex': 2 rows hold values outside F, M, U
"""


class MatcherError(Exception):
    """Base class of errors caused by user input (data, options, files)."""


class DataError(MatcherError):
    """A data directory or table does not follow the data contract."""


class OutputExistsError(MatcherError):
    """Refusing to overwrite an existing output without an explicit flag."""
