"""Checking a data directory against the contract, reporting every problem in one pass.

Each table is read once for its checks: all row-level checks are sums of boolean columns in one
aggregate (grouped by ``system, code`` for event tables, which also yields the summary and the
code-format warnings), and event rows are matched to ``patients`` with ``is_in`` against the
set of known pseudonyms (a hash set built once, streaming-friendly). Only when a check fails is
the table scanned again, to find its first rows.

Messages name the file, the column, the number of rows and the first row numbers (data rows
counted from 1, the header excluded: row N of a CSV file is on line N + 1). They never show a
pseudonym or a value; code-format warnings show example codes, which are not patient data.

    >>> import polars as pl
    >>> from matcher.data.sources import frame_source
    >>> report = validate_sources({"patients": frame_source("patients", pl.DataFrame(
    ...     {"patient_id": ["a", "a"], "sex": ["F", "X"]}))}, label="memory")
    >>> print(report.errors[1])
    patients (in-memory frame): column 'birth_year': missing column
    >>> [str(e) for e in report.errors if "sex" in str(e)]
    ["patients (in-memory frame): column 'sex': 1 row with a sex outside F, M, U (row 2)"]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from matcher.data.codecheck import classified_findings
from matcher.data.convert import conversion, expected_text, type_name
from matcher.data.csvcheck import diagnose as csv_diagnose
from matcher.data.csvcheck import layout_problem
from matcher.data.doses import dose_checks
from matcher.data.extract_date import EXTRACT_FILE, read_extract
from matcher.data.grouped import screened_groups
from matcher.data.plausibility import Plausibility, centre_problems
from matcher.data.schema import ALLERGY_KINDS, SEX_VALUES, TABLES
from matcher.data.sources import TableSource, locate_sources
from matcher.data.summary import (
    DataSummary,
    TableSummary,
    end_of_data,
    event_aggregates,
    patient_aggregates,
    table_from_groups,
)
from matcher.errors import DataError

ROWS_SHOWN = 5
"""How many offending row numbers a message lists."""


@dataclass(frozen=True)
class Problem:
    """One problem: where (file, column), what, and the first offending rows."""

    file: str
    message: str
    column: str | None = None
    rows: str = ""

    def __str__(self) -> str:
        where = self.file + (f": column '{self.column}'" if self.column else "")
        return f"{where}: {self.message}" + (f" ({self.rows})" if self.rows else "")


@dataclass
class ValidationReport:
    """Every error and warning found in a data set, and its summary when it is valid."""

    source: str
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    summary: DataSummary | None = None
    code_groups: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)
    """Per event table, the distinct ``(system, code[, unit])`` groups with ``__rows``."""
    invalid_codes: list[Problem] = field(default_factory=list)
    """The warnings about codes not valid in their system (``data check --strict`` refuses)."""

    @property
    def ok(self) -> bool:
        return not self.errors

    def error_text(self) -> str:
        """All errors, one per line, after a header line."""
        n = len(self.errors)
        head = f"{self.source}: {n} problem{'s' if n != 1 else ''} found, data refused:"
        return "\n".join([head, *(f"  - {e}" for e in self.errors)])

    def raise_for_errors(self) -> None:
        """Raise :class:`DataError` listing every error, if there is any."""
        if self.errors:
            raise DataError(self.error_text())


@dataclass(frozen=True)
class _Check:
    column: str
    expr: pl.Expr
    phrase: str
    warning: bool = False


@dataclass
class _Prepared:
    source: TableSource
    exprs: list[pl.Expr]
    usable: set[str]
    checks: list[_Check]

    @property
    def typed(self) -> pl.LazyFrame:
        """Converted columns and bad-value flags (what the checks read)."""
        return self.source.frame.select(self.exprs)

    @property
    def numbered(self) -> pl.LazyFrame:
        """:attr:`typed` with ``__row``, the 1-based row number (only to name offending rows)."""
        return self.source.frame.with_row_index("__row", offset=1).select(
            pl.col("__row"), *self.exprs
        )


_BAD_PHRASES = {
    "integers": "with a value that is not an integer in range",
    "numbers": "with a value that is not a number",
    "dates YYYY-MM-DD": "with an unparseable date (expected YYYY-MM-DD)",
    "booleans (true/false)": "with a value that is not a boolean (true/false)",
}


def _rows_text(source: TableSource, count: int, rows: list[int]) -> str:
    listed = source.describe_rows(rows)
    if count > len(rows):
        return f"first rows {listed}"
    return f"row{'s' if len(rows) != 1 else ''} {listed}"


def _count_text(count: int, phrase: str) -> str:
    return f"{count:,} row{'s' if count != 1 else ''} {phrase}"


def _prepare(
    source: TableSource, errors: list[Problem], plaus: Plausibility, *, warn: bool = True
) -> _Prepared:
    """Convert the contract columns (non-strict) and list the row checks of one table."""
    table = TABLES[source.table]
    schema = source.frame.collect_schema()
    exprs: list[pl.Expr] = []
    checks: list[_Check] = []
    usable: set[str] = set()
    for col in table.columns:
        if col.name not in schema:
            if col.optional:
                exprs.append(pl.lit(col.default, dtype=col.dtype).alias(col.name))
                usable.add(col.name)
            else:
                errors.append(Problem(source.label, "missing column", col.name))
            continue
        conv = conversion(col.name, schema[col.name], col.dtype, strict=False)
        if conv is None:
            stored = type_name(schema[col.name])
            msg = f"wrong type: stored as {stored}, expected {expected_text(col.dtype)}"
            errors.append(Problem(source.label, msg, col.name))
            continue
        usable.add(col.name)
        exprs.append(conv.value)
        not_bad: pl.Expr = pl.lit(True)
        if conv.bad is not None:
            flag = f"__bad__{col.name}"
            exprs.append(conv.bad.alias(flag))
            checks.append(_Check(col.name, pl.col(flag), _BAD_PHRASES[conv.expected]))
            not_bad = ~pl.col(flag)
        if conv.nonfinite is not None:  # NaN and infinity: read as missing, and said so
            flag = f"__nonfinite__{col.name}"
            exprs.append(conv.nonfinite.alias(flag))
            phrase = "with a value that is NaN or infinite, read as missing"
            checks.append(_Check(col.name, pl.col(flag).fill_null(False), phrase, warning=True))
            not_bad = not_bad & ~pl.col(flag).fill_null(False)
        if not col.nullable:
            phrase = "with an empty (null) value in a required column"
            checks.append(_Check(col.name, pl.col(col.name).is_null() & not_bad, phrase))
    if source.table == "prescriptions":  # issue 18: drugs
        checks += [_Check(*c) for c in dose_checks(usable)]
    if source.table == "allergies" and "kind" in usable:  # issue 18: records
        kind = pl.col("kind")
        phrase = f"with a kind outside {', '.join(ALLERGY_KINDS)} (empty: not recorded)"
        checks.append(_Check("kind", kind.is_not_null() & ~kind.is_in(ALLERGY_KINDS), phrase))
    if source.table == "patients":
        checks += _patient_checks(usable)
        extra = plaus.patient_checks(usable) if warn else []
    else:
        extra = plaus.event_checks(source.table, usable) if warn else []
    checks += [_Check(c.column, c.expr, c.phrase, warning=True) for c in extra]
    return _Prepared(source, exprs, usable, checks)


def _patient_checks(usable: set[str]) -> list[_Check]:
    checks = []
    if "sex" in usable:
        sex = pl.col("sex")
        allowed = ", ".join(SEX_VALUES)
        phrase = f"with a sex outside {allowed}"
        checks.append(_Check("sex", sex.is_not_null() & ~sex.is_in(SEX_VALUES), phrase))
    if "birth_month" in usable:
        month = pl.col("birth_month")
        phrase = "with a birth_month outside 1-12"
        checks.append(_Check("birth_month", ~month.is_between(1, 12), phrase))
    if {"registered_from", "registered_to"} <= usable:
        before = pl.col("registered_to") < pl.col("registered_from")
        checks.append(_Check("registered_to", before, "with registered_to before registered_from"))
    return checks


def _first_rows(frame: pl.LazyFrame, expr: pl.Expr) -> list[int]:
    rows = frame.filter(expr).select("__row").sort("__row").head(ROWS_SHOWN).collect()
    return rows["__row"].to_list()


def _report_checks(
    p: _Prepared, counts: list[int], errors: list[Problem], warnings: list[Problem]
) -> None:
    for check, count in zip(p.checks, counts, strict=True):
        if count:
            rows = _first_rows(p.numbered, check.expr)
            text = _count_text(count, check.phrase)
            found = Problem(p.source.label, text, check.column, _rows_text(p.source, count, rows))
            (warnings if check.warning else errors).append(found)


def _check_patients(
    p: _Prepared, errors: list[Problem], warnings: list[Problem], *, stats: bool = True
) -> dict[str, int] | None:
    """Run the patients checks; return the patient aggregates when they could be computed
    (and ``stats`` asks for them)."""
    aggs = [c.expr.sum().alias(f"__check{i}") for i, c in enumerate(p.checks)]
    with_stats = stats and {"opted_out", "centre_id", "practice_id"} <= p.usable
    if with_stats:
        aggs += patient_aggregates()
    if "patient_id" in p.usable:  # duplicates looked for only when distinct < non-null
        pid = pl.col("patient_id")
        aggs += [pid.drop_nulls().n_unique().alias("__ids"), pid.count().alias("__with_id")]
    result = p.typed.select(aggs).collect(engine="streaming")
    counts = [int(result[f"__check{i}"][0] or 0) for i in range(len(p.checks))]
    _report_checks(p, counts, errors, warnings)
    if "patient_id" in p.usable and result["__ids"][0] < result["__with_id"][0]:
        pid = pl.col("patient_id")
        dup = (
            p.typed.filter(pid.is_not_null())
            .group_by("patient_id")
            .agg(pl.len().alias("n"))
            .filter(pl.col("n") > 1)
            .select(pl.col("n").sum())
            .collect(engine="streaming")
        )
        count = int(dup["n"][0] or 0)
        if count:
            rows = _first_rows(p.numbered, pid.is_not_null() & pid.is_duplicated())
            phrase = "with a patient_id that another row also has (duplicate pseudonyms)"
            rows_text = _rows_text(p.source, count, rows)
            errors.append(
                Problem(p.source.label, _count_text(count, phrase), "patient_id", rows_text)
            )
    if not with_stats:
        return None
    return {k: int(result[f"__{k}"][0]) for k in ("rows", "opted_out", "centres", "practices")}


def _check_events(
    p: _Prepared,
    known: pl.Series | None,
    errors: list[Problem],
    warnings: list[Problem],
    plaus: Plausibility,
    report: ValidationReport,
    warn: bool = True,
) -> TableSummary:
    if known is not None and "patient_id" in p.usable:
        pid = pl.col("patient_id")
        orphan = pid.is_not_null() & ~pid.is_in(known.implode())
        p.checks.append(_Check("patient_id", orphan, "whose patient_id is not in patients"))
    keys = [k for k in ("system", "code", "unit") if k in p.usable]
    events = event_aggregates(has_date="date" in p.usable)
    few = keys or [k for k in ("practice_id", "kind") if k in p.usable]  # a few thousand values
    fast = screened_groups(
        p.source.frame,
        p.exprs,
        p.checks,
        few,
        known,
        events,
        whole_rows=p.source.fmt == "csv",
        parquet_parts=p.source.parts if p.source.fmt == "parquet" else (),
    )
    if fast is not None:  # per distinct code; the usual case
        groups, counts = fast
    else:  # row by row, to explain a pseudonym problem
        aggs = [c.expr.sum().alias(f"__check{i}") for i, c in enumerate(p.checks)] + events
        if keys:
            groups = p.typed.group_by(keys).agg(aggs).collect(engine="streaming")
        else:
            groups = p.typed.select(aggs).collect(engine="streaming")
        counts = [int(groups[f"__check{i}"].sum() or 0) for i in range(len(p.checks))]
    _report_checks(p, counts, errors, warnings)
    for found in plaus.patient_event_checks(p.typed, p.usable) if warn else []:
        rows = _first_rows(found.numbered(p.numbered), found.row_expr)
        text = f"{found.phrase}, for {found.patients:,} patient{'s' if found.patients != 1 else ''}"
        shown = _rows_text(p.source, len(rows) + (len(rows) == ROWS_SHOWN), rows)
        warnings.append(Problem(p.source.label, text, "date", shown))
    if {"system", "code"} <= set(keys):
        report.code_groups[p.source.table] = groups.select(*keys, "__rows")
        for kind, finding in classified_findings(groups, p.source.table):
            problem = Problem(p.source.label, finding, "unit" if kind == "unit" else "code")
            warnings.append(problem)
            if kind == "invalid":
                report.invalid_codes.append(problem)
    return table_from_groups(groups)


def _column_order(table: str) -> Callable[[Problem], int]:
    names = TABLES[table].required_names()

    def key(problem: Problem) -> int:
        return names.index(problem.column) + 1 if problem.column in names else 0

    return key


def _unreadable(source: TableSource, exc: Exception) -> Problem:
    if source.fmt == "csv" and source.parts:
        found = csv_diagnose(source.parts[0])
        if found:
            return Problem(source.label, "; ".join(found))
    kind = {"csv": "CSV", "parquet": "Parquet"}.get(source.fmt, "a data frame")
    hint = {
        "csv": "check that every line has the same number of fields and the file is complete",
        "parquet": "the file is damaged or incomplete: export it again",
    }.get(source.fmt, "check the frame's columns")
    return Problem(source.label, f"cannot be read as {kind} ({type(exc).__name__}); {hint}")


def validate_sources(
    sources: dict[str, TableSource],
    *,
    label: str,
    extraction: dt.date | None = None,
    plausibility: bool = True,
) -> ValidationReport:
    """Validate opened tables (see :func:`validate_dataset`); tables absent are not reported.

    ``extraction``: the recorded extraction date (dates after it are warned about; without
    it, dates after today are). ``plausibility=False`` skips the plausibility warnings
    (:mod:`matcher.data.plausibility`: a pass per event table), for callers that keep only
    the errors, such as :func:`~matcher.data.loader.load_dataset`; code warnings, computed
    from the distinct codes, stay.
    """
    report = ValidationReport(label)
    errors, warnings = report.errors, report.warnings
    plaus = Plausibility(extraction)
    patient_stats = None
    known: pl.Series | None = None
    tables: dict[str, TableSummary] = {}
    for name in TABLES:
        if name not in sources:
            continue
        source = sources[name]
        start = len(errors)
        try:
            layout = csv_layout_problem(source)
            if layout is not None:
                errors.append(layout)
                continue
            prepared = _prepare(source, errors, plaus, warn=plausibility)
            if name == "patients":
                patient_stats = _check_patients(prepared, errors, warnings)
                known = plaus.remember_patients(prepared.typed, prepared.usable)
                centres = centre_problems(prepared.typed, prepared.usable) if plausibility else []
                warnings += [Problem(source.label, text, column) for column, text in centres]
            else:
                tables[name] = _check_events(
                    prepared, known, errors, warnings, plaus, report, plausibility
                )
        except (pl.exceptions.PolarsError, OSError) as exc:
            errors.append(_unreadable(source, exc))
        finally:
            errors[start:] = sorted(errors[start:], key=_column_order(name))
    required = {n for n, t in TABLES.items() if not t.optional and n != "patients"}
    if not errors and patient_stats is not None and required <= set(tables):
        tables = {"patients": TableSummary(patient_stats["rows"]), **tables}
        report.summary = DataSummary(
            patients=patient_stats["rows"],
            opted_out=patient_stats["opted_out"],
            centres=patient_stats["centres"],
            practices=patient_stats["practices"],
            tables=tables,
            source=label,
            **end_of_data(extraction, tables),
        )
    return report


def csv_layout_problem(source: TableSource) -> Problem | None:
    """A CSV file whose header shows another separator than ``,`` (see :mod:`csvcheck`)."""
    if source.fmt != "csv":
        return None
    hint = layout_problem(source.frame.collect_schema().names())
    return Problem(source.label, hint) if hint else None


def validate_dataset(path: Path | str) -> ValidationReport:
    """Check every table of the data directory ``path``; collect all problems, raise nothing.

    Use :meth:`ValidationReport.raise_for_errors` to turn errors into one :class:`DataError`.
    """
    path = Path(path)
    sources, missing = locate_sources(path)
    located = [Problem(m.label, m.message) for m in missing]
    try:
        extraction = read_extract(path) if path.is_dir() else None
    except DataError as exc:
        extraction = None
        located.append(Problem(EXTRACT_FILE, str(exc).split(": ", 1)[1]))
    report = validate_sources(sources, label=str(path), extraction=extraction)
    report.errors[:0] = located
    if located:
        report.summary = None
    return report
