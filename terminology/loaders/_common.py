"""Helpers shared by the loaders: opening text files, checking columns, versions from names."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from terminology.errors import TerminologyError


def open_text(path: Path, encodings: Sequence[str] = ("utf-8-sig", "cp1252")) -> str:
    """The file's text, trying each encoding in turn (official files are UTF-8 or Windows-1252)."""
    if not path.is_file():
        raise TerminologyError(f"{path}: no such file")
    data = path.read_bytes()
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TerminologyError(f"{path}: cannot decode the file as {' or '.join(encodings)}")


def dict_rows(
    text: str, path: Path, required: Sequence[str], delimiter: str | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) pairs of a delimited table with the ``required`` columns.

    The delimiter is the one given, else a tab when the header holds one, else a comma.
    """
    header = text.split("\n", 1)[0]
    delim = delimiter or ("\t" if "\t" in header else ",")
    reader = csv.DictReader(io.StringIO(text), delimiter=delim)
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in required if c not in columns]
    if missing:
        raise TerminologyError(
            f"{path}: missing column(s) {', '.join(repr(c) for c in missing)} "
            f"(found: {', '.join(columns) or 'none'})"
        )
    reader.fieldnames = columns
    for number, row in enumerate(reader, start=2):
        yield number, {k: (v or "").strip() for k, v in row.items() if k is not None}


def column_rows(text: str, path: Path, required: Sequence[str]) -> Iterator[tuple[str, ...]]:
    """The ``required`` columns of each row, in that order (fast path for large tables)."""
    header = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text), delimiter="\t" if "\t" in header else ",")
    columns = [c.strip() for c in next(reader, [])]
    missing = [c for c in required if c not in columns]
    if missing:
        raise TerminologyError(
            f"{path}: missing column(s) {', '.join(repr(c) for c in missing)} "
            f"(found: {', '.join(columns) or 'none'})"
        )
    index = [columns.index(c) for c in required]
    width = max(index) + 1
    for row in reader:
        if len(row) >= width:
            yield tuple(row[i] for i in index)


def version_from_name(path: Path, kind: str, pattern: str = r"(?<!\d)(\d{4})(?!\d)") -> str:
    """A version read from the file name (``who_atc_ddd_2026-04-25.csv`` → ``2026``)."""
    match = re.search(pattern, path.name)
    if not match:
        raise TerminologyError(
            f"{path}: cannot tell the {kind} version from the file name; pass --version"
        )
    return match.group(1)


def na(value: str | None) -> str | None:
    """Empty strings and the literal 'NA' become None."""
    if value is None:
        return None
    value = value.strip()
    return None if value in ("", "NA", "N/A") else value
