"""Partitioned snapshots: one complete snapshot per slice of the patients, for scale-out.

``p4dp data ingest DIR --out SNAP --partitions N`` writes ``SNAP/part-000`` ...
``SNAP/part-{N-1}``, each an ordinary snapshot (``manifest.json``, memory-mapped Arrow files)
holding **every table for its own patients only**, and ``SNAP/partitions.json``: the format,
the number of parts, the content hash of every part and the content hash of the whole (over the
parts' hashes in order), whose first 16 hex digits make the ``data_snapshot`` id
(``snap:...``) every result computed from the partitioned snapshot carries.

A patient's part is a stable keyed 64-bit hash of its pseudonym modulo ``N`` (the vectorised
hash of :mod:`matcher.disclosure.sketch` under a fixed, public key: it only spreads patients,
it hides nothing), so the same data always splits the same way, on any machine and version.
Eligibility is decided per patient, so every part is evaluated on its own and the results
combine exactly (see ``docs/scale-out.md``).

    >>> import tempfile, pathlib
    >>> from matcher.synth import generate
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = generate(60, seed=4, out=root / "raw")
    >>> whole = ingest_partitioned(root / "raw", root / "snap", partitions=3)
    >>> whole.partitions, sum(p.patients for p in whole.parts)
    (3, 60)
    >>> is_partitioned(root / "snap"), verify_partitioned(root / "snap").data_snapshot[:5]
    (True, 'snap:')
    >>> partition_of(pl.Series(["a", "b", "c"]), 1).to_list()
    [0, 0, 0]
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from matcher.data.loader import Dataset, load_dataset
from matcher.data.schema import EVENT_TABLES
from matcher.errors import DataError, OutputExistsError
from matcher.snapshot.manifest import is_snapshot, snapshot_id

PARTITIONS_MANIFEST = "partitions.json"
FORMAT_NAME = "p4dp-partitioned-snapshot"
FORMAT_VERSION = 1
_PARTITION_KEY = b"p4dp-partition-v1"
MAX_PARTITIONS = 4096


def part_name(index: int) -> str:
    """The directory of part ``index``.

    >>> part_name(7)
    'part-007'
    """
    return f"part-{index:03d}"


def partition_of(ids: pl.Series, partitions: int) -> pl.Series:
    """The part (0 .. ``partitions`` - 1) of every pseudonym in ``ids``, vectorised and stable."""
    from matcher.disclosure.sketch import hash_key, keyed_hashes

    if partitions < 1:
        raise DataError(f"--partitions must be at least 1, got {partitions}")
    hashes = keyed_hashes(ids, hash_key(_PARTITION_KEY))
    return pl.Series("part", hashes % partitions, dtype=pl.UInt64).cast(pl.UInt32)


@dataclass(frozen=True)
class PartEntry:
    """One part of a partitioned snapshot: its directory, content hash and patient count."""

    directory: str
    content_hash: str
    patients: int

    @property
    def data_snapshot(self) -> str:
        return snapshot_id(self.content_hash)


@dataclass(frozen=True)
class PartitionedManifest:
    """The parsed ``partitions.json`` of a partitioned snapshot."""

    content_hash: str
    created_at: str
    source: str
    parts: tuple[PartEntry, ...]
    format_version: int = FORMAT_VERSION

    @property
    def partitions(self) -> int:
        return len(self.parts)

    @property
    def data_snapshot(self) -> str:
        """The id results carry: ``snap:`` + 16 hex digits of the whole's content hash."""
        return snapshot_id(self.content_hash)

    def to_json(self) -> str:
        body = {
            "format": FORMAT_NAME,
            "format_version": self.format_version,
            "data_snapshot": self.data_snapshot,
            "content_hash": self.content_hash,
            "created_at": self.created_at,
            "source": self.source,
            "partitions": self.partitions,
            "parts": [
                {**dataclasses.asdict(p), "data_snapshot": p.data_snapshot} for p in self.parts
            ],
        }
        return json.dumps(body, indent=2) + "\n"


def whole_hash(part_hashes: list[str]) -> str:
    """SHA-256 over the format and every part's content hash, in part order.

    >>> len(whole_hash(["ab", "cd"])), whole_hash(["ab", "cd"]) != whole_hash(["cd", "ab"])
    (64, True)
    """
    digest = hashlib.sha256(f"{FORMAT_NAME} {FORMAT_VERSION}\n".encode())
    for i, part_hash in enumerate(part_hashes):
        digest.update(f"{part_name(i)}\0{part_hash}\n".encode())
    return digest.hexdigest()


