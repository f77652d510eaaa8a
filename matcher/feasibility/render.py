"""Render released feasibility as a readable table, JSON or CSV (text, no colour codes).

* table: per study a header, the counts, the attrition funnel and each breakdown (a combined
  breakdown as a two-way table), then one line saying which disclosure policy was applied;
* JSON: one object per study (:meth:`StudyFeasibility.to_dict`); several studies: a list;
* CSV: long format, one released number per row:
  ``study,version,table,name,category,measure,value`` where ``table`` is ``study`` (the
  index date used: ``name`` = ``index_date``, ``measure`` = ``date``), ``counts``,
  ``attrition`` (``name`` = rule, ``category`` = section) or ``breakdown`` (``name`` = the
  dimension, ``category`` = the category, ``measure`` = ``eligible``). A text value that a
  spreadsheet would run as a formula (first character ``=``, ``+``, ``-``, ``@``, tab or
  carriage return) is written with a leading ``'`` (:func:`csv_safe`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from matcher.disclosure.rounding import MASKED
from matcher.feasibility.dimensions import SEP, category_order, sort_key
from matcher.feasibility.report import StudyFeasibility

if TYPE_CHECKING:  # rich is imported by the table format only (JSON and CSV need none of it)
    from rich.table import Table

COUNT_LABELS = {
    "base": "base population",
    "eligible": "eligible",
    "possibly_eligible": "possibly eligible (to verify)",
}
TABLE_WIDTH = 100


def fmt(value: Any) -> str:
    """A released value for display: thousands separated, the masked label as is.

    >>> fmt(12345), fmt("<10")
    ('12,345', '<10')
    """
    return f"{value:,}" if isinstance(value, int) else str(value)


def short_hash(value: str, keep: int = 12) -> str:
    """A long content hash cut for display (the JSON output keeps it whole).

    >>> short_hash("sha256:" + "ab" * 32)
    'sha256:abababababab…'
    """
    head, sep, digest = value.rpartition(":")
    if len(digest) <= keep:
        return value
    return f"{head}{sep}{digest[:keep]}…"


def _counts_table(item: StudyFeasibility) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(title="Counts", title_justify="left", box=box.SIMPLE_HEAD, show_header=False)
    table.add_column("what")
    table.add_column("patients", justify="right")
    for key, label in COUNT_LABELS.items():
        table.add_row(label, fmt(item.released.counts[key]))
    return table


def _attrition_table(item: StudyFeasibility) -> Table:
    from rich import box
    from rich.table import Table

    title = "Attrition funnel"
    if item.without:
        title += f" (what-if without: {', '.join(item.without)})"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for name, justify in (
        ("#", "right"),
        ("rule", "left"),
        ("section", "left"),
        ("remaining", "right"),
        ("excluded", "right"),
        ("excluded alone", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_row("", "base population", "", fmt(item.released.counts["base"]), "", "")
    for i, step in enumerate(item.released.attrition, start=1):
        table.add_row(
            str(i),
            step["rule"],
            step["section"],
            fmt(step["remaining"]),
            fmt(step["excluded"]),
            fmt(step["excluded_alone"]),
        )
    return table


def _one_d(dim: str, cells: dict[str, Any], total: int) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(title=f"Eligible by {dim}", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column(dim)
    table.add_column("eligible", justify="right")
    for category in sorted(cells, key=lambda c: sort_key(dim, c)):
        table.add_row(category, fmt(cells[category]))
    table.add_section()
    table.add_row("sum of shown cells", fmt(total))
    return table


def _two_d(dim: str, cells: dict[str, Any], total: int) -> Table:
    from rich import box
    from rich.table import Table

    rows_dim, cols_dim = dim.split(SEP)
    pairs = [key.split(SEP) for key in cells]
    rows = sorted({r for r, _ in pairs}, key=lambda c: sort_key(rows_dim, c))
    cols = sorted({c for _, c in pairs}, key=lambda c: sort_key(cols_dim, c))
    table = Table(
        title=f"Eligible by {rows_dim} × {cols_dim}",
        title_justify="left",
        caption=f"sum of shown cells: {fmt(total)}",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column(f"{rows_dim} \\ {cols_dim}")
    for col in cols:
        table.add_column(col, justify="right")
    for row in rows:
        table.add_row(row, *(fmt(cells.get(f"{row}{SEP}{col}", "")) for col in cols))
    return table


def disclosure_line(item: StudyFeasibility) -> str:
    """One sentence saying what was done to the numbers above."""
    d = item.released.to_dict()["disclosure"]
    if item.role == "steward":
        line = "Disclosure: exact counts (steward role); this release is recorded in the ledger."
        if "view" in d:
            line += f" View: {_view_words(d['view'])}."
        return line
    parts = [
        f"counts under {d['threshold']} (0 included) shown as {d['masked_label']!r}",
        f"others rounded to the nearest {d['rounding']}" if d["rounding"] > 1 else "no rounding",
    ]
    if d["noise"]:
        parts.append(f"deterministic noise sigma {d['noise_sigma']}")
    if d["secondary_suppression"]:
        parts.append("secondary suppression on breakdowns")
    line = "Disclosure (platform policy, sponsor): " + "; ".join(parts) + "."
    if "view" in d:
        line += f" View asked for: {_view_words(d['view'])}."
    if any(MASKED in cells.values() for cells in item.released.breakdown.values()):
        line += (
            f" {MASKED!r} marks a breakdown cell of at least {d['threshold']} patients, hidden"
            " only so that a small count cannot be recomputed from the others."
        )
    if d.get("withheld_breakdowns"):
        line += f" Withheld (cannot be protected): {', '.join(d['withheld_breakdowns'])}."
    return line


def _view_words(view: dict[str, Any]) -> str:
    words = []
    if view.get("threshold") is not None:
        words.append(f"numbers under {view['threshold']} shown as {view['masked_label']!r}")
    if view.get("rounding") is not None:
        words.append(f"rounded to {view['rounding']}")
    return ", ".join(words) + " (applied to the released numbers)"


def render_table(items: Sequence[StudyFeasibility], *, width: int = TABLE_WIDTH) -> str:
    """Plain text (no colour) tables for every study, separated by a blank line."""
    from rich.console import Console
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, color_system=None, force_terminal=False, highlight=False
    )
    for n, item in enumerate(items):
        if n:
            console.print()
        title = f"{item.study_id} v{item.version}"
        if item.title:
            title += f" — {item.title}"
        console.print(Text(title, style="bold"))
        console.print(f"index date {item.index_date} · role {item.role}")
        console.print(
            f"criteria {short_hash(item.criteria_hash)} · data {short_hash(item.data_snapshot)}"
        )
        console.print(_counts_table(item))
        console.print(_attrition_table(item))
        for dim, cells in item.released.breakdown.items():
            total = item.released.breakdown_totals.get(dim, 0)
            if not cells:
                console.print(f"Eligible by {dim}: withheld (no safe way to show it)\n")
            elif SEP in dim:
                console.print(_two_d(dim, cells, total))
                console.print()
            else:
                console.print(_one_d(dim, cells, total))
        console.print(disclosure_line(item), overflow="fold")
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def render_json(items: Sequence[StudyFeasibility]) -> str:
    """One JSON object (one study) or a list of objects (several), indented."""
    data: Any = items[0].to_dict() if len(items) == 1 else [i.to_dict() for i in items]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS = ("study", "version", "table", "name", "category", "measure", "value")


def csv_rows(item: StudyFeasibility) -> list[tuple[Any, ...]]:
    """The long-format rows of one study (see the module docstring)."""
    head = (item.study_id, item.version)
    rows: list[tuple[Any, ...]] = [(*head, "study", "index_date", "", "date", item.index_date)]
    for key, value in item.released.counts.items():
        rows.append((*head, "counts", key, "", "patients", value))
    for step in item.released.attrition:
        for measure in ("remaining", "excluded", "excluded_alone"):
            rows.append((*head, "attrition", step["rule"], step["section"], measure, step[measure]))
    for dim, cells in item.released.breakdown.items():
        for category in sorted(cells, key=lambda c: category_order(dim, c)):
            rows.append((*head, "breakdown", dim, category, "eligible", cells[category]))
    return rows


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula (numbers are kept as they are).

    >>> csv_safe("=1+2"), csv_safe("-1"), csv_safe(-1), csv_safe("C01")
    ("'=1+2", "'-1", -1, 'C01')
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def render_csv(items: Sequence[StudyFeasibility]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        writer.writerows([csv_safe(v) for v in row] for row in csv_rows(item))
    return buffer.getvalue()


RENDERERS = {"table": render_table, "json": render_json, "csv": render_csv}
