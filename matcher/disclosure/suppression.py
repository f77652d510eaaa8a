"""Primary and secondary suppression of breakdown tables (1-D and 2-D with margins).

A breakdown splits the eligible count by one dimension (``"centre"``) or two
(``"centre|sex"``, categories ``"C01|F"``). Each cell is released like any count (masked
under the threshold, else rounded): that is *primary* suppression. A masked cell could still
be recomputed from the released eligible count (the grand total), from the released 1-D
tables (the margins of a 2-D table, which a sponsor can always ask for separately) and from
the other cells, so *secondary* suppression masks more cells:

1. structural rule: every line (the whole 1-D table; each row and column of a 2-D table whose
   margin is shown) holds 0 or at least 2 masked cells; the extra cell is the smallest shown
   one of that line;
2. audit: :func:`matcher.disclosure.audit.cell_ranges` computes the exact range of every
   masked cell given everything released (a strong attacker who also knows which masked
   cells were masked only to protect others); while a range is a single value, the smallest
   shown cell of that cell's line is masked too. If no shown cell is left the whole table is
   withheld.

The total shown with a table is the sum of its shown cells: it tells nothing the cells do not.

    >>> from matcher.disclosure.policy import DisclosurePolicy
    >>> cells = {"A": 120, "B": 3, "C": 41}
    >>> t = protect_1d("centre", cells, DisclosurePolicy(), total_bounds=(163, 167))
    >>> t.values, t.total
    ({'A': 120, 'B': '<10', 'C': '<10'}, 120)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from matcher.disclosure.audit import Bounds, Cell, cell_ranges, disclosed
from matcher.disclosure.policy import DisclosureError, DisclosurePolicy
from matcher.disclosure.rounding import Released, mask_and_round, preimage

Status = Literal["shown", "primary", "secondary"]
#: Separator between the two dimensions (and categories) of a 2-D breakdown.
SEP = "|"
_ALL = "all"

ReleaseFn = Callable[[str, int], Released]


@dataclass(frozen=True)
class ProtectedTable:
    """One released breakdown: values per category, and why each masked cell is masked."""

    dimension: str
    values: dict[str, Released]
    status: dict[str, Status] = field(repr=False)
    withheld: bool = False

    @property
    def total(self) -> int:
        """Sum of the shown cells (masked cells count 0)."""
        return sum(v for v in self.values.values() if isinstance(v, int))


def _default_release(policy: DisclosurePolicy) -> ReleaseFn:
    return lambda _cell, n: mask_and_round(n, policy)


def _slack(policy: DisclosurePolicy) -> int:
    """How far noise may move a count, as the auditor assumes it (3 sigma)."""
    return math.ceil(3 * policy.noise_sigma) if policy.noise else 0


def domain(status: Status, released: Released, policy: DisclosurePolicy) -> Bounds:
    """What a strong attacker knows of a cell's true value from its release and status."""
    slack = _slack(policy)
    if status == "shown":
        assert isinstance(released, int)
        lo, hi = preimage(released, policy)
        return max(policy.threshold, lo - slack), hi + slack
    if status == "primary":
        return 0, policy.threshold - 1 + slack
    return policy.threshold, None


def _primary(
    cells: Mapping[str, int], policy: DisclosurePolicy, release: ReleaseFn
) -> tuple[dict[str, Released], dict[str, Status]]:
    values: dict[str, Released] = {}
    status: dict[str, Status] = {}
    for key, n in cells.items():
        if n < 0:
            raise DisclosureError(f"breakdown cell {key!r}: negative count")
        values[key] = release(key, n)
        if isinstance(values[key], int):
            status[key] = "shown"
        elif n >= policy.threshold and not policy.noise:
            status[key] = "secondary"  # a sticky "<10" (ledger): its true count is not small
        else:
            status[key] = "primary"
    return values, status


def _mask_smallest(
    keys: list[str], cells: Mapping[str, int], values: dict[str, Released], status: dict
) -> bool:
    shown = [k for k in keys if status[k] == "shown"]
    if not shown:
        return False
    # Chosen from released values only (then the name), so the choice reveals nothing more
    # than the released numbers, and near-identical sets get the same choice.
    victim = min(shown, key=lambda k: (values[k], k))
    values[victim] = ""
    status[victim] = "secondary"
    return True


