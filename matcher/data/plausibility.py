"""Plausibility warnings: data that follows the contract but cannot be right.

``p4dp data check`` reports them as warnings (the data is accepted; ``--strict`` refuses it):

* ``patients``: a birth year outside 1890..the extraction year, a death before the birth, a
  registration start or death after the extraction date, a practice listed under several
  centres, a centre with a single practice (its centre breakdown would be a practice
  breakdown: :mod:`matcher.feasibility.dimensions` pools such centres for sponsors);
* event tables: an event before the patient's birth (year, or month when known) or after
  their death, an event after the extraction date; ``encounters``: a practice that no
  patient belongs to.

"The extraction date" is the one recorded in ``extract.json`` (see
:mod:`matcher.data.extract_date`), else today. Every check is a boolean expression summed in
the validator's one aggregate per table; events before birth or after death are found from
each patient's first and last event date (one small aggregate per event table, joined with
``patients``), and counted in patients; messages give counts and row numbers, never a pseudonym or a
patient's value. Practice and centre identifiers, which are not patient data, are shown as
examples.

    >>> import polars as pl
    >>> from matcher.data.sources import frame_source
    >>> from matcher.data.validate import validate_sources
    >>> patients = pl.DataFrame({"patient_id": ["a", "b"], "birth_year": [1850, 1990],
    ...     "birth_month": [None, None], "sex": ["F", "M"], "practice_id": ["p1", "p2"],
    ...     "centre_id": ["c1", "c1"], "registered_from": [None, None],
    ...     "registered_to": [None, None], "death_date": [None, "1980-01-01"]})
    >>> import datetime as dt
    >>> report = validate_sources({"patients": frame_source("patients", patients)}, label="m",
    ...     extraction=dt.date(2024, 6, 30))
    >>> for w in report.warnings: print(w)
    patients (in-memory frame): column 'birth_year': 1 row with a birth_year outside 1890..2024 (row 1)
    patients (in-memory frame): column 'death_date': 1 row with a death_date before the birth (row 2)
"""  # noqa: E501

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

EARLIEST_BIRTH_YEAR = 1890
EXAMPLES_SHOWN = 5
_BIRTH_YEAR, _BIRTH_MONTH, _DEATH = "__p_birth_year", "__p_birth_month", "__p_death"
_HASH_SEED = 20_261_207


@dataclass(frozen=True)
class PlausibilityCheck:
    """One warning check: the column it is about, a per-row flag, and what it means."""

    column: str
    expr: pl.Expr
    phrase: str


def _before_birth(day: pl.Expr, year: pl.Expr, month: pl.Expr) -> pl.Expr:
    """``day`` falls before a birth known to the year (and to the month when ``month`` is)."""
    same_year_earlier = (day.dt.year() == year) & month.is_not_null() & (day.dt.month() < month)
    return (day.dt.year() < year) | same_year_earlier


