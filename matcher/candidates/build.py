"""Building the signed candidate lists of a study from its per-patient results.

:func:`build_lists` takes an evaluated study (:class:`~matcher.engine.result.Result`) and the
data set's ``patients`` table, and returns one signed ``p4dp-candidate-list`` per practice
that has candidates: the eligible and possibly eligible patients of the base population
(opted-out patients are never in it, and are filtered again here). Tokens are looked up only
for the listed patients; results never carry them.

Per candidate, the rules *met* are the rules that did not fail and were not unknown (an
inclusion rule true, an exclusion rule false, after the rule's ``unknown_as``), the rules *to
verify* those that were unknown: both come from the result's bitmasks, so they always agree
with the status. Candidates are numbered eligible first, then possibly eligible, each in token
order (which says nothing about the patient).

>>> import datetime as dt, polars as pl
>>> from criteria_dsl import ir
>>> from matcher.candidates import generate_signing_key, verify_list
>>> from matcher.engine.evaluate import evaluate
>>> study = ir.Study("demo", 1, None, dt.date(2024, 1, 15), (), (), (
...     ir.Rule("adult", ir.Section.INCLUSION, ir.Compare(ir.Age(), ">=", ir.Quantity(18))),
... ), ())
>>> patients = pl.DataFrame({
...     "patient_id": ["a", "b", "c"], "birth_year": [1990, 2010, None], "birth_month": [5, 1, 1],
...     "sex": ["F", "M", "F"], "practice_id": ["p1", "p1", "p2"], "centre_id": ["c1"] * 3,
...     "registered_from": [None] * 3, "registered_to": [None] * 3, "death_date": [None] * 3,
...     "practice_token": ["1" * 64, "2" * 64, "3" * 64]}).with_columns(
...     pl.col("birth_year").fill_null(2000))
>>> key = generate_signing_key()
>>> issued = dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc)
>>> outcome = build_lists(evaluate(study, {"patients": patients}), patients, key, issued=issued)
>>> lists = outcome.lists
>>> [(d.practice_id, d.eligible, d.possibly_eligible) for d in lists]
[('p1', 1, 0), ('p2', 1, 0)]
>>> checked = verify_list(lists[0].document, key.public(), now=issued)
>>> [(c.row, c.token[:4], c.status, c.met) for c in checked.candidates]
[(1, '1111', 'eligible', ('adult',))]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from criteria_dsl import ir
from matcher.candidates.document import (
    Candidate,
    CandidateList,
    RuleInfo,
    new_list_id,
    sign_list,
    utc_now,
)
from matcher.candidates.signing import SigningKey
from matcher.engine.result import Result
from matcher.errors import MatcherError

DEFAULT_VALIDITY = dt.timedelta(days=30)
LISTED = (ir.Verdict.ELIGIBLE.value, ir.Verdict.POSSIBLY_ELIGIBLE.value)


@dataclass(frozen=True)
class PracticeList:
    """One practice's signed list and its counts (exact: for the platform, not a sponsor)."""

    practice_id: str
    document: dict[str, Any]
    eligible: int
    possibly_eligible: int
    without_token: int = 0
    """Candidates the practice sent no token for: cannot be listed (reported, not hidden)."""

    @property
    def list_id(self) -> str:
        return str(self.document["list_id"])


@dataclass(frozen=True)
class ListsOutcome:
    """Every list of one issuance, and the practices asked for that got none."""

    lists: list[PracticeList]
    without_candidates: list[str] = field(default_factory=list)


def rule_infos(study: ir.Study) -> tuple[RuleInfo, ...]:
    """The study's rules as a list shows them: name, section and a plain description.

    >>> from criteria_dsl import ir
    >>> rule = ir.Rule("adult", ir.Section.INCLUSION,
    ...                ir.Compare(ir.Age(), ">=", ir.Quantity(18)), description="Adult")
    >>> rule_infos(ir.Study("s", 1, None, None, (), (), (rule,), ()))[0].description
    'Adult: age at the index date is at least 18 years'
    """
    from criteria_dsl.explain import predicate

    out = []
    for rule in study.rules:
        words = predicate(rule.predicate)
        text = f"{rule.description}: {words}" if rule.description else words
        out.append(RuleInfo(rule.name, rule.section.value, text))
    return tuple(out)


