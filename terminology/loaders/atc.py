"""Loader for the WHO ATC/DDD index as a CSV table (``atc_code, atc_name, ddd, uom, adm_r, note``).

Level-5 codes repeat once per DDD and route; the first name is kept, and every DDD with its
unit and route is kept too (``ddd.csv`` in the store, see :mod:`terminology.ddd`). Missing
values are the string ``NA``. The WHOCC table is copyrighted and is not shipped with p4dp.
"""

from __future__ import annotations

from pathlib import Path

from terminology.errors import TerminologyError
from terminology.hierarchy import ConceptRow
from terminology.loaders._common import dict_rows, na, open_text, version_from_name
from terminology.store import LoadedTable
from terminology.systems import atc_parent, normalise_code, validate_code

LICENCE = "WHO Collaborating Centre for Drug Statistics Methodology (ATC/DDD); not redistributable"


def load_atc(path: Path, version: str | None = None) -> list[LoadedTable]:
    """Read a WHO ATC/DDD CSV; the version defaults to the year in the file name."""
    version = version or version_from_name(path, "ATC")
    names: dict[str, str | None] = {}
    ddds: list[tuple[str, float, str, str]] = []
    for line, row in dict_rows(open_text(path), path, ("atc_code", "atc_name")):
        code = normalise_code("atc", row["atc_code"])
        error = validate_code("atc", code)
        if error:
            raise TerminologyError(f"{path}: line {line}: column 'atc_code': {error}")
        names.setdefault(code, na(row["atc_name"]))
        ddd = _ddd_row(code, row, path, line)
        if ddd is not None:
            ddds.append(ddd)
    rows = tuple(ConceptRow(code, atc_parent(code), name, None) for code, name in names.items())
    return [LoadedTable("atc", version, rows, path.name, LICENCE, "atc", ddd=tuple(ddds))]


def _ddd_row(code: str, row: dict, path: Path, line: int) -> tuple[str, float, str, str] | None:
    """The (code, amount, unit, route) of a row that gives a DDD (issue 18), else None."""
    amount, unit = na(row.get("ddd") or ""), na(row.get("uom") or "")
    if amount is None or unit is None:
        return None
    try:
        value = float(amount)
    except ValueError:
        raise TerminologyError(
            f"{path}: line {line}: column 'ddd': {amount!r} is not a number"
        ) from None
    if not value > 0 or value == float("inf"):
        raise TerminologyError(f"{path}: line {line}: column 'ddd': {amount!r} is not positive")
    return code, value, unit.strip(), (na(row.get("adm_r") or "") or "").strip()
