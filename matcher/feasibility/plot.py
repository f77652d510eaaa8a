"""The attrition funnel (and the 1-D breakdowns) as a picture: PNG or SVG.

One row per study: the funnel as horizontal bars (base population on top, then the patients
remaining after each rule, labelled with the released numbers), and one bar chart per 1-D
breakdown of the eligible count. Only released values are drawn: a small count is a hatched
grey bar reaching the threshold, labelled with the masked label (``"<10"``); a breakdown cell
hidden by secondary suppression (``"masked"``: at least the threshold, height unknown) is a
cross-hatched bar from the threshold to the edge of the axis with a dashed outline, labelled
``masked``, so the picture never says more than the table, nor less than the truth. Uses
Matplotlib's object API (no ``pyplot``, no global backend): safe in servers and tests.

    >>> # draw_funnel(items, Path("funnel.png"))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matcher.disclosure.rounding import MASKED
from matcher.errors import MatcherError
from matcher.feasibility.dimensions import SEP, sort_key
from matcher.feasibility.render import fmt
from matcher.feasibility.report import StudyFeasibility

FORMATS = {".png": "png", ".svg": "svg"}
SHOWN = "#2b6cb0"
ELIGIBLE = "#2f855a"
MASKED_FILL = "#cbd5e0"
LOG_RATIO = 50  # a log scale when the largest bar is over 50 times the smallest


def plot_format(path: Path) -> str:
    """``"png"`` or ``"svg"`` from the file name; anything else is a :class:`MatcherError`."""
    fmt_name = FORMATS.get(path.suffix.lower())
    if fmt_name is None:
        raise MatcherError(f"--plot {path}: give a file name ending in .png or .svg")
    return fmt_name


def _bars(ax: Any, labels: list[str], values: list[Any], threshold: int, colors: list[str]):
    """Horizontal bars, top to bottom; small counts hatched at the threshold, ``"masked"``
    cells cross-hatched from the threshold to the axis edge (unknown height)."""
    lengths = [v if isinstance(v, int) else threshold for v in values]
    ys = list(range(len(labels)))[::-1]
    right = max(lengths or [1])
    log = right > LOG_RATIO * max(1, min(lengths or [1]))
    edge = right * 4 if log else right * 1.25 + 1
    for y, value, length, color in zip(ys, values, lengths, colors, strict=True):
        if value == MASKED:
            ax.barh(y, length, color="none", edgecolor="#718096", hatch="xx", log=log)
            ax.barh(
                y,
                edge - length,
                left=length,
                color="none",
                edgecolor="#a0aec0",
                hatch="xx",
                linestyle="--",
                log=log,
            )
            ax.text(length, y, " masked (height unknown)", va="center", fontsize=8)
            continue
        masked = not isinstance(value, int)
        ax.barh(
            y,
            length,
            color=MASKED_FILL if masked else color,
            hatch="///" if masked else None,
            edgecolor="#718096" if masked else color,
            log=log,
        )
        ax.text(length, y, f" {fmt(value)}", va="center", fontsize=8)
    ax.set_yticks(ys, labels, fontsize=8)
    if log:  # a funnel from 16,000 to 20 patients: the tail stays visible
        ax.set_xlim(1, edge)
        ax.set_xlabel("patients (log scale)", fontsize=7)
    else:
        ax.set_xlim(0, edge)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(axis="x", labelsize=7)


def _funnel(ax: Any, item: StudyFeasibility) -> None:
    released = item.released
    labels = ["base population"]
    values: list[Any] = [released.counts["base"]]
    for step in released.attrition:
        kind = "incl." if step["section"] == "inclusion" else "excl."
        excluded = step["excluded"]
        lost = f"−{fmt(excluded)}" if isinstance(excluded, int) else f"{excluded} out"
        labels.append(f"{step['rule']} ({kind}) {lost}")
        values.append(step["remaining"])
    colors = [SHOWN] * (len(values) - 1) + [ELIGIBLE]
    _bars(ax, labels, values, released.threshold, colors)
    what_if = f", without {', '.join(item.without)}" if item.without else ""
    ax.set_title(f"{item.study_id} v{item.version}: attrition funnel{what_if}", fontsize=10)
    scale = " (log scale)" if ax.get_xscale() == "log" else ""
    ax.set_xlabel(
        f"patients remaining{scale}: eligible {fmt(released.counts['eligible'])}, "
        f"possibly eligible {fmt(released.counts['possibly_eligible'])}",
        fontsize=8,
    )


def _breakdown(ax: Any, item: StudyFeasibility, dim: str) -> None:
    cells = item.released.breakdown[dim]
    if not cells:
        ax.set_axis_off()
        ax.set_title(f"eligible by {dim}: withheld", fontsize=10)
        return
    labels = sorted(cells, key=lambda c: sort_key(dim, c))
    values = [cells[c] for c in labels]
    _bars(ax, labels, values, item.released.threshold, [ELIGIBLE] * len(values))
    ax.set_title(f"{item.study_id} v{item.version}: eligible by {dim}", fontsize=10)


def _label_inches(labels: Sequence[str]) -> float:
    """Room for the y tick labels at font size 8 (about 0.07 inch a character)."""
    return 0.25 + 0.068 * max((len(label) for label in labels), default=4)


def draw_funnel(items: Sequence[StudyFeasibility], path: Path, kind: str | None = None) -> None:
    """Write the picture of every study in ``items`` to ``path`` (``.png`` or ``.svg``).

    ``kind`` (``"png"``/``"svg"``) overrides the file name's suffix (e.g. for a temp file).
    The layout is computed in inches (no constrained layout: a third of the drawing time).
    """
    kind = kind or plot_format(path)
    dims_per_item = [[d for d in item.released.breakdown if SEP not in d][:2] for item in items]
    columns = 1 + max((len(d) for d in dims_per_item), default=0)
    heights = [
        max(
            2.6,
            0.32 * (len(item.released.attrition) + 1) + 1.2,
            *(0.22 * len(item.released.breakdown[d]) + 1.2 for d in dims),
        )
        for item, dims in zip(items, dims_per_item, strict=True)
    ]
    funnel_labels = [f"{s['rule']} (excl.) <10 out" for i in items for s in i.released.attrition]
    left = _label_inches([*funnel_labels, "base population"])
    categories = [
        c
        for i in items
        for d in i.released.breakdown
        if SEP not in d
        for c in i.released.breakdown[d]
    ]
    cat_left = _label_inches(categories)
    funnel_w, bar_w, top_pad, bottom_pad = 4.6, 2.6, 0.55, 0.6
    width = left + funnel_w + (columns - 1) * (cat_left + bar_w + 0.5) + 0.3
    height = sum(heights) + 0.2
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # 0.6 s: only to draw
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    y_top = height - 0.2
    for item, dims, h in zip(items, dims_per_item, heights, strict=True):
        bottom, ax_h = y_top - h + bottom_pad, h - bottom_pad - top_pad

        def rect(x: float, w: float, bottom: float = bottom, ax_h: float = ax_h) -> list[float]:
            return [x / width, bottom / height, w / width, ax_h / height]

        _funnel(fig.add_axes(rect(left, funnel_w)), item)
        x = left + funnel_w + 0.5
        for dim in dims:
            _breakdown(fig.add_axes(rect(x + cat_left, bar_w)), item, dim)
            x += cat_left + bar_w + 0.5
        y_top -= h
    note = "hatched: under the disclosure threshold; cross-hatched: masked, height unknown"
    if items and items[0].role == "steward":
        note = "exact counts (steward role)"
    fig.text(0.99, 1 - 0.12 / height, note, fontsize=7, ha="right", va="top", color="#4a5568")
    fig.savefig(path, format=kind, dpi=130)
