"""Spec tests of issue 18's status facts: smoking status and quantity, pregnancy and
breast-feeding at the index date. Every case runs through the Polars engine AND the reference
evaluator (``rule`` asserts they agree), on raw frames and on a snapshot."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from engine_helpers import INDEX, D, engine_rows, frames, one_rule, patient, reference_rows, rule

from criteria_dsl import ir
from matcher.engine.evaluate import evaluate
from matcher.snapshot import ingest

SMOKING = ("loinc", "72166-2")


def smoking(pid: str, day: dt.date, answer: str | None) -> dict:
    return {
        "patient_id": pid,
        "date": day,
        "system": "loinc",
        "code": "72166-2",
        "value_code": answer,
    }


def quantity(pid, day, value, unit=None, code="8664-5", system="loinc") -> dict:
    return {
        "patient_id": pid,
        "date": day,
        "system": system,
        "code": code,
        "value": value,
        "unit": unit,
    }


def diag(pid, day, code, system="icd10") -> dict:
    return {"patient_id": pid, "date": day, "system": system, "code": code}


def answer(pid, day, code, value_code) -> dict:
    return {
        "patient_id": pid,
        "date": day,
        "system": "loinc",
        "code": code,
        "value_code": value_code,
    }


def raw_and_snapshot(data: dict, tmp_path) -> object:
    """Write ``data`` as a raw directory ``tmp_path/raw`` and ingest it to ``tmp_path/snap``."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, frame in data.items():
        frame.write_parquet(raw / f"{name}.parquet")
    ingest(raw, tmp_path / "snap")
    return raw


def status_is(*statuses: str) -> ir.Study:
    return one_rule(ir.SmokingStatusIs(statuses))


# -- smoking status ------------------------------------------------------------------------------


def test_issue18_smoking_status_latest_record_on_or_before_index_decides():
    data = frames(
        patients=[patient(p) for p in ("cur", "ex", "never", "none", "quit_later", "on_index")],
        observations=[
            smoking("cur", D(2020, 1, 1), "8517006"),
            smoking("cur", D(2023, 1, 1), "449868002"),  # latest: current
            smoking("ex", D(2020, 1, 1), "449868002"),
            smoking("ex", D(2023, 1, 1), "8517006"),  # latest: former
            smoking("never", D(2023, 1, 1), "266919005"),
            smoking("quit_later", D(2023, 1, 1), "449868002"),
            smoking("quit_later", D(2024, 6, 16), "8517006"),  # after index: ignored
            smoking("on_index", INDEX, "428041000124106"),  # on the index date: counts
        ],
    )
    got = rule(status_is("current"), data)
    assert got == {
        "cur": True,
        "ex": False,
        "never": False,
        "none": None,
        "quit_later": True,
        "on_index": True,
    }
    got = rule(status_is("current", "former"), data)
    assert got["ex"] is True and got["never"] is False and got["none"] is None
    assert rule(status_is("never"), data)["never"] is True


def test_issue18_smoking_status_unknown_answers_and_same_day_conflicts():
    data = frames(
        patients=[patient(p) for p in ("smoker_unk", "unk", "null", "conflict", "nonsmoker")],
        observations=[
            smoking("smoker_unk", D(2023, 1, 1), "77176002"),  # current or former
            smoking("unk", D(2023, 1, 1), "266927001"),  # unknown if ever smoked
            smoking("null", D(2023, 1, 1), None),  # no answer (column absent or empty)
            smoking("conflict", D(2023, 1, 1), "449868002"),
            smoking("conflict", D(2023, 1, 1), "266919005"),  # same day: current and never
            smoking("nonsmoker", D(2023, 1, 1), "8392000"),  # former or never
        ],
    )
    assert rule(status_is("current", "former"), data) == {
        "smoker_unk": True,
        "unk": None,
        "null": None,
        "conflict": None,
        "nonsmoker": None,
    }
    assert rule(status_is("current"), data) == {
        "smoker_unk": None,
        "unk": None,
        "null": None,
        "conflict": None,
        "nonsmoker": False,
    }
    assert rule(status_is("never"), data)["smoker_unk"] is False
    # with the three statuses every answer fits: true even for "unknown if ever smoked"
    assert rule(status_is("current", "former", "never"), data)["unk"] is True


