"""Terminologies for p4dp: code systems, hierarchies, cross-maps, units and search.

This package knows codes, labels, hierarchies and units; it knows nothing of criteria files.
"""

from terminology.errors import TerminologyError, UnitConversionError, UnknownVersionError
from terminology.model import (
    CodePattern,
    CodeSetSpec,
    Concept,
    ResolvedCode,
    ResolvedCodeSet,
    SearchHit,
)

__all__ = [
    "CodePattern",
    "CodeSetSpec",
    "Concept",
    "ResolvedCode",
    "ResolvedCodeSet",
    "SearchHit",
    "TerminologyError",
    "UnitConversionError",
    "UnknownVersionError",
]
