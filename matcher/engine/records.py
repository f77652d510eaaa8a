"""Optional record tables in the engine (issue 18: procedures and later record types).

An optional table a data set does not provide (see ``matcher.data.schema.Table.optional``)
cannot tell anything: every leaf predicate reading it (an existence, a count, an aggregate, or
a window measured from one of its records) is unknown for every patient, never false. The
compiler and the reference evaluator both ask :func:`reads_absent`; ``p4dp count`` names the
rules concerned with :func:`rules_reading`.

    >>> from criteria_dsl import ir
    >>> ev = ir.EventSet(ir.Domain.PROCEDURE, ir.CodeSetRef("ecg"), ir.Window.up_to_index())
    >>> reads_absent(ir.Exists(ev), frozenset({"procedures"}))
    True
    >>> reads_absent(ir.Not(ir.Exists(ev)), frozenset({"procedures"}))  # not a leaf
    False
"""

from __future__ import annotations

from collections.abc import Collection

from criteria_dsl import ir


def tables_read(node: object) -> frozenset[str]:
    """The event tables the IR below ``node`` reads (anchors of windows included)."""
    return frozenset(n.domain.value for n in ir.walk(node) if isinstance(n, ir.EventSet))


def reads_absent(node: object, absent: Collection[str]) -> bool:
    """Whether ``node`` is a leaf predicate (no sub-predicates) reading a table of ``absent``."""
    if not absent or ir.sub_predicates(node) or isinstance(node, ir.Constant):  # type: ignore[arg-type]
        return False
    return not tables_read(node).isdisjoint(absent)


def rules_reading(study: ir.Study, absent: Collection[str]) -> dict[str, tuple[str, ...]]:
    """Per table of ``absent`` that some rule of ``study`` reads: those rules' names.

    >>> import datetime as dt
    >>> rules_reading(ir.Study("s", 1, None, dt.date(2024, 1, 1), (), (), (), ()), {"procedures"})
    {}
    """
    out: dict[str, list[str]] = {}
    for rule in study.rules:
        for table in sorted(tables_read(rule.predicate) & set(absent)):
            out.setdefault(table, []).append(rule.name)
    return {table: tuple(names) for table, names in out.items()}


def absent_warnings(study: ir.Study, absent: Collection[str]) -> list[str]:
    """The warnings ``p4dp count`` prints for the tables ``absent`` that ``study`` reads, and
    for the optional columns (``table.column`` in ``absent``) its rules need."""
    return [
        f"study {study.id}: the data provides no {table} table: "
        f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} unknown for every patient"
        for table, names in rules_reading(study, absent).items()
    ] + column_warnings(study, absent)


# ---- issue 18: language reach ----
COLUMN_READERS: dict[str, tuple[tuple[type, ...], str]] = {
    "observations.value_code": (
        (ir.SmokingStatusIs, ir.SmokingHistory, ir.AnswerIs),
        "a smoking status or an 'is one of' answer is read from the coded answer of a record",
    ),
}
"""Per optional column: the predicates that cannot be decided without it, and why."""


def column_warnings(study: ir.Study, absent: Collection[str]) -> list[str]:
    """A warning per optional column of ``absent`` that some rule of ``study`` needs.

    >>> import datetime as dt
    >>> rule = ir.Rule("smoker", ir.Section.INCLUSION, ir.SmokingStatusIs(("current",)))
    >>> study = ir.Study("s", 1, None, dt.date(2024, 1, 1), (), (), (rule,), ())
    >>> print(column_warnings(study, {"observations.value_code"})[0][:79])
    study s: the data provides no observations.value_code column: smoker is unknown
    """
    out = []
    for column, (types, why) in COLUMN_READERS.items():
        if column not in absent:
            continue
        names = [
            rule.name
            for rule in study.rules
            if any(isinstance(n, types) for n in ir.walk(rule.predicate))
        ]
        if names:
            verb = "is" if len(names) == 1 else "are"
            out.append(
                f"study {study.id}: the data provides no {column} column: "
                f"{', '.join(names)} {verb} unknown for every patient ({why})"
            )
    return out