def test_issue18_smoking_status_without_value_code_column_is_unknown_not_false():
    data = frames(patients=[patient("a")], observations=[smoking("a", D(2023, 1, 1), None)])
    data["observations"] = data["observations"].drop("value_code")
    assert rule(status_is("current"), data) == {"a": None}
    assert rule(one_rule(ir.Not(ir.SmokingStatusIs(("never",)))), data) == {"a": None}


def test_issue18_smoking_status_ignores_other_codes_and_other_answers_columns():
    data = frames(
        patients=[patient("a")],
        observations=[
            smoking("a", D(2023, 1, 1), "8517006"),
            answer("a", D(2024, 1, 1), "11367-0", "449868002"),  # another code: not read
        ],
    )
    assert rule(status_is("former"), data) == {"a": True}


# -- smoking quantities --------------------------------------------------------------------------


def _quantity(name: str, op: str, value: float) -> ir.Study:
    return one_rule(ir.SmokingQuantity(name, op, ir.Quantity(value)))


def test_issue18_pack_years_latest_value_on_or_before_index():
    data = frames(
        patients=[
            patient(p)
            for p in (
                "ten",
                "nine",
                "later",
                "none",
                "snomed",
                "bad_unit",
                "no_unit",
                "two_same_day",
            )
        ],
        observations=[
            quantity("ten", D(2020, 1, 1), 5, "{pack-years}"),
            quantity("ten", D(2023, 1, 1), 10, "{pack-years}"),  # boundary: >= 10
            quantity("nine", D(2023, 1, 1), 9.5, "{pack-years}"),
            quantity("later", D(2023, 1, 1), 3),
            quantity("later", D(2024, 6, 16), 30),  # after index
            quantity("snomed", D(2023, 1, 1), 12, "1", code="401201003", system="snomed"),
            quantity("bad_unit", D(2023, 1, 1), 40, "kg"),  # not pack-years: unknown
            quantity("bad_unit", D(2020, 1, 1), 40, "{pack-years}"),
            quantity("no_unit", D(2023, 1, 1), 11),
            quantity("two_same_day", D(2023, 1, 1), 8),
            quantity("two_same_day", D(2023, 1, 1), 14),  # the largest of the day
        ],
    )
    got = rule(_quantity("pack_years", ">=", 10), data)
    assert got == {
        "ten": True,
        "nine": False,
        "later": False,
        "none": None,
        "snomed": True,
        "bad_unit": None,
        "no_unit": True,
        "two_same_day": True,
    }


def test_issue18_cigarettes_per_day_compares_the_latest_value():
    data = frames(
        patients=[patient(p) for p in ("five", "four", "nan")],
        observations=[
            quantity("five", D(2023, 1, 1), 5, "{cigarettes}/d", code="64218-1"),
            quantity("four", D(2023, 1, 1), 4, "/d", code="64218-1"),
            quantity("nan", D(2023, 1, 1), float("nan"), code="64218-1"),  # missing value
        ],
    )
    assert rule(_quantity("cigarettes_per_day", ">=", 5), data) == {
        "five": True,
        "four": False,
        "nan": None,
    }
    assert rule(_quantity("cigarettes_per_day", "<", 5), data)["four"] is True


# -- pregnancy -----------------------------------------------------------------------------------

PREGNANT = one_rule(ir.StateAtIndex("pregnant"))
WEEKS_42 = dt.timedelta(weeks=42)


def test_issue18_pregnant_from_a_pregnancy_record_for_42_weeks():
    data = frames(
        patients=[patient(p) for p in ("z34", "edge", "too_old", "icpc", "o24", "none")],
        diagnoses=[
            diag("z34", D(2024, 3, 1), "Z34.0"),
            diag("edge", INDEX - WEEKS_42, "Z33"),  # exactly 42 weeks before: still counts
            diag("too_old", INDEX - WEEKS_42 - dt.timedelta(days=1), "Z33"),
            diag("icpc", D(2024, 5, 1), "W78", "icpc2"),
            diag("o24", D(2024, 5, 1), "O24.4"),  # gestational diabetes: pregnant
            diag("none", D(2024, 5, 1), "E11.9"),
        ],
    )
    assert rule(PREGNANT, data) == {
        "z34": True,
        "edge": True,
        "too_old": None,
        "icpc": True,
        "o24": True,
        "none": None,
    }


