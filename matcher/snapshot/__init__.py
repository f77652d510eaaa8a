"""Data snapshots: a validated data set re-keyed, dictionary-encoded and sorted for the engine.

``ingest`` writes one (``p4dp data ingest DIR --out SNAPSHOT``); ``open_snapshot`` opens one
as a :class:`~matcher.data.loader.Dataset` whose ``events(table, codes)`` reads only the row
ranges of the wanted codes. See ``docs/snapshots.md``.
"""

from matcher.snapshot.ingest import ingest
from matcher.snapshot.manifest import FORMAT_VERSION, MANIFEST, Manifest, is_snapshot
from matcher.snapshot.reader import SnapshotDataset, open_snapshot, verify_snapshot

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
