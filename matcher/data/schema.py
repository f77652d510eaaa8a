"""The pseudonymised data contract: which tables, which columns, which types.

This module is the single source of truth for the contract described in
``docs/data-contract.md``. Loaders, the synthetic generator, the OMOP importer and the
engine all read their table and column names from here.

    >>> TABLES["patients"].required_names()[:3]
    ('patient_id', 'birth_year', 'birth_month')
    >>> sorted(TABLES)  # doctest: +NORMALIZE_WHITESPACE
    ['allergies', 'diagnoses', 'encounters', 'observations', 'patients', 'prescriptions',
     'procedures']
    >>> OPTIONAL_TABLES
    ('procedures', 'allergies')
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

SEX_VALUES: tuple[str, ...] = ("F", "M", "U")
"""Allowed values of ``patients.sex``: female, male, unknown."""


@dataclass(frozen=True)
class Column:
    """One contract column: its name, Polars type, whether nulls are allowed, and meaning."""

    name: str
    dtype: pl.DataType
    nullable: bool
    description: str
    default: object | None = None
    """Value used when an optional column is absent from the file."""
    optional: bool = False
    """True when the column may be absent from a file (it is then filled with ``default``)."""


@dataclass(frozen=True)
class Table:
    """One contract table: the file stem (``patients`` → ``patients.parquet``) and columns."""

    name: str
    columns: tuple[Column, ...]
    description: str
    optional: bool = False
    """True for a table a data directory may omit: it is then *not provided*, and every
    criterion that reads it is unknown (not false) for every patient."""

    def required_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def optional_names(self) -> tuple[str, ...]:
        """Columns a file may omit (filled with their default when loaded)."""
        return tuple(c.name for c in self.columns if c.optional)

    def schema(self) -> dict[str, pl.DataType]:
        return {c.name: c.dtype for c in self.columns}


PATIENTS = Table(
    "patients",
    (
        Column("patient_id", pl.String(), False, "unique platform pseudonym"),
        Column("birth_year", pl.Int32(), False, "year of birth"),
        Column("birth_month", pl.Int8(), True, "birth month 1-12; null when only the year is kept"),
        Column("sex", pl.String(), False, "'F', 'M' or 'U' (unknown)"),
        Column("practice_id", pl.String(), False, "the patient's general practice"),
        Column("centre_id", pl.String(), False, "the university centre of the practice"),
        Column("registered_from", pl.Date(), True, "start of registration; null when unknown"),
        Column("registered_to", pl.Date(), True, "end of registration; null: still registered"),
        Column("death_date", pl.Date(), True, "date of death; null when alive"),
        Column(
            "opted_out",
            pl.Boolean(),
            False,
            "objected to research use",
            default=False,
            optional=True,
        ),
        Column(
            "practice_token",
            pl.String(),
            True,
            "token only the patient's practice can map back to its local record",
            default=None,
            optional=True,
        ),
    ),
    "one row per patient",
)

DIAGNOSES = Table(
    "diagnoses",
    (
        Column("patient_id", pl.String(), False, "pseudonym, present in patients"),
        Column("date", pl.Date(), False, "date the diagnosis was recorded"),
        Column("system", pl.String(), False, "'icd10', 'icpc2', or another system name"),
        Column("code", pl.String(), False, "the code in that system"),
    ),
    "one row per recorded diagnosis",
)

PRESCRIPTIONS = Table(
    "prescriptions",
    (
        Column("patient_id", pl.String(), False, "pseudonym, present in patients"),
        Column("date", pl.Date(), False, "prescription date"),
        Column("system", pl.String(), False, "'atc', or another system such as 'cip13'"),
        Column("code", pl.String(), False, "the code in that system"),
        Column(
            "duration_days",
            pl.Int32(),
            True,
            "prescribed duration in days",
            default=None,
            optional=True,
        ),
        # ---- issue 18: drugs ----
        Column(
            "dose",
            pl.Float64(),
            True,
            "amount per intake, in dose_unit",
            default=None,
            optional=True,
        ),
        Column(
            "daily_dose",
            pl.Float64(),
            True,
            "amount per day, in dose_unit",
            default=None,
            optional=True,
        ),
        Column(
            "dose_unit",
            pl.String(),
            True,
            "UCUM unit of dose and daily_dose: mg, g, ug, [iU], mL ...",
            default=None,
            optional=True,
        ),
    ),
    "one row per prescription line",
)

OBSERVATIONS = Table(
    "observations",
    (
        Column("patient_id", pl.String(), False, "pseudonym, present in patients"),
        Column("date", pl.Date(), False, "date of the measurement"),
        Column("system", pl.String(), False, "'loinc', or another system"),
        Column("code", pl.String(), False, "the code in that system"),
        Column("value", pl.Float64(), True, "numeric result", default=None, optional=True),
        Column("unit", pl.String(), True, "UCUM unit of the value", default=None, optional=True),
        # ---- issue 18: status ----
        Column(
            "value_code",
            pl.String(),
            True,
            "coded answer (SNOMED CT, or a LOINC answer code), as FHIR valueCodeableConcept",
            default=None,
            optional=True,
        ),
    ),
    "one row per lab result or vital sign",
)

ENCOUNTERS = Table(
    "encounters",
    (
        Column("patient_id", pl.String(), False, "pseudonym, present in patients"),
        Column("date", pl.Date(), False, "date of the contact"),
        Column(
            "practice_id",
            pl.String(),
            True,
            "practice where the contact took place; null for a contact outside the practice",
        ),
        Column(
            "kind",
            pl.String(),
            False,
            "'office', 'home', 'tele', 'admission' (hospital stay), 'emergency', ...",
        ),
    ),
    "one row per contact with the practice, or outside it (hospital admissions, emergencies)",
)

# ---- issue 18: records ----

PROCEDURE_SYSTEMS: tuple[str, ...] = ("ccam", "icd10pcs", "snomed", "cpt")
"""The procedure code systems the platform knows (others are matched exactly)."""

PROCEDURES = Table(
    "procedures",
    (
        Column("patient_id", pl.String(), False, "pseudonym, present in patients"),
        Column("date", pl.Date(), False, "date the act was performed"),
        Column("system", pl.String(), False, "'ccam', 'icd10pcs', 'snomed', 'cpt' or another"),
        Column("code", pl.String(), False, "the code in that system"),
    ),
    "one row per procedure (act, surgery, test) performed; optional table",
    optional=True,
)

ALLERGY_KINDS: tuple[str, ...] = ("allergy", "intolerance")
"""The values of ``allergies.kind`` (null: the type was not recorded)."""

ALLERGIES = Table(
    "allergies",
    (
        Column("patient_id", pl.String(), False, "pseudonym, present in patients"),
        Column("date", pl.Date(), False, "date the allergy or intolerance was recorded"),
        Column("system", pl.String(), False, "'atc' for a drug, 'snomed' otherwise, or another"),
        Column("code", pl.String(), False, "the substance (or drug class) in that system"),
        Column("kind", pl.String(), True, "'allergy', 'intolerance', or null (not recorded)"),
    ),
    "one row per allergy or intolerance recorded (FHIR AllergyIntolerance); optional table",
    optional=True,
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        PATIENTS,
        DIAGNOSES,
        PRESCRIPTIONS,
        OBSERVATIONS,
        ENCOUNTERS,
        PROCEDURES,
        ALLERGIES,
    )
}
EVENT_TABLES: tuple[str, ...] = (
    "diagnoses",
    "prescriptions",
    "observations",
    "encounters",
    "procedures",
    "allergies",
)
OPTIONAL_TABLES: tuple[str, ...] = tuple(name for name, t in TABLES.items() if t.optional)
"""Tables a data directory may omit (see :attr:`Table.optional`)."""
CODED_EVENT_TABLES: tuple[str, ...] = (
    "diagnoses",
    "prescriptions",
    "observations",
    "procedures",
    "allergies",
)
"""Event tables whose rows carry a (system, code)."""
