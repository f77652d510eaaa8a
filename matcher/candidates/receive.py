"""Receiving practice uploads into the platform's data directory, atomically.

``receive_uploads`` checks every upload first (:func:`~matcher.candidates.upload.read_upload`;
one bad upload refuses the whole call, nothing is merged), applies the second pseudonym level
(``patient_id = hex HMAC-SHA-256(platform secret, first-level pseudonym)``), then builds a
complete new *generation* of the data directory and switches to it with one atomic rename.

The data directory (``--into DATA``) is a symbolic link to its current generation, kept in
``DATA.generations/``::

    DATA -> DATA.generations/000003/
        generation.json                  practices received, platform key id, row counts
        patients/patients.parquet        one row per patient (merged across practices)
        diagnoses/<practice>.parquet     one part per practice (likewise for the other
        ...                              event tables)
        received/<practice>.parquet      that practice's patients as received (second-level
                                         ids, its tokens), from which patients/ is merged

Readers opening ``DATA`` see either the old or the new generation, never a mix. Receiving a
practice again replaces its parts; other practices' parts are hard links to the previous
generation's (no copy). The previous generation is kept (a reader may still be on it); older
ones are removed.

*One patient, several practices.* The second level links the same person (same national
identifier) seen at two practices to one ``patient_id``. ``patients`` then holds one row: the
demographics, practice and practice token of the practice where the patient is registered
most recently (still registered first, then latest ``registered_from``, then latest
extract), the earliest ``registered_from``, ``registered_to`` empty while any practice still
has the patient, ``opted_out`` when any practice records an objection, and the death date
when any practice records one. Events of every practice stay, under the one ``patient_id``;
each practice's own rows and tokens stay in ``received/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from matcher.candidates.document import format_time, utc_now
from matcher.candidates.keys import PseudonymKey, second_level
from matcher.candidates.upload import Upload, extract_day, read_upload
from matcher.data.schema import EVENT_TABLES, OPTIONAL_TABLES, TABLES
from matcher.errors import DataError

GENERATION_FORMAT = "p4dp-received-data"
GENERATION_FILE = "generation.json"
RECEIVED = "received"


@dataclass(frozen=True)
class PracticeReceipt:
    """What one upload added: its practice, patients, rows per table, and what it replaced."""

    practice_id: str
    centre_id: str
    rows: dict[str, int]
    replaced: bool

    def line(self) -> str:
        what = "replaced" if self.replaced else "added"
        rows = ", ".join(f"{name} {n:,}" for name, n in self.rows.items())
        return f"{self.practice_id} ({self.centre_id}): {what}; {rows}"


@dataclass(frozen=True)
class ReceiveSummary:
    """The outcome of one receipt: the new generation and the data set's totals."""

    data_dir: Path
    generation: Path
    practices: list[PracticeReceipt]
    patients: int
    practices_total: int
    linked: int = 0
    """Patients seen at more than one practice (one ``patient_id`` each)."""
    conflicts: dict[str, int] = field(default_factory=dict)
    """Per column, linked patients whose practices disagree (birth year, sex)."""


def store_of(data_dir: Path) -> Path:
    """The folder holding the generations of ``data_dir``.

    >>> store_of(Path("/srv/p4dp/data")).as_posix()
    '/srv/p4dp/data.generations'
    """
    return data_dir.parent / f"{data_dir.name}.generations"


def _current(data_dir: Path) -> tuple[Path | None, dict[str, Any] | None]:
    """The current generation and its record, or ``(None, None)`` for a new data directory."""
    if data_dir.is_symlink():
        target = data_dir.resolve()
        record = target / GENERATION_FILE
        if target.parent == store_of(data_dir).resolve() and record.is_file():
            return target, json.loads(record.read_text(encoding="utf-8"))
        raise DataError(f"{data_dir}: a link, but not to a generation of received data")
    if data_dir.exists():
        if data_dir.is_dir() and not any(data_dir.iterdir()):
            return None, None
        raise DataError(
            f"{data_dir}: exists and was not made by 'p4dp data receive'; give a new path"
        )
    return None, None


