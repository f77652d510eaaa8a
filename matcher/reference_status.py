"""Reference (slow, per-patient) evaluation of the smoking, pregnancy and breast-feeding facts.

Written from the rules of ``docs/criteria-language.md`` with plain Python over one patient's
rows, sharing only the code lists (:mod:`criteria_dsl.status_facts`) with the engine
(:mod:`matcher.engine.status`), so the differential tests compare two independent readings.

    >>> import datetime as dt
    >>> rows = [{"date": dt.date(2023, 5, 1), "system": "loinc", "code": "72166-2",
    ...          "value": None, "unit": None, "value_code": "8517006"}]
    >>> smoking_status(rows, dt.date(2024, 1, 1), ("former",)), smoking_status(
    ...     rows, dt.date(2023, 4, 30), ("former",))
    (True, None)
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from criteria_dsl import status_facts as F

Row = dict[str, Any]


def _latest_day(rows: list[Row]) -> list[Row]:
    if not rows:
        return []
    day = max(r["date"] for r in rows)
    return [r for r in rows if r["date"] == day]


def smoking_status(observations: list[Row], index: dt.date, statuses: tuple[str, ...]):
    """True/False/None (unknown) for ``smoking status at index is <statuses>``."""
    records = [
        r
        for r in observations
        if (r["system"], r["code"]) in F.SMOKING_STATUS_CODES and r["date"] <= index
    ]
    latest = _latest_day(records)
    if not latest:
        return None
    possible: set[str] = set()
    for row in latest:
        mask = F.smoking_mask(row.get("value_code"))
        possible |= {name for name, bit in F.STATUS_BITS.items() if mask & bit}
    wanted = set(statuses)
    if possible <= wanted:
        return True
    if not possible & wanted:
        return False
    return None


def smoking_period(
    observations: list[Row], index: dt.date, kind: str, limit: dt.date
) -> bool | None:
    """Issue 18, smoking history, from every smoking-status record on or before ``index``:
    for ``kind`` stopped, whether the patient quit on or before ``limit``; for ``kind``
    smoking, whether they smoked from ``limit`` on.

    For stopped, the quit date lies after the last record that may say "current" and on or
    before the next one that says only "former"; for smoking, the period starts at a record
    saying only "current" and lasts while no record may say otherwise. True when such a start
    is dated on or before ``limit`` with no record after it that may break it; false when a
    record that allows none of the period's statuses (still smoking; not smoking) is dated on
    or after ``limit``; None (unknown) otherwise.
    """
    lasting, allowed = F.HISTORY_MASKS[kind]
    records = [
        (r["date"], F.smoking_mask(r.get("value_code")))
        for r in observations
        if (r["system"], r["code"]) in F.SMOKING_STATUS_CODES and r["date"] <= index
    ]
    breaks = [day for day, mask in records if mask & ~allowed & F.ANY_STATUS]
    for day, mask in records:
        if mask == lasting and day <= limit and all(day > b for b in breaks):
            return True
    if any(not mask & allowed and day >= limit for day, mask in records):
        return False
    return None


def smoking_quantity(observations: list[Row], index: dt.date, quantity: str) -> float | None:
    """The latest value of ``quantity`` on or before ``index`` (largest of that day), or None
    when there is none or a value of that day is in another unit."""
    codes = F.SMOKING_QUANTITY_CODES[quantity]
    records = [
        r
        for r in observations
        if (r["system"], r["code"]) in codes
        and r["date"] <= index
        and r.get("value") is not None
        and math.isfinite(r["value"])
    ]
    latest = _latest_day(records)
    if not latest:
        return None
    for row in latest:
        unit = row.get("unit")
        if unit is not None and unit.strip() not in F.QUANTITY_UNITS[quantity]:
            return None
    return max(r["value"] for r in latest)


def state_at_index(
    sex: str, observations: list[Row], diagnoses: list[Row], index: dt.date, state: str
) -> bool | None:
    """``pregnant at index`` / ``breast-feeding at index`` for one patient."""
    if sex == "M":
        return False
    first = index - dt.timedelta(days=F.STATE_WINDOW_DAYS[state])
    evidence: list[tuple[dt.date, int]] = []
    for table, rows in (("observations", observations), ("diagnoses", diagnoses)):
        for row in rows:
            if not first <= row["date"] <= index:
                continue
            bits = F.state_evidence(state, table, row["system"], row["code"], row.get("value_code"))
            if bits:
                evidence.append((row["date"], bits))
    if not evidence:
        return None
    day = max(d for d, _ in evidence)
    said = {bits for d, bits in evidence if d == day}
    return F.ENDS not in said
