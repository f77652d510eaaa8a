"""The pseudonymised data contract: schema, loading and validation.

>>> from matcher.data import Dataset, load_dataset, validate_dataset
>>> callable(load_dataset) and callable(validate_dataset)
True
"""

from matcher.data.loader import Dataset, load_dataset
from matcher.data.summary import DataSummary, summarise
from matcher.data.validate import ValidationReport, validate_dataset

__all__ = [
    "DataSummary",
    "Dataset",
    "ValidationReport",
    "load_dataset",
    "summarise",
    "validate_dataset",
]
