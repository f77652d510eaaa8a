"""Primary and secondary suppression of breakdown tables (1-D and 2-D with margins).

A breakdown splits the eligible count by one dimension (``"centre"``) or two
(``"centre|sex"``, categories ``"C01|F"``). Each cell is released like any count (masked
under the threshold, else rounded): that is *primary* suppression, shown ``"<10"``. A masked
cell could still be recomputed from the released eligible count (the grand total), from the
released 1-D tables (the margins of a 2-D table, which a sponsor can always ask for
separately) and from the other cells, so *secondary* suppression hides more cells, shown
``"masked"`` (never ``"<10"``: their count is at least the threshold).

The audit (:func:`matcher.disclosure.audit.cell_ranges`) computes the exact range of every
masked cell given everything released, for a strong attacker who knows the algorithm (so
also which cells are ``"masked"`` rather than small). A cell is *protected* when that range
holds at least :func:`protection_width` values (5 under the default threshold 10: the
rounding of the total and of the other cells usually gives that already, so a handful of
patients of sex ``U`` no longer costs the whole ``F`` or ``M`` cell); a ``"masked"`` cell
needs at least 2. While some cell is not protected, the smallest shown cell of its line
(released values, then the name: the choice reveals nothing more than the released numbers
and loses the least) is masked too. If no shown cell is left the table is withheld. A table
whose released values admit no true table at all (a near-identical set's sticky values
drifted) is withheld too, so a 1-D margin never contradicts its 2-D cells.

The total shown with a table is the sum of its shown cells: it tells nothing the cells do not.

    >>> from matcher.disclosure.policy import DisclosurePolicy
    >>> cells = {"F": 70, "M": 66, "U": 3}
    >>> protect_1d("sex", cells, DisclosurePolicy(), total_bounds=(138, 142)).values
    {'F': 70, 'M': 65, 'U': '<10'}
    >>> exact = DisclosurePolicy(rounding=1)
    >>> protect_1d("sex", cells, exact, total_bounds=(139, 139)).values
    {'F': 70, 'M': 'masked', 'U': '<10'}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from matcher.disclosure.audit import Bounds, Cell, cell_ranges
from matcher.disclosure.policy import DisclosureError, DisclosurePolicy
from matcher.disclosure.rounding import MASKED, Released, mask_and_round, preimage

#: ``sticky``: masked because a near-identical set got the masked label before, although the
#: count is now at least the threshold; shown with that label, audited as ``secondary``.
Status = Literal["shown", "primary", "secondary", "sticky"]
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


def protection_width(status: Status, policy: DisclosurePolicy) -> int:
    """How many values the attacker's range of a masked cell must hold.

    A small cell: half the threshold, at least 2 (5 under the default threshold 10: the
    sponsor cannot tell 3 from 7); a ``"masked"`` one: 2 (its value is not pinned down).

    >>> p = DisclosurePolicy()
    >>> protection_width("primary", p), protection_width("secondary", p)
    (5, 2)
    """
    if status == "primary":
        return max(2, -(-policy.threshold // 2))
    return 2


def _unprotected(
    ranges: Mapping[Cell, tuple[int, int | None] | None],
    status_of: Mapping[Cell, Status],
    policy: DisclosurePolicy,
) -> tuple[list[Cell], bool]:
    """The cells whose range is too narrow, and whether the released values are inconsistent."""
    narrow = []
    for cell, rng in ranges.items():
        if rng is None:
            return [], True
        lo, hi = rng
        if hi is not None and hi - lo + 1 < protection_width(status_of[cell], policy):
            narrow.append(cell)
    return narrow, False


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
            # sticky (ledger): a near-identical set's cell was masked; this count is not small
            status[key] = "secondary" if values[key] == MASKED else "sticky"
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
    labels = {"primary": policy.masked_label, "sticky": policy.masked_label, "secondary": MASKED}
    out = {k: labels.get(status[k], v) for k, v in values.items()}
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
    while True:
        bounds = {(_ALL, k): domain(status[k], values[k], policy) for k in keys}
        targets = [(_ALL, k) for k in keys if status[k] != "shown"]
        ranges = cell_ranges(bounds, row_bounds={_ALL: total_bounds}, targets=targets)
        narrow, inconsistent = _unprotected(ranges, {(_ALL, k): status[k] for k in keys}, policy)
        if inconsistent:
            return _finish(dimension, values, status, policy, True)
        if not narrow:
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
    while True:  # audit: every masked cell keeps a wide enough range
        bounds: dict[Cell, Bounds] = {split[k]: domain(status[k], values[k], policy) for k in cells}
        targets = [split[k] for k in cells if status[k] != "shown"]
        ranges = cell_ranges(
            bounds,
            row_bounds=row_dom,
            col_bounds=col_dom,
            total_bounds=total_bounds,
            targets=targets,
        )
        narrow, inconsistent = _unprotected(ranges, {split[k]: status[k] for k in cells}, policy)
        if inconsistent:
            return _finish(dimension, values, status, policy, True)
        if not narrow:
            return _finish(dimension, values, status, policy, False)
        r, c = narrow[0]
        candidates = lines[(0, r)] + lines[(1, c)]
        if not (
            _mask_smallest(candidates, cells, values, status)
            or _mask_smallest(list(cells), cells, values, status)
        ):
            return _finish(dimension, values, status, policy, True)
