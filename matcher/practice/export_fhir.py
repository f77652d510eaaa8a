"""Read an HL7 FHIR R4 Bulk Data export: NDJSON files, one resource per line.

Read: ``Patient``, ``Condition``, ``MedicationRequest``, ``MedicationStatement``,
``Observation`` (components included; a ``valueCodeableConcept`` answer is kept as
``value_code``, :mod:`.fhir_status`), ``Encounter``, ``Procedure`` and
``AllergyIntolerance`` (issue 18; read resource by resource, never in batch), from every
``*.ndjson`` file of the export directory (any file may hold any of them). Other resource
types are counted and skipped.

* **Patient**: the local id is the identifier typed ``MR`` (medical record number), else the
  resource id; the national identifier is the first identifier in a national system
  (:data:`NATIONAL_ID_SYSTEMS`) or typed ``NI``/``NH``/``SS``; the official name (else the
  first); ``birthDate``, ``gender``, ``deceasedDateTime``.
* **Events** refer to their patient through ``subject`` (``Patient/<id>``). A coding counts
  only in a recognised system (:mod:`.codings`); a resource coded in two recognised systems
  (ICD-10 and ICPC-2) gives one row per system; codings in other systems are counted per
  system. Units are taken from ``valueQuantity.code`` when its system is UCUM, else from
  ``valueQuantity.unit`` (converted to UCUM later, :func:`matcher.omop.units.convert_units`).

Files of one event resource type are read at once (:mod:`.export_fhir_batch`, Polars), with
the same result as reading them resource by resource as below, which every other file is.

A line that is not JSON (a truncated file) is an :class:`~matcher.practice.export.ExportError`
naming the file and line; a resource that cannot be converted is reported with its file,
line, type/id and reason.

>>> resource_date({"effectiveDateTime": "2024-03-05T10:00:00+01:00"}, ("effectiveDateTime",))
'2024-03-05'
>>> reference_id({"reference": "Patient/abc"}), reference_id({"reference": "urn:uuid:abc"})
('abc', 'abc')
>>> duration_days({"value": 3, "unit": "months", "code": "mo"})
90
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from matcher.data.schema import ALLERGY_KINDS
from matcher.practice.codings import UCUM, table_system
from matcher.practice.export import (
    EVENT_COLUMNS,
    PATIENT_COLUMNS,
    PROBLEM_COLUMNS,
    Export,
    ExportError,
    bad_birth_date,
    problems_frame,
)
from matcher.practice.export_fhir_batch import Batch, read_events_file
from matcher.practice.fhir_dosage import fhir_dose
from matcher.practice.fhir_status import answer_code

NATIONAL_ID_SYSTEMS: tuple[str, ...] = (
    "urn:oid:1.2.250.1.213.1.4.8",  # INS-NIR (France)
    "urn:oid:1.2.250.1.213.1.4.9",  # INS-NIA (France, provisional numbers)
    "urn:oid:1.2.250.1.213.1.4.10",  # INS-NIR test numbers
    "urn:oid:1.2.250.1.213.1.4.11",  # INS-NIA test numbers
    "http://hl7.org/fhir/sid/us-ssn",  # United States (Synthea exports)
)
NATIONAL_ID_TYPES = ("NI", "NH", "SS")
"""``identifier.type`` codes (HL7 v2 table 0203) taken as a national identifier."""
ENCOUNTER_KINDS = {"AMB": "office", "HH": "home", "VR": "tele", "EMER": "emergency"}
"""``Encounter.class`` codes (HL7 v3 ActCode) and the contract's ``kind``; others: lower case."""
# ---- issue 18: records ----
ENCOUNTER_KINDS |= {"IMP": "admission", "ACUTE": "admission", "NONAC": "admission"}
"""Inpatient encounters (``IMP``, and its specialisations acute / non-acute) are hospital
admissions: the contract's kind ``admission``, outside the practice (null ``practice_id``)."""
_VOID = ("entered-in-error", "cancelled", "refuted")
_DAYS = {"d": 1, "day": 1, "days": 1, "wk": 7, "week": 7, "weeks": 7}
_DAYS |= {"mo": 30, "month": 30, "months": 30, "a": 365, "year": 365, "years": 365}
_GENDER = {"female": "F", "male": "M"}
_HAS_PATIENT = re.compile(rb'"resourceType"\s*:\s*"Patient"')