def _pseudonymise(upload: Upload, key: PseudonymKey) -> dict[str, pl.DataFrame]:
    """The upload's tables with the second level applied to ``patient_id``."""
    first = upload.tables["patients"]["patient_id"].to_list()
    mapping = pl.DataFrame(
        {"patient_id": first, "__second": second_level(key, first)},
        schema={"patient_id": pl.String, "__second": pl.String},
    )
    out = {}
    for name, frame in upload.tables.items():
        columns = frame.columns
        linked = frame.join(mapping, on="patient_id", how="left", maintain_order="left")
        out[name] = linked.with_columns(pl.col("__second").alias("patient_id")).select(columns)
    return out


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def merge_patients(received: pl.DataFrame) -> pl.DataFrame:
    """One row per ``patient_id`` from the per-practice rows (see the module docstring).

    ``received`` holds the contract's patient columns plus ``__extract`` (the extract date).
    """
    order = received.sort(
        [
            pl.col("registered_to").is_null(),
            pl.col("registered_to"),
            pl.col("registered_from"),
            pl.col("__extract"),
            pl.col("practice_id"),
        ],
        descending=[True, True, True, True, False],
        nulls_last=True,
    )
    columns = TABLES["patients"].required_names()
    keep_first = [c for c in columns if c not in {"patient_id", *_COMBINED}]
    merged = order.group_by("patient_id", maintain_order=True).agg(
        *(pl.col(c).first() for c in keep_first),
        pl.col("registered_from").min(),
        pl.when(pl.col("registered_to").is_null().any())
        .then(pl.lit(None, pl.Date))
        .otherwise(pl.col("registered_to").max())
        .alias("registered_to"),
        pl.col("death_date").max(),
        pl.col("opted_out").any(),
    )
    return merged.select(columns).sort("patient_id")


_COMBINED = ("registered_from", "registered_to", "death_date", "opted_out")


def _conflicts(received: pl.DataFrame) -> tuple[int, dict[str, int]]:
    per = received.group_by("patient_id").agg(
        pl.len().alias("n"), *(pl.col(c).n_unique().alias(c) for c in ("birth_year", "sex"))
    )
    linked = per.filter(pl.col("n") > 1)
    conflicts = {c: int((linked[c] > 1).sum()) for c in ("birth_year", "sex")}
    return linked.height, {c: n for c, n in conflicts.items() if n}


def _write_practice(tmp: Path, upload: Upload, key: PseudonymKey) -> PracticeReceipt:
    """Pseudonymise one checked upload and write its parts into the generation ``tmp``."""
    tables = _pseudonymise(upload, key)
    practice = upload.practice_id
    for name in EVENT_TABLES:
        if name in tables:  # an optional table the practice did not provide: no part
            tables[name].write_parquet(tmp / name / f"{practice}.parquet")
    extract = extract_day(upload.manifest)
    tables["patients"].with_columns(__extract=pl.lit(extract)).write_parquet(
        tmp / RECEIVED / f"{practice}.parquet"
    )
    rows = {name: tables[name].height for name in TABLES if name in tables}
    return PracticeReceipt(practice, upload.centre_id, rows, replaced=False)


def _practice_record(upload: Upload, rows: dict[str, int], now: str) -> dict[str, Any]:
    return {
        "centre_id": upload.centre_id,
        "key_id": upload.manifest["key_id"],
        "key_version": upload.manifest["key_version"],
        "extract_date": upload.manifest["extract_date"],
        "upload_created": upload.manifest["created"],
        "received": now,
        "rows": rows,
    }


def _write_generation(
    tmp: Path,
    previous: Path | None,
    record: dict[str, Any] | None,
    uploads: Sequence[str | Path],
    key: PseudonymKey,
) -> tuple[dict[str, Any], list[PracticeReceipt]]:
    """Fill the new generation folder ``tmp``, one upload in memory at a time.

    Returns the practices' records and the receipts of the uploads.
    """
    before: dict[str, Any] = dict((record or {}).get("practices", {}))
    for name in [*EVENT_TABLES, "patients", RECEIVED]:
        (tmp / name).mkdir()
    now = format_time(utc_now())
    practices: dict[str, Any] = {}
    receipts: list[PracticeReceipt] = []
    sources: dict[str, Path] = {}
    for path in uploads:
        upload = read_upload(path)
        practice = upload.practice_id
        if practice in sources:
            raise DataError(
                f"{path}: practice {practice!r} given twice (also {sources[practice]});"
                " give one upload per practice"
            )
        sources[practice] = Path(path)
        receipt = _write_practice(tmp, upload, key)
        receipts.append(replace(receipt, replaced=practice in before))
        practices[practice] = _practice_record(upload, receipt.rows, now)
    for practice, info in before.items():
        if practice in practices:
            continue
        assert previous is not None
        for name in [*EVENT_TABLES, RECEIVED]:
            part = f"{practice}.parquet"
            if name in OPTIONAL_TABLES and not (previous / name / part).is_file():
                continue  # the practice did not provide this optional table
            _link_or_copy(previous / name / part, tmp / name / part)
        practices[practice] = info
    for name in OPTIONAL_TABLES:  # provided by no practice: the table is not provided at all
        if not any((tmp / name).iterdir()):
            (tmp / name).rmdir()
    return dict(sorted(practices.items())), receipts


