"""No silent zeros: each code set's rows are counted in the engine's own passes, and a code
set matching no row of the data is warned about (issue 12, item 5)."""

from __future__ import annotations

import json

import polars as pl
from click.testing import CliRunner
from engine_helpers import INDEX, D, codeset, frames, inc, patient, study

from criteria_dsl import ir
from matcher.cli import main
from matcher.data.loader import empty_frame
from matcher.data.open import open_data
from matcher.data.schema import TABLES
from matcher.engine.evaluate import evaluate

T2D = codeset("t2d", ("icd10", "E11.9"), ("icpc2", "T90"))
HTN = codeset("htn", ("icd10", "I10"))
HBA1C = codeset("hba1c", ("loinc", "4548-4"))
UP_TO_INDEX = ir.Window.up_to_index()


def _study() -> ir.Study:
    def has(domain: str, name: str) -> ir.Exists:
        return ir.Exists(ir.EventSet(domain, ir.CodeSetRef(name), UP_TO_INDEX))

    return study(
        (
            inc("t2d", has("diagnoses", "t2d")),
            inc("htn", has("diagnoses", "htn")),
            inc("lab", has("observations", "hba1c")),
        ),
        codesets=(T2D, HTN, HBA1C),
    )


def _data() -> dict[str, pl.DataFrame]:
    def dx(pid, code, day=None, system="icd10"):
        day = day or D(2020, 1, 1)
        return {"patient_id": pid, "date": day, "system": system, "code": code}

    return frames(
        patients=[patient("a"), patient("b"), patient("opted", opted_out=True)],
        diagnoses=[
            dx("a", "E119"),  # undotted: counted as E11.9
            dx("a", " e11.9"),
            dx("b", "T90", system="icpc2"),
            dx("b", "E11.9", day=D(2025, 1, 1)),  # after the index date: not read
            dx("opted", "E11.9"),  # not in the base population
            dx("a", "I10", day=D(2025, 1, 1)),  # only after the index date
        ],
        observations=[
            {
                "patient_id": "b",
                "date": D(2024, 1, 1),
                "system": "loinc",
                "code": "4548-4",
                "value": 7.0,
                "unit": "%",
            }
        ],
    )


def _write(root):
    data_dir = root / "data"
    data_dir.mkdir()
    tables = _data()
    for name in TABLES:
        tables.get(name, empty_frame(name)).write_parquet(data_dir / f"{name}.parquet")
    return data_dir


def test_issue12_item5_silent_zeros_code_rows_count_the_rows_read():
    result = evaluate(_study(), _data())
    assert result.code_rows == {"t2d": 3, "htn": 0, "hba1c": 1}
    warnings = result.code_set_warnings()
    assert len(warnings) == 1
    assert warnings[0].startswith(
        "study s: code set 'htn' matches no row of the data (diagnoses) for the base population"
    )
    assert result.to_dict()["warnings"] == warnings
    # a sponsor is told no more than a masked count would say
    assert [w.split(" of the data")[0] for w in result.code_set_warnings(10)] == [
        "study s: code set 't2d' matches fewer than 10 rows",
        "study s: code set 'htn' matches fewer than 10 rows",
        "study s: code set 'hba1c' matches fewer than 10 rows",
    ]


def test_code_rows_are_the_same_on_a_snapshot(tmp_path):
    data_dir = _write(tmp_path)
    raw = evaluate(_study(), data_dir)
    snap = evaluate(_study(), open_data(data_dir, ingest=True, progress=False))
    assert raw.code_rows == snap.code_rows == {"t2d": 3, "htn": 0, "hba1c": 1}
    assert raw.counts == snap.counts


