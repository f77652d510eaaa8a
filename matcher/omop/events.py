"""The OMOP event tables → the contract's event tables.

=====================  ==========================================================
OMOP table             contract table
=====================  ==========================================================
condition_occurrence   diagnoses (+ an ICD-10 row derived from SNOMED when unique)
drug_exposure          prescriptions (+ ATC rows derived through the vocabulary)
measurement            observations (value and unit converted to UCUM; a coded
                       answer in ``value_code``)
observation            allergies when the concept is an allergy (see
                       :mod:`matcher.omop.allergies`); else observations when
                       numeric or coded (``value_as_concept_id`` →
                       ``value_code``; smoking/pregnancy findings become status rows,
                       see :mod:`matcher.omop.status`); diagnoses when its concept is
                       a condition; otherwise counted as ``no_numeric_value``
visit_occurrence       encounters (inpatient → admission, ER → emergency; no practice)
procedure_occurrence   procedures (see :mod:`matcher.omop.records`)
=====================  ==========================================================

Every converter returns frames in the contract's columns and counts each input row in the
report, either as converted or under the reason it was not.
"""

from __future__ import annotations

import polars as pl

from matcher.omop import allergies, status
from matcher.omop.common import (
    attach_patient,
    date_reason,
    first_reason,
    optional,
    parse_date,
    parse_int,
    practice_id,
)
from matcher.omop.doses import DOSE_COLUMNS, with_doses
from matcher.omop.reader import OmopSource
from matcher.omop.report import ImportReport, TableReport
from matcher.omop.units import convert_units
from matcher.omop.vocabulary import Vocabulary

VISIT_KINDS: dict[str, str] = {
    "9202": "office",  # Outpatient Visit
    "9203": "emergency",  # Emergency Room Visit
    "9201": "admission",  # Inpatient Visit (issue 18: a hospital admission)
    "262": "admission",  # Emergency Room and Inpatient Visit (admitted through the ER)
    "581476": "home",  # Home Visit
    "5083": "tele",  # Telehealth
}
"""OMOP ``visit_concept_id`` → encounter kind; any other concept gives ``other``."""
OUTSIDE_KINDS: tuple[str, ...] = ("admission", "emergency")
"""Encounter kinds outside the practice: imported with a null ``practice_id``."""

DIAGNOSIS_COLUMNS = ("patient_id", "date", "system", "code", "mapped_from")
PRESCRIPTION_COLUMNS = (
    "patient_id",
    "date",
    "system",
    "code",
    "duration_days",
    *DOSE_COLUMNS,  # issue 18: drugs
    "mapped_from",
)
OBSERVATION_COLUMNS = ("patient_id", "date", "system", "code", "value", "unit", "value_code")
_CODED = ("patient_id", "date", "system", "code", "concept_id", "_from_standard", "_reason")
_MEASURED = (
    "value",
    "unit",
    "_unit_converted",
    "_unit_respelled",
    "_unit_dropped",
    "_unit_unknown",
    "value_code",
)


def _start(source: OmopSource, report: ImportReport, table: str) -> TableReport | None:
    if not source.has(table):
        report.absent.append(table)
        return None
    t = report.table(table)
    t.file = source.file_name(table)
    return t


def _coded_events(
    source: OmopSource,
    vocab: Vocabulary,
    index: pl.DataFrame,
    table: str,
    prefix: str,
    date_column: str,
) -> pl.LazyFrame:
    """Person, date and code of an event table, with ``_reason`` for rows not converted."""
    lf = source.read(table)
    lf = attach_patient(lf, index.lazy())
    lf = vocab.resolve(lf, f"{prefix}_source_concept_id", f"{prefix}_concept_id")
    return lf.with_columns(
        date=parse_date(pl.col(date_column)),
        _reason=first_reason(
            pl.col("_person_reason"), date_reason(pl.col(date_column)), pl.col("_code_reason")
        ),
    )


