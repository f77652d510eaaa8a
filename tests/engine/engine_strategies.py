"""Hypothesis strategies: random valid IR trees over every node type, and small random
tables with colliding dates and values, boundary dates, leap days, nulls and duplicates, codes
in every accepted spelling (dotted, undotted, lower case, padded, with fillers) and values in
units that do not convert."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import polars as pl
from engine_helpers import codeset
from hypothesis import strategies as st

from criteria_dsl import ir
from matcher.data.loader import Dataset
from matcher.data.schema import TABLES
from matcher.engine.dates import shift_date

D = dt.date
INDEXES = (D(2024, 2, 29), D(2024, 3, 31), D(2023, 12, 31), D(2024, 6, 15))
DURATIONS = (
    ir.Duration(0, ir.TimeUnit.DAY),
    ir.Duration(10, ir.TimeUnit.DAY),
    ir.Duration(2, ir.TimeUnit.WEEK),
    ir.Duration(1, ir.TimeUnit.MONTH),
    ir.Duration(6, ir.TimeUnit.MONTH),
    ir.Duration(1, ir.TimeUnit.YEAR),
)
CODES = (
    ("icd10", "E11"),
    ("icd10", "E11.9"),
    ("icd10", "I10"),
    ("icpc2", "T90"),
    ("atc", "A10BA02"),
    ("atc", "C09AA05"),
    ("atc", "C09CA01"),  # langdata: a class of its own at level 4, C09 with C09AA05 at level 2
    ("loinc", "4548-4"),
    ("loinc", "2345-7"),
    ("loinc", "39156-5"),
)
STATUS_CODES = (  # issue 18: smoking, pregnancy and breast-feeding records
    ("loinc", "72166-2"),
    ("loinc", "8664-5"),
    ("loinc", "64218-1"),
    ("loinc", "82810-3"),
    ("loinc", "63895-7"),
)
STATUS_DIAGNOSES = (("icd10", "Z34.0"), ("icd10", "O80"), ("icd10", "Z39.1"), ("icpc2", "W78"))
ANSWERS_OF = {  # the answers each status code takes (None: no answer)
    "72166-2": ("8517006", "449868002", " 266919005 ", "77176002", None, "266927001", "8392000"),
    "82810-3": ("77386006", "60001007", "261665006"),
    "63895-7": ("LA29252-6", "LA29253-4"),
    "8664-5": (None,),
    "64218-1": (None,),
}
VALUE_CODES = (
    None,
    "449868002",
    "8517006",
    " 266919005 ",
    "77176002",
    "266927001",
    "77386006",
    "60001007",
    "LA29252-6",
    "LA29253-4",
    "xyz",
)
PROCEDURE_CODES = (("ccam", "DEQP003"), ("ccam", "HFFC018"), ("snomed", "80146002"))
"""Codes of the optional procedures table (issue 18), drawn after every other table."""
ALLERGY_CODES = (("atc", "A10BA02"), ("atc", "C09AA05"), ("snomed", "80146002"))
"""Substances of the optional allergies table (issue 18), drawn after the procedures."""
ALLERGY_KINDS = ("allergy", "intolerance", None)
"""An allergy record's kind; null: not recorded (a filter on the kind is unknown for it)."""
CODESETS = (
    codeset(
        "cs_a",
        ("icd10", "E11"),
        ("icpc2", "T90"),
        ("atc", "A10BA02"),
        ("loinc", "4548-4"),
        ("ccam", "DEQP003"),
    ),
    codeset(
        "cs_b",
        ("icd10", "I10"),
        ("atc", "C09AA05"),
        ("loinc", "2345-7"),
        ("loinc", "4548-4"),
        ("ccam", "HFFC018"),
        ("snomed", "80146002"),
    ),
    codeset("cs_c", ("icd10", "E11.9"), ("loinc", "39156-5"), ("loinc", "2345-7")),
    # issue 18, language reach: two substances, so that distinct-drug counts reach 2
    codeset("cs_rx", ("atc", "A10BA02"), ("atc", "C09AA05"), ("atc", "C09CA01"), ("icd10", "I10")),
)
ROW_UNITS = ("%", "mmol/mol", "mmol/L", "g/L", "mg/dL", "kg", "mmol/l", "{odd}", "mEq/L", None)
STATUS_UNITS = ("{pack-years}", "{cigarettes}/d")  # issue 18: smoking quantities
TARGET_UNITS = ("%", "mmol/mol", "mmol/L", "g/L", "{odd}", None)
NUMBERS = (0.0, 1.0, 5.5, 6.5, 7.0, 7.5, 53.0, 60.0)
NON_FINITE = (float("nan"), float("inf"), float("-inf"))  # missing values (issue 11 item 9)
KINDS = ("office", "home", "tele", "admission", "emergency")  # issue 18: hospital contacts
OUTSIDE = ("admission", "emergency")
"""Kinds of contact outside the practice: their ``practice_id`` is null."""


