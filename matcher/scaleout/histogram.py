"""Counts from histograms: what a part sends back, and the exact sums made from them.

For a count, a part never returns patient rows: it returns, per study, the number of its
patients for every combination of ``(rule_bits, unknown_bits, breakdown categories)`` (a few
hundred rows however many patients), and, for a sponsor, the ledger's bottom-k similarity
sketch of the set behind every count of the query (at most 256 keyed 64-bit hashes each).
Histograms of the parts add up, and bottom-k sketches merge exactly (the ``k`` smallest of
the union are among the ``k`` smallest of each part), so the base population, eligible,
possibly eligible, the funnel in any order, every what-if and every breakdown are the exact
numbers one process would compute from the per-patient table
(:func:`matcher.feasibility.build_raw`), and the :class:`~matcher.disclosure.RawFeasibility`
built here is the same object. Disclosure control is applied once, to that combined object.

    >>> import polars as pl
    >>> part = pl.DataFrame({"rule_bits": [0, 1, 0], "unknown_bits": [0, 0, 2], "n": [5, 3, 1]},
    ...     schema={"rule_bits": pl.UInt64, "unknown_bits": pl.UInt64, "n": pl.UInt32})
    >>> whole = combine_histograms([part, part], dims=())
    >>> whole["n"].sum()
    18
    >>> status_totals(whole, mask=0b11)
    (18, 10, 2)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from criteria_dsl import ir
from matcher.disclosure.release import AttritionStep as ReleasedStep
from matcher.disclosure.release import RawFeasibility
from matcher.disclosure.sketch import bottom_k, sketch_values
from matcher.engine.result import AttritionStep, Counts, StudyRows, funnel
from matcher.errors import MatcherError
from matcher.feasibility.build import FeasibilityQuery, resolve_order
from matcher.feasibility.dimensions import POOLED_CENTRES, SEP, breakdown_names, category_expr

BITS = ("rule_bits", "unknown_bits")

_NO_QUERY = FeasibilityQuery()


def part_histogram(patients: pl.DataFrame, dims: Sequence[str]) -> pl.DataFrame:
    """Patients of one part per ``(rule_bits, unknown_bits, category of each dim)``, in ``n``.

    Centres keep their own labels: whether a centre has a single practice is known only once
    the parts are combined (:func:`pool_centres`).
    """
    labelled = patients.select(*BITS, *(category_expr(d, pooled=False) for d in dims))
    return labelled.group_by(*BITS, *dims).agg(pl.len().cast(pl.UInt64).alias("n"))


def combine_histograms(parts: Sequence[pl.DataFrame], dims: Sequence[str]) -> pl.DataFrame:
    """The sum of the parts' histograms (one row per distinct key, ``n`` summed)."""
    schema = {"rule_bits": pl.UInt64, "unknown_bits": pl.UInt64, **dict.fromkeys(dims, pl.String)}
    frames = [p.select(*schema, pl.col("n").cast(pl.UInt64)) for p in parts if p.height]
    if not frames:
        return pl.DataFrame(schema={**schema, "n": pl.UInt64})
    whole = pl.concat(frames, how="vertical_relaxed")
    return whole.group_by(*schema).agg(pl.col("n").sum()).sort(*schema)


def single_practice_labels(
    pairs: Sequence[pl.DataFrame], histogram: pl.DataFrame | None = None
) -> set[str]:
    """The centre labels to pool, from every part's distinct (centre_id, practice_id) pairs:
    centres with fewer than two practices in the whole base population, and, when those would
    pool a single practice, the smallest centre of several practices too (its size from the
    combined ``histogram``), exactly as :func:`matcher.feasibility.dimensions.category_expr`
    decides on one table.

    >>> a = pl.DataFrame({"centre_id": ["c1", "c2"], "practice_id": ["p1", "p3"]})
    >>> b = pl.DataFrame({"centre_id": ["c1", "c4", "c4"], "practice_id": ["p2", "p4", "p5"]})
    >>> sorted(single_practice_labels([a, b]))
    ['c2']
    >>> sizes = pl.DataFrame({"centre": ["c1", "c2", "c4"], "n": [30, 5, 12]})
    >>> sorted(single_practice_labels([a, b], sizes))
    ['c2', 'c4']
    """
    frames = [p.select(pl.col("centre_id", "practice_id").cast(pl.String)) for p in pairs]
    if not frames:
        return set()
    whole = pl.concat(frames).unique()
    per = whole.group_by("centre_id").agg(pl.col("practice_id").n_unique().alias("n"))
    single = per.filter((pl.col("n") < 2) & pl.col("centre_id").is_not_null())
    label = pl.col("centre_id").str.replace_all(SEP, "/", literal=True)
    labels = set(single.select(label).to_series().to_list())
    pool = whole.filter(pl.col("centre_id").is_in(single["centre_id"].implode()))
    if (
        histogram is None
        or "centre" not in histogram.columns
        or pool["practice_id"].n_unique() != 1
    ):
        return labels
    known = per.filter(pl.col("centre_id").is_not_null()).select(label).to_series().to_list()
    sizes = (
        histogram.filter(pl.col("centre").is_in(known) & ~pl.col("centre").is_in(sorted(labels)))
        .group_by("centre")
        .agg(pl.col("n").sum())
    )
    if sizes.height:
        smallest = sizes["n"].min()
        labels |= set(sizes.filter(pl.col("n") == smallest)["centre"].to_list())
    return labels


