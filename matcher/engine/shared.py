"""Predicates used more than once are computed once, into a column of their own.

A criteria file's ``define`` is compiled once and shared by every rule that uses it, so a
study's predicates form a graph in which one node may have several parents (a definition
used by several rules, or twice in one: ``define d2 = d1 and not d1``). Written out as one
Polars expression per rule, such a graph is copied at every use: twenty chained definitions
would be a million-node expression. Instead, every node with several parents becomes a
column (``__s<study>#p<n>``) computed by a ``with_columns`` stage, and its parents read
that column. A shared node that reads other shared columns goes in a later stage than they
do. The columns are intermediate: the result keeps only the rule columns.

    >>> from criteria_dsl import ir
    >>> age = ir.Compare(ir.Age(), ">=", ir.Quantity(18))
    >>> both = ir.And((age, ir.Not(age)))
    >>> rules = (ir.Rule("a", ir.Section.INCLUSION, both), ir.Rule("b", ir.Section.INCLUSION, both))
    >>> shared = SharedPredicates.of_rules(rules, "__s0#")
    >>> shared.is_shared(both), shared.is_shared(age), shared.is_shared(both.items[1])
    (True, True, False)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

from criteria_dsl import ir


@dataclass
class SharedPredicates:
    """The shared nodes of one study's rules and the stages of columns computing them."""

    prefix: str
    uses: Counter[int]
    stages: list[list[pl.Expr]] = field(default_factory=list)
    count: int = 0

    @classmethod
    def of_rules(cls, rules: Iterable[ir.Rule], prefix: str) -> SharedPredicates:
        """Count the parents of every predicate node (a rule counts as a parent)."""
        uses: Counter[int] = Counter()
        seen: set[int] = set()
        stack: list[ir.Predicate] = []
        for rule in rules:
            uses[id(rule.predicate)] += 1
            stack.append(rule.predicate)
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            for child in ir.sub_predicates(node):
                uses[id(child)] += 1
                stack.append(child)
        return cls(prefix, uses)

    def is_shared(self, node: object) -> bool:
        """A node with several parents, worth a column (not a constant nor a plain lookup)."""
        return self.uses[id(node)] > 1 and not isinstance(node, ir.Constant | ir.Exists)

    def column(self, expr: pl.Expr, level: int) -> tuple[pl.Expr, int]:
        """Register ``expr`` (reading shared columns of stages below ``level``) as a column;
        the expression reading it, and its own level."""
        name = f"{self.prefix}p{self.count}"
        self.count += 1
        while len(self.stages) <= level:
            self.stages.append([])
        self.stages[level].append(expr.alias(name))
        return pl.col(name), level + 1


def with_shared_columns(frame: pl.LazyFrame, studies: Iterable[SharedPredicates]) -> pl.LazyFrame:
    """``frame`` with every shared column of ``studies``, one ``with_columns`` per stage."""
    stages: list[list[pl.Expr]] = []
    for shared in studies:
        for level, exprs in enumerate(shared.stages):
            while len(stages) <= level:
                stages.append([])
            stages[level].extend(exprs)
    for exprs in stages:
        frame = frame.with_columns(exprs)
    return frame
