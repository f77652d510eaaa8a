"""IR → Polars: predicates become Boolean expressions over one row per patient.

``compile_many`` turns several studies into ONE lazy frame: the patients not opted out, the
per-patient reductions of every event set (one ``group_by`` per event table and window level,
see :mod:`matcher.engine.plan`), and for each study its base-population flag, one column per
rule (true / false / null = unknown), the failed/unknown bitmasks and the verdict.
``compile_study`` selects one study's base population and columns from it.

Predicates compile through :func:`predicate`, one ``singledispatch`` function over IR node
types; numeric values and dates through :func:`numeric`. Kleene logic comes from Polars'
own ``&``/``|``/``~`` on nullable Booleans.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import singledispatch

import polars as pl

from criteria_dsl import ir
from matcher.engine import (
    answers,
    changes,
    classes,
    coverage,
    drugs,
    same_day,
    status,
    variation,
)
from matcher.engine.dates import shift_date
from matcher.engine.distinct import by_frame, distinct_columns, sparse_columns
from matcher.engine.plan import (
    FILLS,
    CodeTuple,
    Plan,
    ResolvedEvents,
    resolve_events,
    table_pass,
    uncertain,
    wanted_codes,
)
from matcher.engine.records import reads_absent
from matcher.engine.shared import SharedPredicates, with_shared_columns
from matcher.engine.unknowns import aggregate_compare, compare, count_compare
from matcher.errors import MatcherError

VERDICTS = pl.Enum([v.value for v in ir.Verdict])
FIXED_COLUMNS = ("patient_id", "practice_id", "centre_id", "sex", "age_low", "age_high")
"""Result columns that depend only on the patient and the index date. The practice token is
not one of them: only a candidate list needs it, for its few patients, so results never carry
a re-identification token for the whole population."""
FIXED_INPUTS = (*FIXED_COLUMNS[:4], "birth_year", "birth_month")
"""The patient columns the fixed result columns are computed from."""
RESERVED = frozenset((*FIXED_COLUMNS, "practice_token", "rule_bits", "unknown_bits", "verdict"))
MAX_RULES = 64


@dataclass
class Context:
    """What predicate compilation needs: the study, its index date and the shared plan."""

    study: ir.Study
    index: dt.date
    plan: Plan
    shared: SharedPredicates | None = None
    """The nodes with several parents, computed once as columns (see
    :mod:`matcher.engine.shared`); ``None``: every node inline."""
    compiled: dict[int, tuple[object, pl.Expr, int]] = field(default_factory=dict)
    """Expressions of the predicates already compiled, by node identity (a definition used
    by several rules, or twice in one, is one shared IR node, compiled once), with the
    number of stages of shared columns they read."""
    absent: frozenset[str] = frozenset()
    """Optional tables the data does not provide: predicates reading them are unknown."""
    ages: bool = False
    """Whether age criteria read the columns of :func:`age_columns` (computed once per index
    date by ``compile_many``) instead of computing the bounds themselves."""

    def events(self, events: ir.EventSet, need: tuple) -> str:
        resolved = resolve_events(self.study, events, self.index, self.plan)
        return self.plan.add(resolved, need)

    def uncertain(self, events: ir.EventSet) -> bool:
        """Whether some rows of ``events`` may be of unknown membership (a value condition)."""
        return uncertain(resolve_events(self.study, events, self.index, self.plan))


def _both(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """True when both hold, false when neither, unknown otherwise."""
    return pl.when(a & b).then(True).when(~a & ~b).then(False).otherwise(None)


def age_bounds(index: dt.date) -> tuple[pl.Expr, pl.Expr]:
    """The lowest and highest whole age a patient can have at ``index``."""
    diff = pl.lit(index.year) - pl.col("birth_year").cast(pl.Int32)
    month = pl.col("birth_month")
    passed = month.is_not_null() & (month < index.month)
    before = month.is_not_null() & (month > index.month)
    low = pl.when(passed).then(diff).otherwise(diff - 1)
    high = pl.when(before).then(diff - 1).otherwise(diff)
    return low.cast(pl.Int32), high.cast(pl.Int32)


def predicate(node: object, ctx: Context) -> pl.Expr:
    """The Boolean expression of a predicate, memoised per shared IR node (see
    :attr:`Context.compiled`)."""
    known = ctx.compiled.get(id(node))
    if known is not None and known[0] is node:
        return known[1]
    if reads_absent(node, ctx.absent):  # a table not provided: the data cannot tell
        expr = pl.lit(None, dtype=pl.Boolean)
    else:
        expr = _predicate(node, ctx)
    inner = ir.sub_predicates(node)  # type: ignore[arg-type]
    level = max((ctx.compiled[id(item)][2] for item in inner), default=0)
    if ctx.shared is not None and ctx.shared.is_shared(node):
        expr, level = ctx.shared.column(expr, level)
    ctx.compiled[id(node)] = (node, expr, level)
    return expr


def age_columns(index: dt.date) -> tuple[str, str]:
    """The hidden columns holding :func:`age_bounds` at ``index`` (every age criterion of the
    studies at that date reads them: computed once, not once per criterion).

    >>> age_columns(dt.date(2024, 1, 15))
    ('__age_low@2024-01-15', '__age_high@2024-01-15')
    """
    return f"__age_low@{index}", f"__age_high@{index}"


@singledispatch
def _predicate(node: object, ctx: Context) -> pl.Expr:
    raise MatcherError(f"no translation for {type(node).__name__}")


@_predicate.register
def _(node: ir.Constant, ctx: Context) -> pl.Expr:
    return pl.lit(node.value, dtype=pl.Boolean)


@_predicate.register
def _(node: ir.Exists, ctx: Context) -> pl.Expr:
    found = pl.col(ctx.events(node.events, ("any",)))
    if not ctx.uncertain(node.events):
        return found
    maybe = pl.col(ctx.events(node.events, ("anyq",)))
    return pl.when(found).then(True).when(maybe).then(None).otherwise(False)


@_predicate.register
def _(node: ir.Compare, ctx: Context) -> pl.Expr:
    left, op, right = node.left, node.op, node.right.value
    if isinstance(left, ir.Age):
        low, high = age_bounds(ctx.index)
        if ctx.ages:
            low, high = (pl.col(name) for name in age_columns(ctx.index))
        return _both(compare(low, op, right), compare(high, op, right))
    if isinstance(left, ir.Count) and ctx.uncertain(left.events):
        high = ctx.events(left.events, (count_need(left) + "q",))
        return count_compare(numeric(left, ctx), pl.col(high), op, right)
    if isinstance(left, ir.ValueAggregate):
        return _value_compare(left, op, right, ctx)
    return compare(numeric(left, ctx), op, right)


def _value_compare(node: ir.ValueAggregate, op: str, right: float, ctx: Context) -> pl.Expr:
    """A value aggregate compared, unknown where unconvertible values could change the answer."""
    resolved = resolve_events(ctx.study, node.events, ctx.index, ctx.plan)
    key = ctx.plan.units.add_target(node.unit, resolved.codes)
    value = pl.col(ctx.plan.add(resolved, ("v", node.function, key)))
    unknown = pl.col(ctx.plan.add(resolved, ("vk", node.function, key)))
    if node.function in ("latest", "first"):
        # an unconvertible value dated on or after the latest (before the first) usable one
        day = pl.col(ctx.plan.add(resolved, ("vday", node.function, key)))
        later = unknown >= day if node.function == "latest" else unknown <= day
        unknown = unknown.is_not_null() & (day.is_null() | later)
    return aggregate_compare(node.function, value, unknown, op, right)


@_predicate.register
def _(node: ir.SexIs, ctx: Context) -> pl.Expr:
    sex = pl.col("sex")
    return pl.when(sex == "U").then(None).otherwise(sex == node.sex)


@_predicate.register
def _(node: ir.RegisteredFor, ctx: Context) -> pl.Expr:
    limit = shift_date(ctx.index, node.duration, "before")
    return pl.col("registered_from") <= pl.lit(limit, dtype=pl.Date)


@_predicate.register
def _(node: ir.And, ctx: Context) -> pl.Expr:
    exprs = [predicate(item, ctx) for item in node.items]
    out = exprs[0]
    for e in exprs[1:]:
        out = out & e
    return out


@_predicate.register
def _(node: ir.Or, ctx: Context) -> pl.Expr:
    exprs = [predicate(item, ctx) for item in node.items]
    out = exprs[0]
    for e in exprs[1:]:
        out = out | e
    return out


@_predicate.register
def _(node: ir.Not, ctx: Context) -> pl.Expr:
    return ~predicate(node.item, ctx)


@_predicate.register
def _(node: ir.AtLeast, ctx: Context) -> pl.Expr:
    exprs = [predicate(item, ctx) for item in node.items]
    true = pl.sum_horizontal([e.fill_null(False).cast(pl.Int32) for e in exprs])
    unknown = pl.sum_horizontal([e.is_null().cast(pl.Int32) for e in exprs])
    return (
        pl.when(true >= node.k).then(True).when(true + unknown < node.k).then(False).otherwise(None)
    )


# ---- issue 18: status ----
@_predicate.register(ir.SmokingStatusIs)
@_predicate.register(ir.SmokingQuantity)
@_predicate.register(ir.StateAtIndex)
def _(node: ir.SmokingStatusIs | ir.SmokingQuantity | ir.StateAtIndex, ctx: Context) -> pl.Expr:
    column = status.status_column(ctx.plan.status, status.need_of(node, ctx.index))
    if isinstance(node, ir.SmokingStatusIs):
        return status.smoking_status_expr(column, node.statuses)
    if isinstance(node, ir.SmokingQuantity):
        return compare(pl.col(column), node.op, node.right.value)
    return status.state_expr(column)


@_predicate.register
def _(node: ir.SmokingHistory, ctx: Context) -> pl.Expr:  # issue 18: smoking history
    at_index = "former" if node.kind == "stopped" else "current"
    status_now = status.smoking_status_expr(
        status.status_column(ctx.plan.status, ("smoking", ctx.index)), (at_index,)
    )
    limit = shift_date(ctx.index, node.duration, "before")
    period = status.status_column(ctx.plan.status, ("history", node.kind, limit, ctx.index))
    return status_now & pl.col(period)  # Kleene AND: unknown & false is false


# ---- issue 18: drugs ----


@_predicate.register
def _(node: ir.Spans, ctx: Context) -> pl.Expr:
    return drugs.spans(node, ctx)


@_predicate.register
def _(node: ir.FirstEvent, ctx: Context) -> pl.Expr:
    return drugs.first_event(node, lambda events: _predicate(ir.Exists(events), ctx))


@_predicate.register
def _(node: ir.ValueVariation, ctx: Context) -> pl.Expr:  # issue 18: language reach
    return variation.predicate(node, ctx)


@_predicate.register
def _(node: ir.Covers, ctx: Context) -> pl.Expr:  # issue 18: treatment length
    return coverage.predicate(node, ctx)


@_predicate.register
def _(node: ir.AnswerIs, ctx: Context) -> pl.Expr:  # issue 18: coded answers
    return answers.predicate(node, ctx)


@_predicate.register
def _(node: ir.StableDose, ctx: Context) -> pl.Expr:
    return changes.predicate(node, ctx)


@_predicate.register
def _(node: ir.NoChange, ctx: Context) -> pl.Expr:
    return changes.predicate(node, ctx)


@singledispatch
def numeric(node: object, ctx: Context) -> pl.Expr:
    raise MatcherError(f"no translation for {type(node).__name__}")


@numeric.register
def _(node: ir.Count, ctx: Context) -> pl.Expr:
    return pl.col(ctx.events(node.events, (count_need(node),)))


def count_need(node: ir.Count) -> str:
    """The scan plan's reduction counting ``node``: rows, distinct days, drugs or classes."""
    if node.atc_level is not None:  # langdata: distinct ATC classes
        return classes.need(node.atc_level)
    if node.distinct_drugs:
        return "ndrugs"
    return "ndays" if node.distinct_days else "count"


