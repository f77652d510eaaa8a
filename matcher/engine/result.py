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
from collections.abc import Collection, Sequence
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


@dataclass(frozen=True)
class Result:
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

    @property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.study.rules)

    def code_set_warnings(self, min_rows: int = 1) -> list[str]:
        """A warning per code set matching fewer than ``min_rows`` rows (default: none).

        A code set that matches nothing makes every criterion on it silently false (or zero);
        it usually means the data writes the codes in a form or system the study does not
        use. Sponsors are told only "fewer than <threshold>" (``min_rows``), never a count.

            >>> # result.code_set_warnings()  # ["code set 't2d' matches no row of the data ..."]
        """
        out = []
        for name, rows in self.code_rows.items():
            if rows >= min_rows:
                continue
            how = "no row" if min_rows <= 1 else f"fewer than {min_rows} rows"
            tables = sorted(
                {e.domain.value for e in _events_of(self.study) if e.codes and e.codes.name == name}
            )
            out.append(
                f"study {self.study.id}: code set {name!r} matches {how} of the data "
                f"({', '.join(tables)}) for the base population in the dates the criteria read; "
                "every criterion on it is false or zero: check how the data writes these codes "
                "(p4dp data check)" + _lone_code_hint(self.study, name)
            )
        return out

    def attrition(
        self, order: Sequence[str] | None = None, without: Collection[str] = ()
    ) -> list[AttritionStep]:
        """The funnel over the rules in ``order`` (default: file order), minus ``without``.

        >>> # result.attrition(order=["age", "t2d"], without={"pregnancy"})
        """
        names = self.rule_names
        position = {name: i for i, name in enumerate(names)}
        for name in [*(order or ()), *without]:
            if name not in position:
                raise KeyError(f"study {self.study.id} has no rule {name!r}")
        steps = [n for n in (order if order is not None else names) if n not in set(without)]
        if len(set(steps)) != len(steps):
            raise ValueError("a rule appears twice in the attrition order")
        active = 0
        for name in names:
            if name not in set(without):
                active |= 1 << position[name]
        bits = self.patients["rule_bits"]
        unknown = self.patients["unknown_bits"]
        sections = {r.name: r.section.value for r in self.study.rules}
        out: list[AttritionStep] = []
        applied = 0
        before = self.patients.height
        for name in steps:
            bit = 1 << position[name]
            applied |= bit
            still = (bits & applied) == 0
            remaining = int(still.sum())
            alone = int(((bits & active) == bit).sum())
            unk = int((still & ((unknown & bit) != 0)).sum())
            out.append(
                AttritionStep(
                    name, sections[name], before, remaining, before - remaining, alone, unk
                )
            )
            before = remaining
        return out

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


def _events_of(study: ir.Study) -> list[ir.EventSet]:
    return [
        n for rule in study.rules for n in ir.walk(rule.predicate) if isinstance(n, ir.EventSet)
    ]


def counts_of(patients: pl.DataFrame) -> Counts:
    by = dict(
        patients.group_by("verdict").len().select(pl.col("verdict").cast(pl.String), "len").rows()
    )
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