def _count_from_standard(t: TableReport, df: pl.DataFrame) -> None:
    t.add_adjusted(
        "code_from_standard_concept",
        df.filter(pl.col("_reason").is_null() & pl.col("_from_standard")).height,
    )


def _derived_icd10(vocab: Vocabulary, dx: pl.DataFrame, t: TableReport) -> pl.DataFrame:
    snomed = dx.filter(pl.col("system") == "snomed")
    mapped = vocab.icd10_codes(snomed.lazy().select("concept_id")).collect()
    rows = snomed.join(mapped, on="concept_id", suffix="_icd").select(
        "patient_id",
        "date",
        system="system_icd",
        code="code_icd",
        mapped_from=pl.concat_str(pl.lit("snomed:"), pl.col("code")),
    )
    for system, n in rows.group_by("system").len().iter_rows():
        t.add_derived(system, n)
    return rows


def conditions(
    source: OmopSource, vocab: Vocabulary, index: pl.DataFrame, report: ImportReport
) -> tuple[list[pl.DataFrame], list[pl.DataFrame]]:
    """CONDITION_OCCURRENCE → (diagnoses, allergies), keeping the source code and its system;
    an allergy recorded as a condition stays a diagnosis and also gives allergy rows."""
    t = _start(source, report, "condition_occurrence")
    if t is None:
        return [], []
    df = (
        _coded_events(
            source, vocab, index, "condition_occurrence", "condition", "condition_start_date"
        )
        .select(*_CODED, "std_concept_id")
        .collect()
    )
    t.count_reasons(df)
    _count_from_standard(t, df)
    ok = df.filter(pl.col("_reason").is_null()).with_columns(mapped_from=pl.lit(None, pl.String))
    allergy = allergies.derived_from_conditions(ok, vocab, t)  # issue 18: allergies
    return [ok.select(DIAGNOSIS_COLUMNS), _derived_icd10(vocab, ok, t)], [allergy]


def drugs(
    source: OmopSource, vocab: Vocabulary, index: pl.DataFrame, report: ImportReport
) -> list[pl.DataFrame]:
    """DRUG_EXPOSURE → prescriptions; ``duration_days`` from days_supply, else end - start."""
    t = _start(source, report, "drug_exposure")
    if t is None:
        return []
    start = "drug_exposure_start_date"
    lf = _coded_events(source, vocab, index, "drug_exposure", "drug", start)
    lf = with_doses(lf, source, vocab)  # issue 18: drugs
    supply = parse_int(optional(lf, "days_supply"))
    span = (parse_date(optional(lf, "drug_exposure_end_date")) - parse_date(pl.col(start))).dt
    span_days = span.total_days()
    df = lf.with_columns(
        duration_days=pl.when(supply > 0)
        .then(supply)
        .when(span_days > 0)
        .then(span_days)
        .cast(pl.Int32),
        _end_before_start=(span_days < 0).fill_null(False),
        mapped_from=pl.lit(None, pl.String),
    ).select(
        *_CODED,
        "std_concept_id",
        "duration_days",
        *DOSE_COLUMNS,
        "_end_before_start",
        "mapped_from",
    )
    df = df.collect()
    t.count_reasons(df)
    _count_from_standard(t, df)
    ok = df.filter(pl.col("_reason").is_null())
    t.add_adjusted("end_before_start_duration_null", ok["_end_before_start"].sum())
    # ATC through the vocabulary, from the drug's standard concept (RxNorm).
    rx = ok.filter(pl.col("system").is_in(["rxnorm", "rxnorm_extension"]))
    keys = rx.select(
        "patient_id",
        "date",
        "duration_days",
        *DOSE_COLUMNS,
        _drug=pl.coalesce("std_concept_id", "concept_id"),
        mapped_from=pl.concat_str(pl.col("system"), pl.lit(":"), pl.col("code")),
    )
    atc = vocab.atc_codes(keys.lazy().select(concept_id="_drug")).collect()
    derived = keys.join(atc, left_on="_drug", right_on="concept_id").select(
        "patient_id",
        "date",
        system=pl.lit("atc"),
        code="code",
        duration_days="duration_days",
        dose="dose",
        daily_dose="daily_dose",
        dose_unit="dose_unit",
        mapped_from="mapped_from",
    )
    t.add_derived("atc", derived.height)
    if derived.is_empty() and not rx.is_empty():
        linked = vocab.atc_links(keys.lazy().select(concept_id="_drug")).collect()
        n = keys.filter(pl.col("_drug").is_in(linked["concept_id"].implode())).height
        report.notes.append(
            f"drug_exposure: {n:,} rows link to ATC concepts through the vocabulary, but those "
            "ATC concepts are absent from CONCEPT: no ATC code added, RxNorm codes kept"
            if n
            else "drug_exposure: the vocabulary links no drug to an ATC concept: no ATC code "
            "added, RxNorm codes kept"
        )
    return [ok.select(PRESCRIPTION_COLUMNS), derived.select(PRESCRIPTION_COLUMNS)]


