"""``evaluate`` and ``evaluate_many``: run studies over a data set and wrap the results.

>>> import datetime as dt, polars as pl
>>> from criteria_dsl import ir
>>> study = ir.Study("demo", 1, None, dt.date(2024, 1, 15), (), (), (
...     ir.Rule("adult", ir.Section.INCLUSION, ir.Compare(ir.Age(), ">=", ir.Quantity(18))),
... ), ())
>>> patients = pl.DataFrame({
...     "patient_id": ["a", "b"], "birth_year": [1990, 2010], "birth_month": [5, None],
...     "sex": ["F", "M"], "practice_id": ["p1", "p1"], "centre_id": ["c1", "c1"],
...     "registered_from": [None, None], "registered_to": [None, None],
...     "death_date": [None, None]})
>>> result = evaluate(study, {"patients": patients})
>>> result.counts.to_dict()
{'base': 2, 'eligible': 1, 'possibly_eligible': 0, 'not_eligible': 1}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from criteria_dsl import ir
from criteria_dsl.ir_json import study_hash
from matcher.data.schema import TABLES
from matcher.engine.compile import compile_many
from matcher.engine.data import DataInput, resolve_data
from matcher.engine.result import Result, counts_of


def study_index(study: ir.Study, index_date: dt.date | None) -> dt.date:
    """The index date used: the argument, else the study's, else today."""
    if index_date is not None:
        return index_date
    return study.index_date if study.index_date is not None else dt.date.today()


def evaluate(
    study: ir.Study,
    data: DataInput,
    *,
    index_date: dt.date | None = None,
    streaming: bool = False,
    validate: bool = True,
) -> Result:
    """Evaluate one study; see :func:`evaluate_many`."""
    return evaluate_many(
        [study], data, index_date=index_date, streaming=streaming, validate=validate
    )[0]


def evaluate_many(
    studies: Sequence[ir.Study],
    data: DataInput,
    *,
    index_date: dt.date | None = None,
    streaming: bool = False,
    validate: bool = True,
) -> list[Result]:
    """Evaluate several studies in one plan: each event table is scanned once for all of them.

    ``index_date`` overrides every study's own; ``streaming`` runs Polars' streaming engine
    (for data larger than memory); ``validate`` checks the data against the contract first.
    """
    dataset, snapshot = resolve_data(data, validate=validate)
    tables = {name: getattr(dataset, name) for name in TABLES}
    pairs = [(s, study_index(s, index_date)) for s in studies]
    key = getattr(dataset, "patient_key", "patient_id")
    events = getattr(dataset, "events", None)
    frame, layout = compile_many(pairs, tables, key=key, events=events)
    wide = frame.collect(engine="streaming" if streaming else "auto")
    # a snapshot stores sex, practice and centre as enums: results hold them as strings
    wide = wide.with_columns(
        pl.col(c).cast(pl.String)
        for c in ("sex", "practice_id", "centre_id")
        if isinstance(wide.schema.get(c), pl.Enum)
    )
    results = []
    for spec in layout:
        patients = wide.filter(pl.col(spec.prefix + "base")).select(spec.output())
        patients = patients.sort("patient_id")
        results.append(
            Result(
                study=spec.study,
                criteria_hash=study_hash(spec.study),
                index_date=spec.index,
                data_snapshot=snapshot,
                patients=patients,
                counts=counts_of(patients),
            )
        )
    return results
