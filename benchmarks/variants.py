"""Fifty studies from the examples: each example plus variants with other thresholds and windows.

A variant rewrites the compiled IR: every window duration grows by ``k`` units (months stay
months), and every numeric threshold on a lab value or a count moves by a few percent. Age
limits are kept, so the variants stay plausible studies over the same tables.

    >>> import datetime as dt
    >>> from criteria_dsl import ir
    >>> ev = ir.EventSet(ir.Domain.PRESCRIPTION, None if False else ir.CodeSetRef("m"),
    ...                  ir.Window.relative_to_index(before=ir.Duration(6, ir.TimeUnit.MONTH)))
    >>> pred = ir.Compare(ir.Count(ev), ">=", ir.Quantity(2))
    >>> new = vary(pred, 2)
    >>> new.left.events.window.start.offset.amount, new.right.value
    (8, 3.0)
"""

from __future__ import annotations

import dataclasses
import glob
from pathlib import Path
from typing import Any

from criteria_dsl import ir


def vary(node: Any, k: int) -> Any:
    """A copy of ``node`` with durations lengthened by ``k`` and thresholds moved."""
    if isinstance(node, ir.Duration):
        return dataclasses.replace(node, amount=node.amount + k)
    if isinstance(node, ir.Compare) and not isinstance(node.left, ir.Age):
        left = vary(node.left, k)
        value = node.right.value
        if isinstance(node.left, ir.Count):
            moved = float(max(0, round(value + k // 2)))
        else:
            moved = round(value * (1 + 0.02 * k), 2)
        return dataclasses.replace(
            node, left=left, right=dataclasses.replace(node.right, value=moved)
        )
    if not dataclasses.is_dataclass(node) or isinstance(node, ir.CodeSetDef | ir.Quantity):
        return node
    changes = {}
    for f in dataclasses.fields(node):
        if f.name == "span":
            continue
        value = getattr(node, f.name)
        if isinstance(value, tuple):
            new = tuple(vary(v, k) for v in value)
        elif dataclasses.is_dataclass(value):
            new = vary(value, k)
        else:
            continue
        if new != value:
            changes[f.name] = new
    return dataclasses.replace(node, **changes) if changes else node


def vary_study(study: ir.Study, k: int) -> ir.Study:
    """Variant ``k`` of a study (``k`` = 0: the study itself), with id ``<id>~v<k>``."""
    if k == 0:
        return study
    rules = {
        "inclusion": tuple(vary(r, k) for r in study.inclusion),
        "exclusion": tuple(vary(r, k) for r in study.exclusion),
    }
    return dataclasses.replace(study, id=f"{study.id}~v{k}", **rules)


def fifty(studies: list[ir.Study], total: int = 50) -> list[ir.Study]:
    """``total`` studies: the given ones, then variants 1, 2, ... of each in turn."""
    out: list[ir.Study] = []
    k = 0
    while len(out) < total:
        for study in studies:
            if len(out) == total:
                break
            out.append(vary_study(study, k))
        k += 1
    return out


def load_variants(spec: dict[str, Any] | list[str]) -> list[ir.Study]:
    """Compile the example files (``{"files": [...], "total": 50}``) and make the variants."""
    from criteria_dsl import compile_file

    files = spec["files"] if isinstance(spec, dict) else spec
    total = spec.get("total", 50) if isinstance(spec, dict) else 50
    paths = sorted({p for f in files for p in glob.glob(str(f))})
    return fifty([compile_file(Path(p)) for p in paths], total)