@dataclass
class Plausibility:
    """The plausibility checks of one data set (state: what ``patients`` told about patients)."""

    extraction: dt.date | None = None
    """The recorded extraction date; None: dates are checked against today."""
    today: dt.date = field(default_factory=dt.date.today)
    patients: pl.DataFrame | None = None
    """One row per patient: ``patient_id``, birth year and month, death date (for events)."""
    practices: pl.Series | None = None
    """The practices patients belong to (for ``encounters.practice_id``)."""

    @property
    def horizon(self) -> dt.date:
        """No date may be later than this: the extraction date, else today."""
        return self.extraction or self.today

    def _future_phrase(self, column: str) -> str:
        when = "the extraction date" if self.extraction else "today"
        return f"with a {column} after {when} ({self.horizon.isoformat()})"

    def patient_checks(self, usable: set[str]) -> list[PlausibilityCheck]:
        """Row checks of ``patients`` (columns that did not convert are skipped)."""
        checks = []
        year, month = pl.col("birth_year"), pl.col("birth_month")
        last_year = self.horizon.year
        if "birth_year" in usable:
            phrase = f"with a birth_year outside {EARLIEST_BIRTH_YEAR}..{last_year}"
            checks.append(
                PlausibilityCheck(
                    "birth_year", ~year.is_between(EARLIEST_BIRTH_YEAR, last_year), phrase
                )
            )
        if {"birth_year", "birth_month", "death_date"} <= usable:
            died = _before_birth(pl.col("death_date"), year, month)
            phrase = "with a death_date before the birth"
            checks.append(PlausibilityCheck("death_date", died, phrase))
        for column in ("registered_from", "death_date"):
            if column in usable:
                late = pl.col(column) > pl.lit(self.horizon)
                checks.append(PlausibilityCheck(column, late, self._future_phrase(column)))
        return checks

    def remember_patients(self, typed: pl.LazyFrame, usable: set[str]) -> pl.Series | None:
        """Keep what event checks need from ``patients``; return the known pseudonyms."""
        if "patient_id" not in usable:
            return None
        wanted = {"birth_year": _BIRTH_YEAR, "birth_month": _BIRTH_MONTH, "death_date": _DEATH}
        columns = [pl.col(c).alias(a) for c, a in wanted.items() if c in usable]
        frames = [
            typed.filter(pl.col("patient_id").is_not_null())
            .select(pl.col("patient_id"), *columns)
            .unique("patient_id", keep="any")
        ]
        if "practice_id" in usable:
            frames.append(typed.select(pl.col("practice_id").drop_nulls().unique()))
        collected = pl.collect_all(frames, engine="streaming")
        if len(wanted) == len(columns):
            self.patients = collected[0]
        if len(collected) > 1:
            self.practices = collected[1].to_series()
        return collected[0]["patient_id"]

    def event_checks(self, table: str, usable: set[str]) -> list[PlausibilityCheck]:
        """Row checks of one event table: dates after the extraction, unknown practices."""
        checks = []
        if "date" in usable:
            late = pl.col("date") > pl.lit(self.horizon)
            checks.append(PlausibilityCheck("date", late, self._future_phrase("date")))
        if table == "encounters" and self.practices is not None and "practice_id" in usable:
            practice = pl.col("practice_id")
            unknown = practice.is_not_null() & ~practice.is_in(self.practices.implode())
            phrase = "with a practice_id that no patient belongs to (unknown practice)"
            checks.append(PlausibilityCheck("practice_id", unknown, phrase))
        return checks

    def patient_event_checks(
        self, typed: pl.LazyFrame, usable: set[str]
    ) -> list[PatientEventCheck]:
        """Events before the patient's birth or after their death, counted in patients.

        One aggregate per patient (first and last event date: a pass over two columns),
        joined with the patients' birth and death; no join of every event row.
        """
        if self.patients is None or not {"patient_id", "date"} <= usable:
            return []
        # grouped by a 64-bit hash of the pseudonym: twice as fast as by the string (a collision,
        # about 1 in 10^7 at a million patients, could only misplace a warning)
        key = pl.col("patient_id").hash(_HASH_SEED).alias("__key")
        span = (
            typed.filter(pl.col("patient_id").is_not_null())
            .group_by(key)
            .agg(pl.col("date").min().alias("__first"), pl.col("date").max().alias("__last"))
        )
        year, month, death = pl.col(_BIRTH_YEAR), pl.col(_BIRTH_MONTH), pl.col(_DEATH)
        keyed = self.patients.lazy().with_columns(key)
        found = (
            span.join(keyed, on="__key", how="inner")
            .select(
                _before_birth(pl.col("__first"), year, month).sum().alias("before"),
                (pl.col("__last") > death).sum().alias("after"),
            )
            .collect(engine="streaming")
        )
        info = self.patients.lazy()
        date = pl.col("date")
        candidates = [
            ("before", "events dated before the patient's birth", _before_birth(date, year, month)),
            ("after", "events dated after the patient's death", date > death),
        ]
        return [
            PatientEventCheck(phrase, int(found[key][0] or 0), expr, info)
            for key, phrase, expr in candidates
            if found[key][0]
        ]


@dataclass(frozen=True)
class PatientEventCheck:
    """A per-patient event warning: what, how many patients, and how to find its rows."""

    phrase: str
    patients: int
    row_expr: pl.Expr
    """True on an offending event row of :meth:`numbered`."""
    info: pl.LazyFrame = field(repr=False)

    def numbered(self, rows: pl.LazyFrame) -> pl.LazyFrame:
        """``rows`` with each row's patient birth and death (to find the offending rows)."""
        return rows.join(self.info, on="patient_id", how="left")


def centre_problems(typed: pl.LazyFrame, usable: set[str]) -> list[tuple[str, str]]:
    """``(column, message)`` warnings on how practices and centres fit together.

    A centre with a single practice: a breakdown by centre would show that practice's count
    (sponsors never get practice breakdowns). A practice under several centres: its patients
    would be split between centres.
    """
    if not {"practice_id", "centre_id"} <= usable:
        return []
    pairs = (
        typed.select("centre_id", "practice_id").drop_nulls().unique().collect(engine="streaming")
    )
    out = []
    per_centre = pairs.group_by("centre_id").len().filter(pl.col("len") == 1)
    if per_centre.height:
        names = sorted(per_centre["centre_id"].to_list())
        out.append(
            (
                "centre_id",
                f"{_count(len(names), 'centre')} with a single practice ({_examples(names)}): "
                "a breakdown by centre would show one practice's count, so sponsors get "
                "such centres pooled",
            )
        )
    per_practice = pairs.group_by("practice_id").len().filter(pl.col("len") > 1)
    if per_practice.height:
        names = sorted(per_practice["practice_id"].to_list())
        out.append(
            (
                "practice_id",
                f"{_count(len(names), 'practice')} listed under several centres "
                f"({_examples(names)}): a practice belongs to one centre",
            )
        )
    return out


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'s' if n != 1 else ''}"


def _examples(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:EXAMPLES_SHOWN])
    return f"e.g. {shown}" if len(names) > EXAMPLES_SHOWN else shown


__all__ = ["EARLIEST_BIRTH_YEAR", "Plausibility", "PlausibilityCheck", "centre_problems"]