@numeric.register
def _(node: ir.ValueAggregate, ctx: Context) -> pl.Expr:
    resolved = resolve_events(ctx.study, node.events, ctx.index, ctx.plan)
    key = ctx.plan.units.add_target(node.unit, resolved.codes)
    return pl.col(ctx.plan.add(resolved, ("v", node.function, key)))


# --------------------------------------------------------------------------------------------
# Studies → one lazy frame
# --------------------------------------------------------------------------------------------


def base_population(index: dt.date) -> pl.Expr:
    """Not opted out (null counts as opted out), registered and alive at ``index``."""
    day = pl.lit(index, dtype=pl.Date)
    return (
        ~pl.col("opted_out")
        & (pl.col("registered_from").is_null() | (pl.col("registered_from") <= day))
        & (pl.col("registered_to").is_null() | (pl.col("registered_to") >= day))
        & (pl.col("death_date").is_null() | (pl.col("death_date") > day))
    )


@dataclass(frozen=True)
class StudyColumns:
    """Where one study's results live in the shared frame (prefix ``__s<n>:``)."""

    study: ir.Study
    index: dt.date
    prefix: str
    code_rows: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per code set of the study that a criterion reads: the row-count columns of its codes."""

    def output(self) -> list[pl.Expr]:
        """Expressions selecting this study's per-patient table from the shared frame."""
        return self.fixed() + self.own()

    def fixed(self) -> list[pl.Expr]:
        """The columns that depend only on the index date (the same for studies sharing it)."""
        low, high = age_bounds(self.index)
        exprs = [pl.col(c) for c in FIXED_COLUMNS[:4]]
        return [*exprs, low.alias("age_low"), high.alias("age_high")]

    def columns(self) -> list[str]:
        """This study's columns in the shared frame: base flag, rules, bitmasks, verdict."""
        names = [r.name for r in self.study.rules] + ["rule_bits", "unknown_bits", "verdict"]
        return [self.base, *(self.prefix + n for n in names)]

    def own(self) -> list[pl.Expr]:
        """This study's rule columns, bitmasks and verdict."""
        exprs = [pl.col(self.prefix + r.name).alias(r.name) for r in self.study.rules]
        for name in ("rule_bits", "unknown_bits", "verdict"):
            exprs.append(pl.col(self.prefix + name).alias(name))
        return exprs

    @property
    def base(self) -> str:
        """The column flagging this study's base population in the shared frame."""
        return self.prefix + "base"


