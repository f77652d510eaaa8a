"""Codes in their normal form: ``E119``, ``E11.9`` and `` e11.9 `` are one ICD-10 code.

Real extracts write codes in many ways: without the dot (PMSI, US claims, OMOP
``source_value``), in lower case, padded with blanks, or with filler characters after a
three-character category (``I10X``, ``I10-``, as in English hospital statistics). Criteria
files resolve code sets to the normal form of terminology (:func:`terminology.systems.
normalise_code`), so the data is compared on that same form.

The normal form is computed in Python on the *dictionary* of distinct ``(system, code)``
pairs of a table (thousands of entries, never one call per row) and joined back; a table whose
codes are all written in normal form (the usual case) costs nothing more. A system that
terminology has no normal form for is compared as written, trimmed (and upper-cased when its
codes are case-insensitive).

    >>> [normal_code("icd10", c) for c in ["E119", "E11.9", " e11.9 ", "I10X", "I10-"]]
    ['E11.9', 'E11.9', 'E11.9', 'I10', 'I10']
    >>> normal_code("icd10cm", "S0600XA"), normal_code("snomed", " 44054006 ")
    ('S06.00XA', '44054006')
    >>> pairs = pl.DataFrame({"system": ["icd10", "icd10", "atc"],
    ...                       "code": ["E119", "I10", "a10ba02"]})
    >>> respelled(pairs).rows()
    [('atc', 'a10ba02', 'A10BA02'), ('icd10', 'E119', 'E11.9')]
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import polars as pl

from terminology.systems import is_known, normalise_code

CASE_INSENSITIVE: frozenset[str] = frozenset({"ccam", "nabm", "cim10"})
"""Systems without a terminology normal form whose codes are upper-cased all the same."""

FILLER_SYSTEMS: dict[str, str] = {"icd10": "X-", "icd10cm": "-"}
"""Trailing filler characters a system allows after its three-character category
(ICD-10-CM uses ``X`` as a meaningful placeholder, so only ``-`` is a filler there)."""


def _strip_fillers(system: str, code: str) -> str:
    fillers = FILLER_SYSTEMS.get(system)
    if not fillers:
        return code
    text = code.strip().upper()
    body = text.rstrip(fillers + ". ")
    # fillers only pad a category (``I10X``) or end a code (``E11.9-``), never replace it
    return body if len(body.replace(".", "")) >= 3 else text


def normal_code(system: str, code: str) -> str:
    """The normal form of ``code`` in ``system`` (see the module docstring).

    >>> normal_code("icpc2", "t90"), normal_code("icd9cm", " 250.00 "), normal_code("cip13", "34x")
    ('T90', '250.00', '34x')
    """
    if is_known(system):
        return normalise_code(system, _strip_fillers(system, code))
    text = code.strip()
    return text.upper() if system in CASE_INSENSITIVE else text


def respelled(pairs: pl.DataFrame) -> pl.DataFrame:
    """The pairs of ``pairs`` (columns ``system``, ``code``) not written in normal form.

    Returns ``system, code, normal`` (strings), sorted, one row per distinct pair whose normal
    form differs from how it is written; nulls are skipped.
    """
    distinct = (
        pairs.select(pl.col("system").cast(pl.String), pl.col("code").cast(pl.String))
        .drop_nulls()
        .unique()
        .sort("system", "code")
    )
    systems, codes = distinct["system"].to_list(), distinct["code"].to_list()
    normal = [normal_code(s, c) for s, c in zip(systems, codes, strict=True)]
    out = pl.DataFrame(
        {"system": systems, "code": codes, "normal": normal},
        schema={"system": pl.String, "code": pl.String, "normal": pl.String},
    )
    return out.filter(pl.col("code") != pl.col("normal"))


def spellings(mapping: pl.DataFrame, wanted: Mapping[str, Collection[str]]) -> dict[str, list[str]]:
    """Every stored spelling of the ``wanted`` codes (normal forms, by system).

    >>> m = pl.DataFrame({"system": ["icd10"], "code": ["E119"], "normal": ["E11.9"]})
    >>> spellings(m, {"icd10": ["E11.9", "I10"]})
    {'icd10': ['E11.9', 'E119', 'I10']}
    """
    out: dict[str, set[str]] = {}
    for system, values in wanted.items():
        normal = {normal_code(system, v) for v in values}
        out[system] = set(normal)
        part = mapping.filter((pl.col("system") == system) & pl.col("normal").is_in(list(normal)))
        out[system].update(part["code"].to_list())
    return {s: sorted(v) for s, v in out.items()}


def recode(mapping: pl.DataFrame, schema: Mapping[str, pl.DataType] | None = None) -> pl.Expr:
    """An expression giving each row's code in normal form, given the table's ``mapping``.

    Per system one ``replace`` of the (few) respelled codes; a vectorised lookup, meant for
    rows already filtered to the wanted codes (or a table that is read whole once).
    """
    code = pl.col("code")
    if mapping.is_empty():
        return code
    out: pl.Expr = code
    for (system,), part in mapping.group_by("system", maintain_order=True):
        replaced = code.replace(part["code"].to_list(), part["normal"].to_list())
        out = pl.when(pl.col("system") == system).then(replaced).otherwise(out)
    return out.alias("code")


def in_normal_form(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """``frame`` (with ``system`` and ``code``) with every code in normal form, and how many
    rows were respelled.

    >>> df = pl.DataFrame({"system": ["icd10", "icd10"], "code": ["I10", "e119 "]})
    >>> out, n = in_normal_form(df)
    >>> out["code"].to_list(), n
    (['I10', 'E11.9'], 1)
    """
    mapping = respelled(frame.select("system", "code"))
    if mapping.is_empty():
        return frame, 0
    changed = frame.join(mapping, on=["system", "code"], how="semi").height
    return frame.with_columns(recode(mapping)), changed


class CodeForms:
    """The respelled pairs of each coded table of a data set, computed once when first needed.

    ``frames`` are the tables' lazy frames (contract columns); :meth:`prime` stores the
    distinct pairs a validation pass already computed, so no second scan is made.
    ``parquet_parts``: the Parquet files of the tables stored so; their pairs are read from
    the dictionary pages (:func:`matcher.data.screen.code_pairs`) rather than the rows.
    """

    def __init__(
        self,
        frames: Mapping[str, pl.LazyFrame],
        parquet_parts: Mapping[str, Sequence[Path]] | None = None,
    ) -> None:
        self._frames = dict(frames)
        self._parts = dict(parquet_parts or {})
        self._mappings: dict[str, pl.DataFrame] = {}

    def prime(self, table: str, pairs: pl.DataFrame) -> None:
        """Record the distinct ``(system, code)`` pairs of ``table`` (from validation)."""
        self._mappings[table] = respelled(pairs)

    def prime_mapping(self, table: str, mapping: pl.DataFrame) -> None:
        """Record the respelled pairs of ``table`` as :meth:`mapping` returns them (a cache)."""
        self._mappings[table] = mapping

    def known(self) -> dict[str, pl.DataFrame]:
        """The mappings computed or primed so far, by table."""
        return dict(self._mappings)

    def mapping(self, table: str) -> pl.DataFrame:
        """``system, code, normal`` for the pairs of ``table`` not written in normal form."""
        if table not in self._mappings:
            pairs = None
            if self._parts.get(table):
                from matcher.data.screen import code_pairs

                pairs = code_pairs(self._parts[table])
            if pairs is None:
                frame = self._frames[table].select("system", "code").unique()
                pairs = frame.collect(engine="streaming")
            self._mappings[table] = respelled(pairs)
        return self._mappings[table]


__all__ = ["CodeForms", "in_normal_form", "normal_code", "recode", "respelled", "spellings"]
