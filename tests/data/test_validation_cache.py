"""Issue 16 item 1: a directory already validated and unchanged is not validated again; a
changed file (touched, rewritten with the same size, replaced) always is."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import polars as pl
import pytest

from matcher.data import loader, validcache
from matcher.errors import DataError
from tests.data.conftest import valid_frames, write_dataset


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(validcache.CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The labels of the validation passes run (``validate_sources`` calls)."""
    calls: list[str] = []
    real = loader.validate_sources

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(str(kwargs.get("label")))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "validate_sources", counting)
    # a valid Parquet directory is proved error-free without a full pass (matcher.data.screen):
    # here every validation is a full pass, so that each one is counted
    monkeypatch.setattr(loader, "screen_errors", lambda sources: False)
    return calls


def test_issue16_target1_unchanged_directory_is_not_screened_again(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record also spares the screen that replaces the full pass on valid Parquet."""
    screens: list[int] = []
    real = loader.screen_errors

    def counting(sources: dict) -> bool:
        screens.append(len(sources))
        return real(sources)

    monkeypatch.setattr(loader, "screen_errors", counting)
    data = write_dataset(tmp_path / "data", valid_frames())
    loader.load_dataset(data)
    loader.load_dataset(data)
    assert screens == [len(valid_frames())]
    target = data / "encounters.parquet"
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    loader.load_dataset(data)
    assert len(screens) == 2


def test_issue16_item1_unchanged_directory_is_not_validated_again(
    tmp_path: Path, cache: Path, passes: list[str]
) -> None:
    data = write_dataset(tmp_path / "data", valid_frames())
    first = loader.load_dataset(data)
    second = loader.load_dataset(data)
    assert len(passes) == 1
    assert second.diagnoses.collect().equals(first.diagnoses.collect())


def test_issue16_item1_record_is_private_and_outside_the_data(
    tmp_path: Path, cache: Path, passes: list[str]
) -> None:
    data = write_dataset(tmp_path / "data", valid_frames())
    loader.load_dataset(data)
    records = list(cache.glob("*.json"))
    assert len(records) == 1
    assert stat.S_IMODE(records[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert sorted(p.name for p in data.iterdir()) == sorted(f"{t}.parquet" for t in valid_frames())
    assert "pA" not in records[0].read_text()  # no pseudonym in the record


def test_issue16_item1_touched_file_is_validated_again(
    tmp_path: Path, cache: Path, passes: list[str]
) -> None:
    data = write_dataset(tmp_path / "data", valid_frames())
    loader.load_dataset(data)
    target = data / "encounters.parquet"
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    loader.load_dataset(data)
    assert len(passes) == 2


def test_issue16_item1_same_size_same_mtime_new_content_is_validated_again(
    tmp_path: Path, cache: Path, passes: list[str]
) -> None:
    frames = valid_frames()
    data = write_dataset(tmp_path / "data", frames, fmt="csv")
    loader.load_dataset(data)
    target = data / "patients.csv"
    st = target.stat()
    text = target.read_text()
    changed = text.replace("pA,1950", "pA,1850")  # same size; an implausible year, still valid
    assert changed != text and len(changed) == len(text)
    target.write_text(changed)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime reset on purpose
    loader.load_dataset(data)
    assert len(passes) == 2


def test_issue16_item1_large_file_sampled_hash_sees_a_footer_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validcache, "WHOLE_FILE_BYTES", 1024)
    monkeypatch.setattr(validcache, "EDGE_BYTES", 256)
    monkeypatch.setattr(validcache, "SAMPLE_BYTES", 16)
    data = tmp_path / "data"
    data.mkdir()
    target = data / "big.bin"
    target.write_bytes(bytes(range(256)) * 40)
    st = target.stat()
    before = validcache.fingerprint(data)
    body = bytearray(target.read_bytes())
    body[-10] ^= 0xFF  # in the footer
    target.write_bytes(bytes(body))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert validcache.fingerprint(data) != before


def test_issue16_item1_replaced_file_with_an_error_is_refused(
    tmp_path: Path, cache: Path, passes: list[str]
) -> None:
    frames = valid_frames()
    data = write_dataset(tmp_path / "data", frames)
    loader.load_dataset(data)
    bad = frames["patients"].with_columns(pl.lit("X").alias("sex"))
    replacement = tmp_path / "new.parquet"
    bad.write_parquet(replacement)
    os.replace(replacement, data / "patients.parquet")
    with pytest.raises(DataError, match="sex outside"):
        loader.load_dataset(data)
    with pytest.raises(DataError, match="sex outside"):  # a failure is never recorded
        loader.load_dataset(data)
    assert len(passes) == 3


def test_issue16_item1_new_file_in_the_directory_is_validated_again(
    tmp_path: Path, cache: Path, passes: list[str]
) -> None:
    data = write_dataset(tmp_path / "data", valid_frames())
    loader.load_dataset(data)
    (data / "extract.json").write_text('{"extraction_date": "2024-06-30"}')
    loader.load_dataset(data)
    assert len(passes) == 2


def test_issue16_item1_cache_can_be_switched_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, passes: list[str]
) -> None:
    monkeypatch.setenv(validcache.CACHE_ENV, "off")
    data = write_dataset(tmp_path / "data", valid_frames())
    loader.load_dataset(data)
    loader.load_dataset(data)
    assert len(passes) == 2


def test_issue16_item1_cached_load_keeps_codes_in_normal_form(
    tmp_path: Path, cache: Path, passes: list[str]
) -> None:
    frames = valid_frames()
    frames["diagnoses"] = frames["diagnoses"].with_columns(
        pl.when(pl.col("code") == "E11.9").then(pl.lit(" e119")).otherwise("code").alias("code")
    )
    data = write_dataset(tmp_path / "data", frames)
    wanted = {"icd10": ["E11.9"]}
    first = loader.load_dataset(data).events("diagnoses", wanted).collect()
    second = loader.load_dataset(data).events("diagnoses", wanted).collect()
    assert len(passes) == 1
    assert second["code"].to_list() == ["E11.9"]
    assert second.equals(first)
