"""What ``p4dp data check`` reports about the codes and units of the data.

Every way the data can fail to match a criterion without an error is reported here, from the
distinct ``(system, code[, unit])`` groups the validator already computed (never row by row):

* codes written in another form than their system's normal form (``E119`` for ``E11.9``): they
  are matched in normal form, the warning only says how many (see :mod:`matcher.data.codenorm`);
* codes that are not valid in their system even in normal form, per system with examples:
  no criterion can match them;
* code systems terminology cannot resolve (no hierarchy, wildcard or label: only a code written
  exactly in a criteria file reaches them), with their share of the table's rows;
* observation ``(code, unit)`` pairs whose unit no conversion reaches: a comparison with a
  value in such a unit is unknown for the patient (to verify), never false.

    >>> import polars as pl
    >>> groups = pl.DataFrame({"system": ["icd10", "icd10", "read2"],
    ...     "code": ["E119", "ZZZ", "C10.."], "__rows": [8, 1, 3]})
    >>> import textwrap
    >>> for line in code_findings(groups, "diagnoses"):
    ...     print(textwrap.fill(line, 90, subsequent_indent="  "))
    8 rows with a code written in another form than its normal one (1 distinct code, e.g.
      'E119' → 'E11.9'); they are matched in normal form
    1 row with a code that is not a valid icd10 code (1 distinct code, e.g. 'ZZZ'); no
      criterion can match it
    3 rows (25.0 % of diagnoses) in code system 'read2', which terminology cannot resolve:
      only codes written exactly in a criteria file reach them (no hierarchy, wildcard or
      label)
"""

from __future__ import annotations

import polars as pl

from matcher.data.codenorm import normal_code, respelled
from terminology import units
from terminology.systems import EXACT_SYSTEMS, is_known, validate_code

EXAMPLES_SHOWN = 5
"""How many example codes (or units) a finding lists."""


def _rows(n: int) -> str:
    return f"{n:,} row{'s' if n != 1 else ''}"


def _distinct(n: int) -> str:
    return f"{n:,} distinct code{'s' if n != 1 else ''}"


def _by_pair(groups: pl.DataFrame) -> pl.DataFrame:
    """``system, code, __rows`` summed over any other grouping column (such as ``unit``)."""
    return (
        groups.filter(pl.col("system").is_not_null() & pl.col("code").is_not_null())
        .group_by("system", "code")
        .agg(pl.col("__rows").sum())
        .sort("system", "code")
    )


def respelled_finding(pairs: pl.DataFrame) -> str | None:
    """How many rows are written in another form than their normal one, or None."""
    mapping = respelled(pairs).join(pairs, on=["system", "code"])
    if mapping.is_empty():
        return None
    shown = ", ".join(f"{c!r} → {n!r}" for c, n in mapping.select("code", "normal").rows()[:3])
    return (
        f"{_rows(int(mapping['__rows'].sum()))} with a code written in another form than its "
        f"normal one ({_distinct(mapping.height)}, e.g. {shown}); they are matched in normal form"
    )


def invalid_findings(pairs: pl.DataFrame) -> list[str]:
    """Per known system: rows whose code is not valid even in normal form, with examples."""
    out = []
    for (system,), part in sorted(pairs.group_by("system"), key=lambda kv: str(kv[0][0])):
        if not is_known(system):
            continue
        bad = [
            (code, n)
            for code, n in part.select("code", "__rows").rows()
            if validate_code(system, normal_code(system, code)) is not None
        ]
        if not bad:
            continue
        rows = sum(n for _, n in bad)
        examples = ", ".join(repr(c) for c, _ in bad[:EXAMPLES_SHOWN])
        out.append(
            f"{_rows(rows)} with a code that is not a valid {system} code ({_distinct(len(bad))},"
            f" e.g. {examples}); no criterion can match {'them' if rows != 1 else 'it'}"
        )
    return out


