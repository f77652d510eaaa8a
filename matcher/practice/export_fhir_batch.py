"""Read a whole NDJSON file of FHIR events at once with Polars (the fast path of the reader).

A Bulk Data export holds one file per resource type, hundreds of thousands of lines each.
Parsing them one by one in Python costs about 10 µs a resource; :func:`read_events_file`
parses a file of ``Condition``, ``MedicationRequest``/``MedicationStatement``,
``Observation`` or ``Encounter`` resources with ``polars.read_ndjson`` and converts it with
column expressions, giving the same rows, problems and unknown-system counts as the
resource-by-resource reader of :mod:`.export_fhir`.

It answers ``None`` (read the file resource by resource) whenever the file is not one it can
read the same way: another resource type in it, a blank or non-JSON line (line numbers must
stay exact), a value of an unexpected JSON type (a number where FHIR has a string, a string
where it has a number or an object), anything Polars refuses. So odd files cost time, never
correctness.

>>> import polars as pl
>>> line = ('{"resourceType": "Encounter", "id": "e1", "class": {"code": "AMB"},'
...         ' "subject": {"reference": "Patient/p1"}, "period": {"start": "2024-03-05T10:00"}}')
>>> batch = read_events_file((line + "\\n").encode(), "Encounter.ndjson")
>>> batch.events["encounters"].select("line", "local_id", "date", "kind").rows()
[(1, 'p1', '2024-03-05', 'office')]
>>> read_events_file(b'{"resourceType": "Patient", "id": "p1"}\\n', "Patient.ndjson") is None
True
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from matcher.practice.codings import SYSTEM_URIS, TABLE_SYSTEMS, UCUM
from matcher.practice.fhir_dosage import DOSAGE_SCHEMA, dose_exprs
from matcher.practice.fhir_status import answer_code_expr

DOSE_NAMES = ("dose", "daily_dose", "dose_unit")

_TEXT = pl.String()
_CODING = pl.List(pl.Struct({"system": _TEXT, "code": _TEXT}))
_CONCEPT = pl.Struct({"coding": _CODING, "text": _TEXT})
_QUANTITY = pl.Struct({"value": pl.Float64(), "unit": _TEXT, "system": _TEXT, "code": _TEXT})
_PERIOD = pl.Struct({"start": _TEXT, "end": _TEXT})
_COMMON = {
    "resourceType": _TEXT,
    "id": _TEXT,
    "status": _TEXT,
    "verificationStatus": pl.Struct({"coding": _CODING}),
    "subject": pl.Struct({"reference": _TEXT}),
}
_VALUE_KEYS = (
    "valueCodeableConcept", "valueString", "valueBoolean", "valueInteger", "valueRange",
    "valueRatio", "valueSampledData", "valueTime", "valueDateTime", "valuePeriod",
)  # fmt: skip
"""Observation ``value[x]`` besides ``valueQuantity`` (read as text: only their presence counts)."""

SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "diagnoses": _COMMON
    | {"code": _CONCEPT, "recordedDate": _TEXT, "onsetDateTime": _TEXT, "onsetPeriod": _PERIOD},
    "prescriptions": _COMMON
    | {
        "medicationCodeableConcept": _CONCEPT,
        "authoredOn": _TEXT,
        "effectiveDateTime": _TEXT,
        "effectivePeriod": _PERIOD,
        "dateAsserted": _TEXT,
        "dispenseRequest": pl.Struct({"expectedSupplyDuration": _QUANTITY}),
        "dosageInstruction": DOSAGE_SCHEMA,  # issue 18: drugs
        "dosage": DOSAGE_SCHEMA,
    },
    "observations": _COMMON
    | {
        "code": _CONCEPT,
        "effectiveDateTime": _TEXT,
        "effectivePeriod": _PERIOD,
        "issued": _TEXT,
        "valueQuantity": _QUANTITY,
        "component": pl.List(
            pl.Struct(
                {"code": _CONCEPT, "valueQuantity": _QUANTITY, "valueCodeableConcept": _CONCEPT}
            )
        ),
    }
    | dict.fromkeys(_VALUE_KEYS, _TEXT)
    | {"valueCodeableConcept": _CONCEPT},  # issue 18: its answer is read (value_code)
    "encounters": _COMMON | {"class": pl.Struct({"code": _TEXT}), "period": _PERIOD},
}
TABLE_OF: dict[str, str] = {
    "Condition": "diagnoses",
    "MedicationRequest": "prescriptions",
    "MedicationStatement": "prescriptions",
    "Observation": "observations",
    "Encounter": "encounters",
}
"""The resource types read in batch, and the event table each one fills."""

_STRING_KEYS = (
    "system|reference|unit|status|resourceType|id|recordedDate|onsetDateTime|authoredOn"
    "|effectiveDateTime|issued|dateAsserted|start|end"
)
_NOT_A_STRING = r'"(?:' + _STRING_KEYS + r')"\s*:\s*[-0-9tf\[{]|"code"\s*:\s*[-0-9tf\[]'
"""A key whose value FHIR types as a string (``code``: a string or a concept) given another
JSON type: Polars would read it as text where the resource-by-resource reader ignores it."""
_PERIODS = ("onsetPeriod", "effectivePeriod", "period")
_VOID = ("entered-in-error", "cancelled", "refuted")
_ENCOUNTER_KINDS = {"AMB": "office", "HH": "home", "VR": "tele", "EMER": "emergency"}
_ENCOUNTER_KINDS |= {"IMP": "admission", "ACUTE": "admission", "NONAC": "admission"}  # issue 18
_DAYS = {"d": 1, "day": 1, "days": 1, "wk": 7, "week": 7, "weeks": 7}
_DAYS |= {"mo": 30, "month": 30, "months": 30, "a": 365, "year": 365, "years": 365}


@dataclass
class Batch:
    """One file read at once: raw event rows, problems and unknown coding systems."""

    events: dict[str, pl.DataFrame]
    problems: pl.DataFrame
    unknown: Counter[str] = field(default_factory=Counter)


def _read(data: bytes, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Parse NDJSON: first every field as text (nested ones as their JSON), then the nested
    ones from that text, which is twice as fast as building them in one pass."""
    frame = pl.read_ndjson(io.BytesIO(data), schema=dict.fromkeys(schema, pl.String()))
    nested = [name for name, dtype in schema.items() if dtype != pl.String()]
    return frame.with_columns(pl.col(name).str.json_decode(schema[name]) for name in nested)


