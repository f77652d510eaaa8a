"""The optional columns a snapshot's source did not hold, kept in its manifest (issue 18).

A data directory may leave out an optional column (``observations.value_code``); the rules
that need it are then unknown for every patient and ``p4dp count`` says why. A snapshot
stores every column (the absent one as its default, null), so it cannot tell by looking at
its files: ``p4dp data ingest`` records the list in ``manifest.json`` under
``absent_columns``, and opening the snapshot reads it back, so the snapshot warns as the raw
files do. A snapshot written before this field has no list: no warning, no error.

    >>> sorted(read_absent({"absent_columns": ["observations.value_code"]}, "manifest.json"))
    ['observations.value_code']
    >>> read_absent({}, "manifest.json")  # a snapshot of before the field
    >>> read_absent({"absent_columns": ["patients.name"]}, "m.json")
    Traceback (most recent call last):
    ...
    matcher.errors.DataError: m.json: absent_columns: 'patients.name' is not an optional column \
of the data contract
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from matcher.data.schema import TABLES
from matcher.errors import DataError

MANIFEST_KEY = "absent_columns"

OPTIONAL_COLUMNS: frozenset[str] = frozenset(
    f"{name}.{column}" for name, table in TABLES.items() for column in table.optional_names()
)
"""Every ``table.column`` the data contract lets a file omit."""


def recorded_absent(absent: Collection[str]) -> tuple[str, ...]:
    """The list a new manifest records: the data set's absent optional columns, sorted.

    >>> recorded_absent(frozenset({"observations.value_code"}))
    ('observations.value_code',)
    """
    return tuple(sorted(absent))


def read_absent(body: Mapping[str, object], where: str) -> frozenset[str] | None:
    """The absent columns a manifest records; None when it has no such field (an older
    snapshot). A malformed list is a :class:`DataError` naming the manifest."""
    if MANIFEST_KEY not in body or body[MANIFEST_KEY] is None:
        return None
    value = body[MANIFEST_KEY]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{where}: {MANIFEST_KEY} must be a list of 'table.column' names")
    for name in value:
        if name not in OPTIONAL_COLUMNS:
            raise DataError(
                f"{where}: {MANIFEST_KEY}: {name!r} is not an optional column of the data contract"
            )
    return frozenset(value)


__all__ = ["MANIFEST_KEY", "OPTIONAL_COLUMNS", "read_absent", "recorded_absent"]
