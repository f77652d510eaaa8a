"""The code index of a coded event table: where each (system, code) lies in the sorted rows.

Rows are sorted by ``(system, code, patient_key, date)``, so the rows of one code are one
contiguous range. A set of wanted codes becomes a sorted list of ranges, adjacent ranges
merged, which the snapshot turns into zero-copy slices.

    >>> import polars as pl
    >>> index = CodeIndex(pl.DataFrame({
    ...     "system": ["atc", "atc", "icd10"], "code": ["A", "B", "E11"],
    ...     "first_row": [0, 5, 7], "n_rows": [5, 2, 3]}))
    >>> index.ranges({"atc": ["B", "A", "ZZZ"], "icd10": ["E11"]})
    [(0, 10)]
    >>> index.ranges({"atc": ["A"], "icd10": ["E11"]})
    [(0, 5), (7, 3)]
    >>> index.ranges({"loinc": ["4548-4"]}), index.ranges({})
    ([], [])
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import polars as pl

Codes = Mapping[str, Collection[str]]


class CodeIndex:
    """Lookup from (system, code) to its row range ``(first_row, n_rows)``."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame
        self._ranges: dict[tuple[str, str], tuple[int, int]] = {
            (system, code): (int(first), int(n))
            for system, code, first, n in frame.select(
                "system", "code", "first_row", "n_rows"
            ).iter_rows()
        }

    def __len__(self) -> int:
        return len(self._ranges)

    def ranges(self, codes: Codes) -> list[tuple[int, int]]:
        """Sorted, merged ``(start, length)`` row ranges of the wanted codes (absent: none)."""
        found = sorted(
            self._ranges[(system, code)]
            for system, values in codes.items()
            for code in set(values)
            if (system, code) in self._ranges
        )
        merged: list[tuple[int, int]] = []
        for start, n in found:
            if n == 0:
                continue
            if merged and merged[-1][0] + merged[-1][1] == start:
                merged[-1] = (merged[-1][0], merged[-1][1] + n)
            else:
                merged.append((start, n))
        return merged

    def single_code(self, codes: Codes) -> bool:
        """Whether at most one wanted (system, code) has rows: its range is then sorted by
        ``(patient_key, date)``, where the ranges of several codes, merged, are not.

            >>> index = CodeIndex(pl.DataFrame({"system": ["atc", "atc"], "code": ["A", "B"],
            ...     "first_row": [0, 5], "n_rows": [5, 0]}))
            >>> index.single_code({"atc": ["A", "B"]}), index.single_code({"atc": ["A", "C"]})
            (True, True)
        """
        present = {
            (system, code)
            for system, values in codes.items()
            for code in values
            if self._ranges.get((system, code), (0, 0))[1] > 0
        }
        return len(present) <= 1

    def total_rows(self) -> int:
        return sum(n for _, n in self._ranges.values())


__all__ = ["CodeIndex", "Codes"]
