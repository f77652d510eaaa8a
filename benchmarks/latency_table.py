"""Percentiles and the latency table printed by the HTTP benchmarks (``api_latency.py``,
``api_runs_latency.py``).

Percentiles are nearest-rank (the sample at rank ``round(q * (n - 1))`` of the sorted ones),
so that every figure printed is a measured one.

    >>> percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5), percentile([1.0, 2.0], 0.95)
    (3.0, 2.0)
    >>> p50_p95([0.010, 0.012, 0.011, 0.050, 0.013])
    (12.0, 50.0)
    >>> print(latency_table([("validate", "loopback", 11.0, 50.0)]))
    | request | client | p50 ms | p95 ms |
    | --- | --- | ---: | ---: |
    | validate | loopback | 11.0 | 50.0 |
    >>> spread([10.0, 12.0, 11.0, 50.0, 13.0])
    'p50 12.0 ms, p95 50.0 ms'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 ≤ q ≤ 1) of ``values`` (not empty)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def p50_p95(seconds: Sequence[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds of durations measured in seconds."""
    return percentile(seconds, 0.5) * 1000, percentile(seconds, 0.95) * 1000


def spread(milliseconds: Sequence[float]) -> str:
    """``'p50 … ms, p95 … ms'`` of durations in milliseconds."""
    return (
        f"p50 {percentile(milliseconds, 0.5):.1f} ms, p95 {percentile(milliseconds, 0.95):.1f} ms"
    )


def latency_table(rows: Iterable[tuple[str, str, float, float]]) -> str:
    """A Markdown table of (request, client, p50 ms, p95 ms) rows."""
    lines = ["| request | client | p50 ms | p95 ms |", "| --- | --- | ---: | ---: |"]
    lines += [f"| {name} | {where} | {p50:.1f} | {p95:.1f} |" for name, where, p50, p95 in rows]
    return "\n".join(lines)
