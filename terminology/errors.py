"""Errors raised by the terminology layer (unknown codes, versions, units)."""


class TerminologyError(Exception):
    """A user-facing terminology problem: unknown code, version not loaded, bad file, units."""


class UnknownVersionError(TerminologyError):
    """A pinned terminology version is not loaded; never silently replaced by another."""


class UnitConversionError(TerminologyError):
    """Two units cannot be converted into each other (e.g. 'mg' and '%')."""
