"""Data snapshots: a validated data set re-keyed, dictionary-encoded and sorted for the engine.

``ingest`` writes one (``p4dp data ingest DIR --out SNAPSHOT``); ``open_snapshot`` opens one
as a :class:`~matcher.data.loader.Dataset` whose ``events(table, codes)`` reads only the row
ranges of the wanted codes. See ``docs/snapshots.md``.

The reader's names are imported on first use, so that asking ``is_snapshot(path)`` of a
directory of raw files does not load the Arrow IPC reader (pyarrow: a third of a second).

    >>> from matcher.snapshot import is_snapshot
    >>> is_snapshot("/no/such/directory")
    False
"""

from __future__ import annotations

import importlib
from typing import Any

from matcher.snapshot.ingest import ingest
from matcher.snapshot.manifest import FORMAT_VERSION, MANIFEST, Manifest, is_snapshot

_READER = ("SnapshotDataset", "open_snapshot", "verify_snapshot")

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST",
    "Manifest",
    "SnapshotDataset",
    "ingest",
    "is_snapshot",
    "open_snapshot",
    "verify_snapshot",
]


def __getattr__(name: str) -> Any:
    if name in _READER:
        return getattr(importlib.import_module("matcher.snapshot.reader"), name)
    raise AttributeError(f"module 'matcher.snapshot' has no attribute {name!r}")