def _rule_columns(
    study: ir.Study, prefix: str, same: Mapping[str, str]
) -> tuple[list[pl.Expr], pl.Expr]:
    """The two bitmasks after ``unknown_as``, from the raw rule columns, and the verdict (to
    compute in a later stage: it reads the bitmasks). ``same``: the rule columns equal to an
    earlier one (read instead: a flag several studies compute the same way is computed once,
    Polars' common sub-expressions)."""
    failed: list[pl.Expr] = []
    unknown: list[pl.Expr] = []
    for rule in study.rules:
        value = pl.col(same.get(prefix + rule.name, prefix + rule.name))
        if rule.unknown_as is not None:
            value = value.fill_null(rule.unknown_as)
        bad = ~value if rule.section is ir.Section.INCLUSION else value
        failed.append(bad.fill_null(False))
        unknown.append(value.is_null())
    bits = [
        bitmask(failed).alias(prefix + "rule_bits"),
        bitmask(unknown).alias(prefix + "unknown_bits"),
    ]
    return bits, verdict_of(prefix).alias(prefix + "verdict")


def bits_dtype(rules: int) -> pl.DataType:
    """The narrowest unsigned type holding one bit per rule (the bitmask is built in it, then
    widened once to UInt64: OR-ing 8-bit columns moves an eighth of the memory).

    >>> bits_dtype(3), bits_dtype(9), bits_dtype(17), bits_dtype(64)
    (UInt8, UInt16, UInt32, UInt64)
    """
    for dtype, width in ((pl.UInt8, 8), (pl.UInt16, 16), (pl.UInt32, 32)):
        if rules <= width:
            return dtype
    return pl.UInt64


