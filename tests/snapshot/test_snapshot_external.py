"""Issue 16 item 4: ingest sorts each event table in buckets of bounded size (external sort by
code range), and the snapshot it writes is byte for byte the one of an in-memory sort."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from matcher.snapshot import external, ingest


def test_issue16_item4_bucketed_ingest_writes_the_same_bytes(raw_dir: Path, tmp_path: Path) -> None:
    whole = ingest(raw_dir, tmp_path / "whole", chunk_rows=10**9)  # one bucket per table
    cut = ingest(raw_dir, tmp_path / "cut", chunk_rows=97)
    assert cut.files == whole.files
    assert cut.data_snapshot == whole.data_snapshot
    assert cut.tables == whole.tables
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut", "whole"]  # no sort leftovers


def test_issue16_item4_no_bucket_is_larger_than_the_chunk(
    raw_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sorted_sizes: dict[str, list[int]] = {}
    real = external.sort_table

    def spy(df: pl.DataFrame, table: str) -> pl.DataFrame:
        sorted_sizes.setdefault(table, []).append(df.height)
        return real(df, table)

    monkeypatch.setattr(external, "sort_table", spy)
    chunk = 97
    manifest = ingest(raw_dir, tmp_path / "snap", chunk_rows=chunk)
    for table, sizes in sorted_sizes.items():
        entry = manifest.tables[table]
        assert sum(sizes) == entry.rows
        # really cut into buckets (a table smaller than a chunk, such as the few synthetic
        # allergies, is one bucket)
        assert len(sizes) > 1 or entry.rows <= chunk
        # a bucket holds whole patients (a large code is cut by patient ranges), about chunk
        rows = pl.read_ipc(tmp_path / "snap" / entry.file)
        biggest_patient = int(rows.group_by("patient_key").len()["len"].max())
        assert max(sizes) <= 2 * chunk + biggest_patient, table


def test_issue16_item4_spill_holds_at_most_the_rows_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The split into buckets writes what it holds once ``held_rows`` rows wait (memory
    bounded whatever the table's size) and loses or duplicates no row."""
    monkeypatch.setattr(external, "SPILL_BATCH_ROWS", 10)
    rows = pl.DataFrame({"x": range(1000), external.BUCKET: [i % 3 for i in range(1000)]})
    largest: list[int] = []
    real = pl.DataFrame.write_ipc

    def spy(frame: pl.DataFrame, *args: object, **kwargs: object) -> None:
        largest.append(frame.height)
        real(frame, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pl.DataFrame, "write_ipc", spy)
    external.spill_buckets(rows.lazy(), tmp_path, held_rows=100)
    monkeypatch.undo()
    assert max(largest) <= 100 + 10  # what was held, plus at most one batch
    back = {
        int(folder.name.split("=")[1]): pl.concat([pl.read_ipc(f) for f in folder.glob("*.ipc")])
        for folder in tmp_path.iterdir()
    }
    assert sorted(back) == [0, 1, 2]
    for bucket, frame in back.items():
        assert sorted(frame["x"].to_list()) == list(range(bucket, 1000, 3))
