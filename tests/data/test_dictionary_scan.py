"""Issue 16 item 1: validation of Parquet files read through their dictionary pages gives the
same report as reading every row's strings, on good and bad files, dictionary-encoded or not.

Each data set is written three ways and validated: dictionary-encoded Parquet in small row
groups (the dictionary path, :mod:`matcher.data.dictscan`), the same with the dictionary path
switched off (the string group-by of :mod:`matcher.data.grouped`), and plain-encoded Parquet
(which must fall back to the string path). The three reports must be identical.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.data import dictscan, grouped
from matcher.data.validate import ValidationReport, validate_dataset
from tests.data.conftest import PROBLEM_CASES, observations_with, valid_frames, write_dataset

D = dt.date


def _write(directory: Path, frames: dict[str, pl.DataFrame], *, dictionary: bool) -> Path:
    """One Parquet file per table, in row groups of 2 rows (so dictionaries differ)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        pq.write_table(
            frame.to_arrow(),
            directory / f"{name}.parquet",
            use_dictionary=dictionary,
            row_group_size=2,
        )
    return directory


def _validate(
    directory: Path, monkeypatch: pytest.MonkeyPatch, *, dictionaries: bool
) -> tuple[ValidationReport, list[bool]]:
    """The report, and per event-table call whether the dictionary path answered."""
    used: list[bool] = []
    real = dictscan.scan_dictionaries

    def spy(*args, **kwargs):
        scan = real(*args, **kwargs) if dictionaries else None
        used.append(scan is not None)
        return scan

    with monkeypatch.context() as patch:
        patch.setattr(grouped, "scan_dictionaries", spy)
        return validate_dataset(directory), used


def _same(a: ValidationReport, b: ValidationReport) -> None:
    assert [str(e) for e in a.errors] == [str(e) for e in b.errors]
    assert [str(w) for w in a.warnings] == [str(w) for w in b.warnings]
    same_source = b.summary and dataclasses.replace(b.summary, source=a.summary.source)
    assert a.summary == same_source  # the directories differ in name only
    assert a.code_groups.keys() == b.code_groups.keys()
    for table, groups in a.code_groups.items():
        keys = [c for c in groups.columns if c != "__rows"]
        expected = b.code_groups[table].sort(keys, nulls_last=True)
        assert groups.sort(keys, nulls_last=True).equals(expected), table


def _three_ways(tmp: Path, frames: dict[str, pl.DataFrame], monkeypatch: pytest.MonkeyPatch):
    encoded = _write(tmp / "dictionary", frames, dictionary=True)
    plain = _write(tmp / "plain", frames, dictionary=False)
    fast, fast_used = _validate(encoded, monkeypatch, dictionaries=True)
    strings, _ = _validate(encoded, monkeypatch, dictionaries=False)
    fallback, plain_used = _validate(plain, monkeypatch, dictionaries=True)
    _same(fast, strings)
    _same(fallback, strings)
    assert not any(plain_used)  # a plain file is never read through dictionaries
    return fast, fast_used


CASES = {
    **PROBLEM_CASES,
    "bad code in the last row group": {
        "observations": observations_with(code=["4548-4"] * 2 + ["?"])
    },
    "unknown practice kind": {
        "encounters": valid_frames()["encounters"].with_columns(kind=pl.lit("visit"))
    },
}