def _parse(data: bytes) -> tuple[str, pl.DataFrame] | None:
    first = data[: data.find(b"\n") if b"\n" in data else len(data)]
    kind = next((k for k in TABLE_OF if b'"' + k.encode() + b'"' in first), None)
    if kind is None:
        return None
    table = TABLE_OF[kind]
    try:
        if pl.Series([data.decode("utf-8")]).str.contains(_NOT_A_STRING).item():
            return None
        frame = _read(data, SCHEMAS[table])
    except Exception:  # any refusal (not UTF-8, not JSON, a type): read resource by resource
        return None
    # Polars skips blank lines: a count that differs means line numbers would not be exact.
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    kinds = [k for k, t in TABLE_OF.items() if t == table]
    if frame.height != lines or not frame["resourceType"].is_in(kinds).all():
        return None
    return table, frame


def _text(expr: pl.Expr) -> pl.Expr:
    """A non-empty string, else null (Python's ``isinstance(v, str) and v``)."""
    return pl.when(expr.str.len_chars() > 0).then(expr)


def _date(fields: tuple[str, ...]) -> pl.Expr:
    """The first present date field (a Period's start), cut to ``YYYY-MM-DD``."""
    values = []
    for name in fields:
        column = pl.col(name)
        if name in _PERIODS:
            column = column.struct.field("start")
        values.append(_text(column).str.slice(0, 10))
    return pl.coalesce(values)


def _head(frame: pl.DataFrame, dates: pl.Expr) -> pl.DataFrame:
    """Line, where, status, subject and date of every resource (``_Reader._event``)."""
    reference = _text(pl.col("subject").struct.field("reference"))
    first_code = pl.col("verificationStatus").struct.field("coding").list.first()
    status = pl.coalesce(_text(pl.col("status")), first_code.struct.field("code"))
    subject = (
        pl.when(reference.str.starts_with("urn:uuid:"))
        .then(reference.str.slice(9))
        .otherwise(reference.str.extract(r"Patient/([^/]+)$", 1))
    )
    where = pl.format("{}/{}", pl.col("resourceType"), pl.col("id").fill_null("None"))
    return frame.with_columns(
        line=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
        where=where,
        _status=status,
        _subject=subject,
        _date=dates,
    )