def resource_date(resource: dict[str, Any], fields: tuple[str, ...]) -> str | None:
    """The ``YYYY-MM-DD`` date of the first present field (a dateTime or a Period's start)."""
    for name in fields:
        value = resource.get(name)
        if isinstance(value, dict):
            value = value.get("start")
        if isinstance(value, str) and value:
            return value[:10]
    return None


def reference_id(ref: object) -> str | None:
    """The patient id of a ``subject`` reference (``Patient/<id>``, a URL or ``urn:uuid:``)."""
    text = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(text, str) or not text:
        return None
    if text.startswith("urn:uuid:"):
        return text[9:]
    _head, marker, tail = text.rpartition("Patient/")
    return tail if marker and tail and "/" not in tail else None


def duration_days(quantity: object) -> int | None:
    """Days of a FHIR Duration (``d``, ``wk``, ``mo``, ``a``), or ``None`` when unusable."""
    if not isinstance(quantity, dict) or not isinstance(quantity.get("value"), int | float):
        return None
    factor = _DAYS.get(str(quantity.get("code") or quantity.get("unit") or "").lower())
    return None if factor is None else max(round(quantity["value"] * factor), 0)


def _codings(concept: object) -> list[dict[str, Any]]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return [c for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []


def _type_codes(identifier: dict[str, Any]) -> set[str]:
    return {str(c.get("code")) for c in _codings(identifier.get("type"))}


class _Reader:
    """Accumulates rows and problems while the NDJSON lines are read."""

    def __init__(self) -> None:
        self.patients: list[tuple[Any, ...]] = []
        self.events: dict[str, list[tuple[Any, ...]]] = {t: [] for t in EVENT_COLUMNS}
        self.problems: list[dict[str, object]] = []
        self.unknown: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.registration: dict[str, tuple[str | None, str | None, bool]] = {}
        self.opted_out: set[str] = set()
        self.frames: dict[str, list[pl.DataFrame]] = {t: [] for t in EVENT_COLUMNS}
        self.problem_frames: list[pl.DataFrame] = []
        self.file = ""
        self.line = 0

    def flush(self) -> None:
        """Turn the rows and problems read resource by resource so far into frames."""
        for table, rows in self.events.items():
            if rows:
                schema = _raw_schema(table)
                frame = pl.DataFrame(rows, schema=schema, orient="row", infer_schema_length=None)
                self.frames[table].append(frame)
                rows.clear()
        if self.problems:
            self.problem_frames.append(problems_frame(self.problems))
            self.problems.clear()

    def add_batch(self, batch: Batch) -> None:
        """Add a file read at once (:mod:`.export_fhir_batch`)."""
        self.flush()
        for table, frame in batch.events.items():
            schema = _raw_schema(table)
            self.frames[table].append(frame.select(list(schema)).cast(schema))
        self.problem_frames.append(batch.problems.cast(PROBLEM_COLUMNS))
        self.unknown.update(batch.unknown)

    def problem(self, resource: str | None, reason: str, detail: str | None = None) -> None:
        self.problems.append(
            {"file": self.file, "line": self.line, "resource": resource, "reason": reason}
            | {"detail": detail}
        )

    def codes(self, table: str, concept: object, where: str) -> list[tuple[str, str]] | None:
        """``(system, code)`` per recognised system (first code of each); ``None`` if none."""
        found: dict[str, str] = {}
        seen: list[str] = []
        for coding in _codings(concept):
            uri, code = coding.get("system"), coding.get("code")
            if not isinstance(code, str) or not code.strip():
                continue
            name = table_system(table, uri if isinstance(uri, str) else None)
            if name is None:
                label = uri if isinstance(uri, str) and uri else "(no system)"
                self.unknown[label] += 1
                seen.append(label)
            else:
                found.setdefault(name, code)
        if not found:
            detail = ", ".join(dict.fromkeys(seen)) if seen else None
            self.problem(where, "no coding in a recognised system" if seen else "no code", detail)
            return None
        return list(found.items())

    # --- resources ---------------------------------------------------------------------

    def patient(self, res: dict[str, Any], _where: str) -> None:
        fhir_id = res.get("id")
        identifiers = [i for i in res.get("identifier") or [] if isinstance(i, dict)]
        local = next((i.get("value") for i in identifiers if "MR" in _type_codes(i)), fhir_id)
        national = next(
            (
                i.get("value")
                for i in identifiers
                if i.get("system") in NATIONAL_ID_SYSTEMS or _type_codes(i) & set(NATIONAL_ID_TYPES)
            ),
            None,
        )
        if not isinstance(fhir_id, str) or not fhir_id:
            return self.problem("Patient", "no resource id")
        if not isinstance(local, str) or not local.strip():
            return self.problem("Patient", "no local identifier")
        if not isinstance(national, str) or not national.strip():
            return self.problem("Patient", "no national identifier")
        names = [n for n in res.get("name") or [] if isinstance(n, dict)]
        name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
        given = " ".join(g for g in name.get("given") or [] if isinstance(g, str))
        birth = res.get("birthDate")
        if not isinstance(birth, str):
            return self.problem("Patient", "no birth date")
        death = resource_date(res, ("deceasedDateTime",))
        sex = _GENDER.get(str(res.get("gender")), "U")
        row = (fhir_id, self.file, self.line, local.strip(), national, name.get("family"))
        self.patients.append((*row, given or None, birth, sex, death))
        return None

    def episode(self, res: dict[str, Any], where: str) -> None:
        """A registration with the practice (``EpisodeOfCare``): its period."""
        subject = reference_id(res.get("patient"))
        if subject is None or res.get("status") in _VOID:
            return self.problem(where, "no patient reference or status entered-in-error")
        period = res.get("period") if isinstance(res.get("period"), dict) else {}
        start, end = period.get("start"), period.get("end")
        first, last, open_ = self.registration.get(subject, (None, None, False))
        if isinstance(start, str) and (first is None or start[:10] < first):
            first = start[:10]
        if isinstance(end, str) and (last is None or end[:10] > last):
            last = end[:10]
        self.registration[subject] = (first, last, open_ or not isinstance(end, str))
        return None

    def consent(self, res: dict[str, Any], where: str) -> None:
        """An active ``Consent`` whose provision is ``deny``: the patient opted out."""
        subject = reference_id(res.get("patient"))
        provision = res.get("provision") if isinstance(res.get("provision"), dict) else {}
        if subject is None:
            return self.problem(where, "no patient reference")
        if res.get("status") == "active" and provision.get("type") == "deny":
            self.opted_out.add(subject)
        return None

    def _event(self, res: dict[str, Any], where: str, dates: tuple[str, ...]) -> tuple | None:
        status = res.get("status") or next(
            (c.get("code") for c in _codings(res.get("verificationStatus"))), None
        )
        if status in _VOID:
            self.problem(where, f"status {status}")
            return None
        subject = reference_id(res.get("subject"))
        if subject is None:
            self.problem(where, "no subject Patient reference")
            return None
        date = resource_date(res, dates)
        if date is None:
            self.problem(where, "no date")
            return None
        return subject, date

    def condition(self, res: dict[str, Any], where: str) -> None:
        head = self._event(res, where, ("recordedDate", "onsetDateTime", "onsetPeriod"))
        codes = head and self.codes("diagnoses", res.get("code"), where)
        for system, code in codes or ():
            self.events["diagnoses"].append((self.file, self.line, *head, system, code))

    def medication(self, res: dict[str, Any], where: str) -> None:
        request = res.get("resourceType") == "MedicationRequest"
        dates = ("authoredOn",) if request else ("effectiveDateTime", "effectivePeriod")
        head = self._event(res, where, (*dates, "dateAsserted"))
        if head and "medicationCodeableConcept" not in res:
            return self.problem(where, "medication given by reference, not by code")
        codes = head and self.codes("prescriptions", res.get("medicationCodeableConcept"), where)
        if request:
            supply = (res.get("dispenseRequest") or {}).get("expectedSupplyDuration")
            days = duration_days(supply)
        else:
            period = res.get("effectivePeriod") or {}
            start, end = period.get("start"), period.get("end")
            days = _span_days(start, end) if start and end else None
        doses = fhir_dose(res)  # issue 18: drugs
        for system, code in codes or ():
            row = (self.file, self.line, *head, system, code, days, *doses)
            self.events["prescriptions"].append(row)
        return None

    def observation(self, res: dict[str, Any], where: str) -> None:
        head = self._event(res, where, ("effectiveDateTime", "effectivePeriod", "issued"))
        if head is None:
            return
        parts = [res] if res.get("code") and (not res.get("component") or _has_value(res)) else []
        parts += [c for c in res.get("component") or [] if isinstance(c, dict)]
        for part in parts:
            value, unit = _quantity(part.get("valueQuantity"))
            answer = answer_code(part.get("valueCodeableConcept"))  # issue 18
            for system, code in self.codes("observations", part.get("code"), where) or ():
                row = (self.file, self.line, *head, system, code, value, unit, answer)
                self.events["observations"].append(row)

    def procedure(self, res: dict[str, Any], where: str) -> None:
        """Issue 18: a performed ``Procedure`` (a ``not-done`` one is reported, not kept)."""
        if res.get("status") == "not-done":
            return self.problem(where, "status not-done")
        head = self._event(res, where, ("performedDateTime", "performedPeriod"))
        codes = head and self.codes("procedures", res.get("code"), where)
        for system, code in codes or ():
            self.events["procedures"].append((self.file, self.line, *head, system, code))
        return None

    def allergy(self, res: dict[str, Any], where: str) -> None:
        """Issue 18: an ``AllergyIntolerance`` (its substance in ``code``, ``type`` allergy or
        intolerance, else null); a refuted or entered-in-error one is reported, not kept."""
        if res.get("subject") is None and res.get("patient") is not None:
            res = res | {"subject": res["patient"]}  # R4 names the patient 'patient'
        head = self._event(res, where, ("recordedDate", "onsetDateTime", "onsetPeriod"))
        codes = head and self.codes("allergies", res.get("code"), where)
        kind = res.get("type") if res.get("type") in ALLERGY_KINDS else None
        for system, code in codes or ():
            self.events["allergies"].append((self.file, self.line, *head, system, code, kind))
        return None

    def encounter(self, res: dict[str, Any], where: str) -> None:
        head = self._event(res, where, ("period",))
        if head is None:
            return
        klass = res.get("class")
        code = klass.get("code") if isinstance(klass, dict) else None
        kind = ENCOUNTER_KINDS.get(str(code), str(code).lower()) if code else "other"
        self.events["encounters"].append((self.file, self.line, *head, kind))


def _raw_schema(table: str) -> dict[str, pl.DataType]:
    """Event rows as read: the patient's FHIR id in ``local_id`` and the date as text."""
    return dict(EVENT_COLUMNS[table]) | {"local_id": pl.String(), "date": pl.String()}


def _has_value(res: dict[str, Any]) -> bool:
    return any(k.startswith("value") for k in res)


def _quantity(quantity: object) -> tuple[float | None, str | None]:
    if not isinstance(quantity, dict):
        return None, None
    value = quantity.get("value")
    value = float(value) if isinstance(value, int | float) else None
    code, unit = quantity.get("code"), quantity.get("unit")
    text = code if quantity.get("system") == UCUM and isinstance(code, str) else unit
    return value, text if isinstance(text, str) and text else None


def _span_days(start: str, end: str) -> int | None:
    import datetime as dt

    try:
        return (dt.date.fromisoformat(end[:10]) - dt.date.fromisoformat(start[:10])).days
    except ValueError:
        return None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8") as handle:
            yield from enumerate(handle, start=1)
    except UnicodeDecodeError:
        raise ExportError(f"{path}: not UTF-8 text") from None


def _read_lines(
    reader: _Reader,
    file: Path,
    handlers: dict[str, Callable[[dict[str, Any], str], None]],
    only_patients: bool,
) -> None:
    """Read one file resource by resource (any mix of types, any line)."""
    loads = json.loads
    for number, text in _lines(file):
        if not text.strip():
            continue
        reader.line = number
        try:
            res = loads(text)
        except json.JSONDecodeError as exc:
            raise ExportError(
                f"{file}:{number}: not a JSON resource ({exc.msg} at column {exc.colno});"
                " a truncated or damaged file? export it again"
            ) from None
        kind = res.get("resourceType") if isinstance(res, dict) else None
        handler = handlers.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            handler(res, f"{kind}/{res.get('id')}")
        elif not isinstance(kind, str):
            reader.problem(None, "not a FHIR resource (no resourceType)")
        elif not only_patients or kind not in ("Condition", "Observation", "Encounter"):
            reader.skipped[kind] += 1
    reader.flush()


def read_fhir_export(path: Path, *, only_patients: bool = False, batch: bool = True) -> Export:
    """Read every ``*.ndjson`` file of ``path`` into an :class:`Export`.

    Files of one event resource type are read at once (:mod:`.export_fhir_batch`), unless
    ``batch`` is false; any other file, resource by resource. Both give the same export.
    """
    reader = _Reader()
    handlers: dict[str, Callable[[dict[str, Any], str], None]] = {"Patient": reader.patient}
    if not only_patients:
        handlers |= {
            "Condition": reader.condition,
            "MedicationRequest": reader.medication,
            "MedicationStatement": reader.medication,
            "Observation": reader.observation,
            "Encounter": reader.encounter,
            "Procedure": reader.procedure,
            "AllergyIntolerance": reader.allergy,
            "EpisodeOfCare": reader.episode,
            "Consent": reader.consent,
        }
    files = sorted(path.glob("*.ndjson"))
    if not files:
        raise ExportError(f"{path}: no *.ndjson file (a FHIR Bulk Data export)")
    for file in files:
        reader.file = file.name
        data = file.read_bytes()
        if only_patients and not _HAS_PATIENT.search(data):
            continue  # no Patient resource in this file: nothing to read for re-identification
        at_once = read_events_file(data, file.name) if batch and not only_patients else None
        if at_once is not None:
            reader.add_batch(at_once)
        else:
            _read_lines(reader, file, handlers, only_patients)
    reader.flush()
    return _assemble(reader)


_PATIENT_ROW = ("fhir_id", "file", "line", "local_id", "national_id", "family_name")
_PATIENT_ROW += ("given_names", "birth_date", "sex", "death_date")


def _assemble(reader: _Reader) -> Export:
    schema = {"fhir_id": pl.String(), **PATIENT_COLUMNS, "death_date": pl.String()}
    patients = pl.DataFrame(
        reader.patients, schema={c: schema[c] for c in _PATIENT_ROW}, orient="row"
    )
    reg = reader.registration
    registration = pl.DataFrame(
        {
            "fhir_id": list(reg),
            "registered_from": [v[0] for v in reg.values()],
            "registered_to": [None if v[2] else v[1] for v in reg.values()],
        },
        schema={
            "fhir_id": pl.String(),
            "registered_from": pl.String(),
            "registered_to": pl.String(),
        },
    )
    day = "%Y-%m-%d"
    patients = patients.join(registration, on="fhir_id", how="left", maintain_order="left")
    death = pl.col("death_date").str.strptime(pl.Date(), day, strict=False)
    reason = (
        pl.when(bad_birth_date())
        .then(pl.lit("birthDate: not a plausible date YYYY-MM-DD (or YYYY-MM, YYYY)"))
        .when(pl.col("death_date").is_not_null() & death.is_null())
        .then(pl.lit("deceasedDateTime: not a date"))
    )
    patients = patients.with_columns(_reason=reason)
    refused = patients.filter(pl.col("_reason").is_not_null()).select(
        "file", "line", resource=pl.lit("Patient"), reason="_reason", detail=pl.lit(None)
    )
    patients = patients.filter(pl.col("_reason").is_null()).with_columns(
        pl.col("death_date", "registered_from", "registered_to").str.strptime(
            pl.Date(), day, strict=False
        ),
        opted_out=pl.col("fhir_id").is_in(list(reader.opted_out)),
    )
    events, problems = {}, [*reader.problem_frames, refused]
    ids = patients.select("fhir_id", "local_id")
    for table, frames in reader.frames.items():
        columns = list(EVENT_COLUMNS[table])
        frame = pl.concat(frames) if frames else pl.DataFrame(schema=_raw_schema(table))
        frame = frame.rename({"local_id": "fhir_id"}).with_columns(
            date=pl.col("date").str.strptime(pl.Date(), "%Y-%m-%d", strict=False)
        )
        bad_date = frame.filter(pl.col("date").is_null())
        problems.append(_event_problems(bad_date, "date without a day or not a date"))
        frame = frame.filter(pl.col("date").is_not_null())
        joined = frame.join(ids, on="fhir_id", how="left", maintain_order="left")
        orphans = joined.filter(pl.col("local_id").is_null())
        problems.append(_event_problems(orphans, "patient not in the export or not converted"))
        events[table] = joined.filter(pl.col("local_id").is_not_null()).select(columns)
    patients = patients.select(list(PATIENT_COLUMNS))
    all_problems = pl.concat([p.cast(PROBLEM_COLUMNS) for p in problems])
    return Export("fhir", patients, events, all_problems, reader.unknown, reader.skipped)


def _event_problems(frame: pl.DataFrame, reason: str) -> pl.DataFrame:
    return frame.select(
        "file", "line", resource=pl.lit(None), reason=pl.lit(reason), detail=pl.lit(None)
    ).unique(subset=["file", "line"], maintain_order=True)
