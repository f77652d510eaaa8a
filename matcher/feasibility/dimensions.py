"""Breakdown dimensions of a feasibility count: centre, age band, sex (and practice, stewards only).

Every dimension maps the per-patient result table to one category label per patient. Labels
are strings (JSON keys), never contain ``|`` (the separator of a combined breakdown such as
``"centre|sex"``) and are never null: a patient with no value falls in ``"unknown"``.

Age band: 10-year bands of the age **at the index date** (``"40-49"``), the last band open
(``"90+"``). When only the birth year is known the engine gives an age range
(``age_low < age_high``); the band is then that of ``age_low`` (the age the patient surely
reached by the index date), so the band of a patient never depends on a guessed birth day; a
child born in the index year (range -1..0) is in ``"0-9"``.

Centre: a centre whose base population comes from a single practice would make the centre
breakdown a practice breakdown, which sponsors never get; its patients are shown pooled under
``"other centres (pooled)"`` (:func:`single_practice_centres` lists such centres; when the pool
itself holds a single practice, disclosure control must mask that cell).

    >>> import polars as pl
    >>> frame = pl.DataFrame({"age_low": [9, 40, 49, 95, None, -1]})
    >>> frame.select(category_expr("age_band")).to_series().to_list()
    ['0-9', '40-49', '40-49', '90+', 'unknown', '0-9']
    >>> parse_dimensions(["centre", "sex"])
    ('centre', 'sex')
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from matcher.errors import MatcherError

#: Dimension name -> column of the engine's per-patient table it reads.
DIMENSIONS: dict[str, str] = {
    "centre": "centre_id",
    "age_band": "age_low",
    "sex": "sex",
    "practice": "practice_id",
}
#: Dimensions a sponsor may ask for (a practice is too small a group: stewards only).
SPONSOR_DIMENSIONS: tuple[str, ...] = ("centre", "age_band", "sex")
SEP = "|"
UNKNOWN = "unknown"
POOLED_CENTRES = "other centres (pooled)"
BAND_WIDTH = 10
OPEN_BAND = 90  # "90+": few patients are older, so the last band stays open


def parse_dimensions(values: Iterable[str]) -> tuple[str, ...]:
    """Validate ``--by`` values (``"centre"``, or ``"centre|sex"``) into a tuple of at most two.

    Repeated ``--by`` options combine: ``--by centre --by sex`` is the same as
    ``--by 'centre|sex'``. Duplicates are ignored.
    """
    dims: list[str] = []
    for value in values:
        for part in str(value).split(SEP):
            name = part.strip()
            if name not in DIMENSIONS:
                raise MatcherError(
                    f"--by: unknown dimension {name!r}; choose from {', '.join(DIMENSIONS)}"
                )
            if name not in dims:
                dims.append(name)
    if len(dims) > 2:
        raise MatcherError(
            f"--by: at most two dimensions can be combined, got {len(dims)} ({', '.join(dims)})"
        )
    return tuple(dims)


def breakdown_names(dims: tuple[str, ...]) -> list[str]:
    """The breakdowns computed for ``dims``: each 1-D table, then the combined one.

    >>> breakdown_names(("centre", "sex"))
    ['centre', 'sex', 'centre|sex']
    """
    names = list(dims)
    if len(dims) == 2:
        names.append(SEP.join(dims))
    return names


def category_expr(dim: str) -> pl.Expr:
    """The category label of each patient for dimension ``dim`` (a String expression)."""
    column = DIMENSIONS[dim]
    if dim == "age_band":
        low = pl.max_horizontal(pl.col(column), pl.lit(0))  # born in the index year: -1..0
        low = pl.when(pl.col(column).is_null()).then(None).otherwise(low)
        start = (low // BAND_WIDTH) * BAND_WIDTH
        label = (
            pl.when(low >= OPEN_BAND)
            .then(pl.lit(f"{OPEN_BAND}+"))
            .otherwise(
                start.cast(pl.String) + pl.lit("-") + (start + BAND_WIDTH - 1).cast(pl.String)
            )
        )
        return label.fill_null(UNKNOWN).alias(dim)
    value = pl.col(column).cast(pl.String).str.replace_all(SEP, "/", literal=True)
    if dim == "centre":  # a centre of one practice would show that practice's count: pool it
        single = pl.col("practice_id").n_unique().over(column) < 2
        value = pl.when(pl.col(column).is_not_null() & single).then(pl.lit(POOLED_CENTRES))
        value = value.otherwise(
            pl.col(column).cast(pl.String).str.replace_all(SEP, "/", literal=True)
        )
    return value.fill_null(UNKNOWN).alias(dim)


def single_practice_centres(patients: pl.DataFrame) -> list[str]:
    """The centres whose patients in ``patients`` (a per-patient result) all come from one
    practice: the centre breakdown pools them (see the module docstring).

    >>> single_practice_centres(pl.DataFrame({"centre_id": ["c1", "c1", "c2"],
    ...     "practice_id": ["p1", "p2", "p3"]}))
    ['c2']
    """
    per = patients.group_by("centre_id").agg(pl.col("practice_id").n_unique().alias("n"))
    return sorted(per.filter(pl.col("n") < 2)["centre_id"].drop_nulls().to_list())


def sort_key(dim: str, category: str) -> tuple[int, float, str]:
    """Order of categories in tables and plots: age bands by age, ``unknown`` last.

    >>> sorted(["90+", "unknown", "10-19", "0-9"], key=lambda c: sort_key("age_band", c))
    ['0-9', '10-19', '90+', 'unknown']
    """
    if category == UNKNOWN:
        return (1, 0.0, category)
    if dim == "age_band":
        head = category.split("-")[0].rstrip("+")
        return (0, float(head) if head.isdigit() else 0.0, category)
    return (0, 0.0, category)


def category_order(dim: str, category: str) -> list[tuple[int, float, str]]:
    """Sort key of a category of a 1-D or combined breakdown (``"age_band|sex"``, ``"40-49|F"``).

    >>> sorted(["50-59|F", "40-49|M"], key=lambda c: category_order("age_band|sex", c))
    ['40-49|M', '50-59|F']
    """
    return [sort_key(d, c) for d, c in zip(dim.split(SEP), category.split(SEP), strict=False)]
