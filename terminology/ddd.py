"""WHO defined daily doses (DDD): how ``p4dp terms load atc`` keeps them and how a comparison
in DDD finds the one of a code.

The WHO ATC/DDD index gives level-5 codes one row per DDD and route of administration
(``adm_r``: ``O`` oral, ``P`` parenteral, ``R`` rectal, ``N`` nasal, ``Inhal`` ...), with the
unit as WHO writes it (``mg``, ``g``, ``mcg``, ``U``, ``TU``, ``MU``, ``mmol``, ``ml``,
``tablet`` ...). The store keeps them in ``ddd.csv`` beside the codes.

A prescription row says nothing of the route, so one DDD is chosen per code
(:func:`ddd_of`): the only one when all routes agree once converted; else the oral one;
else none (the comparison is refused at compile time, naming the code). Units are written in
UCUM (:data:`WHO_UNITS`): ``mcg`` is ``ug``, ``U`` is ``[iU]``, ``TU``/``MU`` are thousands
and millions of ``[iU]``, ``ml`` is ``mL``; other units (``tablet``) are kept as WHO writes
them and compare only with rows in the same unit.

>>> ddd_of((( 2.0, "g", "O"),))
(2.0, 'g')
>>> ddd_of(((10.0, "MU", "P"),))
(10000000.0, '[iU]')
>>> ddd_of(((3.0, "g", "O"), (3.0, "g", "P"), (3000.0, "mg", "R")))
(3.0, 'g')
>>> ddd_of(((20.0, "mg", "O"), (5.0, "mg", "P")))
(20.0, 'mg')
>>> ddd_of(((20.0, "mg", "P"), (5.0, "mg", "R"))) is None
True
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

DDD_FILE = "ddd.csv"

WHO_UNITS: dict[str, tuple[float, str]] = {
    "mg": (1.0, "mg"),
    "g": (1.0, "g"),
    "mcg": (1.0, "ug"),
    "ug": (1.0, "ug"),
    "U": (1.0, "[iU]"),
    "TU": (1e3, "[iU]"),
    "MU": (1e6, "[iU]"),
    "mmol": (1.0, "mmol"),
    "ml": (1.0, "mL"),
    "mL": (1.0, "mL"),
}
"""WHO's DDD units → (factor, UCUM unit)."""

MASS_MG: dict[str, float] = {"ug": 0.001, "mg": 1.0, "g": 1000.0}
"""Mass units of doses in milligrams (the only conversions doses get)."""


def ucum_amount(amount: float, unit: str) -> tuple[float, str]:
    """A DDD in UCUM: ``(10, "MU")`` → ``(10000000.0, "[iU]")``; unknown units kept."""
    factor, ucum = WHO_UNITS.get(unit, (1.0, unit))
    return amount * factor, ucum


def ddd_of(options: Iterable[tuple[float, str, str]]) -> tuple[float, str] | None:
    """The DDD to use for a code given its (amount, WHO unit, route) rows (see module doc)."""
    rows = [(*ucum_amount(a, u), r) for a, u, r in options]
    if not rows:
        return None

    def in_base(amount: float, unit: str) -> tuple[float, str]:
        if unit in MASS_MG:
            return amount * MASS_MG[unit], "mg"
        return amount, unit

    if len({in_base(a, u) for a, u, _ in rows}) == 1:
        return rows[0][0], rows[0][1]
    oral = [(a, u) for a, u, r in rows if r == "O"]
    return oral[0] if len(set(oral)) == 1 else None


def write_ddd(path: Path, rows: Iterable[tuple[str, float, str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["code", "ddd", "uom", "adm_r"])
        for code, amount, unit, route in rows:
            writer.writerow([code, repr(float(amount)), unit, route])


def read_ddd(path: Path) -> dict[str, tuple[tuple[float, str, str], ...]]:
    if not path.is_file():
        return {}
    out: dict[str, list[tuple[float, str, str]]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            out.setdefault(row["code"], []).append((float(row["ddd"]), row["uom"], row["adm_r"]))
    return {code: tuple(rows) for code, rows in out.items()}