def spellings(system: str, code: str) -> list[str]:
    """Ways real data writes ``code``: as is, undotted, lower case, padded, with a filler."""
    out = [code, code.lower(), f" {code} ", f"{code.lower()}  "]
    if "." in code:
        out.append(code.replace(".", ""))
        out.append(code.replace(".", "").lower())
    if system == "icd10" and len(code) == 3:
        out += [f"{code}X", f"{code}-", f"{code}.X"]
    return out


def spelled(pair: tuple[str, str]) -> st.SearchStrategy:
    system, code = pair
    return st.sampled_from(spellings(system, code)).map(lambda c: (system, c))


def date_pool(index: dt.date) -> list[dt.date]:
    """Dates that hit window boundaries, their neighbours, month ends and leap days."""
    pool = {index, D(2024, 2, 29), D(2020, 2, 29), D(2023, 2, 28), D(2023, 9, 30)}
    for d in DURATIONS:
        for direction in ("before", "after"):
            edge = shift_date(index, d, direction)
            pool.update({edge, edge - dt.timedelta(days=1), edge + dt.timedelta(days=1)})
    return sorted(pool)


# -- IR -----------------------------------------------------------------------------------------

durations = st.sampled_from(DURATIONS)
calendar_dates = st.sampled_from(date_pool(D(2024, 2, 29))).map(ir.CalendarDate)


def anchors(depth: int) -> st.SearchStrategy:
    options = [st.just(ir.IndexDate()), calendar_dates]
    if depth > 0:
        options.append(
            st.builds(ir.EventDate, event_sets(depth - 1), st.sampled_from(["first", "latest"]))
        )
    return st.one_of(options)


def bounds(depth: int) -> st.SearchStrategy:
    return st.builds(
        ir.Bound,
        anchors(depth),
        st.none() | durations,
        st.sampled_from(["before", "after"]),
        st.booleans(),
    )


@st.composite
def windows(draw, depth: int) -> ir.Window:
    """Windows where at most one side is measured from an event date (keeps trees small)."""
    deep = draw(st.booleans())
    start = draw(st.none() | bounds(depth if deep else 0))
    end = draw(st.none() | bounds(0 if deep else depth))
    return ir.Window(start, end)


def quantities(unit: str | None) -> st.SearchStrategy:
    return st.sampled_from(NUMBERS).map(lambda v: ir.Quantity(v, unit))


codeset_refs = st.sampled_from(CODESETS).map(lambda c: ir.CodeSetRef(c.name))
comparators = st.sampled_from(ir.COMPARATORS)


@st.composite
def event_sets(draw, depth: int, domain: ir.Domain | None = None) -> ir.EventSet:
    domain = domain or draw(st.sampled_from(list(ir.Domain)))
    window = draw(windows(depth))
    # issue 18, cause of an event: 'with diagnosis of X on the same day', one set in four
    same_day = draw(st.sampled_from([None, None, None, *CODESETS]).map(_ref))
    if domain is ir.Domain.ENCOUNTER:
        kinds = tuple(draw(st.lists(st.sampled_from(KINDS), max_size=2)))
        return ir.EventSet(domain, None, window, kinds=kinds, same_day=same_day)
    if domain is ir.Domain.ALLERGY:  # issue 18: 'allergy to X [of kind K]'
        kinds = tuple(draw(st.lists(st.sampled_from(ir.ALLERGY_KINDS), max_size=2)))
        return ir.EventSet(domain, draw(codeset_refs), window, kinds=kinds, same_day=same_day)
    value = None
    if domain is ir.Domain.OBSERVATION and draw(st.booleans()):
        unit = draw(st.sampled_from(TARGET_UNITS))
        value = ir.ValueCondition(draw(comparators), draw(quantities(unit)))
    if domain is ir.Domain.PRESCRIPTION and draw(st.booleans()):
        value = draw(dose_conditions())  # issue 18: drugs
    return ir.EventSet(domain, draw(codeset_refs), window, value, same_day=same_day)