def bitmask(flags: list[pl.Expr]) -> pl.Expr:
    """Bit ``i`` set where ``flags[i]`` (never null) holds, as a UInt64.

    >>> frame = pl.DataFrame({"a": [True, False, True], "b": [True, False, False]})
    >>> frame.select(bitmask([pl.col("a"), pl.col("b")])).to_series().to_list()
    [3, 0, 1]
    """
    dtype = bits_dtype(len(flags))
    # OR of per-rule constants: several times faster than sum_horizontal of casts, or than
    # casts multiplied by the constants
    zero = pl.lit(0, dtype=dtype)
    out = zero
    for i, flag in enumerate(flags):
        out = out | pl.when(flag).then(pl.lit(1 << i, dtype=dtype)).otherwise(zero)
    return out.cast(pl.UInt64)


def verdict_of(prefix: str) -> pl.Expr:
    """The verdict from the study's bitmasks: not eligible when a rule failed, possibly
    eligible when none failed and some is unknown, else eligible (issue 16: reading the two
    bitmasks costs a third of testing every rule's flags again).

    >>> frame = pl.DataFrame({"p:rule_bits": [0, 2, 0], "p:unknown_bits": [0, 1, 4]},
    ...                      schema={"p:rule_bits": pl.UInt64, "p:unknown_bits": pl.UInt64})
    >>> frame.select(verdict_of("p:")).to_series().cast(pl.String).to_list()
    ['eligible', 'not_eligible', 'possibly_eligible']
    """

    def verdict_literal(verdict: ir.Verdict) -> pl.Expr:
        return pl.lit(verdict.value, dtype=VERDICTS)  # an Enum literal: no per-row string

    return (
        pl.when(pl.col(prefix + "rule_bits") != 0)
        .then(verdict_literal(ir.Verdict.NOT_ELIGIBLE))
        .when(pl.col(prefix + "unknown_bits") != 0)
        .then(verdict_literal(ir.Verdict.POSSIBLY_ELIGIBLE))
        .otherwise(verdict_literal(ir.Verdict.ELIGIBLE))
    )


