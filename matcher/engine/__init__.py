"""The matching engine: IR → one vectorised Polars plan → per-patient results.

See ``docs/engine.md``. Entry points: :func:`matcher.engine.evaluate.evaluate` and
:func:`matcher.engine.evaluate.evaluate_many` (re-exported lazily by :mod:`matcher`).
"""