def _ref(codeset: ir.CodeSetDef | None) -> ir.CodeSetRef | None:
    return None if codeset is None else ir.CodeSetRef(codeset.name)


@st.composite
def compares(draw, depth: int) -> ir.Compare:
    kind = draw(st.sampled_from(["age", "count", "value", "value"]))
    op = draw(comparators)
    if kind == "age":
        return ir.Compare(ir.Age(), op, ir.Quantity(draw(st.sampled_from([17, 18, 59, 60, 64]))))
    if kind == "count":
        count = ir.Count(draw(event_sets(depth)), draw(st.booleans()))
        return ir.Compare(count, op, ir.Quantity(draw(st.integers(0, 3))))
    unit = draw(st.sampled_from(TARGET_UNITS))
    function = draw(st.sampled_from(ir.AGGREGATE_FUNCTIONS))
    aggregate = ir.ValueAggregate(draw(event_sets(depth, ir.Domain.OBSERVATION)), function, unit)
    return ir.Compare(aggregate, op, draw(quantities(unit)))


def leaves(depth: int) -> st.SearchStrategy:
    return st.one_of(
        st.sampled_from([True, False, None]).map(ir.Constant),
        event_sets(depth).map(ir.Exists),
        compares(depth),
        compares(depth),
        st.sampled_from(["F", "M"]).map(ir.SexIs),
        # issue 18 status facts share a slot with RegisteredFor (keeps the other leaves as
        # frequent as before)
        durations.map(ir.RegisteredFor) | status_facts(),
        drug_leaves(depth),  # issue 18: drugs; language reach
    )


@st.composite
def variations(draw, depth: int) -> ir.ValueVariation:
    """Issue 18, language reach: the variation of a value, in a unit of the generated rows."""
    events = draw(event_sets(depth, ir.Domain.OBSERVATION))
    unit = draw(st.sampled_from(TARGET_UNITS))
    right = ir.Quantity(draw(st.sampled_from(NUMBERS)), ir.VARIATION_UNIT)
    return ir.ValueVariation(events, unit, draw(comparators), right)


def status_facts() -> st.SearchStrategy:
    """Issue 18: smoking status and quantity, pregnancy and breast-feeding at index."""
    statuses = st.lists(st.sampled_from(ir.SMOKING_STATUSES), min_size=1, max_size=3, unique=True)
    return st.one_of(
        statuses.map(lambda s: ir.SmokingStatusIs(tuple(s))),
        st.builds(
            ir.SmokingQuantity,
            st.sampled_from(ir.SMOKING_QUANTITIES),
            comparators,
            st.sampled_from(NUMBERS).map(ir.Quantity),
        ),
        st.sampled_from(ir.INDEX_STATES).map(ir.StateAtIndex),
        # issue 18, smoking history: 'stopped smoking at least D before index'
        st.builds(
            ir.SmokingHistory,
            st.sampled_from(ir.SMOKING_HISTORIES),
            st.sampled_from(HISTORY_PERIODS),
        ),
    )


HISTORY_PERIODS = (
    ir.Duration(0, ir.TimeUnit.DAY),
    ir.Duration(30, ir.TimeUnit.DAY),
    ir.Duration(6, ir.TimeUnit.MONTH),
    ir.Duration(1, ir.TimeUnit.YEAR),
)


# ---- issue 18: drugs ----


DOSE_NUMBERS = (0.5, 1.0, 2.0, 20.0, 40.0, 500.0)
DOSE_UNITS = ("mg", "g", "ug", "mL", "[iU]", "tablet", None)
DDDS = (("A10BA02", 2.0, "g"), ("C09AA05", 10.0, "mg"), ("A10AE04", 40.0, "[iU]"))