def code_row_columns(study: ir.Study, index: dt.date, plan: Plan) -> dict[str, tuple[str, ...]]:
    """The row-count columns of each code set of ``study`` (at ``index``) the plan reads."""
    out: dict[str, tuple[str, ...]] = {}
    counted = plan.date_counts.get(index, {})
    for codeset in study.codesets:
        codes = tuple(sorted(codeset.resolved.by_system().items()))
        columns = tuple(name for (_, c), name in counted.items() if c == codes)
        if columns:
            out[codeset.name] = columns
    return out


def check_study(study: ir.Study) -> None:
    """Refuse what the result table cannot hold (reserved names, too many rules)."""
    for rule in study.rules:
        if rule.name in RESERVED:
            raise MatcherError(
                f"study {study.id}: rule name {rule.name!r} is reserved for a result column; "
                "rename the rule"
            )
    if len(study.rules) > MAX_RULES:
        raise MatcherError(f"study {study.id}: more than {MAX_RULES} rules")


EventReader = Callable[[str, Mapping[str, Collection[str]] | None], pl.LazyFrame]
"""``Dataset.events``: the rows of a table with the wanted codes (None: every row)."""


def compile_many(
    studies: list[tuple[ir.Study, dt.date]],
    tables: dict[str, pl.LazyFrame],
    *,
    key: str = "patient_id",
    events: EventReader | None = None,
    dense: bool = False,
    absent: Collection[str] = (),
) -> tuple[pl.LazyFrame, list[StudyColumns]]:
    """One lazy frame holding every study's results, and where each study's columns are.

    ``key`` links event rows to patients (``Dataset.patient_key``); ``events`` (a data set's
    ``events`` method) reads each table given the union of the codes its sets want, which a
    snapshot answers with row ranges instead of a scan. ``dense``: ``key`` is the row number
    of ``patients`` (a snapshot); the aggregates are then collected and scattered into
    full-length columns (see :func:`attach_dense`) instead of joined. ``absent``: the
    optional tables the data does not provide (their criteria are unknown).
    """
    plan = Plan()
    raw_by_study: list[dict[str, pl.Expr]] = []
    layout: list[StudyColumns] = []
    shared: list[SharedPredicates] = []
    for n, (study, index) in enumerate(studies):
        check_study(study)
        prefix = f"__s{n}:"
        # '#' never appears in a rule name, so these never collide with rule columns
        shared.append(SharedPredicates.of_rules(study.rules, f"__s{n}#"))
        plan.index = index
        ctx = Context(study, index, plan, shared[-1], absent=frozenset(absent), ages=True)
        raw_by_study.append({r.name: predicate(r.predicate, ctx) for r in study.rules})
        layout.append(StudyColumns(study, index, prefix))

    aggregated = _aggregate(plan, tables, key, read=events, separate=dense)
    aggregated += status.status_frames(plan.status, tables, key, events)  # issue 18
    aggregated += changes.history_frames(plan, tables, key, events)  # issue 18: drugs
    aggregated += coverage.coverage_frames(plan, tables, key, events)  # issue 18
    aggregated += answers.answer_frames(plan, tables, key, events)  # issue 18
    named: list[tuple[str, pl.Expr]] = []
    for spec, raw in zip(layout, raw_by_study, strict=True):
        named.append((spec.base, base_population(spec.index)))
        named.extend((spec.prefix + name, expr) for name, expr in raw.items())
    # a rule column equal to one of an earlier study (variants, shared base) is computed once
    raw_columns, aliases, same = distinct_columns(named)
    bits: list[pl.Expr] = []
    verdicts: list[pl.Expr] = []
    for spec in layout:
        study_bits, verdict = _rule_columns(spec.study, spec.prefix, same)
        bits.extend(study_bits)
        verdicts.append(verdict)
    for spec in layout:
        spec.code_rows.update(code_row_columns(spec.study, spec.index, plan))
    # keep what the results are made of: no patient column nor aggregate is materialised
    # beyond what the studies' outputs need
    outputs = [*FIXED_INPUTS, *(c for spec in layout for c in spec.columns())]
    outputs += list(plan.row_counts.values())
    # only the patients of some study's base population get aggregates and rule columns
    dates = sorted({spec.index for spec in layout})
    in_a_base = pl.any_horizontal(base_population(d) for d in dates) if dates else None
    keep = in_a_base if in_a_base is not None else ~pl.col("opted_out")
    if dense:
        shared_reads = [
            n for s in shared for st in s.stages for e in st for n in e.meta.root_names()
        ]
        patients, raw_columns = attach_dense(
            tables["patients"],
            aggregated,
            key,
            keep=keep,
            rules=raw_columns,
            reads={*outputs, *shared_reads},
        )
    else:
        patients = _join_once(tables["patients"].filter(keep), aggregated, key)
    ages = [
        bound.alias(name)
        for day in dates
        for bound, name in zip(age_bounds(day), age_columns(day), strict=True)
    ]
    patients = with_shared_columns(patients.with_columns(ages), shared)
    wide = patients.with_columns(raw_columns).with_columns(aliases)
    return wide.with_columns(bits).with_columns(verdicts).select(outputs), layout


