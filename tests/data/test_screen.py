"""Issue 16 target 1: ``load_dataset`` proves a Parquet directory free of contract errors from
its dictionary pages and statistics (:mod:`matcher.data.screen`), and refuses bad data with
exactly the errors of the full validation.

The screen may only answer "no error" when the full validation finds none: every bad case is
screened out (False) and the error text ``load_dataset`` raises is the same with and without
the screen. The statistics part is exact only for checks whose passing values form an
interval; a guard test evaluates every error check of the contract over a grid of values.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.data import loader, pagedict, screen
from matcher.data.loader import load_dataset
from matcher.data.plausibility import Plausibility
from matcher.data.schema import TABLES
from matcher.data.sources import frame_source, locate_sources
from matcher.data.validate import _prepare, validate_dataset
from matcher.errors import DataError
from tests.data.conftest import PROBLEM_CASES, observations_with, valid_frames, write_dataset

D = dt.date


def _write_arrow(directory: Path, frames: dict[str, pl.DataFrame], **options) -> Path:
    """One Parquet file per table written by pyarrow, in row groups of 2 rows."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        pq.write_table(frame.to_arrow(), directory / f"{name}.parquet", row_group_size=2, **options)
    return directory


def _error_text(directory: Path, monkeypatch: pytest.MonkeyPatch, *, screened: bool) -> str:
    """What ``load_dataset`` raises (empty when it loads), with the screen on or off."""
    with monkeypatch.context() as patch:
        patch.setenv("P4DP_VALIDATION_CACHE", "off")
        if not screened:
            patch.setattr(loader, "screen_errors", lambda sources: False)
        try:
            load_dataset(directory)
        except DataError as exc:
            return str(exc)
    return ""


BAD_CASES = {
    **{
        k: v
        for k, v in PROBLEM_CASES.items()
        if k not in ("valid", "NaN value", "blank units merge with nulls")
    },
    "unknown pseudonym in the second row group": {
        "observations": observations_with(patient_id=["pA", "pA", "zz"])
    },
    "null date": {"observations": observations_with(date=[D(2015, 1, 1), None, None])},
    "negative dose": {
        "prescriptions": valid_frames()["prescriptions"].with_columns(
            dose=pl.Series([-1.0, 2.0]), dose_unit=pl.Series(["mg", "mg"])
        )
    },
    "duration out of range": {
        "prescriptions": valid_frames()["prescriptions"].with_columns(
            duration_days=pl.Series([90, 2**40], dtype=pl.Int64)
        )
    },
    "negative dose between an infinite and a positive one": {
        "prescriptions": pl.DataFrame(
            {
                "patient_id": ["pA", "pA", "pB"],
                "date": [D(2015, 2, 1)] * 3,
                "system": ["atc"] * 3,
                "code": ["A10BA02"] * 3,
                "dose": [float("-inf"), -1.0, 5.0],
                "dose_unit": ["mg"] * 3,
            }
        )
    },
    "allergy kind outside the list": {
        "allergies": valid_frames()["allergies"].with_columns(kind=pl.lit("rash"))
    },
    "blank encounter kind": {
        "encounters": valid_frames()["encounters"].with_columns(kind=pl.lit(" "))
    },
    "registered_to before registered_from": {
        "patients": valid_frames()["patients"].with_columns(registered_to=pl.lit(D(1990, 1, 1)))
    },
    "duplicate pseudonyms": {
        "patients": valid_frames()["patients"].with_columns(patient_id=pl.lit("pA"))
    },
    "orphan in a small table": {
        "procedures": valid_frames()["procedures"].with_columns(patient_id=pl.lit("nobody"))
    },
}


