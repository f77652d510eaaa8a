"""Finding the files of a data directory and opening them as raw lazy frames.

A data directory holds one file per contract table: ``<table>.parquet``, ``<table>.csv`` or a
directory ``<table>/`` of Parquet parts (``*.parquet``, read in name order). Nothing is read
here beyond the schema: each table becomes a :class:`TableSource`, a lazy scan of the data as
stored (CSV columns are all read as strings), which :mod:`matcher.data.convert` turns into the
contract types.

    >>> import polars as pl
    >>> src = frame_source("patients", pl.DataFrame({"patient_id": ["p1"]}))
    >>> src.label
    'patients (in-memory frame)'
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from matcher.data.schema import TABLES


@dataclass(frozen=True)
class TableSource:
    """One contract table as stored: a lazy scan plus what is needed to name rows in messages."""

    table: str
    label: str
    """How messages name the file: ``patients.csv``, ``patients/`` or an in-memory frame."""
    frame: pl.LazyFrame
    fmt: str
    """``parquet``, ``csv`` or ``frame``."""
    parts: tuple[Path, ...] = ()
    """The Parquet part files of a directory source, in reading order."""
    _offsets: list[int] = field(default_factory=list, repr=False, compare=False)

    def describe_rows(self, rows: list[int]) -> str:
        """Render 1-based global row numbers; rows of a part directory name their part.

        >>> import polars as pl
        >>> frame_source("patients", pl.DataFrame()).describe_rows([1, 4])
        '1, 4'
        """
        if len(self.parts) <= 1:
            return ", ".join(str(r) for r in rows)
        if not self._offsets:
            starts, total = [], 0
            for part in self.parts:
                starts.append(total)
                total += pl.scan_parquet(part).select(pl.len()).collect().item()
            self._offsets.extend(starts)
        out = []
        for r in rows:
            i = bisect.bisect_right(self._offsets, r - 1) - 1
            out.append(f"{self.parts[i].name}:{r - self._offsets[i]}")
        return ", ".join(out)


@dataclass(frozen=True)
class LocateProblem:
    """A table whose file is missing, ambiguous or unreadable."""

    table: str
    label: str
    message: str


def _candidates(directory: Path, table: str) -> list[Path]:
    found = []
    for candidate in (directory / f"{table}.parquet", directory / f"{table}.csv"):
        if candidate.is_file():
            found.append(candidate)
    part_dir = directory / table
    if part_dir.is_dir():
        found.append(part_dir)
    return found


def _open(table: str, path: Path) -> TableSource:
    if path.is_dir():
        parts = tuple(sorted(p for p in path.glob("*.parquet") if p.is_file()))
        if not parts:
            raise _Unreadable(f"{table}/: directory holds no .parquet parts")
        frame = pl.scan_parquet(list(parts), missing_columns="insert", extra_columns="ignore")
        return TableSource(table, f"{table}/", frame, "parquet", parts)
    if path.suffix == ".parquet":
        return TableSource(table, path.name, pl.scan_parquet(path), "parquet", (path,))
    frame = pl.scan_csv(path, infer_schema=False, try_parse_dates=False)
    return TableSource(table, path.name, frame, "csv", (path,))


class _Unreadable(Exception):
    pass


def locate_sources(directory: Path) -> tuple[dict[str, TableSource], list[LocateProblem]]:
    """Open every contract table of ``directory``; collect the tables that cannot be opened.

    A missing table (but an optional one, which is then simply absent from the result), a
    table present in two formats, and a file whose schema cannot be read are problems; the
    caller decides whether they are fatal.
    """
    sources: dict[str, TableSource] = {}
    problems: list[LocateProblem] = []
    if not directory.is_dir():
        problems.append(LocateProblem("", str(directory), "not a directory"))
        return sources, problems
    for table in TABLES:
        found = _candidates(directory, table)
        if not found and TABLES[table].optional:
            continue  # not provided: its criteria are unknown (see schema.Table.optional)
        if not found:
            problems.append(
                LocateProblem(
                    table,
                    table,
                    f"missing file: no {table}.parquet, {table}.csv or {table}/ "
                    f"directory of .parquet parts in {directory}",
                )
            )
            continue
        if len(found) > 1:
            names = ", ".join(p.name + ("/" if p.is_dir() else "") for p in found)
            problems.append(
                LocateProblem(table, table, f"ambiguous: {names} all present; keep one")
            )
            continue
        try:
            source = _open(table, found[0])
            source.frame.collect_schema()
        except _Unreadable as exc:
            problems.append(LocateProblem(table, f"{table}/", str(exc).split(": ", 1)[1]))
            continue
        except Exception as exc:  # polars raises several types for corrupt files
            kind = "Parquet" if found[0].suffix != ".csv" else "CSV"
            message = f"cannot be read as {kind} ({type(exc).__name__}); is the file complete?"
            if kind == "CSV":
                from matcher.data.csvcheck import diagnose

                message = "; ".join(diagnose(found[0])) or message
            problems.append(LocateProblem(table, found[0].name, message))
            continue
        sources[table] = source
    return sources, problems


def frame_source(table: str, frame: pl.DataFrame | pl.LazyFrame) -> TableSource:
    """Wrap an in-memory frame as a source, so it is converted and validated like a file."""
    return TableSource(table, f"{table} (in-memory frame)", frame.lazy(), "frame")