def _finish(
    dimension: str,
    values: dict[str, Released],
    status: dict[str, Status],
    policy: DisclosurePolicy,
    withheld: bool,
) -> ProtectedTable:
    if withheld:
        return ProtectedTable(dimension, {}, {}, withheld=True)
    out = {k: (policy.masked_label if status[k] != "shown" else v) for k, v in values.items()}
    return ProtectedTable(dimension, out, status)


def protect_1d(
    dimension: str,
    cells: Mapping[str, int],
    policy: DisclosurePolicy,
    *,
    total_bounds: Bounds,
    release: ReleaseFn | None = None,
) -> ProtectedTable:
    """Release a 1-D breakdown whose cells sum to a total known within ``total_bounds``."""
    release = release or _default_release(policy)
    values, status = _primary(cells, policy, release)
    keys = list(cells)
    if not policy.secondary_suppression:
        return _finish(dimension, values, status, policy, False)
    masked = [k for k in keys if status[k] != "shown"]
    if len(masked) == 1:
        _mask_smallest(keys, cells, values, status)
    while True:
        bounds = {(_ALL, k): domain(status[k], values[k], policy) for k in keys}
        targets = [(_ALL, k) for k in keys if status[k] != "shown"]
        ranges = cell_ranges(bounds, row_bounds={_ALL: total_bounds}, targets=targets)
        if not disclosed(ranges):
            return _finish(dimension, values, status, policy, False)
        if not _mask_smallest(keys, cells, values, status):
            return _finish(dimension, values, status, policy, True)


def split_key(key: str, what: str) -> tuple[str, str]:
    """Split ``"a|b"`` into its two parts, or raise :class:`DisclosureError`."""
    parts = key.split(SEP)
    if len(parts) != 2 or not all(parts):
        raise DisclosureError(
            f"breakdown {what} {key!r}: a combined breakdown needs exactly two parts 'a{SEP}b'"
        )
    return parts[0], parts[1]


def margin_domains(table: ProtectedTable, policy: DisclosurePolicy) -> dict[str, Bounds]:
    """The attacker's interval for every category of a released 1-D table."""
    if table.withheld:
        return {}
    return {k: domain(table.status[k], v, policy) for k, v in table.values.items()}


def protect_2d(
    dimension: str,
    cells: Mapping[str, int],
    policy: DisclosurePolicy,
    *,
    rows: ProtectedTable,
    cols: ProtectedTable,
    total_bounds: Bounds,
    release: ReleaseFn | None = None,
) -> ProtectedTable:
    """Release a 2-D breakdown (keys ``"row|col"``) given its released 1-D margins."""
    release = release or _default_release(policy)
    split = {k: split_key(k, "category") for k in cells}
    values, status = _primary(cells, policy, release)
    if not policy.secondary_suppression:
        return _finish(dimension, values, status, policy, False)
    row_dom = margin_domains(rows, policy)
    col_dom = margin_domains(cols, policy)
    lines: dict[tuple[int, str], list[str]] = {}
    for k, (r, c) in split.items():
        lines.setdefault((0, r), []).append(k)
        lines.setdefault((1, c), []).append(k)
    released_margin = {
        line: (rows if line[0] == 0 else cols).status.get(line[1]) == "shown" for line in lines
    }
    changed = True
    while changed:  # structural rule: 0 or >= 2 masked cells per line with a shown margin
        changed = False
        for line, keys in lines.items():
            n_masked = sum(status[k] != "shown" for k in keys)
            if released_margin[line] and n_masked == 1:
                changed |= _mask_smallest(keys, cells, values, status)
    while True:  # audit: no masked cell may be pinned down by the released numbers
        bounds: dict[Cell, Bounds] = {split[k]: domain(status[k], values[k], policy) for k in cells}
        targets = [split[k] for k in cells if status[k] != "shown"]
        ranges = cell_ranges(
            bounds,
            row_bounds=row_dom,
            col_bounds=col_dom,
            total_bounds=total_bounds,
            targets=targets,
        )
        pinned = disclosed(ranges)
        if not pinned:
            return _finish(dimension, values, status, policy, False)
        r, c = pinned[0]
        candidates = lines[(0, r)] + lines[(1, c)]
        if not (
            _mask_smallest(candidates, cells, values, status)
            or _mask_smallest(list(cells), cells, values, status)
        ):
            return _finish(dimension, values, status, policy, True)
