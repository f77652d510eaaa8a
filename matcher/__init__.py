"""Eligibility matching engine of p4dp: data contract, evaluation, counts and services.

The public entry points are re-exported here as they are built::

    >>> import matcher
    >>> matcher.__version__
    '0.1.0'
"""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``matcher.evaluate`` / ``matcher.evaluate_many``, imported on first use (keeps
    ``import matcher`` light)."""
    if name in ("evaluate", "evaluate_many"):
        from matcher.engine import evaluate as _evaluate

        return getattr(_evaluate, name)
    raise AttributeError(f"module 'matcher' has no attribute {name!r}")
