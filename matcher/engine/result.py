"""The result of evaluating a study: the per-patient table, counts and attrition.

Attrition is computed from the stored per-patient ``rule_bits`` (bit ``i`` set when rule ``i``
of the study, in file order, failed after its ``unknown_as`` treatment: an inclusion rule false
or an exclusion rule true), OHDSI Circe style, so any order and any what-if runs without
scanning the data again.

A patient *remains* after a step while none of the rules applied so far has failed; unknown
results do not remove anyone (they remain, to be verified: "possibly eligible").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from criteria_dsl import ir


@dataclass(frozen=True)
class Counts:
    """Exact counts of the base population by verdict (disclosure control comes later)."""

    base: int
    eligible: int
    possibly_eligible: int
    not_eligible: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class AttritionStep:
    """One rule applied in an attrition funnel.

    ``before``/``remaining``: patients not failing any rule applied before / up to this step;
    ``excluded`` = before - remaining; ``excluded_alone``: patients failing this rule and no
    other rule switched on; ``unknown``: remaining patients for whom this rule is unknown.
    """

    rule: str
    section: str
    before: int
    remaining: int
    excluded: int
    excluded_alone: int
    unknown: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class StudyRows:
    """What every result of a study gives from its ``study`` and ``code_rows`` (rows per code
    set): the rule names and the code-set warnings. Shared by :class:`Result` and the combined
    results of scale-out (:mod:`matcher.scaleout`)."""

    study: ir.Study
    code_rows: Mapping[str, int]

    @property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.study.rules)

    def code_set_warnings(self, min_rows: int = 1) -> list[str]:
        """A warning per code set matching fewer than ``min_rows`` rows (default: none).

        A code set that matches nothing makes every criterion on it silently false (or zero);
        it usually means the data writes the codes in a form or system the study does not
        use. Sponsors are told only "fewer than <threshold>" (``min_rows``), never a count.

            >>> # result.code_set_warnings()  # ["code set 't2d' matches no row of the data ..."]

        A table the data does not provide that some rule reads (issue 18: ``procedures``)
        is warned about too, naming the rules that are unknown for every patient.
        """
        from matcher.engine.records import absent_warnings

        missing = absent_warnings(self.study, getattr(self, "not_provided", frozenset()))
        return missing + code_set_warnings(self.study, self.code_rows, min_rows)


@dataclass(frozen=True)
class Result(StudyRows):
    """One study evaluated on one data set at one index date."""

    study: ir.Study
    criteria_hash: str
    index_date: dt.date
    data_snapshot: str
    patients: pl.DataFrame
    counts: Counts
    code_rows: dict[str, int] = field(default_factory=dict)
    """Per code set a criterion reads: the rows of the data with its codes, for the patients of
    the base population and the dates the study's criteria read (the span of their windows)."""
    not_provided: frozenset[str] = frozenset()
    """Optional tables the data does not provide: the rules reading them are unknown; and the
    optional columns its files do not hold, as ``table.column`` (issue 18: a smoking status
    needs ``observations.value_code``), which the warnings name."""

    def attrition(
        self, order: Sequence[str] | None = None, without: Collection[str] = ()
    ) -> list[AttritionStep]:
        """The funnel over the rules in ``order`` (default: file order), minus ``without``.

        >>> # result.attrition(order=["age", "t2d"], without={"pregnancy"})
        """
        return funnel(self.study, self.patients, order, without)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (no patient-level data)."""
        return {
            "study_id": self.study.id,
            "study_version": self.study.version,
            "criteria_hash": self.criteria_hash,
            "index_date": self.index_date.isoformat(),
            "data_snapshot": self.data_snapshot,
            "counts": self.counts.to_dict(),
            "attrition": [s.to_dict() for s in self.attrition()],
            "warnings": self.code_set_warnings(),
        }


def funnel(
    study: ir.Study,
    frame: pl.DataFrame,
    order: Sequence[str] | None = None,
    without: Collection[str] = (),
    weight: str | None = None,
) -> list[AttritionStep]:
    """The attrition funnel of ``study`` over ``frame`` (``rule_bits``, ``unknown_bits``),
    every count in one pass.

    Each row counts once, or as many times as its ``weight`` column says (a histogram of
    patients per bit pattern, as scale-out combines them).

    >>> from criteria_dsl import ir
    >>> rule = ir.Rule("adult", ir.Section.INCLUSION, ir.Constant(True))
    >>> study = ir.Study("S", 1, None, None, (), (), (rule,), ())
    >>> frame = pl.DataFrame({"rule_bits": [0, 1], "unknown_bits": [0, 0], "n": [3, 4]},
    ...     schema={"rule_bits": pl.UInt64, "unknown_bits": pl.UInt64, "n": pl.UInt64})
    >>> [(s.before, s.remaining) for s in funnel(study, frame, weight="n")]
    [(7, 3)]
    """
    names = tuple(r.name for r in study.rules)
    position = {name: i for i, name in enumerate(names)}
    for name in [*(order or ()), *without]:
        if name not in position:
            raise KeyError(f"study {study.id} has no rule {name!r}")
    steps = [n for n in (order if order is not None else names) if n not in set(without)]
    if len(set(steps)) != len(steps):
        raise ValueError("a rule appears twice in the attrition order")
    active = 0
    for name in names:
        if name not in set(without):
            active |= 1 << position[name]

    def total(condition: pl.Expr | None) -> pl.Expr:
        if weight is None:
            return pl.len() if condition is None else condition.sum()
        return pl.col(weight).sum() if condition is None else pl.col(weight).filter(condition).sum()

    bits, unknown = pl.col("rule_bits"), pl.col("unknown_bits")
    sums: list[pl.Expr] = [total(None).alias("all")]
    applied = 0
    for i, name in enumerate(steps):
        bit = 1 << position[name]
        applied |= bit
        still = (bits & pl.lit(applied, dtype=pl.UInt64)) == 0
        sums.append(total(still).alias(f"remaining{i}"))
        sums.append(total((bits & pl.lit(active, dtype=pl.UInt64)) == bit).alias(f"alone{i}"))
        unk = still & ((unknown & pl.lit(bit, dtype=pl.UInt64)) != 0)
        sums.append(total(unk).alias(f"unknown{i}"))
    row = frame.select(sums).row(0, named=True)
    sections = {r.name: r.section.value for r in study.rules}
    out: list[AttritionStep] = []
    before = int(row.get("all") or 0)
    for i, name in enumerate(steps):
        remaining = int(row[f"remaining{i}"] or 0)
        alone, unk = int(row[f"alone{i}"] or 0), int(row[f"unknown{i}"] or 0)
        out.append(
            AttritionStep(name, sections[name], before, remaining, before - remaining, alone, unk)
        )
        before = remaining
    return out


def code_set_warnings(
    study: ir.Study, code_rows: Mapping[str, int], min_rows: int = 1
) -> list[str]:
    """The warnings of :meth:`Result.code_set_warnings` for ``code_rows`` (rows per code set).

    >>> from criteria_dsl import ir
    >>> study = ir.Study("S", 1, None, None, (), (), (), ())
    >>> code_set_warnings(study, {"t2d": 0})[0].split(":")[0]
    'study S'
    >>> code_set_warnings(study, {"t2d": 12}, min_rows=10)
    []
    """
    out = []
    for name, rows in code_rows.items():
        if rows >= min_rows:
            continue
        how = "no row" if min_rows <= 1 else f"fewer than {min_rows} rows"
        tables = sorted(
            {e.domain.value for e in _events_of(study) if e.codes and e.codes.name == name}
        )
        out.append(
            f"study {study.id}: code set {name!r} matches {how} of the data "
            f"({', '.join(tables)}) for the base population in the dates the criteria read; "
            "every criterion on it is false or zero: check how the data writes these codes "
            "(p4dp data check)" + _lone_code_hint(study, name)
        )
    return out


def _events_of(study: ir.Study) -> list[ir.EventSet]:
    return [
        n for rule in study.rules for n in ir.walk(rule.predicate) if isinstance(n, ir.EventSet)
    ]


def counts_of(patients: pl.DataFrame) -> Counts:
    # one comparison sum per verdict: 30 times cheaper than a group_by on the enum (issue 16:
    # fifty studies spent a third of a second here)
    by = patients.select(
        (pl.col("verdict") == v.value).sum().alias(v.value) for v in ir.Verdict
    ).row(0, named=True)
    return Counts(
        base=patients.height,
        eligible=int(by.get(ir.Verdict.ELIGIBLE.value, 0)),
        possibly_eligible=int(by.get(ir.Verdict.POSSIBLY_ELIGIBLE.value, 0)),
        not_eligible=int(by.get(ir.Verdict.NOT_ELIGIBLE.value, 0)),
    )


def _lone_code_hint(study: ir.Study, name: str) -> str:
    """For a code set matching nothing: the hierarchical codes it lists alone, whose children
    may be what the records carry (``icd10 E11`` while the data writes ``E11.9``)."""
    from criteria_dsl.codesets import HIERARCHICAL_SYSTEMS

    alone = [
        f"{p.system} {p.code}"
        for c in study.codesets
        if c.name == name
        for p in c.spec.include
        if p.kind == "exact" and p.system in HIERARCHICAL_SYSTEMS
    ]
    if not alone:
        return ""
    return (
        f"; it lists {', '.join(alone[:3])} alone: if the records carry the codes below, "
        "write 'and descendants'"
    )