def pool_centres(histogram: pl.DataFrame, single: Collection[str]) -> pl.DataFrame:
    """``histogram`` with the centres of ``single`` relabelled as the pooled category."""
    if "centre" not in histogram.columns or not single:
        return histogram
    pooled = pl.when(pl.col("centre").is_in(sorted(single))).then(pl.lit(POOLED_CENTRES))
    relabelled = histogram.with_columns(pooled.otherwise(pl.col("centre")).alias("centre"))
    keys = [c for c in histogram.columns if c != "n"]
    return relabelled.group_by(keys).agg(pl.col("n").sum()).sort(keys)


def pooled_cell(cell: str, single: Collection[str]) -> str:
    """The ledger cell name ``cell`` (``breakdown:centre|sex=c2|F``) after pooling ``single``.

    >>> pooled_cell("breakdown:centre|sex=c2|F", {"c2"})
    'breakdown:centre|sex=other centres (pooled)|F'
    >>> pooled_cell("eligible", {"c2"})
    'eligible'
    """
    if not cell.startswith("breakdown:") or "=" not in cell:
        return cell
    name, categories = cell[len("breakdown:") :].split("=", 1)
    dims, values = name.split(SEP), categories.split(SEP)
    if "centre" not in dims or len(dims) != len(values):
        return cell
    values = [
        POOLED_CENTRES if d == "centre" and v in single else v
        for d, v in zip(dims, values, strict=True)
    ]
    return f"breakdown:{name}={SEP.join(values)}"


def pool_sketches(sketches: Mapping[str, bytes], single: Collection[str]) -> dict[str, bytes]:
    """One part's sketches with pooled centres' cells merged (bottom-k of disjoint sets)."""
    if not single:
        return dict(sketches)
    grouped: dict[str, list[bytes]] = {}
    for cell, sketch in sketches.items():
        grouped.setdefault(pooled_cell(cell, single), []).append(sketch)
    return {
        cell: items[0]
        if len(items) == 1
        else bottom_k(np.concatenate([sketch_values(s) for s in items]))
        for cell, items in grouped.items()
    }


def merge_sketches(
    parts: Sequence[Mapping[str, bytes]], cells: Collection[str]
) -> dict[str, bytes]:
    """The sketch of every cell of the union, from the parts' sketches (absent = empty part)."""
    out = {}
    for cell in cells:
        values = [sketch_values(p[cell]) for p in parts if cell in p]
        joined = np.concatenate(values) if values else np.empty(0, dtype=np.uint64)
        out[cell] = bottom_k(joined)
    return out


def _total(frame: pl.DataFrame, condition: pl.Expr | None = None) -> int:
    if condition is not None:
        frame = frame.filter(condition)
    return int(frame["n"].sum()) if frame.height else 0


def _lit(mask: int) -> pl.Expr:
    return pl.lit(mask, dtype=pl.UInt64)


def status_totals(histogram: pl.DataFrame, mask: int) -> tuple[int, int, int]:
    """``(base, eligible, possibly eligible)`` with the rules of ``mask`` active."""
    ok = (pl.col("rule_bits") & _lit(mask)) == 0
    unknown = (pl.col("unknown_bits") & _lit(mask)) != 0
    return _total(histogram), _total(histogram, ok & ~unknown), _total(histogram, ok & unknown)


def _mask(names: Sequence[str], chosen: Collection[str]) -> int:
    return sum(1 << i for i, n in enumerate(names) if n in set(chosen))


