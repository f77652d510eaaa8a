"""Find and read the tables of an OMOP CDM export (a directory or a ``.zip`` file).

File names are matched case-insensitively (``PERSON.csv``, ``person.csv``,
``person.parquet``); macOS resource forks (``__MACOSX/``, ``._*``) are ignored. Every column
is read as text so that a CSV's type guess never silently turns a bad value into a null;
the converters cast and count what does not parse.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> header = "person_id,gender_concept_id,year_of_birth\\n"
    >>> _ = (d / "PERSON.csv").write_text(header + "1,8507,1990\\n")
    >>> with open_source(d) as src:
    ...     src.has("person"), src.read("person").collect().row(0)
    (True, ('1', '8507', '1990'))
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from matcher.errors import DataError

SUFFIXES: tuple[str, ...] = (".csv", ".parquet")

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "person": ("person_id", "gender_concept_id", "year_of_birth"),
    "observation_period": (
        "person_id",
        "observation_period_start_date",
        "observation_period_end_date",
    ),
    "condition_occurrence": ("person_id", "condition_concept_id", "condition_start_date"),
    "drug_exposure": ("person_id", "drug_concept_id", "drug_exposure_start_date"),
    "measurement": ("person_id", "measurement_concept_id", "measurement_date"),
    "observation": ("person_id", "observation_concept_id", "observation_date"),
    "visit_occurrence": ("person_id", "visit_concept_id", "visit_start_date"),
    "procedure_occurrence": ("person_id", "procedure_concept_id", "procedure_date"),
    "death": ("person_id", "death_date"),
    "care_site": ("care_site_id",),
    "provider": ("provider_id",),
    "location": ("location_id",),
    "concept": ("concept_id", "vocabulary_id", "concept_code"),
    "concept_relationship": ("concept_id_1", "concept_id_2", "relationship_id"),
    "concept_ancestor": ("ancestor_concept_id", "descendant_concept_id"),
    "drug_strength": ("drug_concept_id",),  # issue 18: doses
    "cdm_source": (),
}
"""The tables the importer reads and the columns it cannot do without."""


@dataclass
class OmopSource:
    """The OMOP tables found in one export, keyed by lower-case table name."""

    root: Path
    """The directory actually read (the extraction folder for a zip)."""
    label: str
    """How to name the input in messages (the path the user gave)."""
    files: dict[str, Path] = field(default_factory=dict)

    def has(self, table: str) -> bool:
        return table in self.files

    def file_name(self, table: str) -> str:
        """The file name as found in the export, for messages (``PERSON.csv``)."""
        return self.files[table].name

    def columns(self, table: str) -> list[str]:
        """Lower-case column names of ``table``."""
        return self.read(table).collect_schema().names()

    def read(self, table: str) -> pl.LazyFrame:
        """``table`` as a lazy frame of text columns with lower-case names.

        Raises :class:`DataError` when a required column is missing.
        """
        path = self.files[table]
        if path.suffix.lower() == ".csv":
            lf = pl.scan_csv(path, infer_schema=False)
        else:
            lf = pl.scan_parquet(path)
        try:
            names = lf.collect_schema().names()
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise DataError(f"{self.label}: {path.name}: cannot be read ({exc})") from exc
        lf = lf.rename({n: n.strip().lower() for n in names})
        lower = {n.strip().lower() for n in names}
        missing = [c for c in REQUIRED_COLUMNS.get(table, ()) if c not in lower]
        if missing:
            cols = ", ".join(repr(c) for c in missing)
            raise DataError(f"{self.label}: {path.name}: missing required column(s) {cols}")
        # Text everywhere; empty strings mean "absent" in OMOP CSV exports.
        return lf.with_columns(pl.all().cast(pl.String).str.strip_chars().replace("", None))


def _index_files(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part == "__MACOSX" or part.startswith("._") for part in rel.parts):
            continue
        if not path.is_file() or path.suffix.lower() not in SUFFIXES:
            continue
        table = path.stem.lower()
        if table not in REQUIRED_COLUMNS:
            continue
        if table in found:
            raise DataError(
                f"{root}: table '{table}' is present twice ({found[table].name}, {path.name})"
            )
        found[table] = path
    return found


@contextlib.contextmanager
def open_source(path: Path | str) -> Iterator[OmopSource]:
    """Open an OMOP export directory or zip file; a zip is unpacked into a temporary folder.

    Raises :class:`DataError` when the input is absent, unreadable, or has no person table.
    """
    path = Path(path)
    label = str(path)
    tmp: Path | None = None
    try:
        if path.is_file() and path.suffix.lower() == ".zip":
            tmp = Path(tempfile.mkdtemp(prefix="p4dp-omop-"))
            try:
                with zipfile.ZipFile(path) as zf:
                    members = [
                        m
                        for m in zf.namelist()
                        if not m.startswith("__MACOSX/")
                        and Path(m).suffix.lower() in SUFFIXES
                        and Path(m).stem.lower() in REQUIRED_COLUMNS
                    ]
                    for member in members:
                        if Path(member).is_absolute() or ".." in Path(member).parts:
                            raise DataError(f"{label}: unsafe member path {member!r} in zip")
                    zf.extractall(tmp, members=members)
            except zipfile.BadZipFile as exc:
                raise DataError(f"{label}: not a readable zip file ({exc})") from exc
            root = tmp
        elif path.is_dir():
            root = path
        elif path.exists():
            raise DataError(f"{label}: expected a directory or a .zip file of OMOP tables")
        else:
            raise DataError(f"{label}: no such file or directory")
        source = OmopSource(root=root, label=label, files=_index_files(root))
        if not source.has("person"):
            raise DataError(
                f"{label}: no person table found (expected PERSON.csv, person.csv or "
                "person.parquet)"
            )
        yield source
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
