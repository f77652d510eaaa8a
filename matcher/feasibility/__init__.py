"""Feasibility counts: from the engine's per-patient results to released numbers.

The layer between the engine (:mod:`matcher.engine`) and disclosure control
(:mod:`matcher.disclosure`): true counts, attrition in any order or without some rules,
breakdowns by centre, age band and sex (combinable), patient-set keys for deterministic noise
(:mod:`~matcher.feasibility.build`); the JSON shape (:mod:`~matcher.feasibility.report`); the
table, JSON and CSV renderers (:mod:`~matcher.feasibility.render`) and the funnel picture
(:mod:`~matcher.feasibility.plot`). See ``docs/feasibility.md``.

    >>> from matcher.feasibility import FeasibilityQuery
    >>> FeasibilityQuery(by=("centre",)).by
    ('centre',)
"""

from matcher.feasibility.build import FeasibilityQuery, build_raw, resolve_order, set_key
from matcher.feasibility.dimensions import DIMENSIONS, breakdown_names, parse_dimensions
from matcher.feasibility.report import StudyFeasibility

__all__ = [
    "DIMENSIONS",
    "FeasibilityQuery",
    "StudyFeasibility",
    "breakdown_names",
    "build_raw",
    "parse_dimensions",
    "resolve_order",
    "set_key",
]