@dataclass(frozen=True)
class HistogramResult(StudyRows):
    """One study's combined histogram: the counting side of an engine ``Result``.

    It has the identity fields of a ``Result`` (study, criteria hash, index date, data
    snapshot), its ``counts`` and ``attrition``, and :meth:`raw_feasibility` in place of
    :func:`matcher.feasibility.build_raw` (which calls it). It holds no patient row.
    """

    study: ir.Study
    criteria_hash: str
    index_date: dt.date
    data_snapshot: str
    histogram: pl.DataFrame
    dims: tuple[str, ...] = ()
    sketches: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    sketch_query: FeasibilityQuery | None = None
    """The query the sketches were made for (None: no sketches)."""
    code_rows: Mapping[str, int] = field(default_factory=dict)
    """Rows per code set, summed over the parts (exact: each part counts its own patients)."""
    not_provided: frozenset[str] = frozenset()
    """Optional tables the data does not provide (issue 18): their rules are unknown."""

    @property
    def counts(self) -> Counts:
        base, eligible, possibly = status_totals(
            self.histogram, _mask(self.rule_names, self.rule_names)
        )
        return Counts(base, eligible, possibly, base - eligible - possibly)

    def attrition(
        self, order: Sequence[str] | None = None, without: Collection[str] = ()
    ) -> list[AttritionStep]:
        """The funnel, as :meth:`matcher.engine.result.Result.attrition` computes it."""
        return funnel(self.study, self.histogram, order, without, weight="n")

    def _breakdowns(self, dims: tuple[str, ...], eligible: pl.Expr) -> dict[str, dict[str, int]]:
        categories = {d: sorted(self.histogram[d].unique().to_list()) for d in dims}
        chosen = self.histogram.filter(eligible)
        out: dict[str, dict[str, int]] = {}
        for name in breakdown_names(dims):
            parts = name.split(SEP)
            cell = pl.concat_str([pl.col(p) for p in parts], separator=SEP).alias("__cell")
            counts = dict(chosen.group_by(cell).agg(pl.col("n").sum()).rows())
            if len(parts) == 1:
                every = categories[parts[0]]
            else:
                pairs = itertools.product(categories[parts[0]], categories[parts[1]])
                every = [f"{a}{SEP}{b}" for a, b in pairs]
            out[name] = {c: int(counts.get(c, 0)) for c in every}
        return out

    def breakdown_cells(self, dims: tuple[str, ...]) -> list[str]:
        """The ledger cell names of every breakdown category (``breakdown:sex=F`` ...)."""
        cells = self._breakdowns(dims, pl.lit(True))
        return [f"breakdown:{name}={c}" for name, values in cells.items() for c in values]

    def raw_feasibility(
        self,
        query: FeasibilityQuery = _NO_QUERY,
        *,
        with_keys: bool = True,
        secret: bytes | None = None,
        sketch_secret: bytes | None = None,
    ) -> RawFeasibility:
        """The :class:`RawFeasibility` that ``build_raw`` gives for the per-patient table."""
        if with_keys:
            raise MatcherError(
                "noise (--noise) needs the hash of every counted patient set, which would send "
                "pseudonyms across the cluster: run noised counts without a cluster (a "
                "partitioned snapshot still works on one machine)"
            )
        missing = [d for d in query.by if d not in self.dims]
        if missing:
            raise MatcherError(f"breakdown {missing[0]!r} was not computed by the parts")
        if sketch_secret is not None and self.sketch_query != query:
            raise MatcherError("the parts' similarity sketches were made for another query")
        names = list(self.rule_names)
        steps = resolve_order(names, order=query.order, without=query.without, study=self.study.id)
        active = _mask(names, [n for n in names if n not in set(query.without)])
        base, eligible, possibly = status_totals(self.histogram, active)
        ok = (pl.col("rule_bits") & _lit(active)) == 0
        unknown = (pl.col("unknown_bits") & _lit(active)) != 0
        attrition = [
            ReleasedStep(s.rule, s.section, s.remaining, s.excluded, s.excluded_alone)
            for s in self.attrition(order=steps, without=query.without)
        ]
        breakdowns = self._breakdowns(tuple(query.by), ok & ~unknown) if query.by else {}
        query_key = hashlib.sha256(
            (self.criteria_hash + "|without=" + ",".join(sorted(query.without))).encode()
        ).digest()
        return RawFeasibility(
            base=base,
            eligible=eligible,
            possibly_eligible=possibly,
            attrition=attrition,
            breakdowns=breakdowns,
            query_key=query_key,
            sketches=dict(self.sketches) if sketch_secret is not None else {},
        )


__all__ = [
    "HistogramResult",
    "combine_histograms",
    "merge_sketches",
    "part_histogram",
    "pool_centres",
    "pool_sketches",
    "pooled_cell",
    "single_practice_labels",
    "status_totals",
]
