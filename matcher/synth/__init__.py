"""Synthetic French primary-care population, written in the data contract.

>>> from matcher.synth import generate
>>> callable(generate)
True
"""

from matcher.synth.writer import Summary, generate

__all__ = ["Summary", "generate"]