@pytest.mark.parametrize("writer", ["pyarrow", "polars"])
@pytest.mark.parametrize("case", list(BAD_CASES))
def test_issue16_target1_bad_data_screened_out_with_the_same_errors(
    case: str, writer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = {**valid_frames(), **BAD_CASES[case]}
    if writer == "pyarrow":
        directory = _write_arrow(tmp_path / "data", frames)
    else:
        directory = write_dataset(tmp_path / "data", frames)
    assert not screen.screen_errors(locate_sources(directory)[0])
    screened = _error_text(directory, monkeypatch, screened=True)
    assert screened  # the case holds an error
    assert screened == _error_text(directory, monkeypatch, screened=False)


@pytest.mark.parametrize("writer", ["pyarrow", "polars"])
def test_issue16_target1_valid_parquet_loads_without_full_validation(
    writer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = {**valid_frames(), **PROBLEM_CASES["NaN value"]}  # a warning only: still valid
    if writer == "pyarrow":
        directory = _write_arrow(tmp_path / "data", frames)
    else:
        directory = write_dataset(tmp_path / "data", frames)
    assert screen.screen_errors(locate_sources(directory)[0])
    assert validate_dataset(directory).ok  # the full validation agrees: no error
    calls: list[str] = []
    monkeypatch.setenv("P4DP_VALIDATION_CACHE", "off")
    monkeypatch.setattr(loader, "validate_sources", lambda *a, **k: calls.append("full"))
    dataset = load_dataset(directory)
    assert calls == []
    assert dataset.observations.collect().height == 3


def test_issue16_target1_csv_is_always_validated_in_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = write_dataset(tmp_path / "data", valid_frames(), fmt="csv")
    assert not screen.screen_errors(locate_sources(directory)[0])


def _grid(dtype: pl.DataType) -> pl.Series:
    """Sorted values of ``dtype`` spanning its range (the extremes of narrower types too)."""
    if dtype.is_integer():
        values = [-(2**63), -(2**31) - 1, -(2**31), -129, -1, 0, 1, 12, 13, 127, 128]
        values += [2**31 - 1, 2**31, 2**63 - 1]
        return pl.Series(values, dtype=pl.Int64)
    if dtype.is_float():
        values = [-1e300, -1.0, -1e-9, 0.0, 1e-9, 1.0, 1e300]  # infinite bounds: refused
        return pl.Series(values, dtype=pl.Float64)
    if dtype == pl.Date:
        return pl.Series([D(1, 1, 1), D(1900, 1, 1), D(2020, 2, 29), D(9999, 12, 31)])
    if dtype == pl.Boolean:
        return pl.Series([False, True])
    raise AssertionError(f"no grid for {dtype}")


def _non_text_error_checks():
    """Per non-text contract column: its grid, its conversions and its error checks."""
    for name, table in TABLES.items():
        for column in table.columns:
            if column.dtype == pl.String:
                continue
            grid = _grid(column.dtype).alias(column.name)
            frame = pl.DataFrame({column.name: grid})
            prepared = _prepare(frame_source(name, frame), [], Plausibility(None), warn=False)
            checks = [
                c.expr
                for c in prepared.checks
                if not c.warning
                and {screen._base_column(r) for r in c.expr.meta.root_names()} == {column.name}
            ]
            exprs = [
                e
                for e in prepared.exprs
                if screen._base_column(e.meta.output_name()) == column.name
            ]
            if checks:
                yield name, column.name, grid, exprs, checks


def _fails(values: pl.Series, exprs: list[pl.Expr], checks: list[pl.Expr]) -> list[bool]:
    """Per value, whether one of ``checks`` fails on it (as the screen sums them)."""
    frame = values.to_frame().lazy().select(exprs)
    failed = pl.any_horizontal(c.fill_null(False) for c in checks)
    return frame.select(failed).collect().to_series().to_list()


def test_issue16_target1_statistics_checks_pass_on_an_interval() -> None:
    """The error checks of each non-text column pass together on an interval of values (so a
    row group whose minimum and maximum pass has no failing row), and NaN, which statistics
    leave out, passes them."""
    seen = set()
    for table, column, grid, exprs, checks in _non_text_error_checks():
        seen.add(f"{table}.{column}")
        passing = [i for i, failed in enumerate(_fails(grid, exprs, checks)) if not failed]
        assert passing == list(range(passing[0], passing[-1] + 1)), (table, column)
        if grid.dtype.is_float():
            nan = pl.Series(column, [float("nan")])
            assert _fails(nan, exprs, checks) == [False], (table, column)
    assert {"observations.date", "prescriptions.dose", "prescriptions.duration_days"} <= seen
    assert "patients.birth_month" in seen


def test_issue16_target1_fallback_pages_are_detected(tmp_path: Path) -> None:
    """A dictionary that outgrew its page limit (later pages plain): not answered from the
    dictionary, whether the footer records page encodings or the pages are walked."""
    path = tmp_path / "t.parquet"
    values = [f"patient-{i:06d}" for i in range(5000)]
    pq.write_table(pa.table({"patient_id": values}), path, dictionary_pagesize_limit=2000)
    assert pagedict.chunk_dictionaries(path, ["patient_id"]) is None
    found = screen.text_dictionaries([path], "patient_id")  # pyarrow reads the rows instead
    assert found is not None and sorted(set(found[0].to_pylist())) == values


def test_issue16_target1_page_walk_matches_footer_statistics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.parquet"
    table = pa.table({"code": [f"c{i % 37}" for i in range(10_000)], "x": list(range(10_000))})
    pq.write_table(table, path, row_group_size=3000, data_page_size=512)
    by_footer = pagedict.chunk_dictionaries(path, ["code"])
    monkeypatch.setattr(pagedict, "_only_dictionary_pages", lambda stats: False)
    by_walk = pagedict.chunk_dictionaries(path, ["code"])
    assert by_footer is not None and by_walk is not None
    for a, b in zip(by_footer["code"], by_walk["code"], strict=True):
        assert a.values.equals(b.values) and (a.nulls, a.rows) == (b.nulls, b.rows)
    assert [c.rows for c in by_walk["code"]] == [3000, 3000, 3000, 1000]
    assert set(by_walk["code"][0].values.to_pylist()) == {f"c{i}" for i in range(37)}


def test_issue16_target1_plain_strings_of_varying_lengths() -> None:
    words = ["", "a", "bb", "héllo", "x" * 300]
    data = b"".join(len(w.encode()).to_bytes(4, "little") + w.encode() for w in words)
    assert pagedict.plain_strings(data, len(words)).to_pylist() == words


def test_issue16_target1_code_pairs_cover_mixed_row_groups(tmp_path: Path) -> None:
    """Row groups holding two systems pair every code with each (a superset), and the code
    forms read from dictionaries give the same rows as the forms read from the rows."""
    diagnoses = pl.DataFrame(
        {
            "patient_id": ["pA", "pA", "pB", "pC"],
            "date": [D(2015, 1, 1)] * 4,
            "system": ["icd10", "icpc2", "icd10", "icd10"],
            "code": ["E119", "t90", "I10", "e11.9 "],
        }
    )
    directory = _write_arrow(tmp_path / "data", {**valid_frames(), "diagnoses": diagnoses})
    pairs = screen.code_pairs([directory / "diagnoses.parquet"])
    assert pairs is not None
    truth = set(diagnoses.select("system", "code").iter_rows())
    assert truth <= set(pairs.iter_rows())
    dataset = loader.load_dataset(directory, validate=False)
    wanted = {"icd10": ["E11.9"], "icpc2": ["T90"]}
    got = dataset.events("diagnoses", wanted).collect().sort("code")["code"].to_list()
    assert got == ["E11.9", "E11.9", "T90"]
    without = loader.load_dataset(directory, validate=False)
    without.code_forms._parts.clear()  # the forms computed from the rows instead
    again = without.events("diagnoses", wanted).collect().sort("code")["code"].to_list()
    assert again == got


_PSEUDONYM_TEXT = st.text(alphabet="0af\u00e9\u4e2d\U0001f600", min_size=0, max_size=6)


@settings(max_examples=200, deadline=None)
@given(
    stored=st.lists(_PSEUDONYM_TEXT, max_size=8),
    known=st.lists(_PSEUDONYM_TEXT, min_size=1, max_size=8),
)
def test_issue16_target1_pseudonym_lookup_on_keys_matches_text(
    stored: list[str], known: list[str]
) -> None:
    """The 128-bit keys of same-length pseudonyms answer exactly as the text anti-join, for
    any bytes (multi-byte characters set the high bits)."""
    expected = set(stored) <= set(known)
    assert screen.all_known(pl.Series(stored, dtype=pl.String), pl.Series(known)) == expected
    width = len(known[0].encode())
    same = [k for k in known if len(k.encode()) == width]
    assert screen.all_known(pl.Series(same), pl.Series(same))
    if same and screen._fixed_width_keys(pl.Series(same)) is not None:
        keys = screen._fixed_width_keys(pl.Series(same))
        assert keys.n_unique() == len(set(same))


def test_issue16_target6_code_forms_from_dictionaries_without_a_scan(tmp_path: Path) -> None:
    """The engine's raw path learns how codes are spelled from the dictionary pages: the
    rows are not scanned for their distinct codes (the regression of the raw engine)."""
    diagnoses = valid_frames()["diagnoses"].with_columns(
        code=pl.Series(["e119", "T90", "I10", "x"])
    )
    directory = _write_arrow(tmp_path / "data", {**valid_frames(), "diagnoses": diagnoses})
    dataset = loader.load_dataset(directory, validate=False)
    dataset.code_forms._frames.clear()  # a scan of the rows would now fail
    rows = dataset.events("diagnoses", {"icd10": ["E11.9"]}).collect()
    assert rows["code"].to_list() == ["E11.9"]
    respelled = dataset.code_forms.known()["diagnoses"].rows()
    assert ("icd10", "e119", "E11.9") in respelled  # among pairs no row holds (a superset)


def _damage_data_page(file: Path, column: str) -> None:
    """Overwrite the middle of ``column``'s first data page: footer and dictionary intact."""
    meta = pq.ParquetFile(file).metadata.row_group(0)
    chunk = next(
        meta.column(i) for i in range(meta.num_columns) if meta.column(i).path_in_schema == column
    )
    start = chunk.data_page_offset
    end = (chunk.dictionary_page_offset or start) + chunk.total_compressed_size
    raw = bytearray(file.read_bytes())
    for i in range(start + (end - start) // 3, start + 2 * (end - start) // 3):
        raw[i] = (raw[i] * 7 + 13) % 256
    file.write_bytes(bytes(raw))


def test_issue16_target1_damaged_data_page_is_named_not_an_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The screen reads no data page, so a file damaged inside one passes it; the read
    failure during evaluation then runs the full validation, which names the file, and the
    record that the directory passed is forgotten."""
    from criteria_dsl import compile_text
    from matcher.data import validcache
    from matcher.engine.evaluate import evaluate
    from matcher.synth import generate

    monkeypatch.setenv("P4DP_VALIDATION_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "raw"
    generate(500, seed=5, out=root)
    examples = Path(__file__).resolve().parents[2] / "examples"
    study = compile_text((examples / "t2d_glp1.p4dp").read_text(encoding="utf-8"))
    evaluate(study, root)  # screened, then recorded as validated
    assert validcache.lookup(root)[1] is not None
    _damage_data_page(root / "observations.parquet", "value")
    assert screen.screen_errors(locate_sources(root)[0])  # the screen cannot see it
    named = (
        r"observations\.parquet: cannot be read as Parquet \(ComputeError\); the file is damaged"
    )
    with pytest.raises(DataError, match=named):
        evaluate(study, root)
    assert validcache.lookup(root)[1] is None  # validated in full next time


@pytest.mark.parametrize("version", ["1.0", "2.0"])
@pytest.mark.parametrize("compression", ["none", "snappy", "zstd"])
@pytest.mark.parametrize("nullable", [True, False])
def test_issue16_target1_overflowing_pseudonyms_read_from_plain_pages(
    tmp_path: Path, version: str, compression: str, nullable: bool
) -> None:
    """A pseudonym dictionary that outgrew its page: the PLAIN pages after it are read
    directly (levels skipped, repeats of the previous row kept once), not by pyarrow; the
    values found are exactly those of the rows."""
    path = tmp_path / "t.parquet"
    values = [f"patient-{i // 3:06d}" for i in range(15_000)]  # sorted, each thrice
    if nullable:
        values[7] = values[9_001] = None
    field = pa.field("patient_id", pa.string(), nullable=nullable)
    table = pa.table({"patient_id": values}, schema=pa.schema([field]))
    pq.write_table(
        table,
        path,
        dictionary_pagesize_limit=2000,
        data_page_size=4000,
        data_page_version=version,
        compression=compression,
        row_group_size=6000,
    )
    assert pagedict.chunk_dictionaries(path, ["patient_id"]) is None  # dictionary only: no
    found = pagedict.chunk_dictionaries(path, ["patient_id"], plain_pages=True)
    assert found is not None
    chunks = found["patient_id"]
    seen = pa.concat_arrays([c.values for c in chunks]).to_pylist()
    assert set(seen) == {v for v in values if v is not None}
    assert len(seen) < len(values) // 2  # repeats of the previous row left out
    assert sum(c.nulls for c in chunks) == (2 if nullable else 0)
    assert [c.rows for c in chunks] == [6000, 6000, 3000]


def test_issue16_target1_plain_pages_of_varying_lengths_fall_back_to_pyarrow(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.parquet"
    values = [f"p{i:04d}" + "x" * (i % 3) for i in range(5000)]  # lengths vary in every page
    pq.write_table(pa.table({"patient_id": values}), path, dictionary_pagesize_limit=2000)
    assert pagedict.chunk_dictionaries(path, ["patient_id"]) is None  # it did overflow
    assert pagedict.chunk_dictionaries(path, ["patient_id"], plain_pages=True) is None
    found = screen.text_dictionaries([path], "patient_id")
    assert found is not None and set(found[0].to_pylist()) == set(values)


def test_issue16_target1_orphan_in_a_plain_page_is_screened_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown pseudonym stored only in a PLAIN page after an outgrown dictionary is seen
    by the screen, and the error is the full validation's."""
    frames = valid_frames()
    ids = [f"patient{i:07d}" for i in range(3000)]
    extra = pl.concat([frames["patients"].head(1)] * 3000).with_columns(patient_id=pl.Series(ids))
    patients = pl.concat([frames["patients"], extra])
    encounters = pl.DataFrame(
        {
            "patient_id": [*ids[:2999], "nobody-000000x"],  # the last row, in a plain page
            "date": [D(2015, 1, 1)] * 3000,
            "practice_id": ["pr1"] * 3000,
            "kind": ["visit"] * 3000,
        }
    )
    assert len("nobody-000000x") == len(ids[0])
    frames = {**frames, "patients": patients, "encounters": encounters}
    frames = {k: v for k, v in frames.items() if k in ("patients", "encounters")}
    directory = tmp_path / "data"
    directory.mkdir()
    for name, frame in {**valid_frames(), **frames}.items():
        pq.write_table(
            frame.to_arrow(), directory / f"{name}.parquet", dictionary_pagesize_limit=2000
        )
    found = pagedict.chunk_dictionaries(
        directory / "encounters.parquet", ["patient_id"], plain_pages=True
    )
    assert (
        found is not None
        and pagedict.chunk_dictionaries(directory / "encounters.parquet", ["patient_id"]) is None
    )  # the dictionary did overflow
    sources = locate_sources(directory)[0]
    assert not screen.screen_errors(sources)
    screened = _error_text(directory, monkeypatch, screened=True)
    assert "nobody" not in screened  # no pseudonym in an error text
    assert "encounters" in screened and "patient_id" in screened
    assert screened == _error_text(directory, monkeypatch, screened=False)
    ok = {**valid_frames(), **frames}
    ok["encounters"] = encounters.with_columns(patient_id=pl.Series(ids))
    for name, frame in ok.items():
        pq.write_table(
            frame.to_arrow(), directory / f"{name}.parquet", dictionary_pagesize_limit=2000
        )
    assert screen.screen_errors(locate_sources(directory)[0])  # proved from the plain pages
