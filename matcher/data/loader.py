"""Loading a data set: one lazy frame per contract table, in the contract types.

``load_dataset`` opens a data directory (``<table>.parquet``, ``<table>.csv`` or a directory
``<table>/`` of Parquet parts; the five tables are required, the optional ``procedures`` and
``allergies`` may be left out), validates it (every problem is
reported in one :class:`~matcher.errors.DataError`) and returns a :class:`Dataset` of lazy
scans, so the engine keeps projection and predicate pushdown. ``Dataset.from_frames`` does the
same for in-memory frames.

Only contract columns are kept (extra columns are ignored), in contract order and types;
optional columns absent from a file are filled with their default (``opted_out`` false, the
others null).

    >>> import polars as pl
    >>> ds = Dataset.from_frames(patients=pl.DataFrame({
    ...     "patient_id": ["a"], "birth_year": [1950], "birth_month": [None], "sex": ["F"],
    ...     "practice_id": ["p1"], "centre_id": ["c1"], "registered_from": ["2001-02-03"],
    ...     "registered_to": [None], "death_date": [None], "extra": [1]}))
    >>> ds.patients.collect_schema()["registered_from"], ds.patients.collect()["opted_out"][0]
    (Date, False)
    >>> ds.diagnoses.collect().height
    0
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from matcher.data import validcache
from matcher.data.codenorm import CodeForms, recode, spellings
from matcher.data.convert import conversion, expected_text, type_name
from matcher.data.deferred import PendingValidation, confirm_valid
from matcher.data.schema import OPTIONAL_TABLES, TABLES
from matcher.data.sources import TableSource, frame_source, locate_sources
from matcher.errors import DataError

FrameLike = pl.DataFrame | pl.LazyFrame


@dataclass(frozen=True)
class Dataset:
    """The contract tables as lazy frames in contract types (see ``docs/data-contract.md``).

    Opted-out patients are still in ``patients``: the engine removes them itself.
    """

    path: Path | None
    patients: pl.LazyFrame
    diagnoses: pl.LazyFrame
    prescriptions: pl.LazyFrame
    observations: pl.LazyFrame
    encounters: pl.LazyFrame
    procedures: pl.LazyFrame | None = None
    """``None``: the optional table was not provided (its criteria are unknown)."""
    allergies: pl.LazyFrame | None = None
    """``None``: the optional table was not provided (its criteria are unknown)."""
    patient_key: str = "patient_id"
    """The column linking event rows to ``patients`` (``patient_key`` in a snapshot)."""
    snapshot_id: str | None = None
    """The snapshot's ``data_snapshot`` id (``snap:...``); None for raw files and frames."""
    code_forms: CodeForms | None = field(default=None, compare=False, repr=False)
    """How the codes of each coded table are respelled into normal form (None: the codes are
    in normal form already, as in a snapshot); see :mod:`matcher.data.codenorm`."""
    absent_columns: frozenset[str] = frozenset()
    """Optional columns the files do not hold, as ``table.column`` (read as their default:
    ``observations.value_code`` null); for a snapshot, those of its source as its manifest
    records them (issue 18, :mod:`matcher.snapshot.absent`)."""
    pending_validation: PendingValidation | None = field(default=None, compare=False, repr=False)
    """A validation still running (``load_dataset(..., defer_validation=True)``): nothing
    computed from this data set may leave the process before
    :func:`~matcher.data.deferred.confirm_valid` returns."""

    def table(self, name: str) -> pl.LazyFrame:
        """The frame of table ``name`` (``KeyError`` for a name outside the contract); an
        optional table not provided reads as an empty frame (see :meth:`not_provided`)."""
        if name not in TABLES:
            raise KeyError(name)
        frame: pl.LazyFrame | None = getattr(self, name, None)
        if frame is not None:
            return frame
        empty = empty_frame(name).lazy()
        if self.patient_key == "patient_id":
            return empty
        key = pl.col("patient_id").cast(pl.UInt32).alias(self.patient_key)  # a snapshot's key
        names = TABLES[name].required_names()
        return empty.select(key if c == "patient_id" else pl.col(c) for c in names)

    def not_provided(self) -> frozenset[str]:
        """The optional tables this data set does not hold (not the same as empty ones).

        >>> sorted(Dataset.from_frames(patients=empty_frame("patients")).not_provided())
        ['allergies', 'procedures']
        """
        return not_provided(self)

    def events(
        self, table: str, codes: Mapping[str, Collection[str]] | None = None
    ) -> pl.LazyFrame:
        """The rows of event table ``table`` whose (system, code) is in ``codes``, in normal form.

        ``codes`` maps a system to its wanted codes; ``None`` means every row (the only
        choice for ``encounters``, which has no codes). A snapshot answers from its code
        index (row ranges, no scan); here it is a filter on every stored spelling of the
        wanted codes (``E119`` and ``e11.9 `` for ``E11.9``), pushed into the file reader, and
        the rows read come back with their code in normal form.

            >>> import polars as pl
            >>> ds = Dataset.from_frames(patients=empty_frame("patients"),
            ...     diagnoses=pl.DataFrame({"patient_id": ["a"] * 3, "date": ["2020-01-01"] * 3,
            ...         "system": ["icd10", "icpc2", "icd10"], "code": ["E11", "T90", " e119"]}),
            ...     validate=False)
            >>> ds.events("diagnoses", {"icpc2": ["T90", "T89"]}).collect()["code"].to_list()
            ['T90']
            >>> ds.events("diagnoses", {"icd10": ["E11.9"]}).collect()["code"].to_list()
            ['E11.9']
        """
        frame = self.table(table)
        if getattr(self, table, None) is None:  # an optional table not provided
            return frame
        if codes is None:
            return self.normalised(table)
        if "code" not in TABLES[table].required_names():
            raise ValueError(f"{table} has no codes: call events({table!r}) without codes")
        mapping = self.code_forms.mapping(table) if self.code_forms is not None else None
        if mapping is not None and not mapping.is_empty():
            codes = spellings(mapping, codes)
        wanted = pl.lit(False)
        for system, values in codes.items():
            if values:
                wanted = wanted | (
                    (pl.col("system") == system) & pl.col("code").is_in(sorted(set(values)))
                )
        rows = frame.filter(wanted)
        if mapping is None or mapping.is_empty():
            return rows
        return rows.with_columns(recode(mapping))

    def normalised(self, table: str) -> pl.LazyFrame:
        """The whole table ``table`` with every code in normal form (see ``events``)."""
        frame = self.table(table)
        if self.code_forms is None or "code" not in TABLES[table].required_names():
            return frame
        if getattr(self, table, None) is None:
            return frame
        mapping = self.code_forms.mapping(table)
        return frame if mapping.is_empty() else frame.with_columns(recode(mapping))

    @classmethod
    def from_frames(
        cls,
        *,
        patients: FrameLike,
        diagnoses: FrameLike | None = None,
        prescriptions: FrameLike | None = None,
        observations: FrameLike | None = None,
        encounters: FrameLike | None = None,
        procedures: FrameLike | None = None,
        allergies: FrameLike | None = None,
        validate: bool = True,
    ) -> Dataset:
        """Build a data set from in-memory frames; missing event tables become empty frames,
        but an optional table (``procedures``, ``allergies``) left out is *not provided*.

        Frames go through the same conversions and (unless ``validate=False``) the same checks
        as files: dates may be ``pl.Date`` or ISO strings, integers any integer type.
        """
        given = {
            "patients": patients,
            "diagnoses": diagnoses,
            "prescriptions": prescriptions,
            "observations": observations,
            "encounters": encounters,
            "procedures": procedures,
            "allergies": allergies,
        }
        sources = {
            name: frame_source(name, frame if frame is not None else empty_frame(name))
            for name, frame in given.items()
            if frame is not None or not TABLES[name].optional
        }
        return _build(sources, None, validate=validate, label="in-memory frames")