def _with_value_and_unit(lf: pl.LazyFrame, vocab: Vocabulary) -> pl.LazyFrame:
    """Add ``value`` (float), ``unit`` (UCUM) and ``_value_reason`` (``bad_value``)."""
    raw = optional(lf, "value_as_number")
    units = vocab.concepts.filter(pl.col("vocabulary_id") == "UCUM").select(
        _unit_id="concept_id", _unit_code="concept_code"
    )
    unit_id = optional(lf, "unit_concept_id").cast(pl.String).str.strip_chars()
    lf = lf.with_columns(
        value=raw.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False),
        _raw_value=raw,
        _unit_id=unit_id,
        _unit_source=optional(lf, "unit_source_value"),
    ).join(units, on="_unit_id", how="left", maintain_order="left")
    lf = lf.with_columns(
        unit=pl.coalesce("_unit_code", "_unit_source"),
        _value_reason=pl.when(pl.col("_raw_value").is_not_null() & pl.col("value").is_null()).then(
            pl.lit("bad_value")
        ),
    )
    return convert_units(lf)


def _count_units(t: TableReport, ok: pl.DataFrame) -> None:
    t.add_adjusted("unit_converted", ok["_unit_converted"].sum())
    t.add_adjusted("unit_respelled_ucum", ok["_unit_respelled"].sum())
    t.add_adjusted("unit_placeholder_set_null", ok["_unit_dropped"].sum())
    t.add_adjusted("unit_not_in_conversion_table_kept", ok["_unit_unknown"].sum())


def measurements(
    source: OmopSource, vocab: Vocabulary, index: pl.DataFrame, report: ImportReport
) -> list[pl.DataFrame]:
    """MEASUREMENT → observations; a row without a value is kept with a null value."""
    t = _start(source, report, "measurement")
    if t is None:
        return []
    lf = _coded_events(source, vocab, index, "measurement", "measurement", "measurement_date")
    df = (
        status.with_value_code(_with_value_and_unit(lf, vocab), vocab)
        .with_columns(_reason=pl.coalesce("_reason", "_value_reason"))
        .select(*_CODED, *_MEASURED)
        .collect()
    )
    t.count_reasons(df)
    _count_from_standard(t, df)
    ok = df.filter(pl.col("_reason").is_null())
    _count_units(t, ok)
    return [ok.select(OBSERVATION_COLUMNS)]


