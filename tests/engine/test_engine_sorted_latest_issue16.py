"""The sorted path of ``latest``/``first`` values (issue 16, warm target: rows of one code of a
snapshot come sorted by patient then date, so each value is found by position,
:mod:`matcher.engine.latest`) against the frame path and the reference evaluator, on random
studies and data; and checks that the path is taken only where the order holds."""

from __future__ import annotations

import polars as pl
from engine_helpers import (
    INDEX,
    codeset,
    engine_rows,
    frames,
    inc,
    obs,
    patient,
    reference_rows,
    study,
)
from engine_strategies import (
    INDEXES,
    NON_FINITE,
    NUMBERS,
    ROW_UNITS,
    TARGET_UNITS,
    comparators,
    date_pool,
    many_studies_and_data,
    quantities,
    spelled,
    study_and_data,
    windows,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from test_engine_dense_issue16 import KeyedData

from criteria_dsl import ir
from matcher.data.loader import Dataset
from matcher.engine import latest
from matcher.engine.evaluate import evaluate_many

CODED = ("diagnoses", "prescriptions", "observations", "procedures", "allergies")


class SortedKeyedData(KeyedData):
    """:class:`KeyedData` read like a snapshot: each table's rows sorted by system, code,
    patient key and date, and ``key_sorted`` saying when the rows read are of one code."""

    def events(self, table, codes=None) -> pl.LazyFrame:
        rows = super().events(table, codes)
        if table not in CODED:
            return rows
        return rows.sort(["system", "code", "patient_key", "date"], maintain_order=True)

    def key_sorted(self, table, codes) -> bool:
        if codes is None or table not in CODED:
            return False
        read = self.events(table, codes).select("system", "code").unique().collect()
        return read.height <= 1


def agree(items, data) -> None:
    """Each study evaluated on the sorted layout equals the frame path and the reference."""
    on_sorted = evaluate_many(items, SortedKeyedData(data), validate=False)
    on_frames = evaluate_many(items, data, validate=False)
    for one, got, want in zip(items, on_sorted, on_frames, strict=True):
        assert got.patients.equals(want.patients)
        assert got.counts == want.counts
        assert got.code_rows == want.code_rows
        assert engine_rows(got) == reference_rows(one, data)


ONE = codeset("one", ("loinc", "4548-4"))
TWO = codeset("two", ("loinc", "4548-4"), ("loinc", "2345-7"))


@st.composite
def lab_studies_and_data(draw):
    """Studies of ``latest``/``first`` lab values over a one-code set (the sorted path) or a
    two-code one (not sorted), and many rows of those labs for few patients: several rows a
    day (ties), values that are missing, not finite or in units that do not convert."""
    index = draw(st.sampled_from(INDEXES))
    rules = []
    for i in range(draw(st.integers(1, 3))):
        unit = draw(st.sampled_from(["%", "%", "mmol/mol", *TARGET_UNITS]))
        value = None
        if draw(st.integers(0, 2)) == 0:
            value = ir.ValueCondition(draw(comparators), draw(quantities(unit)))
        ref = ir.CodeSetRef(draw(st.sampled_from(["one", "one", "two"])))
        year = ir.Window.relative_to_index(before=ir.Duration(1, ir.TimeUnit.YEAR))
        window = draw(st.sampled_from([ir.Window(None, None), year]) | windows(0))
        events = ir.EventSet(ir.Domain.OBSERVATION, ref, window, value)
        function = draw(st.sampled_from(["latest", "first"]))
        aggregate = ir.ValueAggregate(events, function, unit)
        rules.append(
            inc(f"lab_{i}", ir.Compare(aggregate, draw(comparators), draw(quantities(unit))))
        )
    one = study(tuple(rules), codesets=(ONE, TWO), index=index)
    pids = [f"p{i}" for i in range(draw(st.integers(1, 4)))]
    near = [d for d in date_pool(index) if abs((d - index).days) <= 400]
    days = st.sampled_from(near[::2])  # few days: many rows share one
    code = st.sampled_from([("loinc", "4548-4"), ("loinc", "4548-4"), ("loinc", "2345-7")])
    row = st.builds(
        lambda p, d, c, v, u: obs(p, d, v, unit=u, code=c[1]) | {"system": c[0]},
        st.sampled_from(pids),
        days,
        code.flatmap(spelled),
        st.sampled_from(NUMBERS) | st.none() | st.sampled_from(NON_FINITE),
        st.sampled_from(["%", "%", "mmol/mol"]) | st.sampled_from(ROW_UNITS),
    )
    rows = draw(st.lists(row, min_size=4, max_size=25))
    tables = frames(patients=[patient(p) for p in pids], observations=rows)
    return one, Dataset.from_frames(validate=False, **tables)


@settings(max_examples=max(20, settings.default.max_examples))
@given(lab_studies_and_data())
def test_issue16_warm_sorted_latest_lab_values(case):
    """Latest/first lab values on the sorted layout equal the frame path and the reference."""
    one, data = case
    agree([one], data)


@settings(max_examples=max(10, settings.default.max_examples // 3))
@given(study_and_data())
def test_issue16_warm_sorted_latest_equals_frames_and_reference(case):
    """One random study (latest/first values of one or several codes, unconvertible units,
    ties on a day, windows anchored on other sets) on the sorted layout."""
    one, data = case
    agree([one], data)


@settings(max_examples=max(10, settings.default.max_examples // 4))
@given(many_studies_and_data())
def test_issue16_warm_sorted_latest_many_studies(case):
    """Several random studies at different index dates, in one plan, on the sorted layout."""
    items, data = case
    agree(items, data)


def _latest(codes: str, function: str = "latest", op: str = ">=", value: float = 7.0):
    name = "one" if codes == "one" else "two"
    pairs = [("loinc", "4548-4")] if codes == "one" else [("loinc", "4548-4"), ("loinc", "2345-7")]
    events = ir.EventSet(
        ir.Domain.OBSERVATION,
        ir.CodeSetRef(name),
        ir.Window.relative_to_index(before=ir.Duration(1, ir.TimeUnit.YEAR)),
    )
    rule = inc(
        "lab", ir.Compare(ir.ValueAggregate(events, function, "%"), op, ir.Quantity(value, "%"))
    )
    return study((rule,), codesets=(codeset(name, *pairs),))


def _data() -> Dataset:
    day, before = INDEX.replace(month=3), INDEX.replace(month=1)
    rows = [
        obs("a", before, 9.0),
        obs("a", day, 6.0),  # a: latest day holds 6 and 8 (ties: the largest, 8)
        obs("a", day, 8.0),
        obs("b", before, 8.0),
        obs("b", day, 5.0, unit="kg"),  # b: the latest row does not convert (unknown)
        obs("c", day, 7.5, code="2345-7"),
        obs("d", before, 9.0),
        obs("d", day, 5.0, unit="kg"),  # d: an unconvertible row on the latest usable day
        obs("d", day, 7.5),
    ]
    tables = frames(patients=[patient(p) for p in "abcd"], observations=rows)
    return Dataset.from_frames(validate=False, **tables)


def test_issue16_warm_sorted_path_taken_for_one_code(monkeypatch):
    """A latest value of a one-code set goes through the sorted path; ties on the latest
    day give the largest value, an unconvertible latest row leaves the value unknown."""
    calls = []
    real = latest.on_sorted_day

    def spy(*args, **kwargs):
        calls.append(args[4])
        return real(*args, **kwargs)

    monkeypatch.setattr(latest, "on_sorted_day", spy)
    one, data = _latest("one"), _data()
    (got,) = evaluate_many([one], SortedKeyedData(data), index_date=INDEX, validate=False)
    assert calls == ["latest"]
    (want,) = evaluate_many([one], data, index_date=INDEX, validate=False)
    assert got.patients.equals(want.patients)
    assert engine_rows(got) == reference_rows(one, data)
    verdicts = dict(zip(got.patients["patient_id"], got.patients["verdict"], strict=True))
    assert verdicts["a"] == "eligible"  # 8 on the latest day, not 6
    assert verdicts["b"] == "possibly_eligible"  # the kg row on the latest day
    assert verdicts["d"] == "possibly_eligible"  # 7.5 and a kg row on the same latest day


def test_issue16_warm_sorted_path_not_taken_for_two_codes(monkeypatch):
    """The merged rows of two codes are not sorted by patient: the hashed path is taken."""
    calls = []
    monkeypatch.setattr(latest, "on_sorted_day", lambda *a, **k: calls.append(a))
    two, data = _latest("two", function="first", op="<"), _data()
    (got,) = evaluate_many([two], SortedKeyedData(data), index_date=INDEX, validate=False)
    assert calls == []
    assert engine_rows(got) == reference_rows(two, data)


def test_issue16_warm_sorted_path_not_taken_without_order(monkeypatch):
    """A data set that does not say its reads are sorted (raw files, frames) never takes it."""
    calls = []
    monkeypatch.setattr(latest, "on_sorted_day", lambda *a, **k: calls.append(a))
    one, data = _latest("one"), _data()
    (got,) = evaluate_many([one], KeyedData(data), index_date=INDEX, validate=False)
    assert calls == []
    assert engine_rows(got) == reference_rows(one, data)
