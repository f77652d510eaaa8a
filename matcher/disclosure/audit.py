"""What an attacker can compute about masked cells from everything released: exact ranges.

The attacker knows, for every cell of a table, an interval of possible true values (a shown
cell's rounding interval, ``[0, threshold-1]`` for a cell masked because it is small,
``[threshold, ∞)`` for a cell masked only to protect another one), and an interval for every
released margin (row totals, column totals, the grand total). The smallest and largest value
each masked cell can take under all those constraints is a linear programme on a
transportation network, so it is solved exactly (and in integers) as a min-cost circulation.
A masked cell is *disclosed* when its smallest and largest values are equal.

    >>> ranges = cell_ranges(
    ...     {("all", "a"): (0, 9), ("all", "b"): (40, 40)},
    ...     row_bounds={"all": (43, 43)},
    ...     targets=[("all", "a")],
    ... )
    >>> ranges[("all", "a")]
    (3, 3)
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

Bounds = tuple[int, int | None]
Cell = tuple[Hashable, Hashable]

_SOURCE = ("source",)
_SINK = ("sink",)


def _extreme(
    arcs: list[tuple[object, object, int, int | None]], target: int, sign: int
) -> int | None:
    """Min (sign=+1) or max (sign=-1) flow on arc ``target``; None when infeasible/unbounded."""
    import networkx as nx  # 0.2 s to import: only when a breakdown is audited

    graph = nx.DiGraph()
    demand: dict[object, int] = {}
    for index, (u, v, lo, hi) in enumerate(arcs):
        attrs: dict[str, int] = {"weight": sign if index == target else 0}
        if hi is not None:
            if hi < lo:
                return None
            attrs["capacity"] = hi - lo
        graph.add_edge(u, v, **attrs)
        demand[u] = demand.get(u, 0) + lo
        demand[v] = demand.get(v, 0) - lo
    nx.set_node_attributes(graph, demand, "demand")
    try:
        flow = nx.min_cost_flow(graph)
    except (nx.NetworkXUnfeasible, nx.NetworkXUnbounded):
        return None
    u, v, lo, _ = arcs[target]
    return flow[u][v] + lo


def cell_ranges(
    cells: Mapping[Cell, Bounds],
    *,
    row_bounds: Mapping[Hashable, Bounds] | None = None,
    col_bounds: Mapping[Hashable, Bounds] | None = None,
    total_bounds: Bounds | None = None,
    targets: Iterable[Cell],
) -> dict[Cell, tuple[int, int | None] | None]:
    """Exact integer ``(min, max)`` of each target cell (``max`` None: unbounded).

    ``cells`` maps ``(row, column)`` to the interval known for that cell; rows and columns
    missing from ``row_bounds``/``col_bounds`` have unconstrained totals. A target maps to
    None when the constraints admit no table at all (released values inconsistent with the
    model, e.g. under noise larger than assumed).
    """
    row_bounds = row_bounds or {}
    col_bounds = col_bounds or {}
    rows = list(dict.fromkeys(r for r, _ in cells))
    cols = list(dict.fromkeys(c for _, c in cells))
    arcs: list[tuple[object, object, int, int | None]] = []
    for r in rows:
        lo, hi = row_bounds.get(r, (0, None))
        arcs.append((_SOURCE, ("row", r), lo, hi))
    index: dict[Cell, int] = {}
    for (r, c), (lo, hi) in cells.items():
        index[(r, c)] = len(arcs)
        arcs.append((("row", r), ("col", c), lo, hi))
    for c in cols:
        lo, hi = col_bounds.get(c, (0, None))
        arcs.append((("col", c), _SINK, lo, hi))
    lo, hi = total_bounds or (0, None)
    arcs.append((_SINK, _SOURCE, lo, hi))
    result: dict[Cell, tuple[int, int | None] | None] = {}
    for cell in targets:
        low = _extreme(arcs, index[cell], +1)
        if low is None:
            result[cell] = None
            continue
        result[cell] = (low, _extreme(arcs, index[cell], -1))
    return result


def disclosed(ranges: Mapping[Cell, tuple[int, int | None] | None]) -> list[Cell]:
    """The cells whose range is a single value."""
    return [cell for cell, rng in ranges.items() if rng is not None and rng[0] == rng[1]]