@pytest.mark.parametrize("case", list(CASES))
def test_issue16_item1_dictionary_path_matches_string_path(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report, used = _three_ways(tmp_path, {**valid_frames(), **CASES[case]}, monkeypatch)
    assert used and all(used)  # every event table of the encoded files went by dictionaries
    if case != "valid":
        assert report.errors or report.warnings  # the case does hold a problem


def test_issue16_item1_unknown_pseudonym_named_with_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pseudonym not in patients, in the second row group, is reported at its row."""
    frames = {**valid_frames(), "observations": observations_with(patient_id=["pA", "pA", "zz"])}
    report, _ = _three_ways(tmp_path, frames, monkeypatch)
    assert [str(e) for e in report.errors] == [
        "observations.parquet: column 'patient_id': 1 row whose patient_id is not in patients "
        "(row 3)"
    ]


def test_issue16_item1_directory_of_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A table as a directory of parts: each part's dictionaries read, rows named per part."""
    frames = valid_frames()
    encoded = _write(tmp_path / "data", frames, dictionary=True)
    (encoded / "observations.parquet").unlink()
    parts = encoded / "observations"
    parts.mkdir()
    obs = observations_with(code=["4548-4", "4548-4", None])
    pq.write_table(obs.head(2).to_arrow(), parts / "part-0.parquet")
    pq.write_table(obs.tail(1).to_arrow(), parts / "part-1.parquet", use_dictionary=False)
    fast, used = _validate(encoded, monkeypatch, dictionaries=True)
    strings, _ = _validate(encoded, monkeypatch, dictionaries=False)
    _same(fast, strings)
    assert "part-1.parquet:1" in str(fast.errors[0])
    assert used.count(False) == 1  # the table with a plain part fell back, the others did not
    for part in parts.iterdir():  # now both parts dictionary-encoded: no fallback
        pq.write_table(pq.read_table(part), part, use_dictionary=True)
    again, used = _validate(encoded, monkeypatch, dictionaries=True)
    _same(again, strings)
    assert all(used)


def test_issue16_item1_groups_counted_per_row_group(tmp_path: Path) -> None:
    """Groups summed over row groups whose dictionaries differ, nulls kept as a group."""
    frame = pl.DataFrame(
        {
            "system": ["loinc", "loinc", None, "loinc", "x", "loinc", None],
            "code": ["a", "b", "a", "b", None, "a", None],
        }
    )
    path = tmp_path / "t.parquet"
    pq.write_table(frame.to_arrow(), path, row_group_size=3)
    scan = dictscan.scan_dictionaries([path], ["system", "code"], None)
    assert scan is not None
    expected = frame.group_by("system", "code").agg(pl.len().alias("__rows"))
    keys = ["system", "code"]
    assert scan.groups.sort(keys, nulls_last=True).equals(expected.sort(keys, nulls_last=True))


def test_issue16_item1_many_combinations_grouped_by_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More index combinations than rows: counted by a group-by of the indices, same groups."""
    frame = pl.DataFrame(
        {"system": [f"s{i}" for i in range(40)], "code": [f"c{i % 7}" for i in range(40)]}
    )
    path = tmp_path / "t.parquet"
    pq.write_table(frame.to_arrow(), path)
    monkeypatch.setattr(dictscan, "BINS_PER_ROW", 0)
    scan = dictscan.scan_dictionaries([path], ["system", "code"], None)
    assert scan is not None
    expected = frame.group_by("system", "code").agg(pl.len().alias("__rows"))
    assert scan.groups.sort("system").equals(expected.sort("system"))


def test_issue16_item1_unreadable_file_falls_back(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1 not really")
    assert dictscan.scan_dictionaries([path], ["code"], None) is None


_CODES = st.sampled_from(["4548-4", "39156-5", "2345-7", " 4548-4", "", "  ", "??", None])
_UNITS = st.sampled_from(["%", "kg/m2", "mmol/L", "", " ", None])
_SYSTEMS = st.sampled_from(["loinc", "loinc", "local", " ", None])
_PSEUDONYMS = st.sampled_from(["pA", "pB", "pC", "pD", "pA", "zz", " ", None])


@st.composite
def observation_tables(draw) -> pl.DataFrame:
    n = draw(st.integers(1, 12))
    column = lambda values: draw(st.lists(values, min_size=n, max_size=n))  # noqa: E731
    return pl.DataFrame(
        {
            "patient_id": column(_PSEUDONYMS),
            "date": column(st.sampled_from([D(2015, 1, 1), D(2019, 5, 5), None])),
            "system": column(_SYSTEMS),
            "code": column(_CODES),
            "value": column(st.sampled_from([1.0, 7.5, None, float("nan")])),
            "unit": column(_UNITS),
        },
        schema=valid_frames()["observations"].schema,
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(table=observation_tables(), known_only=st.booleans())
def test_issue16_item1_dictionary_path_hypothesis(
    table: pl.DataFrame, known_only: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Random observation tables (blanks, nulls, odd codes, unknown pseudonyms): same report."""
    if known_only:
        table = table.with_columns(
            pl.col("patient_id").fill_null("pA").replace({" ": "pB", "zz": "pC"})
        )
    monkeypatch = pytest.MonkeyPatch()
    try:
        _three_ways(
            tmp_path_factory.mktemp("h"), {**valid_frames(), "observations": table}, monkeypatch
        )
    finally:
        monkeypatch.undo()


def test_issue16_item1_polars_written_files_use_dictionaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files written by Polars (as ``p4dp synth`` and most users write them) take the path."""
    frames = {**valid_frames(), "observations": observations_with(code=["4548-4", "", "?"])}
    written = write_dataset(tmp_path / "data", frames)
    fast, used = _validate(written, monkeypatch, dictionaries=True)
    strings, _ = _validate(written, monkeypatch, dictionaries=False)
    _same(fast, strings)
    assert used and all(used)
    assert any("column 'code'" in str(e) for e in fast.errors)


@pytest.mark.parametrize("system", ["loinc", "", "a-system-name-longer-than-16-bytes"])
def test_issue16_item1_constant_column_from_statistics(
    system: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key column holding one value in a row group (its statistics say so) is not read, and
    gives the same groups as when it is read; a long value is read (statistics may be cut)."""
    frame = pl.DataFrame(
        {
            "patient_id": ["pA", "pB", None, "pA", "pC"],
            "system": [system] * 3 + ["atc", None],
            "code": ["a", "b", "a", "b", "b"],
        }
    )
    path = tmp_path / "t.parquet"
    pq.write_table(frame.to_arrow(), path, row_group_size=3)
    known = pl.Series(["pA", "pB", "pC"])
    read: list[list[str]] = []
    real = pq.ParquetFile.read_row_group

    def spy(self, group, columns=None, **kwargs):
        read.append(list(columns))
        return real(self, group, columns=columns, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(pq.ParquetFile, "read_row_group", spy)
        shortcut = dictscan.scan_dictionaries([path], ["system", "code"], known)
        skipped = "system" not in read[0]
        patch.setattr(dictscan, "EXACT_STATISTIC_BYTES", 0)  # every column read
        full = dictscan.scan_dictionaries([path], ["system", "code"], known)
    assert shortcut is not None and full is not None
    assert skipped == (len(system) < 16)
    assert all("system" in columns for columns in read[2:])
    keys = ["system", "code"]
    expected = frame.group_by(keys).agg(pl.len().alias("__rows")).sort(keys, nulls_last=True)
    assert shortcut.groups.sort(keys, nulls_last=True).equals(expected)
    assert full.groups.sort(keys, nulls_last=True).equals(expected)
    assert shortcut.unknown == full.unknown == 1  # the missing pseudonym