def _head_problems(head: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(resources that passed, problems of the others), as ``_event`` reports them."""
    void = pl.col("_status").is_in(_VOID).fill_null(False)
    reason = (
        pl.when(void)
        .then(pl.format("status {}", pl.col("_status")))
        .when(pl.col("_subject").is_null())
        .then(pl.lit("no subject Patient reference"))
        .when(pl.col("_date").is_null())
        .then(pl.lit("no date"))
    )
    marked = head.with_columns(_reason=reason)
    problems = marked.filter(pl.col("_reason").is_not_null()).select(
        "line", part=pl.lit(0), where="where", reason="_reason", detail=pl.lit(None, pl.String)
    )
    return marked.filter(pl.col("_reason").is_null()), problems


def _codes(parts: pl.DataFrame, table: str) -> tuple[pl.DataFrame, pl.DataFrame, Counter[str]]:
    """Per part (``line``, ``part``, ``_coding``): one row per recognised system with its first
    code; problems for parts with none; unknown systems counted (``_Reader.codes``)."""
    allowed = {uri: name for uri, name in SYSTEM_URIS.items() if name in TABLE_SYSTEMS[table]}
    codings = (
        parts.select("line", "part", "_coding")
        .explode("_coding")
        .with_columns(
            _uri=pl.col("_coding").struct.field("system"),
            code=pl.col("_coding").struct.field("code"),
        )
        .filter(pl.col("code").is_not_null() & (pl.col("code").str.strip_chars() != ""))
        .with_columns(
            system=pl.col("_uri")
            .str.strip_chars_end("/")
            .replace_strict(allowed, default=None, return_dtype=pl.String)
        )
    )
    unknown_rows = codings.filter(pl.col("system").is_null()).with_columns(
        _label=pl.coalesce(_text(pl.col("_uri")), pl.lit("(no system)"))
    )
    unknown = Counter(dict(unknown_rows["_label"].value_counts().iter_rows()))
    found = codings.filter(pl.col("system").is_not_null()).unique(
        ["line", "part", "system"], keep="first", maintain_order=True
    )
    seen = unknown_rows.group_by("line", "part", maintain_order=True).agg(
        detail=pl.col("_label").unique(maintain_order=True).str.join(", ")
    )
    missing = (
        parts.select("line", "part", "where")
        .join(found.select("line", "part").unique(), on=["line", "part"], how="anti")
        .join(seen, on=["line", "part"], how="left", maintain_order="left")
    )
    problems = missing.select(
        "line",
        "part",
        "where",
        reason=pl.when(pl.col("detail").is_not_null())
        .then(pl.lit("no coding in a recognised system"))
        .otherwise(pl.lit("no code")),
        detail="detail",
    )
    return found.select("line", "part", "system", "code"), problems, unknown


def _quantity(q: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    code, unit = q.struct.field("code"), q.struct.field("unit")
    text = pl.when((q.struct.field("system") == UCUM) & code.is_not_null()).then(code)
    return q.struct.field("value"), _text(text.otherwise(unit))


def _doses() -> dict[str, pl.Expr]:
    """The dose columns of a medication resource (issue 18, :mod:`.fhir_dosage`)."""
    exprs = dose_exprs(pl.coalesce("dosageInstruction", "dosage"))
    return dict(zip(DOSE_NAMES, exprs, strict=True))


def _supply_days(q: pl.Expr) -> pl.Expr:
    word = pl.coalesce(_text(q.struct.field("code")), _text(q.struct.field("unit")), pl.lit(""))
    factor = word.str.to_lowercase().replace_strict(_DAYS, default=None, return_dtype=pl.Int64)
    days = (q.struct.field("value") * factor).round(0, mode="half_to_even").clip(lower_bound=0)
    return days.cast(pl.Int32)


def _span_days(period: pl.Expr) -> pl.Expr:
    start, end = (_text(period.struct.field(f)) for f in ("start", "end"))
    day = "%Y-%m-%d"
    first = start.str.slice(0, 10).str.strptime(pl.Date(), day, strict=False)
    last = end.str.slice(0, 10).str.strptime(pl.Date(), day, strict=False)
    both = start.is_not_null() & end.is_not_null()
    return pl.when(both).then((last - first).dt.total_days()).cast(pl.Int32)


def _event_rows(ok: pl.DataFrame, table: str) -> tuple[pl.DataFrame, list, Counter[str]]:
    """Rows of the resources that passed ``_head``, in the reader's column order."""
    base = ["line", "_subject", "_date"]
    if table == "encounters":
        code = pl.col("class").struct.field("code")
        kind = code.replace_strict(_ENCOUNTER_KINDS, default=code.str.to_lowercase())
        rows = ok.select(
            *base, kind=pl.when(_text(code).is_not_null()).then(kind).otherwise(pl.lit("other"))
        )
        return rows, [], Counter()
    problems: list[pl.DataFrame] = []
    if table == "prescriptions":
        by_reference = ok.filter(pl.col("medicationCodeableConcept").is_null())
        problems.append(
            by_reference.select(
                "line", part=pl.lit(0), where="where",
                reason=pl.lit("medication given by reference, not by code"),
                detail=pl.lit(None, pl.String),
            )
        )  # fmt: skip
        request = pl.col("resourceType") == "MedicationRequest"
        supply = pl.col("dispenseRequest").struct.field("expectedSupplyDuration")
        parts = ok.filter(pl.col("medicationCodeableConcept").is_not_null()).select(
            *base, "where", part=pl.lit(0),
            _coding=pl.col("medicationCodeableConcept").struct.field("coding"),
            duration_days=pl.when(request).then(_supply_days(supply))
            .otherwise(_span_days(pl.col("effectivePeriod"))),
            **_doses(),
        )  # fmt: skip
        payload = ["duration_days", *DOSE_NAMES]
    elif table == "observations":
        code = pl.col("code")
        # A concept counts when it has a coding list or a text: one holding only other keys
        # (an extension alone) counts as absent here, where the resource-by-resource reader
        # would report "no code" for it.
        truthy = code.is_not_null() & (
            code.struct.field("coding").is_not_null() | code.struct.field("text").is_not_null()
        )
        components = pl.col("component")
        has_value = pl.any_horizontal(
            pl.col("valueQuantity").is_not_null(), *(pl.col(k).is_not_null() for k in _VALUE_KEYS)
        )
        own = truthy & (components.is_null() | (components.list.len() == 0) | has_value)
        value, unit = _quantity(pl.col("valueQuantity"))
        answer = answer_code_expr(pl.col("valueCodeableConcept"))
        top = ok.filter(own).select(
            *base, "where", part=pl.lit(0, pl.Int64),
            _coding=code.struct.field("coding"), value=value, unit=unit, value_code=answer,
        )  # fmt: skip
        exploded = ok.select(*base, "where", "component").explode("component")
        exploded = exploded.filter(pl.col("component").is_not_null())
        c_value, c_unit = _quantity(pl.col("component").struct.field("valueQuantity"))
        comps = exploded.select(
            *base, "where",
            part=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("line"),
            _coding=pl.col("component").struct.field("code").struct.field("coding"),
            value=c_value, unit=c_unit,
            value_code=answer_code_expr(
                pl.col("component").struct.field("valueCodeableConcept")
            ),
        )  # fmt: skip
        parts = pl.concat([top, comps]).sort("line", "part", maintain_order=True)
        payload = ["value", "unit", "value_code"]
    else:  # diagnoses
        parts = ok.select(
            *base, "where", part=pl.lit(0), _coding=pl.col("code").struct.field("coding")
        )
        payload = []
    found, code_problems, unknown = _codes(parts, table)
    problems.append(code_problems)
    rows = found.join(
        parts.select("line", "part", *base[1:], *payload),
        on=["line", "part"],
        maintain_order="left",
    ).select(*base, "system", "code", *payload)
    return rows, problems, unknown


def read_events_file(data: bytes, file_name: str) -> Batch | None:
    """The rows, problems and unknown systems of one NDJSON file, or ``None`` when the file
    must be read resource by resource (see the module's docstring)."""
    parsed = _parse(data)
    if parsed is None:
        return None
    table, frame = parsed
    dates = {
        "diagnoses": _date(("recordedDate", "onsetDateTime", "onsetPeriod")),
        "prescriptions": pl.when(pl.col("resourceType") == "MedicationRequest")
        .then(_date(("authoredOn", "dateAsserted")))
        .otherwise(_date(("effectiveDateTime", "effectivePeriod", "dateAsserted"))),
        "observations": _date(("effectiveDateTime", "effectivePeriod", "issued")),
        "encounters": _date(("period",)),
    }[table]
    ok, head_problems = _head_problems(_head(frame, dates))
    rows, problems, unknown = _event_rows(ok, table)
    problem_frame = (
        pl.concat(
            [
                head_problems.cast({"part": pl.Int64}),
                *(p.cast({"part": pl.Int64}) for p in problems),
            ]
        )
        .sort("line", "part", maintain_order=True)
        .select(
            file=pl.lit(file_name), line="line", resource="where", reason="reason", detail="detail"
        )
    )
    rows = rows.rename({"_subject": "local_id", "_date": "date"}).with_columns(
        file=pl.lit(file_name)
    )
    return Batch({table: rows}, problem_frame, unknown)
