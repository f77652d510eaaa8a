"""Eligibility matching engine of p4dp: data contract, evaluation, counts and services.

The public entry points are re-exported here as they are built::

    >>> import matcher
    >>> matcher.__version__
    '0.1.0'
"""

__version__ = "0.1.0"
