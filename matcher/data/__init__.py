"""The pseudonymised data contract: schema, loading and validation.

>>> from matcher.data import Dataset, load_dataset, validate_dataset
>>> callable(load_dataset) and callable(validate_dataset)
True

The validation (``validate_dataset``, ``ValidationReport``) is imported on first use: opening
a snapshot does not need it (nor pyarrow.parquet and pyarrow.compute behind it).
"""

from typing import Any

from matcher.data.loader import Dataset, load_dataset
from matcher.data.summary import DataSummary, summarise

_LAZY = {"ValidationReport", "validate_dataset"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from matcher.data import validate

        return getattr(validate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DataSummary",
    "Dataset",
    "ValidationReport",
    "load_dataset",
    "summarise",
    "validate_dataset",
]