@st.composite
def dose_conditions(draw) -> ir.DoseCondition:
    """Dose filters in mass units, other units and DDDs (two of the codes with a DDD)."""
    daily = draw(st.booleans())
    units = ["mg", "g", "ug", "mL"] + (["DDD", "DDD"] if daily else [])
    unit = draw(st.sampled_from(units))
    ddd = DDDS[:2] if unit == "DDD" else ()
    return ir.DoseCondition(
        daily, draw(comparators), ir.Quantity(draw(st.sampled_from(DOSE_NUMBERS)), unit), ddd
    )


def drug_leaves(depth: int) -> st.SearchStrategy:
    """Persistence and new-treatment predicates over any event set; distinct-drug counts and
    value variations (issue 18, language reach)."""
    return st.one_of(
        st.builds(ir.Spans, event_sets(depth), durations),
        event_sets(depth).map(ir.FirstEvent),
        st.builds(ir.StableDose, codeset_refs, durations),
        st.builds(ir.NoChange, codeset_refs, durations, durations),
        drug_counts(depth),  # issue 18, language reach: distinct drugs
        variations(depth),  # issue 18, language reach: the variation of a value
        coverages(),  # issue 18: treatment length
        answer_questions(),  # issue 18: coded answers
    )


ANSWER_POOL = (None, "LA28404-4", "LA28405-1", " LA28406-9 ", "421704003", "xyz")
"""Coded answers of the generated observations (issue 18, coded answers): none, listed or
not, padded."""


@st.composite
def answer_questions(draw) -> ir.AnswerIs:
    """Issue 18, coded answers: the latest or first answer of a set of observations in a
    window of fixed dates, against one to three answers."""
    events = draw(event_sets(0, ir.Domain.OBSERVATION))
    events = replace(events, value=None, same_day=None)
    listed = draw(st.lists(st.sampled_from(ANSWER_POOL[1:]), min_size=1, max_size=3))
    return ir.AnswerIs(events, draw(st.sampled_from(ir.ANSWER_RECORDS)), tuple(listed))


COVERED_DAYS = (0, 1, 7, 8, 30, 31, 365)
"""Thresholds of ``covering ... N days``, colliding with the generated durations."""


@st.composite
def coverages(draw) -> ir.Covers:
    """Issue 18, treatment length: days covered by prescriptions, in a window of fixed dates
    (the index date or calendar dates: depth 0), with or without a dose filter."""
    events = draw(event_sets(0, ir.Domain.PRESCRIPTION))
    events = replace(events, same_day=None)  # the compiler refuses 'on the same day' with it
    return ir.Covers(
        events, draw(st.sampled_from(ir.COVERAGE_OPS)), draw(st.sampled_from(COVERED_DAYS))
    )


@st.composite
def one_rule_studies(draw, predicates: st.SearchStrategy) -> ir.Study:
    """A study of one inclusion rule ``r`` drawn from ``predicates``, at a random index date:
    a construct alone, patient by patient against the reference."""
    rule_ = ir.Rule("r", ir.Section.INCLUSION, draw(predicates))
    return ir.Study("s", 1, None, draw(st.sampled_from(INDEXES)), (), CODESETS, (rule_,), ())


def answers_reached(studies: st.SearchStrategy, examples: int = 150) -> set:
    """The answers (True, False, None) the reference gives rule ``r`` of the generated
    studies on generated data: a guard that random cases reach every answer."""
    from engine_helpers import reference_rows
    from hypothesis import given, settings

    seen: set = set()

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None)
    @given(studies, st.data())
    def collect(study, data):
        rows = data.draw(datasets(study.index_date))
        seen.update(r["r"] for r in reference_rows(study, rows).values())

    collect()
    return seen


@st.composite
def drug_counts(draw, depth: int) -> ir.Compare:
    """Issue 18, language reach: a count of distinct drugs among prescriptions, or of distinct
    ATC classes of a level (langdata)."""
    events = draw(event_sets(depth, ir.Domain.PRESCRIPTION))
    level = draw(st.sampled_from((None, 1, 2, 3, 4, 5)))
    if level is None:
        count = ir.Count(events, distinct_drugs=True)
    else:
        count = ir.Count(events, atc_level=level)
    return ir.Compare(count, draw(comparators), ir.Quantity(draw(st.integers(0, 3))))


