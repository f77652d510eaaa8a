"""The import report: for every OMOP table read, rows in, rows converted, rows not converted
(by reason), values adjusted, and for every contract table the rows written.

The invariant ``rows_in == converted + sum(unmapped.values())`` holds for every source table:
no row disappears without a reason. Rows *derived* through the vocabulary (an ATC code found
for an RxNorm drug, an ICD-10 code for a SNOMED diagnosis) are extra output rows, counted
apart in ``derived``.

    >>> r = ImportReport()
    >>> t = r.table("condition_occurrence")
    >>> t.rows_in, t.converted = 10, 8
    >>> t.add_unmapped("person_not_found", 2)
    >>> t.balanced()
    True
    >>> r.to_dict()["tables"]["condition_occurrence"]["unmapped"]
    {'person_not_found': 2}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl


@dataclass
class TableReport:
    """Counts for one OMOP source table."""

    name: str
    file: str | None = None
    rows_in: int = 0
    converted: int = 0
    unmapped: dict[str, int] = field(default_factory=dict)
    adjusted: dict[str, int] = field(default_factory=dict)
    """Rows kept but changed (a unit converted, an out-of-range month set to null)."""
    derived: dict[str, int] = field(default_factory=dict)
    """Extra output rows found through the vocabulary, e.g. ``{"atc": 12}``."""

    def add_unmapped(self, reason: str, n: int) -> None:
        if n:
            self.unmapped[reason] = self.unmapped.get(reason, 0) + int(n)

    def add_adjusted(self, what: str, n: int) -> None:
        if n:
            self.adjusted[what] = self.adjusted.get(what, 0) + int(n)

    def add_derived(self, system: str, n: int) -> None:
        if n:
            self.derived[system] = self.derived.get(system, 0) + int(n)

    def count_reasons(self, frame: pl.DataFrame, column: str = "_reason") -> None:
        """Add ``rows_in``/``converted``/``unmapped`` from a frame with a reason column.

        Rows whose reason is null were converted; the others are counted by reason.
        """
        self.rows_in += frame.height
        counts = frame.group_by(column).len()
        for reason, n in counts.iter_rows():
            if reason is None:
                self.converted += n
            else:
                self.add_unmapped(reason, n)

    @property
    def unmapped_total(self) -> int:
        return sum(self.unmapped.values())

    def balanced(self) -> bool:
        return self.rows_in == self.converted + self.unmapped_total

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "rows_in": self.rows_in,
            "converted": self.converted,
            "unmapped": dict(sorted(self.unmapped.items())),
            "adjusted": dict(sorted(self.adjusted.items())),
            "derived": dict(sorted(self.derived.items())),
        }


@dataclass
class ImportReport:
    """Everything an OMOP import did, in counts only (no patient-level data)."""

    source: str = ""
    extraction_date: str | None = None
    extraction_date_origin: str = "unknown"
    tables: dict[str, TableReport] = field(default_factory=dict)
    outputs: dict[str, int] = field(default_factory=dict)
    """Rows written per contract table."""
    absent: list[str] = field(default_factory=list)
    """Optional OMOP tables not found in the export."""
    notes: list[str] = field(default_factory=list)

    def table(self, name: str) -> TableReport:
        if name not in self.tables:
            self.tables[name] = TableReport(name)
        return self.tables[name]

    def balanced(self) -> bool:
        return all(t.balanced() for t in self.tables.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "extraction_date": self.extraction_date,
            "extraction_date_origin": self.extraction_date_origin,
            "tables": {name: t.to_dict() for name, t in self.tables.items()},
            "outputs": dict(self.outputs),
            "absent_tables": list(self.absent),
            "notes": list(self.notes),
        }

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    def render(self) -> str:
        """A plain-text summary for the terminal."""
        lines = [f"OMOP import of {self.source}"]
        date = self.extraction_date or "unknown"
        lines.append(f"  extraction date: {date} ({self.extraction_date_origin})")
        lines.append(f"  {'table':<22}{'rows in':>10}{'converted':>11}{'unmapped':>10}")
        for name, t in self.tables.items():
            lines.append(f"  {name:<22}{t.rows_in:>10,}{t.converted:>11,}{t.unmapped_total:>10,}")
            for reason, n in sorted(t.unmapped.items()):
                lines.append(f"      unmapped {reason}: {n:,}")
            for what, n in sorted(t.adjusted.items()):
                lines.append(f"      adjusted {what}: {n:,}")
            for system, n in sorted(t.derived.items()):
                lines.append(f"      derived {system} rows: {n:,}")
        lines.append("  written: " + ", ".join(f"{k} {v:,}" for k, v in self.outputs.items()))
        if self.absent:
            lines.append("  absent tables: " + ", ".join(self.absent))
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)