def attach_dense(
    patients: pl.LazyFrame,
    aggregated: list[tuple[pl.LazyFrame, dict[str, object]]],
    key: str,
    *,
    keep: pl.Expr | None = None,
    rules: Sequence[pl.Expr] = (),
    reads: Collection[str] = (),
) -> tuple[pl.LazyFrame, list[pl.Expr]]:
    """``patients`` (the rows where ``keep`` holds) with every aggregate column, placed by
    row number, and the named ``rules`` it did not compute.

    ``rules`` (row-wise rule columns to compute): those reading the columns of one aggregate
    frame only are computed over that frame's rows (the patients with events: a tenth to a
    third of the population) and placed like the aggregates, each absent patient getting the
    rule's value at the columns' fills; an aggregate column that only these read, and that
    ``reads`` (the columns the caller reads itself) does not name, is not placed at all. The
    other rules are returned, to compute over the whole frame.

    ``key`` must be the row number of ``patients`` (0 .. n-1, as in a snapshot): each
    aggregate's values are scattered into a column of nulls (or the column's fill value), so
    no join against the whole population is needed. With ``keep`` (the union of the studies'
    base populations) the columns hold only the kept rows: an aggregate row's place is the
    number of kept rows before its patient (one gather per aggregate frame, not per column),
    and the rows of patients not kept go to a spare last place, sliced off; the rule
    columns, bitmasks and verdicts computed on the result then skip every patient outside a
    base population too. The
    aggregate frames are collected together (shared sub-plans computed once).

        >>> patients = pl.LazyFrame({"k": [0, 1, 2, 3], "in": [False, True, False, True]})
        >>> counts = pl.LazyFrame({"k": [3, 1, 2], "n": [5, 7, 9]})
        >>> rules = [(pl.col("n") > 6).alias("r")]
        >>> wide, rest = attach_dense(patients, [(counts, {"n": 0})], "k", keep=pl.col("in"),
        ...                           rules=rules, reads=["n"])
        >>> wide.collect().select("n", "r").rows(), rest
        ([(7, True), (5, False)], [])
    """
    height = patients.select(pl.len()).collect().item()
    place = None
    if keep is not None:  # a kept patient's place among the kept; the others: one spare slot
        kept = keep.fill_null(False)
        height = patients.select(kept.sum()).collect().item()
        rank = kept.cast(pl.Int64).cum_sum() - 1
        place = pl.when(kept).then(rank).otherwise(height).cast(pl.get_index_type())
        place = patients.select(place).collect().to_series()
        patients = patients.filter(keep)
    collected = pl.collect_all([frame for frame, _ in aggregated])
    sparse, dense = by_frame(list(rules), collected, key)
    # an aggregate column only sparse rule columns read is not placed itself
    wanted = set(reads).union(*(rule.meta.root_names() for rule in dense))
    read = set().union(*(rule.meta.root_names() for group in sparse.values() for rule in group))
    length = height if place is None else height + 1

    def put(positions: pl.Series, placed: list[tuple[pl.Series, object]]) -> None:
        for values, fill in placed:
            full = pl.repeat(fill, length, dtype=values.dtype, eager=True).alias(values.name)
            if len(positions):
                full = full.scatter(positions, values)
            columns.append(full.slice(0, height))

    columns: list[pl.Series] = []
    where: list[pl.Series] = []
    for got, (_, fills) in zip(collected, aggregated, strict=True):
        where.append(got[key] if place is None else place.gather(got[key]))
        placed = [(got[c], fills.get(c)) for c in got.columns if c != key]
        put(where[-1], [(s, f) for s, f in placed if s.name in wanted or s.name not in read])
    for n, group in sparse.items():  # rule columns over the patients with events
        values, absent = sparse_columns(group, collected[n].drop(key), aggregated[n][1])
        put(where[n], [(s, absent[s.name]) for s in values.get_columns()])
    return patients.with_columns(columns), dense