def predicates(max_leaves: int = 4, window_depth: int = 2) -> st.SearchStrategy:
    """Predicate trees with at most ``max_leaves`` leaves; windows nest ``window_depth`` deep."""

    def extend(inner: st.SearchStrategy) -> st.SearchStrategy:
        items = st.lists(inner, min_size=2, max_size=3).map(tuple)
        return st.one_of(
            items.map(ir.And),
            items.map(ir.Or),
            inner.map(ir.Not),
            st.lists(inner, min_size=1, max_size=3).flatmap(
                lambda xs: st.integers(1, len(xs)).map(lambda k: ir.AtLeast(k, tuple(xs)))
            ),
        )

    return st.recursive(leaves(window_depth), extend, max_leaves=max_leaves)


@st.composite
def studies(draw, sid: str = "s") -> ir.Study:
    n = draw(st.integers(1, 3))
    rules = []
    leaves_per_rule = 3 if n > 1 else 4
    for i in range(n):
        section = draw(st.sampled_from(list(ir.Section)))
        unknown_as = draw(st.sampled_from([None, True, False]))
        rules.append(ir.Rule(f"rule_{i}", section, draw(predicates(leaves_per_rule)), unknown_as))
    index = draw(st.sampled_from(INDEXES))
    inclusion = tuple(r for r in rules if r.section is ir.Section.INCLUSION)
    exclusion = tuple(r for r in rules if r.section is ir.Section.EXCLUSION)
    return ir.Study(sid, 1, None, index, (), CODESETS, inclusion, exclusion)


# -- data ---------------------------------------------------------------------------------------


