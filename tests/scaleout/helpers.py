"""Comparisons shared by the scale-out tests: one process on a plain snapshot is the reference."""

from __future__ import annotations

import datetime as dt

from matcher.feasibility import FeasibilityQuery, build_raw

INDEX = dt.date(2026, 6, 30)
SECRET = b"scale-out-test-sketch-secret"
ALL_DIMS = ("centre", "age_band", "sex")
SKETCHED = FeasibilityQuery(by=("sex",))
"""The query whose similarity sketches the parts compute (sketches depend on the query)."""


def queries(study) -> list[FeasibilityQuery]:
    """Funnels in several orders, what-ifs, and 1-D and 2-D breakdowns for ``study``."""
    names = [r.name for r in study.rules]
    out = [
        FeasibilityQuery(),
        FeasibilityQuery(order=tuple(reversed(names))),
        FeasibilityQuery(by=("sex",), order=tuple(names[1:] + names[:1])),
        FeasibilityQuery(by=("centre", "age_band")),
    ]
    if len(names) > 1:
        out.append(FeasibilityQuery(without=(names[0],), by=("age_band",)))
    if len(names) > 2:
        out.append(FeasibilityQuery(order=(names[-1],), without=(names[1],), by=("sex", "centre")))
    return out


def assert_same_feasibility(reference, combined, study) -> None:
    """Every query's ``RawFeasibility`` (counts, funnel, what-if, breakdowns) of the combined
    histogram equals the one built from the reference's per-patient table."""
    assert combined.counts == reference.counts
    assert combined.attrition() == reference.attrition()
    for query in queries(study):
        expected = build_raw(reference, query, with_keys=False)
        assert build_raw(combined, query, with_keys=False) == expected, query


def assert_same_sketches(reference, combined) -> None:
    """The merged similarity sketches equal those of the whole per-patient table."""
    expected = build_raw(reference, SKETCHED, with_keys=False, sketch_secret=SECRET)
    got = build_raw(combined, SKETCHED, with_keys=False, sketch_secret=SECRET)
    assert got.sketches and got == expected