def _join_once(
    patients: pl.LazyFrame, aggregated: list[tuple[pl.LazyFrame, dict[str, object]]], key: str
) -> pl.LazyFrame:
    """``patients`` left-joined ONCE to the aggregates (themselves full-joined first: they
    are much smaller than the population), with each column's fill for absent patients."""
    if not aggregated:
        return patients
    combined = aggregated[0][0]
    for frame, _ in aggregated[1:]:
        combined = combined.join(frame, on=key, how="full", coalesce=True)
    fills = {c: v for _, f in aggregated for c, v in f.items()}
    patients = patients.join(combined, on=key, how="left", maintain_order="left")
    return patients.with_columns(pl.col(c).fill_null(v) for c, v in fills.items())


def _aggregate(
    plan: Plan,
    tables: dict[str, pl.LazyFrame],
    key: str,
    *,
    read: EventReader | None,
    separate: bool = False,
) -> list[tuple[pl.LazyFrame, dict[str, object]]]:
    """The per-(table, level) aggregate frames, lower levels first, with their null fills.

    ``separate``: ``latest``/``first`` values come as frames of their own (placed by
    :func:`attach_dense`) instead of being joined to their table's aggregates, and when
    ``read`` answers from a code index, sets are grouped by code set too (a snapshot)."""
    by_key: dict[tuple[int, str, CodeTuple | None], list[ResolvedEvents]] = {}
    for events in plan.sets:
        # with ``separate`` (a snapshot: reading a code set is slicing its row ranges), one
        # pass per code set: each group_by then runs over the rows of its own codes only
        codes = events.codes if separate and read is not None else None
        by_key.setdefault((plan.level(events), events.domain.value, codes), []).append(events)
    frames: dict[ResolvedEvents, pl.LazyFrame] = {}
    # a snapshot says which reads come sorted by patient and date (one code's rows)
    sorted_read = getattr(getattr(read, "__self__", None), "key_sorted", None)
    days = same_day.day_frames(plan, tables, key, read)  # issue 18: cause of an event
    out = []
    for level, table, codes in sorted(by_key, key=lambda k: (k[0], k[1], str(k[2]))):
        sets = by_key[(level, table, codes)]
        source = tables[table] if read is None else read(table, wanted_codes(sets))
        counted = set(plan.row_counts.values())
        ordered = separate and sorted_read is not None and sorted_read(table, wanted_codes(sets))
        frame, apart = table_pass(
            plan,
            source,
            sets,
            frames,
            key,
            codes_read=read is not None,
            day_frames=days,
            ordered=ordered,
        )
        row_counts = {c: 0 for c in plan.row_counts.values() if c not in counted}
        for s in sets:
            frames[s] = frame
        if apart:
            if frame.collect_schema().names() == [key]:
                # every reduction of the pass is a latest/first value: the first stage's
                # frame holds nothing of its own (no anchor reads it); computing it apart
                # would run its group_by a second time
                out.extend((f, {}) for f in apart)
                continue
            if separate:
                out.extend((f, {}) for f in apart)
            else:
                for on_day in apart:
                    frame = frame.join(on_day, on=key, how="left")
        fills = {
            plan.column(s, need): FILLS[need[0]]
            for s in sets
            for need in plan.needs[s]
            if need[0] in FILLS
        } | row_counts
        out.append((frame, fills))
    return out


def compile_study(study: ir.Study, tables: dict[str, pl.LazyFrame], index: dt.date) -> pl.LazyFrame:
    """The per-patient lazy frame of one study: its base population and its columns."""
    frame, (spec,) = compile_many([(study, index)], tables)
    return frame.filter(pl.col(spec.prefix + "base")).select(spec.output())