def not_provided(dataset: object) -> frozenset[str]:
    """The optional tables ``dataset`` (a data set, or any object with one attribute per
    table) does not hold."""
    return frozenset(name for name in OPTIONAL_TABLES if getattr(dataset, name, None) is None)


def table_frames(dataset: object) -> dict[str, pl.LazyFrame]:
    """Every contract table of ``dataset`` as a lazy frame (an empty one for a table not
    provided: see :func:`not_provided`)."""
    out = {}
    for name in TABLES:
        frame = getattr(dataset, name, None)
        out[name] = empty_frame(name).lazy() if frame is None else frame
    return out


def empty_frame(table: str) -> pl.DataFrame:
    """An empty frame with the contract schema of ``table``.

    >>> empty_frame("encounters").columns
    ['patient_id', 'date', 'practice_id', 'kind']
    """
    return pl.DataFrame(schema=TABLES[table].schema())


def typed_frame(source: TableSource) -> pl.LazyFrame:
    """The contract columns of ``source`` in contract types (strict: bad values raise later).

    Raises :class:`DataError` for a missing required column or a stored type that cannot be
    converted; row-level problems are the validator's job.
    """
    table = TABLES[source.table]
    schema = source.frame.collect_schema()
    exprs = []
    for col in table.columns:
        if col.name not in schema:
            if not col.optional:
                raise DataError(f"{source.label}: column '{col.name}': missing column")
            exprs.append(pl.lit(col.default, dtype=col.dtype).alias(col.name))
            continue
        conv = conversion(col.name, schema[col.name], col.dtype, strict=True)
        if conv is None:
            stored = type_name(schema[col.name])
            raise DataError(
                f"{source.label}: column '{col.name}': wrong type: stored as {stored}, "
                f"expected {expected_text(col.dtype)}"
            )
        exprs.append(conv.value)
    return source.frame.select(exprs)