def unresolved_findings(pairs: pl.DataFrame, table: str) -> list[str]:
    """Code systems of the table that terminology cannot resolve, with their share of rows."""
    total = int(pairs["__rows"].sum()) if pairs.height else 0
    per = pairs.group_by("system").agg(pl.col("__rows").sum()).sort("__rows", descending=True)
    out = []
    for system, n in per.rows():
        if is_known(system) and system not in EXACT_SYSTEMS:  # exact systems: format only
            continue
        share = 100.0 * n / total if total else 0.0
        out.append(
            f"{_rows(n)} ({share:.1f} % of {table}) in code system {system!r}, which terminology "
            "cannot resolve: only codes written exactly in a criteria file reach them (no "
            "hierarchy, wildcard or label)"
        )
    return out


def _usual_units(code: str, rows_by_unit: list[tuple[str, int]]) -> tuple[str, ...]:
    """The units ``code`` is compared in: terminology's usual ones, else the unit most of its
    rows use in the data (ties: the first in string order)."""
    usual = units.units_for_loinc(code)
    if usual:
        return usual
    top = max(n for _, n in rows_by_unit)
    return (min(u for u, n in rows_by_unit if n == top),)


def unit_findings(groups: pl.DataFrame) -> list[str]:
    """Observation ``(LOINC code, unit)`` pairs whose unit no conversion reaches.

    ``groups`` holds ``system, code, unit, __rows``. A LOINC code is compared in its usual
    unit (terminology's; for a code terminology has none for, the unit most of its rows use);
    a pair is reported when its unit converts to none of them, with its row count.

        >>> g = pl.DataFrame({"system": ["loinc"] * 3, "code": ["2823-3"] * 2 + ["1-8"],
        ...     "unit": ["mmol/L", "{odd}", "fL"], "__rows": [9, 2, 4]})
        >>> unit_findings(g)[0].split(" (expected")[0]
        "2 rows of loinc 2823-3 in unit '{odd}', which no conversion reaches"
    """
    if "unit" not in groups.columns:
        return []
    with_unit = groups.filter(
        (pl.col("system") == "loinc") & pl.col("code").is_not_null() & pl.col("unit").is_not_null()
    )
    normal = [normal_code("loinc", c) for c in with_unit["code"].to_list()]  # distinct groups
    with_unit = with_unit.with_columns(pl.Series("code", normal, dtype=pl.String))
    pairs = with_unit.group_by("code", "unit").agg(pl.col("__rows").sum()).sort("code", "unit")
    out = []
    for (code,), part in pairs.group_by("code", maintain_order=True):
        rows_by_unit = part.select("unit", "__rows").rows()
        usual = _usual_units(str(code), rows_by_unit)
        for unit, n in rows_by_unit:
            if any(units.compatible(unit, u, analyte=str(code)) for u in usual):
                continue
            out.append(
                f"{_rows(n)} of loinc {code} in unit {unit!r}, which no conversion reaches "
                f"(expected {' or '.join(usual)}): comparisons with these values are unknown "
                "(to verify)"
            )
    return out


def code_findings(groups: pl.DataFrame, table: str) -> list[str]:
    """Every finding above for one event table's ``(system, code[, unit])`` groups."""
    return [message for _, message in classified_findings(groups, table)]


def classified_findings(groups: pl.DataFrame, table: str) -> list[tuple[str, str]]:
    """:func:`code_findings` with each one's kind: ``respelled``, ``invalid``, ``unresolved``
    or ``unit`` (``p4dp data check --strict`` refuses the data for ``invalid`` ones)."""
    if not {"system", "code", "__rows"} <= set(groups.columns):
        return []
    pairs = _by_pair(groups)
    out = []
    respelled_line = respelled_finding(pairs)
    if respelled_line:
        out.append(("respelled", respelled_line))
    out += [("invalid", m) for m in invalid_findings(pairs)]
    out += [("unresolved", m) for m in unresolved_findings(pairs, table)]
    if table == "observations":
        out += [("unit", m) for m in unit_findings(groups)]
    return out


__all__ = [
    "classified_findings",
    "code_findings",
    "invalid_findings",
    "respelled_finding",
    "unit_findings",
    "unresolved_findings",
]