@st.composite
def datasets(draw, index: dt.date) -> Dataset:
    pool = date_pool(index)
    days = st.sampled_from(pool)
    n = draw(st.integers(1, 6))
    pids = [f"p{i}" for i in range(n)]
    maybe_day = st.none() | days
    patients = [
        {
            "patient_id": pid,
            "birth_year": draw(st.sampled_from([1960, 1964, 2006, 2007])),
            "birth_month": draw(st.none() | st.integers(1, 12) | st.just(index.month)),
            "sex": draw(st.sampled_from("FMU")),
            "practice_id": "pr1",
            "centre_id": "c1",
            "registered_from": draw(st.none() | days),
            "registered_to": draw(st.none() | st.none() | days),
            "death_date": draw(st.none() | st.none() | maybe_day),
            "opted_out": draw(st.sampled_from([False, False, False, True])),
            "practice_token": None,
        }
        for pid in pids
    ]
    patient_ids = st.sampled_from(pids)
    codes = st.sampled_from(CODES).flatmap(spelled)

    def coded(extra: dict, pool: st.SearchStrategy = codes) -> st.SearchStrategy:
        return st.builds(
            lambda p, d, c, x: {"patient_id": p, "date": d, "system": c[0], "code": c[1], **x},
            patient_ids,
            days,
            pool,
            st.fixed_dictionaries(extra),
        )

    observation = coded(
        {
            "value": st.none() | st.sampled_from(NUMBERS + NON_FINITE),
            "unit": st.sampled_from(ROW_UNITS),
        }
    )
    encounter = st.builds(
        lambda p, d, k: {
            "patient_id": p,
            "date": d,
            "practice_id": None if k in OUTSIDE else "pr1",
            "kind": k,
        },
        patient_ids,
        days,
        st.sampled_from(KINDS),
    )
    tables = {
        "patients": patients,
        "diagnoses": draw(st.lists(coded({}), max_size=8)),
        "prescriptions": draw(st.lists(coded(prescription_extra()), max_size=6)),
        "observations": draw(st.lists(observation, max_size=10)),
        "encounters": draw(st.lists(encounter, max_size=6)),
    }
    # issue 18: smoking, pregnancy and breast-feeding records (drawn last: the draws above
    # stay as they were)
    edges = [index - dt.timedelta(days=n + e) for n in (294, 182) for e in (-1, 0, 1)]
    every_day = sorted(set(pool) | set(edges))  # with the 42- and 26-week boundaries
    status_days = st.sampled_from([d for d in every_day if d <= index]) | st.sampled_from(every_day)
    status_obs = st.builds(
        lambda p, d, ca, v, u: {
            "patient_id": p,
            "date": d,
            "system": ca[0][0],
            "code": ca[0][1],
            "value": v,
            "unit": u,
            "value_code": ca[1],
        },
        patient_ids,
        status_days,
        # mostly an answer of the code's own list, sometimes any answer (or none)
        st.sampled_from(STATUS_CODES).flatmap(
            lambda c: st.tuples(
                spelled(c),
                st.sampled_from(ANSWERS_OF[c[1]]) | st.sampled_from(VALUE_CODES),
            )
        ),
        st.sampled_from((10.0, 5.0, 20.0, 1.0, *NON_FINITE)) | st.none(),
        st.sampled_from((*STATUS_UNITS, None, None, "kg")),
    )
    status_diag = st.builds(
        lambda p, d, c: {"patient_id": p, "date": d, "system": c[0], "code": c[1]},
        patient_ids,
        status_days,
        st.sampled_from(STATUS_DIAGNOSES).flatmap(spelled),
    )
    tables["observations"] += draw(st.lists(status_obs, min_size=3, max_size=16))
    # issue 18, coded answers: observations of the code sets' LOINC codes with an answer
    answer_obs = st.builds(
        lambda p, d, c, a: {
            "patient_id": p,
            "date": d,
            "system": c[0],
            "code": c[1],
            "value": None,
            "unit": None,
            "value_code": a,
        },
        patient_ids,
        days,
        st.sampled_from([c for c in CODES if c[0] == "loinc"]),
        st.sampled_from(ANSWER_POOL),
    )
    tables["observations"] += draw(st.lists(answer_obs, max_size=8))
    tables["diagnoses"] += draw(st.lists(status_diag, max_size=6))
    # issue 18: the optional procedures table is sometimes not provided (criteria unknown)
    provided = draw(st.sampled_from([True, True, True, False]))
    if provided:
        procedure_codes = st.sampled_from(PROCEDURE_CODES).flatmap(spelled)
        tables["procedures"] = draw(st.lists(coded({}, procedure_codes), max_size=6))
    # issue 18: the optional allergies table too, with kinds sometimes not recorded
    if draw(st.sampled_from([True, True, True, False])):
        allergy_codes = st.sampled_from(ALLERGY_CODES).flatmap(spelled)
        kinds = {"kind": st.sampled_from(ALLERGY_KINDS)}
        tables["allergies"] = draw(st.lists(coded(kinds, allergy_codes), max_size=6))
    # duplicate some rows exactly
    for name in ("diagnoses", "observations"):
        rows = tables[name]
        if rows and draw(st.booleans()):
            rows.append(dict(rows[0]))
    frames = {}
    for name, rows in tables.items():
        schema = TABLES[name].schema()
        full = [{c: r.get(c) for c in schema} for r in rows]
        frames[name] = pl.DataFrame(full, schema=schema, orient="row")
    return Dataset.from_frames(validate=False, **frames)


def prescription_extra() -> dict:
    """Dose columns (issue 18): amounts colliding with the filters', NaN, units that convert,
    that do not, and none."""
    amounts = st.none() | st.sampled_from((*DOSE_NUMBERS, 0.04, 40.0, 40.0, 1000.0, float("nan")))
    return {
        # issue 18, treatment length: none, zero, and lengths around the thresholds
        "duration_days": st.none() | st.sampled_from((0, 1, 6, 7, 8, 30, 90, 400)),
        "dose": amounts,
        "daily_dose": amounts,
        "dose_unit": st.sampled_from(DOSE_UNITS),
    }


@st.composite
def study_and_data(draw):
    """A random study and random data around its index date."""
    study = draw(studies())
    return study, draw(datasets(study.index_date))


@st.composite
def many_studies_and_data(draw, most: int = 3):
    """Two to ``most`` random studies and random data around the first one's index date."""
    items = [draw(studies(sid=f"s{i}")) for i in range(draw(st.integers(2, most)))]
    return items, draw(datasets(items[0].index_date))
