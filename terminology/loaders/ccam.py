"""Loader for a delimited export of the CCAM (French common classification of medical acts).

The CCAM is published by the Assurance Maladie (the NX fixed-width distribution and spreadsheet
exports) and by the ANS terminology server. This loader reads any delimited text export
(``;``, tab or ``,``) holding a code column (``code``, ``code_ccam`` or ``CODE``) and a label
column (``texte``, ``libelle``, ``label`` or ``libelle_long``, any case). Rows repeat a code
once per activity and phase, and codes may carry them as a suffix (``BFGA004-1-0``): the first
label of each code is kept. The NX file itself is not read: export it to CSV first.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ccam_v78.csv"
    >>> _ = path.write_text("CODE;TEXTE\\nDEQP003-1-0;ECG\\nDEQP003-1-1;ECG bis\\n")
    >>> table, = load_ccam(path)
    >>> table.version, [(r.code, r.label_en, r.label_fr) for r in table.rows]
    ('78', [('DEQP003', None, 'ECG')])
"""

from __future__ import annotations

import re
from pathlib import Path

from terminology.errors import TerminologyError
from terminology.hierarchy import ConceptRow
from terminology.loaders._common import dict_rows, na, open_text
from terminology.store import LoadedTable
from terminology.systems import normalise_code, validate_code

LICENCE = "CCAM (Assurance Maladie / ATIH), Licence Ouverte"
CODE_COLUMNS = ("code", "code_ccam", "acte", "code_acte")
LABEL_COLUMNS = ("texte", "libelle", "libellé", "label", "libelle_long", "libelle_court")


def _find(columns: list[str], wanted: tuple[str, ...], path: Path, what: str) -> str:
    for name in wanted:
        for column in columns:
            if column.strip().lower() == name:
                return column
    raise TerminologyError(
        f"{path}: no {what} column (expected one of {', '.join(wanted)}; "
        f"found: {', '.join(columns) or 'none'})"
    )


def load_ccam(path: Path, version: str | None = None) -> list[LoadedTable]:
    """Read a CCAM export; the version defaults to the number after ``v`` in the file name."""
    if version is None:
        match = re.search(r"[vV]_?(\d+(?:\.\d+)?)", path.name)
        if not match:
            raise TerminologyError(
                f"{path}: cannot tell the CCAM version from the file name; pass --version"
            )
        version = match.group(1)
    text = open_text(path)
    header = text.split("\n", 1)[0]
    delimiter = ";" if ";" in header else ("\t" if "\t" in header else ",")
    columns = [c.strip() for c in header.strip().split(delimiter)]
    code_col = _find(columns, CODE_COLUMNS, path, "code")
    label_col = _find(columns, LABEL_COLUMNS, path, "label")
    labels: dict[str, str | None] = {}
    for line, row in dict_rows(text, path, (code_col, label_col), delimiter):
        raw = row[code_col].split("-")[0]
        if not raw:
            continue
        code = normalise_code("ccam", raw)
        error = validate_code("ccam", code)
        if error:
            raise TerminologyError(f"{path}: line {line}: column {code_col!r}: {error}")
        labels.setdefault(code, na(row[label_col]))
    if not labels:
        raise TerminologyError(f"{path}: no CCAM code found")
    rows = tuple(ConceptRow(code, None, None, label) for code, label in sorted(labels.items()))
    return [LoadedTable("ccam", version, rows, path.name, LICENCE, "ccam")]
