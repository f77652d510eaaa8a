"""The latency table shared by the HTTP benchmarks: its documented examples, and the
nearest-rank percentiles on the edges (one sample, p95 of twenty)."""

from __future__ import annotations

import doctest

from benchmarks import latency_table
from benchmarks.latency_table import p50_p95, percentile


def test_latency_table_docstring_examples() -> None:
    assert doctest.testmod(latency_table).failed == 0


def test_percentiles_are_measured_samples() -> None:
    assert percentile([7.0], 0.95) == 7.0
    twenty = [float(i) for i in range(1, 21)]
    assert percentile(twenty, 0.95) == 19.0 and percentile(twenty, 0.5) == 11.0
    assert p50_p95([0.001] * 19 + [1.0]) == (1.0, 1.0)  # one slow request in twenty: above p95
    assert p50_p95([0.001] * 18 + [1.0] * 2) == (1.0, 1000.0)
