"""From the engine's per-patient result to the true feasibility numbers of one study.

Everything here is computed from the stored per-patient table (``rule_bits``, ``unknown_bits``,
the patient attributes): one evaluation per study, then any number of funnels and what-ifs
without scanning the data again. The output is a
:class:`matcher.disclosure.RawFeasibility` (true counts), which disclosure control turns
into what a requester may see.

* ``order``: the funnel's rules in this order; rules not named follow in file order.
* ``without``: a what-if: these rules are switched off for the counts, the funnel and the
  breakdowns (a patient failing only them becomes eligible).
* Counts of the what-if: *eligible* = fails no active rule and no active rule is unknown;
  *possibly eligible* = fails none, some active rule unknown (the engine's verdict, restricted
  to the active rules). Without ``without`` they equal the engine's counts.
* Breakdowns split the **eligible** count (not the possibly eligible one), one category per
  patient; every category present in the base population is listed, zeros included, so a
  missing category never reveals anything; combined breakdowns list every pair.
* Patient-set keys: ``sha256`` (or ``HMAC-SHA-256`` with a platform secret) of the sorted
  pseudonyms of the exact set behind each count, so deterministic noise gives the same answer
  for the same set whatever the query or the order.
* Sketches (``sketch_secret``): the keyed bottom-k similarity sketch of the set behind each
  count (:mod:`matcher.disclosure.sketch`, all of a study's computed in one pass by
  :mod:`matcher.feasibility.sketches`), for the ledger's sticky answers.

    >>> import polars as pl
    >>> from criteria_dsl import ir
    >>> resolve_order(("a", "b", "c"), order=["c"], without=["b"], study="S")
    ['c', 'a']
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from matcher.disclosure.release import AttritionStep, RawFeasibility
from matcher.disclosure.sketch import hash_key, keyed_hashes
from matcher.errors import MatcherError
from matcher.feasibility.dimensions import SEP, breakdown_names, category_expr
from matcher.feasibility.sketches import (
    breakdown_sketches,
    class_sketches,
    patient_classes,
    rule_mask,
)


@dataclass(frozen=True)
class FeasibilityQuery:
    """What to count: breakdown dimensions, funnel order, rules switched off."""

    by: tuple[str, ...] = ()
    order: tuple[str, ...] | None = None
    without: tuple[str, ...] = field(default=())


def resolve_order(
    rule_names: Sequence[str],
    *,
    order: Sequence[str] | None = None,
    without: Sequence[str] = (),
    study: str = "",
) -> list[str]:
    """The funnel's rule order, validated: ``order`` first, then the other active rules.

    Raises :class:`MatcherError` naming the study's rules for an unknown name, a repeated
    name, a rule both ordered and switched off, or every rule switched off.
    """
    names = list(rule_names)
    known = ", ".join(names) or "(none)"
    where = f"study {study}: " if study else ""
    for option, values in (("--order", order or ()), ("--without", without)):
        for name in values:
            if name not in names:
                raise MatcherError(f"{where}{option}: no rule {name!r}; the rules are: {known}")
    ordered = list(order or ())
    if len(set(ordered)) != len(ordered):
        raise MatcherError(f"{where}--order: a rule is named twice")
    clash = sorted(set(ordered) & set(without))
    if clash:
        raise MatcherError(f"{where}rule {clash[0]!r} is both in --order and in --without")
    if names and set(without) >= set(names):
        raise MatcherError(f"{where}--without: every rule is switched off; nothing to count")
    return ordered + [n for n in names if n not in ordered and n not in set(without)]


def set_key(ids: pl.Series | Sequence[str], secret: bytes | None = None) -> bytes:
    """The key of a patient set: a hash of its sorted pseudonyms (keyed when ``secret``).

    >>> set_key(["b", "a"]) == set_key(["a", "b"])
    True
    """
    values = sorted(ids.to_list() if isinstance(ids, pl.Series) else ids)
    payload = "\n".join(values).encode()
    if secret:
        return hmac.new(secret, payload, hashlib.sha256).digest()
    return hashlib.sha256(payload).digest()


def status_columns(patients: pl.DataFrame, rule_names: Sequence[str], active: Sequence[str]):
    """``patients`` with Boolean columns ``__eligible`` and ``__possibly`` for the active rules."""
    mask = pl.lit(rule_mask(rule_names, active), dtype=pl.UInt64)
    ok = (pl.col("rule_bits") & mask) == 0
    unknown = (pl.col("unknown_bits") & mask) != 0
    return patients.with_columns(
        (ok & ~unknown).alias("__eligible"), (ok & unknown).alias("__possibly")
    )


def _status_counts(classes: pl.DataFrame) -> tuple[int, int]:
    """Eligible and possibly eligible patients, summed over :func:`patient_classes`'s classes
    (bits restricted to the active rules): no pass over the patients.

    >>> classes = pl.DataFrame({"rule_bits": [0, 0, 1], "unknown_bits": [0, 2, 0],
    ...                         "n": [5, 3, 4]})
    >>> _status_counts(classes)
    (5, 3)
    """
    passed = classes.filter(pl.col("rule_bits") == 0)
    unknown = passed["unknown_bits"] != 0
    return int(passed["n"].filter(~unknown).sum()), int(passed["n"].filter(unknown).sum())


def _breakdowns(
    frame: pl.DataFrame, dims: tuple[str, ...], keys: dict[str, bytes], secret: bytes | None
) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    labelled = frame.select("patient_id", "__eligible", *(category_expr(d) for d in dims))
    categories = {d: labelled[d].unique().sort().to_list() for d in dims}
    eligible = labelled.filter(pl.col("__eligible"))
    for name in breakdown_names(dims):
        parts = name.split(SEP)
        column = pl.concat_str([pl.col(p) for p in parts], separator=SEP).alias("__cell")
        cells = eligible.with_columns(column)
        counts = dict(cells.group_by("__cell").len().rows())
        if len(parts) == 1:
            every = categories[parts[0]]
        else:
            every = [f"{a}{SEP}{b}" for a in categories[parts[0]] for b in categories[parts[1]]]
        out[name] = {c: int(counts.get(c, 0)) for c in every}
        if keys is not None:
            groups = cells.group_by("__cell").agg(pl.col("patient_id"))
            members = dict(groups.rows())
            for c in every:
                keys[f"breakdown:{name}={c}"] = set_key(members.get(c, []), secret)
    return out


def build_raw(
    result,  # matcher.engine.result.Result (not imported: the engine may be optional)
    query: FeasibilityQuery = FeasibilityQuery(),
    *,
    with_keys: bool = True,
    secret: bytes | None = None,
    sketch_secret: bytes | None = None,
) -> RawFeasibility:
    """The true counts, funnel and breakdowns of ``result`` for ``query`` (see module doc).

    ``with_keys=False`` skips the patient-set hashes (only noise needs them).
    ``sketch_secret`` (the ledger's, :meth:`matcher.disclosure.ledger.Ledger.sketch_secret`)
    adds the keyed similarity sketch of every count's patient set, for sticky answers.
    A combined histogram from scale-out (:class:`matcher.scaleout.HistogramResult`) builds
    the same object from its sums.
    """
    if hasattr(result, "raw_feasibility"):
        return result.raw_feasibility(
            query, with_keys=with_keys, secret=secret, sketch_secret=sketch_secret
        )
    names = list(result.rule_names)
    steps = resolve_order(names, order=query.order, without=query.without, study=result.study.id)
    active = [n for n in names if n not in set(query.without)]
    from matcher.engine.result import funnel

    keys: dict[str, bytes] | None = {} if with_keys else None
    # the status columns only for what needs the patients themselves (keys, breakdowns)
    wanted = keys is not None or bool(query.by)
    frame = status_columns(result.patients, names, active) if wanted else result.patients
    hashes = None
    if sketch_secret:
        hashes = keyed_hashes(frame["patient_id"], hash_key(sketch_secret))
    # one grouped pass: the funnel's counts and the sketches are sums over these classes
    classes = patient_classes(frame, rule_mask(names, active), hashes)
    attrition = [
        AttritionStep(s.rule, s.section, s.remaining, s.excluded, s.excluded_alone)
        for s in funnel(result.study, classes, steps, query.without, weight="n")
    ]
    sketches: dict[str, bytes] = {}
    if hashes is not None:
        sketches = class_sketches(classes, steps, names)
        if query.by:
            sketches.update(breakdown_sketches(frame, hashes, tuple(query.by), pooled=True))
    eligible_n, possibly_n = _status_counts(classes)
    if keys is not None:
        eligible = frame.filter(pl.col("__eligible"))
        possibly = frame.filter(pl.col("__possibly"))
        keys["base"] = set_key(frame["patient_id"], secret)
        keys["possibly_eligible"] = set_key(possibly["patient_id"], secret)
        bits = pl.col("rule_bits")
        applied = 0
        all_active = rule_mask(names, active)
        for i, name in enumerate(steps, start=1):
            bit = rule_mask(names, [name])
            applied |= bit
            so_far = "+".join(sorted(steps[:i]))
            remaining = frame.filter((bits & pl.lit(applied, dtype=pl.UInt64)) == 0)
            keys[f"remaining:{so_far}"] = set_key(remaining["patient_id"], secret)
            alone = frame.filter((bits & pl.lit(all_active, dtype=pl.UInt64)) == bit)
            keys[f"excluded_alone:{name}"] = set_key(alone["patient_id"], secret)
    breakdowns = _breakdowns(frame, tuple(query.by), keys, secret) if query.by else {}
    query_key = hashlib.sha256(
        (result.criteria_hash + "|without=" + ",".join(sorted(query.without))).encode()
    ).digest()
    return RawFeasibility(
        base=frame.height,
        eligible=eligible_n,
        possibly_eligible=possibly_n,
        attrition=attrition,
        breakdowns=breakdowns,
        patient_set_key=set_key(eligible["patient_id"], secret) if keys is not None else b"",
        cell_keys=keys or {},
        query_key=query_key,
        sketches=sketches,
    )