# The validation modules (and pyarrow.parquet, pyarrow.compute behind them) are imported when
# a directory is validated: a count from a snapshot never needs them.
def screen_errors(sources: dict[str, TableSource]) -> bool:
    """:func:`matcher.data.screen.screen_errors`, imported on first use."""
    from matcher.data.screen import screen_errors as screen

    return screen(sources)


def validate_sources(sources: dict[str, TableSource], **options: Any) -> Any:
    """:func:`matcher.data.validate.validate_sources`, imported on first use."""
    from matcher.data.validate import validate_sources as validate

    return validate(sources, **options)


def _build(
    sources: dict[str, TableSource],
    path: Path | None,
    *,
    validate: bool,
    label: str,
    defer: bool = False,
) -> Dataset:
    cached: dict[str, pl.DataFrame] | None = None
    before: validcache.Fingerprint | None = None
    if validate and path is not None:  # a directory that passed before, unchanged: no pass
        before, cached = validcache.lookup(path)
    pending: PendingValidation | None = None
    groups: dict[str, pl.DataFrame] = {}
    parts = {name: s.parts for name, s in sources.items() if s.fmt == "parquet"}
    if validate and cached is None and not defer:
        groups = _validate(sources, label)
    try:
        frames: dict[str, pl.LazyFrame | None] = {
            name: typed_frame(sources[name]) if name in sources else None for name in TABLES
        }
    except DataError:
        if validate and cached is None and defer:  # the validation's full report instead
            _validate(sources, label)
        raise
    forms = CodeForms({n: f for n, f in frames.items() if f is not None}, parquet_parts=parts)
    for table, mapping in (cached or {}).items():
        forms.prime_mapping(table, mapping)
    if validate and cached is None:

        def passed(groups: dict[str, pl.DataFrame]) -> None:
            for table, pairs in groups.items():  # the validator's distinct codes: no rescan
                forms.prime(table, pairs)
            if before is not None:
                validcache.remember(before, forms.known())

        if defer:  # evaluated meanwhile: the caller calls confirm_valid before releasing
            pending = PendingValidation(lambda: passed(_validate(sources, label)))
        else:
            passed(groups)
    return Dataset(
        path=path,
        **frames,
        code_forms=forms,
        absent_columns=absent_columns(sources),
        pending_validation=pending,
    )