def test_issue18_pregnancy_ends_with_delivery_abortion_or_not_pregnant_answer():
    data = frames(
        patients=[
            patient(p)
            for p in (
                "delivered",
                "on_index",
                "aborted",
                "not_preg_obs",
                "new_after_end",
                "after_index",
                "man",
                "unknown_sex",
            )
        ]
        + [],
        diagnoses=[
            diag("delivered", D(2023, 10, 1), "Z34.0"),
            diag("delivered", D(2024, 4, 1), "O80"),
            diag("on_index", D(2024, 1, 1), "Z34.0"),
            diag("on_index", INDEX, "Z37.0"),  # delivery on the index day: not pregnant
            diag("aborted", D(2024, 2, 1), "Z32.1"),
            diag("aborted", D(2024, 3, 1), "O03.9"),
            diag("new_after_end", D(2023, 12, 1), "O80"),
            diag("new_after_end", D(2024, 5, 1), "Z34.0"),  # a new pregnancy after the end
            diag("after_index", D(2024, 1, 1), "Z34.0"),
            diag("after_index", D(2024, 6, 16), "O80"),  # after index: ignored
            diag("man", D(2024, 5, 1), "Z34.0"),  # wrongly coded: a man is never pregnant
            diag("unknown_sex", D(2024, 5, 1), "Z34.0"),
        ],
        observations=[
            answer("not_preg_obs", D(2024, 1, 1), "82810-3", "77386006"),
            answer("not_preg_obs", D(2024, 5, 1), "82810-3", "60001007"),
        ],
    )
    data["patients"] = data["patients"].with_columns(
        sex=pl.when(pl.col("patient_id") == "man")
        .then(pl.lit("M"))
        .when(pl.col("patient_id") == "unknown_sex")
        .then(pl.lit("U"))
        .otherwise(pl.col("sex"))
    )
    assert rule(PREGNANT, data) == {
        "delivered": False,
        "on_index": False,
        "aborted": False,
        "not_preg_obs": False,
        "new_after_end": True,
        "after_index": True,
        "man": False,
        "unknown_sex": True,
    }


def test_issue18_pregnancy_status_answers_and_men_without_records():
    data = frames(
        patients=[patient("obs"), patient("unk_answer"), patient("man_none", sex="M")],
        observations=[
            answer("obs", D(2024, 6, 1), "82810-3", "77386006"),
            answer("unk_answer", D(2024, 6, 1), "82810-3", "261665006"),  # "unknown": no evidence
        ],
    )
    assert rule(PREGNANT, data) == {"obs": True, "unk_answer": None, "man_none": False}
    assert rule(one_rule(ir.Not(ir.StateAtIndex("pregnant"))), data) == {
        "obs": False,
        "unk_answer": None,
        "man_none": True,
    }


# -- breast-feeding ------------------------------------------------------------------------------

BREASTFEEDING = one_rule(ir.StateAtIndex("breastfeeding"))


def test_issue18_breastfeeding_for_26_weeks_until_a_stopped_record():
    weeks_26 = dt.timedelta(weeks=26)
    data = frames(
        patients=[patient(p) for p in ("bf", "stopped", "edge", "old", "z391", "man")],
        observations=[
            answer("bf", D(2024, 3, 1), "63895-7", "LA29252-6"),
            answer("stopped", D(2024, 3, 1), "63895-7", "LA29252-6"),
            answer("stopped", D(2024, 5, 1), "63895-7", "LA29253-4"),
            answer("edge", INDEX - weeks_26, "63895-7", "LA29252-6"),
            answer("old", INDEX - weeks_26 - dt.timedelta(days=1), "63895-7", "LA29252-6"),
            answer("man", D(2024, 5, 1), "63895-7", "LA29252-6"),
        ],
        diagnoses=[diag("z391", D(2024, 5, 1), "Z39.1")],
    )
    data["patients"] = data["patients"].with_columns(
        sex=pl.when(pl.col("patient_id") == "man").then(pl.lit("M")).otherwise(pl.col("sex"))
    )
    assert rule(BREASTFEEDING, data) == {
        "bf": True,
        "stopped": False,
        "edge": True,
        "old": None,
        "z391": True,
        "man": False,
    }


# -- the same on a snapshot ----------------------------------------------------------------------