def is_partitioned(path: object) -> bool:
    """True when ``path`` is a directory holding a ``partitions.json``."""
    return isinstance(path, str | Path) and (Path(path) / PARTITIONS_MANIFEST).is_file()


def read_partitions(directory: Path | str) -> PartitionedManifest:
    """Parse ``partitions.json``; any problem is a :class:`DataError` naming the file."""
    where = Path(directory) / PARTITIONS_MANIFEST
    try:
        body = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{where}: unreadable partitioned snapshot manifest ({exc})") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT_NAME:
        raise DataError(f"{where}: not a p4dp partitioned snapshot manifest")
    if body.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{where}: format version {body.get('format_version')!r}, this p4dp reads "
            f"version {FORMAT_VERSION}; ingest the data again with 'p4dp data ingest'"
        )
    try:
        parts = tuple(
            PartEntry(str(p["directory"]), str(p["content_hash"]), int(p["patients"]))
            for p in body["parts"]
        )
        manifest = PartitionedManifest(
            content_hash=str(body["content_hash"]),
            created_at=str(body["created_at"]),
            source=str(body["source"]),
            parts=parts,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{where}: manifest is incomplete or malformed ({exc})") from None
    if not parts:
        raise DataError(f"{where}: lists no parts")
    if whole_hash([p.content_hash for p in parts]) != manifest.content_hash:
        raise DataError(f"{where}: content_hash does not match the parts' hashes it lists")
    for i, part in enumerate(parts):
        if part.directory != part_name(i):
            raise DataError(f"{where}: part {i} is {part.directory!r}, expected {part_name(i)!r}")
    return manifest


@dataclass(frozen=True)
class PartitionedSnapshot:
    """An opened partitioned snapshot: where its parts are. Each part opens on its own
    (:meth:`open_part`), in this process or on a Dask worker that can read the same path."""

    path: Path
    manifest: PartitionedManifest

    @property
    def snapshot_id(self) -> str:
        return self.manifest.data_snapshot

    def part_paths(self) -> list[Path]:
        return [self.path / p.directory for p in self.manifest.parts]

    @property
    def patients(self) -> pl.LazyFrame:
        """Every part's ``patients`` table, one after the other (coded columns as text: each
        part has its own dictionaries). For the platform commands that read patients beside
        a result (candidate lists' practice tokens); the engine reads the parts one by one."""
        frames = []
        for i in range(len(self.manifest.parts)):
            frame = self.open_part(i).patients
            schema = frame.collect_schema()
            coded = [c for c, t in schema.items() if isinstance(t, pl.Enum | pl.Categorical)]
            frames.append(frame.with_columns(pl.col(c).cast(pl.String) for c in coded))
        return pl.concat(frames, how="vertical_relaxed")

    def part_manifests(self) -> list:
        """Every part's own ``manifest.json`` (:class:`~matcher.snapshot.manifest.Manifest`):
        the end of the whole data is the latest of theirs
        (:func:`matcher.data.extract_date.data_end`)."""
        from matcher.snapshot.manifest import read_manifest

        return [read_manifest(path) for path in self.part_paths()]

    def open_part(self, index: int):
        """The part ``index`` as a :class:`~matcher.snapshot.reader.SnapshotDataset`, checked
        against the content hash recorded for it."""
        from matcher.snapshot.reader import open_snapshot

        entry = self.manifest.parts[index]
        opened = open_snapshot(self.path / entry.directory)
        assert opened.manifest is not None
        if opened.manifest.content_hash != entry.content_hash:
            raise DataError(
                f"{self.path / entry.directory}: its content hash differs from the one in "
                f"{PARTITIONS_MANIFEST}; the partitioned snapshot is damaged"
            )
        return opened


def open_partitioned(path: Path | str) -> PartitionedSnapshot:
    """Open the partitioned snapshot at ``path`` (its manifest only; parts open on use)."""
    directory = Path(path)
    return PartitionedSnapshot(directory, read_partitions(directory))


def verify_partitioned(path: Path | str) -> PartitionedManifest:
    """Check every part byte for byte, and each part's hash against ``partitions.json``."""
    from matcher.snapshot.reader import verify_snapshot

    directory = Path(path)
    manifest = read_partitions(directory)
    for entry in manifest.parts:
        part = verify_snapshot(directory / entry.directory)
        if part.content_hash != entry.content_hash:
            raise DataError(
                f"{directory / entry.directory}: its content hash differs from the one in "
                f"{PARTITIONS_MANIFEST}; the partitioned snapshot is damaged"
            )
    return manifest


def _check_out(out: Path, source: Path, *, overwrite: bool) -> None:
    src, dst = source.resolve(), out.resolve()
    if dst == src or src in dst.parents:
        raise DataError(f"{out}: the snapshot cannot be written inside the data directory")
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    if not out.is_dir():
        raise OutputExistsError(f"{out}: exists and is not a directory")
    if not overwrite:
        raise OutputExistsError(f"{out}: already exists; pass --overwrite to replace it")
    if not (is_snapshot(out) or is_partitioned(out)):
        raise OutputExistsError(
            f"{out}: is not empty and holds no snapshot; refusing to replace it"
        )


def _route_to_parts(
    dataset: Dataset, assignment: pl.DataFrame, partitions: int, workdir: Path
) -> list[Dataset]:
    """Split every table of ``dataset`` into its parts in **one read** of each table.

    Each table is scanned once, joined to the patients' ``assignment`` (``patient_id``,
    ``part``) and streamed into one Parquet folder per part under ``workdir`` (rows keep their
    order); the parts' datasets then read those folders. Reading the source once matters at
    national scale, where a filtered re-read per part cost one full scan of every table per
    part.
    """
    keyed = assignment.lazy()
    tables: list[dict[str, pl.LazyFrame]] = [{} for _ in range(partitions)]
    for name in ("patients", *EVENT_TABLES):
        if name in dataset.not_provided():  # an optional table left out stays left out
            continue
        frame = dataset.table(name)
        schema = frame.collect_schema()
        target = workdir / name
        frame.join(keyed, on="patient_id", how="inner", maintain_order="left").sink_parquet(
            pl.PartitionBy(target, key="part", include_key=False),
            maintain_order=True,
            mkdir=True,
        )
        for i in range(partitions):
            files = sorted((target / f"part={i}").glob("*.parquet"))
            tables[i][name] = (
                pl.scan_parquet(files, schema=schema) if files else pl.LazyFrame(schema=schema)
            )
    return [dataclasses.replace(dataset, **part_tables) for part_tables in tables]


def ingest_partitioned(
    source: Path | str,
    out: Path | str,
    *,
    partitions: int,
    overwrite: bool = False,
    progress: bool = False,
    validate: bool = True,
) -> PartitionedManifest:
    """Validate the data directory ``source`` once and write it as ``partitions`` snapshots.

    Everything is written beside ``out`` and renamed into place at the end: a failed ingest
    leaves nothing half-written. Returns the written top-level manifest.
    """
    from matcher.snapshot.ingest import _replace, ingest

    if not 1 <= partitions <= MAX_PARTITIONS:
        raise DataError(f"--partitions must be between 1 and {MAX_PARTITIONS}, got {partitions}")
    source, out = Path(source), Path(out)
    _check_out(out, source, overwrite=overwrite)
    dataset = load_dataset(source, validate=validate)
    ids = dataset.patients.select("patient_id").collect()["patient_id"]
    assignment = pl.DataFrame({"patient_id": ids, "part": partition_of(ids, partitions)})
    sizes = assignment["part"].value_counts()
    patients_in = dict(zip(sizes["part"].to_list(), sizes["count"].to_list(), strict=True))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        routed = _route_to_parts(dataset, assignment, partitions, tmp / ".routed")
        entries = []
        for i, part_dataset in enumerate(routed):
            part = ingest(part_dataset, tmp / part_name(i), progress=progress)
            entries.append(PartEntry(part_name(i), part.content_hash, patients_in.get(i, 0)))
        shutil.rmtree(tmp / ".routed")
        manifest = PartitionedManifest(
            content_hash=whole_hash([e.content_hash for e in entries]),
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            source=str(source.resolve()),
            parts=tuple(entries),
        )
        (tmp / PARTITIONS_MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        _check_out(out, source, overwrite=overwrite)
        _replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return manifest


__all__ = [
    "PARTITIONS_MANIFEST",
    "PartEntry",
    "PartitionedManifest",
    "PartitionedSnapshot",
    "ingest_partitioned",
    "is_partitioned",
    "open_partitioned",
    "part_name",
    "partition_of",
    "verify_partitioned",
]