def test_count_warns_on_stderr_and_in_json(tmp_path):
    data_dir = _write(tmp_path)
    criteria = tmp_path / "study.p4dp"
    criteria.write_text(
        'study "ZERO" version 1\nindex date ' + INDEX.isoformat() + "\n\n"
        "codes htn = icd10 I10\ncodes t2d = icd10 E11.9\n\n"
        "inclusion\n  htn: has diagnosis htn\n  t2d: has diagnosis t2d\n",
        encoding="utf-8",
    )
    ledger = str(tmp_path / "ledger.sqlite")
    assert CliRunner().invoke(main, ["ledger", "init", "--ledger", ledger]).exit_code == 0
    args = ["count", str(criteria), "--data", str(data_dir), "--format", "json"]
    args += ["--ledger", ledger, "--requester", "ana"]
    res = CliRunner().invoke(main, [*args, "--role", "steward"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert len(doc["warnings"]) == 1 and "code set 'htn' matches no row" in doc["warnings"][0]
    assert f"Warning: {doc['warnings'][0]}" in res.stderr
    res = CliRunner().invoke(main, args)  # a sponsor
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [w.split(" of the data")[0] for w in doc["warnings"]] == [
        "study ZERO: code set 'htn' matches fewer than 10 rows",
        "study ZERO: code set 't2d' matches fewer than 10 rows",
    ]


def test_issue16_item3_code_rows_summed_once_per_index_date_equal_one_by_one():
    """Studies sharing code sets and an index date: the row counts, summed once per date and
    count column for all of them, are each study's own."""
    import dataclasses

    from matcher.engine.evaluate import evaluate_many

    later = dataclasses.replace(_study(), id="later", index_date=D(2025, 6, 1))
    for items in ([_study(), dataclasses.replace(_study(), id="twin")], [later, later]):
        together = evaluate_many(items, _data())
        assert [r.code_rows for r in together] == [evaluate(s, _data()).code_rows for s in items]
    assert together[0].code_rows == {"t2d": 4, "htn": 1, "hba1c": 1}  # 2025 rows read


def test_issue16_engine_item3_code_rows_keyed_by_index_date():
    """Studies at different index dates in one ``evaluate_many``: each study's row counts are
    keyed by its index date, not the hull of every study's dates (the earlier study counted
    the 2025 rows of the later one: t2d 4 instead of 3)."""
    import dataclasses

    from matcher.engine.evaluate import evaluate_many

    early = _study()
    later = dataclasses.replace(_study(), id="later", index_date=D(2025, 6, 1))
    for items in ([early, later], [later, early], [early, later, early]):
        together = evaluate_many(items, _data())
        assert [r.code_rows for r in together] == [evaluate(s, _data()).code_rows for s in items]
    together = evaluate_many([early, later], _data())
    assert together[0].code_rows == {"t2d": 3, "htn": 0, "hba1c": 1}
    assert together[1].code_rows == {"t2d": 4, "htn": 1, "hba1c": 1}
    assert len(together[0].code_set_warnings()) == 1  # htn: no row before the early index


def test_issue16_engine_item3_code_rows_per_code_set_window_raw_equals_snapshot(tmp_path):
    """A code set's rows are counted within the windows in which the study reads it, whether
    the data is read table by table (raw files) or code set by code set (a snapshot)."""
    recent = ir.Window.relative_to_index(before=ir.Duration(12, ir.TimeUnit.MONTH))
    recent_t2d = ir.Exists(ir.EventSet("diagnoses", ir.CodeSetRef("t2d"), recent))
    ever_htn = ir.Exists(ir.EventSet("diagnoses", ir.CodeSetRef("htn"), ir.Window()))
    windows = study(
        (inc("t2d", recent_t2d), inc("htn", ever_htn)),
        codesets=(T2D, HTN),
    )
    data_dir = _write(tmp_path)
    raw = evaluate(windows, data_dir)
    snap = evaluate(windows, open_data(data_dir, ingest=True, progress=False))
    # every t2d row of the base population is dated 2020 or later than the index date
    assert raw.code_rows == snap.code_rows == {"t2d": 0, "htn": 1}