def _rules_by_bits(names: tuple[str, ...], patterns: list[int]) -> dict[int, tuple]:
    """For each distinct ``unknown_bits`` value: (rules met, rules to verify)."""
    out = {}
    for bits in patterns:
        unknown = tuple(n for i, n in enumerate(names) if bits >> i & 1)
        met = tuple(n for i, n in enumerate(names) if not bits >> i & 1)
        out[bits] = (met, unknown)
    return out


def _candidates(
    result: Result, patients: pl.DataFrame | pl.LazyFrame, practices: Collection[str] | None
) -> pl.DataFrame:
    """Listed patients with their practice, status, unknown bits and (joined) token."""
    listed = result.patients.filter(pl.col("verdict").cast(pl.String).is_in(LISTED))
    if practices is not None:
        listed = listed.filter(pl.col("practice_id").is_in(sorted(practices)))
    listed = listed.select(
        pl.col("patient_id").cast(pl.String),
        pl.col("practice_id").cast(pl.String),
        pl.col("verdict").cast(pl.String).alias("status"),
        "unknown_bits",
    )
    wanted = listed["patient_id"].implode()
    schema = patients.lazy().collect_schema()
    if "practice_token" not in schema:
        raise MatcherError("the data's patients table has no practice_token column: no list")
    opted_out = pl.col("opted_out") if "opted_out" in schema else pl.lit(False)
    tokens = (
        patients.lazy()
        .select(
            pl.col("patient_id").cast(pl.String),
            pl.col("practice_token").cast(pl.String),
            opted_out.fill_null(False).alias("opted_out"),
        )
        .filter(pl.col("patient_id").is_in(wanted))
        .collect()
    )
    joined = listed.join(tokens, on="patient_id", how="left")
    return joined.filter(~pl.col("opted_out").fill_null(False))


def build_lists(
    result: Result,
    patients: pl.DataFrame | pl.LazyFrame,
    signing_key: SigningKey,
    *,
    practices: Collection[str] | None = None,
    issued: dt.datetime | None = None,
    validity: dt.timedelta = DEFAULT_VALIDITY,
) -> ListsOutcome:
    """One signed list per practice with candidates (only ``practices`` when given)."""
    if validity <= dt.timedelta(0):
        raise MatcherError("a list must be valid for a positive duration")
    issued = utc_now() if issued is None else issued
    study = result.study
    rules = rule_infos(study)
    names = tuple(r.name for r in rules)
    found = _candidates(result, patients, practices)
    by_bits = _rules_by_bits(names, found["unknown_bits"].unique().to_list())
    out: list[PracticeList] = []
    for (practice,), group in sorted(found.group_by("practice_id"), key=lambda kv: kv[0]):
        with_token = group.filter(pl.col("practice_token").is_not_null())
        ordered = with_token.sort(
            [pl.col("status") != ir.Verdict.ELIGIBLE.value, pl.col("practice_token")]
        )
        candidates = tuple(
            Candidate(row, token, status, *by_bits[bits])
            for row, (token, status, bits) in enumerate(
                ordered.select("practice_token", "status", "unknown_bits").iter_rows(), start=1
            )
        )
        if not candidates:
            continue
        document = CandidateList(
            list_id=new_list_id(),
            study_id=study.id,
            study_version=study.version,
            study_title=study.title,
            criteria_hash=result.criteria_hash,
            data_snapshot=result.data_snapshot,
            practice_id=str(practice),
            issued=issued,
            expires=issued + validity,
            rules=rules,
            candidates=candidates,
        ).to_dict()
        eligible = sum(c.status == ir.Verdict.ELIGIBLE.value for c in candidates)
        out.append(
            PracticeList(
                str(practice),
                sign_list(document, signing_key),
                eligible,
                len(candidates) - eligible,
                group.height - with_token.height,
            )
        )
    listed = {p.practice_id for p in out}
    missing = sorted(set(practices or ()) - listed)
    return ListsOutcome(out, missing)
