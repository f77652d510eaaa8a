"""An independent checker, written without the library's auditor (no flows, no LP):
interval propagation over the row/column/total equations plus a depth-first search for a
whole consistent table. A masked cell is disclosed when only one value of it fits a table."""

from __future__ import annotations

from matcher.disclosure import DisclosurePolicy
from matcher.disclosure.rounding import preimage

INF = 10**9


def cell_domain(value, status, policy: DisclosurePolicy) -> tuple[int, int]:
    """Interval a strong attacker allows for one cell (knowing why it is masked)."""
    if status == "shown":
        return preimage(value, policy)
    if status == "primary":
        return 0, policy.threshold - 1
    return policy.threshold, INF


def _lines(keys, row_bounds, col_bounds, total_bounds):
    hi = INF if total_bounds[1] is None else total_bounds[1]
    lines = [(list(keys), (total_bounds[0], hi))]
    for side, bounds in ((0, row_bounds), (1, col_bounds)):
        for line, (lo, hi) in bounds.items():
            lines.append(([k for k in keys if k[side] == line], (lo, INF if hi is None else hi)))
    return lines


def _propagate(lo, hi, lines) -> bool:
    changed = True
    while changed:
        changed = False
        for members, (llo, lhi) in lines:
            sum_lo = sum(lo[o] for o in members)
            sum_hi = sum(hi[o] for o in members)
            if sum_lo > lhi or sum_hi < llo:
                return False
            for k in members:
                new_lo = max(lo[k], llo - (sum_hi - hi[k]))
                new_hi = min(hi[k], lhi - (sum_lo - lo[k]))
                if new_lo > new_hi:
                    return False
                if (new_lo, new_hi) != (lo[k], hi[k]):
                    lo[k], hi[k], changed = new_lo, new_hi, True
    return True


def _feasible(lo, hi, lines) -> bool:
    lo, hi = dict(lo), dict(hi)
    if not _propagate(lo, hi, lines):
        return False
    open_ = [k for k in lo if lo[k] != hi[k]]
    if not open_:
        return True
    k = min(open_, key=lambda c: hi[c] - lo[c])
    top = min(hi[k], lo[k] + 200)  # beyond 200 above the floor nothing new happens here
    for v in range(lo[k], top + 1):
        lo2, hi2 = dict(lo), dict(hi)
        lo2[k] = hi2[k] = v
        if _feasible(lo2, hi2, lines):
            return True
    return False


def fitting_values(
    domains, truth, targets, *, total_bounds, row_bounds=None, col_bounds=None, want=2
):
    """For each target cell: the true value plus other values that also fit every released
    number, up to ``want`` values in all (a set of size 1 means "derivable")."""
    keys = list(domains)
    lines = _lines(keys, row_bounds or {}, col_bounds or {}, total_bounds)
    lo = {k: domains[k][0] for k in keys}
    hi = {k: domains[k][1] for k in keys}
    assert _feasible(lo, hi, lines), "the true table must fit the released numbers"
    plo, phi = dict(lo), dict(hi)
    _propagate(plo, phi, lines)
    out = {}
    for k in targets:
        found = {truth[k]}
        for v in range(plo[k], min(phi[k], plo[k] + 200) + 1):
            if v == truth[k]:
                continue
            lo2, hi2 = dict(plo), dict(phi)
            lo2[k] = hi2[k] = v
            if _feasible(lo2, hi2, lines):
                found.add(v)
                if len(found) >= want:
                    break
        out[k] = found
    return out