def _check_key(data_dir: Path, record: dict[str, Any] | None, key: PseudonymKey) -> None:
    if record is not None and record.get("platform_key_id") != key.key_id:
        raise DataError(
            f"{data_dir}: built with platform pseudonym key {record.get('platform_key_id')!r},"
            f" not {key.key_id!r}: pseudonyms of two keys do not link; receive every practice"
            " into a new data directory to rotate the key"
        )


@contextlib.contextmanager
def _locked(store: Path, data_dir: Path) -> Iterator[None]:
    """Hold the store's lock: one receipt at a time; stale half-built generations removed."""
    store.mkdir(parents=True, exist_ok=True)
    fd = os.open(store / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataError(
                f"{data_dir}: another 'p4dp data receive' is writing to it; try again later"
            ) from None
        for stale in store.glob(".building-*"):  # left by a killed receipt
            shutil.rmtree(stale, ignore_errors=True)
        yield
    finally:
        os.close(fd)


def receive_uploads(
    uploads: Sequence[str | Path], into: str | Path, key: PseudonymKey
) -> ReceiveSummary:
    """Check ``uploads``, pseudonymise them and merge them into the data directory ``into``.

    All or nothing: any bad upload (or two uploads of one practice) refuses the call and
    leaves ``into`` as it was. Uploads are read one at a time (memory: one practice).
    """
    data_dir = Path(into)
    if not uploads:
        raise DataError("no upload given")
    _check_key(data_dir, _current(data_dir)[1], key)  # fail fast, before reading uploads
    store = store_of(data_dir)
    with _locked(store, data_dir):
        previous, record = _current(data_dir)
        _check_key(data_dir, record, key)
        final, received, receipts = _build(store, previous, record, uploads, key)
        _switch(data_dir, final)
        _prune(store, keep={final.name, previous.name if previous else ""})
    linked, conflicts = _conflicts(received)
    return ReceiveSummary(
        data_dir,
        final,
        receipts,
        received["patient_id"].n_unique(),
        received["practice_id"].n_unique(),
        linked,
        conflicts,
    )


def _build(
    store: Path,
    previous: Path | None,
    record: dict[str, Any] | None,
    uploads: Sequence[str | Path],
    key: PseudonymKey,
) -> tuple[Path, pl.DataFrame, list[PracticeReceipt]]:
    """Write the next generation completely, then rename it into the store."""
    number = (record or {}).get("generation", 0) + 1
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=store))
    try:
        practices, receipts = _write_generation(tmp, previous, record, uploads, key)
        received = pl.read_parquet(sorted((tmp / RECEIVED).glob("*.parquet")))
        patients = merge_patients(received)
        patients.write_parquet(tmp / "patients" / "patients.parquet")
        new_record = {
            "format": GENERATION_FORMAT,
            "version": 1,
            "generation": number,
            "platform_key_id": key.key_id,
            "platform_key_version": key.key_version,
            "created": format_time(utc_now()),
            "patients": patients.height,
            "practices": practices,
        }
        (tmp / GENERATION_FILE).write_text(json.dumps(new_record, indent=2) + "\n")
        final = store / f"{number:06d}"
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final, received, receipts


def _switch(data_dir: Path, target: Path) -> None:
    """Point ``data_dir`` at ``target`` with one atomic rename of a new link."""
    if data_dir.is_dir() and not data_dir.is_symlink():
        data_dir.rmdir()  # an empty folder made beforehand (checked by _current)
    link = data_dir.parent / f".{data_dir.name}.link-{os.getpid()}"
    link.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, data_dir.parent), link)
    os.replace(link, data_dir)


def _prune(store: Path, *, keep: set[str]) -> None:
    for entry in store.iterdir():
        if entry.name not in keep and entry.is_dir() and entry.name.isdigit():
            shutil.rmtree(entry, ignore_errors=True)
