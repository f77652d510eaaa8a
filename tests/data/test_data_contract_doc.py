"""docs/data-contract.md lists exactly the tables and columns of matcher/data/schema.py."""

from __future__ import annotations

import re

import polars as pl

from matcher.data.schema import TABLES

_TYPE_WORDS = {
    pl.String: "string",
    pl.Int32: "integer (Int32)",
    pl.Int8: "integer (Int8)",
    pl.Float64: "float (Float64)",
    pl.Date: "date",
    pl.Boolean: "boolean",
}


def _documented_columns(text: str) -> dict[str, list[list[str]]]:
    """Table name -> rows ``[column, type, nullable, may be omitted]`` of its section."""
    sections = re.split(r"^### `(\w+)`\s*$", text, flags=re.MULTILINE)
    out: dict[str, list[list[str]]] = {}
    for name, body in zip(sections[1::2], sections[2::2], strict=True):
        rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \| (yes|no) \| ([^|]+) \|", body, re.MULTILINE)
        out[name] = [[c.strip() for c in row] for row in rows]
    return out


def test_doc_lists_every_table_and_column_with_type_and_nullability(repo_root):
    text = (repo_root / "docs" / "data-contract.md").read_text(encoding="utf-8")
    documented = _documented_columns(text)
    assert set(documented) == set(TABLES)
    for name, table in TABLES.items():
        expected = [
            [
                c.name,
                _TYPE_WORDS[type(c.dtype)],
                "yes" if c.nullable else "no",
                "no"
                if not c.optional
                else f"yes (default {'false' if c.default is False else 'null'})",
            ]
            for c in table.columns
        ]
        assert documented[name] == expected, name