@pytest.mark.parametrize("drop_value_code", [False, True])
def test_issue18_status_facts_same_on_raw_files_and_snapshot(tmp_path, drop_value_code):
    data = frames(
        patients=[patient("a"), patient("b"), patient("c", sex="M")],
        observations=[
            smoking("a", D(2023, 1, 1), "449868002"),
            smoking("b", D(2023, 1, 1), "266919005"),
            quantity("a", D(2023, 1, 1), 20, "{pack-years}"),
            answer("b", D(2024, 5, 1), "82810-3", "77386006"),
        ],
        diagnoses=[diag("a", D(2024, 5, 1), "Z34.0"), diag("b", D(2024, 1, 1), "E11.9")],
        prescriptions=[],
        encounters=[],
    )
    if drop_value_code:
        data["observations"] = data["observations"].drop("value_code")
    raw = raw_and_snapshot(data, tmp_path)
    st = ir.Study(
        "s",
        1,
        None,
        INDEX,
        (),
        (),
        (
            ir.Rule("smoker", ir.Section.INCLUSION, ir.SmokingStatusIs(("current",))),
            ir.Rule(
                "heavy",
                ir.Section.INCLUSION,
                ir.SmokingQuantity("pack_years", ">=", ir.Quantity(10)),
            ),
        ),
        (ir.Rule("preg", ir.Section.EXCLUSION, ir.StateAtIndex("pregnant")),),
    )
    from_raw = engine_rows(evaluate(st, raw))
    from_snapshot = engine_rows(evaluate(st, tmp_path / "snap"))
    assert from_raw == from_snapshot == reference_rows(st, raw)
    if not drop_value_code:
        assert from_raw["a"] == {
            "smoker": True,
            "heavy": True,
            "preg": True,
            "verdict": "not_eligible",
        }
        assert from_raw["b"]["smoker"] is False and from_raw["b"]["preg"] is True
    else:
        assert from_raw["a"]["smoker"] is None and from_raw["b"]["preg"] is None
    assert from_raw["c"]["preg"] is False


def test_issue18_snapshot_written_before_value_code_still_opens(tmp_path):
    """A snapshot whose observations file predates the optional column opens, reads the
    column as null, and gives the results of a snapshot with the column all null."""
    import pyarrow as pa

    from matcher.snapshot import open_snapshot

    data = frames(
        patients=[patient("a"), patient("b")],
        observations=[
            smoking("a", D(2023, 1, 1), None),
            quantity("b", D(2023, 1, 1), 20, "{pack-years}"),
        ],
        diagnoses=[diag("a", D(2024, 5, 1), "Z34.0")],
        prescriptions=[],
        encounters=[],
    )
    raw = raw_and_snapshot(data, tmp_path)
    path = tmp_path / "snap" / "observations.arrow"
    old = pl.read_ipc(path).drop("value_code")
    old.write_ipc(path)  # the layout of a snapshot written before the column existed
    assert "value_code" not in pa.ipc.open_file(str(path)).schema.names
    opened = open_snapshot(tmp_path / "snap")
    assert opened.observations.collect()["value_code"].null_count() == 2
    st = ir.Study(
        "s", 1, None, INDEX, (), (),
        (ir.Rule("smoker", ir.Section.INCLUSION, ir.SmokingStatusIs(("current",))),
         ir.Rule("heavy", ir.Section.INCLUSION,
                 ir.SmokingQuantity("pack_years", ">=", ir.Quantity(10)))),
        (ir.Rule("preg", ir.Section.EXCLUSION, ir.StateAtIndex("pregnant")),),
    )  # fmt: skip
    assert engine_rows(evaluate(st, opened)) == engine_rows(evaluate(st, raw))


def test_issue18_snapshot_missing_a_required_column_is_still_damaged(tmp_path):
    """Only optional contract columns may be missing from a stored table."""
    from matcher.errors import DataError
    from matcher.snapshot import open_snapshot

    data = frames(
        patients=[patient("a")],
        observations=[smoking("a", D(2023, 1, 1), "8517006")],
        diagnoses=[],
        prescriptions=[],
        encounters=[],
    )
    raw_and_snapshot(data, tmp_path)
    path = tmp_path / "snap" / "observations.arrow"
    pl.read_ipc(path).drop("date").write_ipc(path)
    with pytest.raises(DataError, match="differ from the snapshot layout"):
        open_snapshot(tmp_path / "snap")
