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
from dataclasses import asdict, dataclass
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

    @property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.study.rules)

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
