"""Small builders for engine tests: patients, event rows, code sets, studies, and a runner
that evaluates with the Polars engine AND the reference evaluator and checks they agree."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from criteria_dsl import ir
from matcher.data.schema import TABLES
from matcher.engine.evaluate import evaluate
from matcher.reference import reference_evaluate
from terminology.model import CodePattern, CodeSetSpec, ResolvedCode, ResolvedCodeSet

D = dt.date
INDEX = D(2024, 6, 15)


def patient(pid: str, **kw: Any) -> dict[str, Any]:
    row = {
        "patient_id": pid,
        "birth_year": 1960,
        "birth_month": 1,
        "sex": "F",
        "practice_id": "p1",
        "centre_id": "c1",
        "registered_from": D(2000, 1, 1),
        "registered_to": None,
        "death_date": None,
        "opted_out": False,
        "practice_token": f"tok-{pid}",
    }
    row.update(kw)
    return row


def obs(pid: str, day: dt.date, value: float | None, unit: str | None = "%", code="4548-4"):
    """One LOINC observation row (HbA1c in % by default)."""
    return {
        "patient_id": pid,
        "date": day,
        "system": "loinc",
        "code": code,
        "value": value,
        "unit": unit,
    }


def frames(**tables: list[dict[str, Any]]) -> dict[str, pl.DataFrame]:
    out = {}
    for name, rows in tables.items():
        schema = TABLES[name].schema()
        full = [{c: r.get(c, TABLES[name].column(c).default) for c in schema} for r in rows]
        out[name] = (
            pl.DataFrame(full, schema=schema, orient="row") if full else pl.DataFrame(schema=schema)
        )
    return out


def codeset(name: str, *codes: tuple[str, str]) -> ir.CodeSetDef:
    resolved = ResolvedCodeSet(
        codes=tuple(sorted(ResolvedCode(s, c, "test", "exact") for s, c in codes)),
        versions=tuple(sorted({(s, "test") for s, _ in codes})),
    )
    spec = CodeSetSpec(include=tuple(CodePattern(s, c) for s, c in codes))
    return ir.CodeSetDef(name, spec, resolved)


def study(
    inclusion: tuple[ir.Rule, ...] = (),
    exclusion: tuple[ir.Rule, ...] = (),
    codesets: tuple[ir.CodeSetDef, ...] = (),
    index: dt.date | None = INDEX,
    sid: str = "s",
) -> ir.Study:
    return ir.Study(sid, 1, None, index, (), codesets, inclusion, exclusion)


def inc(name: str, pred: ir.Predicate, unknown_as: bool | None = None) -> ir.Rule:
    return ir.Rule(name, ir.Section.INCLUSION, pred, unknown_as)


def exc(name: str, pred: ir.Predicate, unknown_as: bool | None = None) -> ir.Rule:
    return ir.Rule(name, ir.Section.EXCLUSION, pred, unknown_as)


def one_rule(pred: ir.Predicate, *codesets: ir.CodeSetDef, index: dt.date = INDEX) -> ir.Study:
    return study((inc("r", pred),), codesets=codesets, index=index)


def engine_rows(result) -> dict[str, dict[str, Any]]:
    names = [r.name for r in result.study.rules]
    out = {}
    for row in result.patients.iter_rows(named=True):
        out[row["patient_id"]] = {n: row[n] for n in names} | {"verdict": row["verdict"]}
    return out


def reference_rows(st: ir.Study, data, index_date=None) -> dict[str, dict[str, Any]]:
    return {r.pop("patient_id"): r for r in reference_evaluate(st, data, index_date=index_date)}


def run(st: ir.Study, data, index_date=None) -> dict[str, dict[str, Any]]:
    """Engine results per patient; asserts the reference evaluator agrees exactly."""
    result = evaluate(st, data, index_date=index_date)
    got = engine_rows(result)
    assert got == reference_rows(st, data, index_date), "engine and reference disagree"
    return got


def rule(st: ir.Study, data, name: str = "r") -> dict[str, Any]:
    return {pid: row[name] for pid, row in run(st, data).items()}


def window_before(amount: int, unit: str = "month") -> ir.Window:
    return ir.Window.relative_to_index(before=ir.Duration(amount, ir.TimeUnit(unit)))