def _validate(sources: dict[str, TableSource], label: str) -> dict[str, pl.DataFrame]:
    """Raise the :class:`DataError` of every error in ``sources``; return the distinct code
    pairs per table when the full pass ran (empty when the screen proved the data clean)."""
    if screen_errors(sources):
        return {}
    report = validate_sources(sources, label=label, plausibility=False)
    report.raise_for_errors()
    return report.code_groups


def raise_if_unreadable(dataset: object) -> None:
    """After a read failure while evaluating: raise the error that names the unreadable file.

    The screen (:mod:`matcher.data.screen`) proves a Parquet directory error-free from its
    dictionary pages and statistics, without decoding its data pages: a file damaged inside a
    data page, with an intact footer, only fails when the engine reads it. For a raw
    directory this runs the full validation, which reads every page and names the file, and
    forgets any record that the directory passed (:mod:`matcher.data.validcache`). It
    returns when the validation finds nothing, or for data that is not a raw directory: the
    caller then re-raises its own error.
    """
    path = getattr(dataset, "path", None)
    if not isinstance(dataset, Dataset) or path is None:
        return
    confirm_valid(dataset)  # a validation still running: its error, if it finds one
    sources, missing = locate_sources(path)
    if missing:
        return
    validcache.forget(path)
    validate_sources(sources, label=str(path), plausibility=False).raise_for_errors()


def absent_columns(sources: dict[str, TableSource]) -> frozenset[str]:
    """The optional columns (``table.column``) the sources do not hold.

    >>> from matcher.data.sources import frame_source
    >>> frame = pl.DataFrame({"patient_id": ["a"], "date": ["2024-01-01"], "system": ["loinc"],
    ...     "code": ["72166-2"], "value": [None], "unit": [None]})
    >>> sorted(absent_columns({"observations": frame_source("observations", frame)}))
    ['observations.value_code']
    """
    out = set()
    for name, source in sources.items():
        present = set(source.frame.collect_schema().names())
        out.update(f"{name}.{c}" for c in TABLES[name].optional_names() if c not in present)
    return frozenset(out)


def load_dataset(
    path: Path | str, *, validate: bool = True, defer_validation: bool = False
) -> Dataset:
    """Open the data directory ``path`` as a :class:`Dataset` (lazy scans, contract types).

    With ``validate`` (the default) every table is checked first and all problems are raised
    together in one :class:`DataError`, unless the directory passed before and no file
    changed since (see :mod:`matcher.data.validcache`); without it only the files and columns
    are checked and a bad value raises when the frame is collected. A Parquet directory is
    first screened from its dictionary pages and statistics (:mod:`matcher.data.screen`):
    the full pass, which names the offending rows, runs only when an error may be there.

    ``defer_validation``: that validation runs in a background thread while the caller
    evaluates, and the caller must call :func:`~matcher.data.deferred.confirm_valid` before
    releasing anything (see :mod:`matcher.data.deferred`).
    """
    from matcher.data.validate import Problem, ValidationReport

    path = Path(path)
    sources, missing = locate_sources(path)
    if missing:
        report = ValidationReport(str(path))
        report.errors.extend(Problem(m.label, m.message) for m in missing)
        if validate and sources:
            report.errors.extend(validate_sources(sources, label=str(path)).errors)
        report.raise_for_errors()
    defer = validate and defer_validation
    return _build(sources, path, validate=validate, label=str(path), defer=defer)


__all__ = [
    "Dataset",
    "empty_frame",
    "load_dataset",
    "not_provided",
    "table_frames",
    "typed_frame",
]