def observations(
    source: OmopSource, vocab: Vocabulary, index: pl.DataFrame, report: ImportReport
) -> tuple[list[pl.DataFrame], list[pl.DataFrame], list[pl.DataFrame]]:
    """OBSERVATION → (observations, diagnoses, allergies).

    An allergy (see :mod:`matcher.omop.allergies`) becomes allergy rows; otherwise a row
    with a numeric value becomes an observation; a row whose concept lies in the Condition
    domain becomes a diagnosis; any other row is counted as ``no_numeric_value``.
    """
    t = _start(source, report, "observation")
    if t is None:
        return [], [], []
    lf = _coded_events(source, vocab, index, "observation", "observation", "observation_date")
    lf = allergies.mark_allergies(lf, vocab, "value_as_concept_id")  # issue 18: allergies
    lf = status.findings_as_status(status.with_value_code(_with_value_and_unit(lf, vocab), vocab))
    not_allergy = pl.col("_allergy_shape").is_null()
    df = (
        lf.with_columns(
            # issue 18: a coded answer (value_code) is an observation too
            _as_obs=not_allergy
            & (pl.col("value").is_not_null() | pl.col("value_code").is_not_null()),
            _as_dx=not_allergy
            & pl.col("value").is_null()
            & pl.col("value_code").is_null()
            & (pl.col("domain") == "Condition"),
            _event_reason=first_reason(
                pl.col("_person_reason"), date_reason(pl.col("observation_date"))
            ),
        )
        .with_columns(
            _reason=pl.coalesce(
                "_reason",
                "_value_reason",
                pl.when(~pl.col("_as_obs") & ~pl.col("_as_dx")).then(pl.lit("no_numeric_value")),
            )
        )
        .select(
            *_CODED,
            *_MEASURED,
            "_as_obs",
            "_as_dx",
            "_finding",
            "_event_reason",
            *allergies.MARK_COLUMNS,
        )
        .collect()
    )
    substances = allergies.Substances(vocab, df)
    df = allergies.with_allergy_reason(df, substances)
    t.count_reasons(df)
    _count_from_standard(t, df)
    ok = df.filter(pl.col("_reason").is_null())
    obs = ok.filter(pl.col("_as_obs"))
    _count_units(t, obs)
    t.add_adjusted("coded_answer_to_value_code", obs["value_code"].is_not_null().sum())
    t.add_adjusted("status_finding_to_status_observation", obs["_finding"].sum())
    dx = ok.filter(pl.col("_as_dx")).with_columns(mapped_from=pl.lit(None, pl.String))
    t.add_adjusted("condition_concept_to_diagnoses", dx.height)
    allergy = substances.rows(ok)
    t.add_adjusted("allergy_to_allergies", ok["_allergy_shape"].is_not_null().sum())
    return [obs.select(OBSERVATION_COLUMNS)], [dx.select(DIAGNOSIS_COLUMNS)], [allergy]


def visits(source: OmopSource, index: pl.DataFrame, report: ImportReport) -> list[pl.DataFrame]:
    """VISIT_OCCURRENCE → encounters; the practice is the visit's care site, else the
    patient's practice."""
    t = _start(source, report, "visit_occurrence")
    if t is None:
        return []
    lf = attach_patient(source.read("visit_occurrence"), index.lazy())
    kind = (
        pl.col("visit_concept_id")
        .cast(pl.String)
        .str.replace(r"\.0$", "")
        .replace_strict(VISIT_KINDS, default="other")
    )
    practice = pl.coalesce(practice_id(optional(lf, "care_site_id")), pl.col("_practice"))
    outside = kind.is_in(OUTSIDE_KINDS)  # a hospital stay or an ER visit: not the practice's
    df = lf.with_columns(
        date=parse_date(pl.col("visit_start_date")),
        practice_id=pl.when(outside).then(pl.lit(None, pl.String)).otherwise(practice),
        kind=kind,
        _reason=first_reason(pl.col("_person_reason"), date_reason(pl.col("visit_start_date"))),
    )
    df = df.select("patient_id", "date", "practice_id", "kind", "_reason").collect()
    t.count_reasons(df)
    ok = df.filter(pl.col("_reason").is_null())
    t.add_adjusted("kind_other", ok.filter(pl.col("kind") == "other").height)
    return [ok.select("patient_id", "date", "practice_id", "kind")]
