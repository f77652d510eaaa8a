"""Issue 17: partitioned snapshots, and evaluating them part by part in one process.

Every example study gives the same per-patient results, counts, funnels in several orders,
what-ifs, breakdowns and similarity sketches on a plain snapshot (one process, the reference)
and on partitioned snapshots of 1, 2 and 7 parts, whether the parts send back rows or
histograms. Generated studies (the engine's hypothesis strategies) check the combination on
random data split at random.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from conftest import PART_COUNTS, PATIENTS, examples
from engine_strategies import datasets, studies
from helpers import ALL_DIMS, INDEX, SECRET, SKETCHED, assert_same_feasibility, assert_same_sketches
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.cli import main
from matcher.data.loader import load_dataset
from matcher.data.schema import EVENT_TABLES, TABLES
from matcher.disclosure.ledger import Ledger
from matcher.engine.evaluate import evaluate_many
from matcher.engine.write import result_columns
from matcher.errors import DataError, OutputExistsError
from matcher.feasibility import FeasibilityQuery, build_raw
from matcher.scaleout import count_parts, evaluate_parts, write_parts
from matcher.scaleout.run import combine_counts, combine_rows
from matcher.scaleout.tasks import PartError, PartJob, reduce_result
from matcher.snapshot import ingest, open_snapshot
from matcher.snapshot.partition import (
    ingest_partitioned,
    open_partitioned,
    partition_of,
    read_partitions,
    verify_partitioned,
)


@pytest.fixture(scope="module")
def reference(plain_snapshot: Path):
    return evaluate_many(examples(), plain_snapshot, index_date=INDEX)


def test_issue17_every_patient_in_exactly_one_complete_part(plain_snapshot, partitioned):
    whole = open_snapshot(plain_snapshot)
    for n, path in partitioned.items():
        snap = open_partitioned(path)
        assert snap.manifest.partitions == n
        ids: list[str] = []
        rows = dict.fromkeys(TABLES, 0)
        for i in range(n):
            part = snap.open_part(i)  # an ordinary, independently readable snapshot
            patients = part.patients.collect()
            ids += patients["patient_id"].to_list()
            assert set(partition_of(patients["patient_id"], n).to_list()) <= {i}
            for table in TABLES:
                rows[table] += part.table(table).collect().height
        assert sorted(ids) == sorted(whole.patients.collect()["patient_id"].to_list())
        assert len(ids) == PATIENTS
        assert rows == {t: whole.table(t).collect().height for t in TABLES}


def test_issue17_partitioning_is_stable_and_hashed(raw_dir, partitioned, tmp_path):
    again = ingest_partitioned(raw_dir, tmp_path / "again", partitions=7)
    first = read_partitions(partitioned[7])
    assert again.content_hash == first.content_hash
    assert [p.content_hash for p in again.parts] == [p.content_hash for p in first.parts]
    assert read_partitions(partitioned[2]).content_hash != first.content_hash


def test_issue17_each_part_is_the_snapshot_of_its_patients(raw_dir, partitioned, tmp_path):
    """Routing every table once into the parts gives, byte for byte, the snapshot of the
    source restricted to each part's patients (the obviously correct way, one read per part)."""
    dataset = load_dataset(raw_dir)
    ids = dataset.patients.select("patient_id").collect()["patient_id"]
    parts = partition_of(ids, 7)
    routed = read_partitions(partitioned[7])
    for i in (0, 3, 6):
        keep = pl.LazyFrame({"patient_id": ids.filter(parts == i)})
        only = dataclasses.replace(
            dataset,
            **{
                name: dataset.table(name).join(keep, on="patient_id", how="semi")
                for name in ("patients", *EVENT_TABLES)
                if name not in dataset.not_provided()
            },
        )
        alone = ingest(only, tmp_path / f"alone-{i}")
        assert alone.content_hash == routed.parts[i].content_hash
        assert routed.parts[i].patients == alone.tables["patients"].rows


def test_issue17_partitioned_ingest_reads_the_source_once(raw_dir, tmp_path, monkeypatch):
    """The source is routed once; every part is then read from the routed files only."""
    from matcher.snapshot import partition

    calls: list[int] = []
    real = partition._route_to_parts

    def routing(dataset, assignment, partitions, workdir):
        routed = real(dataset, assignment, partitions, workdir)
        calls.append(partitions)
        for part in routed:
            for name in ("patients", *EVENT_TABLES):
                if name not in part.not_provided():
                    assert str(raw_dir) not in part.table(name).explain()
        return routed

    monkeypatch.setattr(partition, "_route_to_parts", routing)
    ingest_partitioned(raw_dir, tmp_path / "parts", partitions=5)
    assert calls == [5]
    assert not any((tmp_path).glob("**/.routed")), "routed files are removed"


def test_issue17_verify_names_a_damaged_part(raw_dir, tmp_path):
    out = tmp_path / "parts"
    ingest_partitioned(raw_dir, out, partitions=2)
    assert verify_partitioned(out).partitions == 2
    damaged = out / "part-001" / "diagnoses.arrow"
    data = bytearray(damaged.read_bytes())
    data[-20] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(DataError, match="part-001"):
        verify_partitioned(out)
    result = CliRunner().invoke(main, ["data", "verify", str(out)])
    assert result.exit_code == 1 and "part-001" in result.output
    assert "Traceback" not in result.output


def test_issue17_ingest_cli_writes_parts_and_refuses_to_overwrite(raw_dir, tmp_path):
    out = tmp_path / "parts"
    runner = CliRunner()
    result = runner.invoke(
        main, ["data", "ingest", str(raw_dir), "--out", str(out), "--partitions", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "3 parts" in result.output and (out / "part-002" / "manifest.json").is_file()
    body = json.loads((out / "partitions.json").read_text())
    assert body["partitions"] == 3 and sum(p["patients"] for p in body["parts"]) == PATIENTS
    verified = runner.invoke(main, ["data", "verify", str(out)])
    assert verified.exit_code == 0 and "intact (3 parts)" in verified.output
    with pytest.raises(OutputExistsError):
        ingest_partitioned(raw_dir, out, partitions=2)
    ingest_partitioned(raw_dir, out, partitions=2, overwrite=True)
    assert read_partitions(out).partitions == 2


@pytest.mark.parametrize("parts", PART_COUNTS)
def test_issue17_partitioned_rows_equal_one_process(reference, partitioned, parts):
    combined = evaluate_many(examples(), partitioned[parts], index_date=INDEX)
    for study, ref, got in zip(examples(), reference, combined, strict=True):
        assert got.patients.equals(ref.patients.sort("patient_id")), study.id
        assert got.counts == ref.counts
        for query in (FeasibilityQuery(), FeasibilityQuery(by=("sex", "age_band"))):
            # with patient-set keys (noise) and sketches: the per-patient table is the same
            expected = build_raw(ref, query, with_keys=True, sketch_secret=SECRET)
            assert build_raw(got, query, with_keys=True, sketch_secret=SECRET) == expected


@pytest.mark.parametrize("parts", PART_COUNTS)
def test_issue17_histograms_equal_one_process(reference, partitioned, parts):
    counted = count_parts(examples(), partitioned[parts], index_date=INDEX, dims=ALL_DIMS)
    for study, ref, got in zip(examples(), reference, counted, strict=True):
        assert got.data_snapshot == read_partitions(partitioned[parts]).data_snapshot
        assert_same_feasibility(ref, got, study)
    sketched = count_parts(
        examples(), partitioned[parts], index_date=INDEX, query=SKETCHED, sketch_secret=SECRET
    )
    for ref, got in zip(reference, sketched, strict=True):
        assert_same_sketches(ref, got)


def test_issue17_sketches_of_a_what_if_in_another_order(reference, partitioned):
    study, ref = examples()[0], reference[0]
    names = [r.name for r in study.rules]
    query = FeasibilityQuery(order=tuple(reversed(names[1:])), without=(names[0],), by=("sex",))
    [got] = count_parts(
        [study], partitioned[7], index_date=INDEX, query=query, sketch_secret=SECRET
    )
    expected = build_raw(ref, query, with_keys=False, sketch_secret=SECRET)
    assert build_raw(got, query, with_keys=False, sketch_secret=SECRET) == expected


def test_issue17_a_failing_part_fails_the_run_with_its_name(raw_dir, tmp_path):
    out = tmp_path / "parts"
    ingest_partitioned(raw_dir, out, partitions=3)
    (out / "part-002" / "observations.arrow").write_bytes(b"not arrow")
    with pytest.raises(PartError, match=r"part 2 \(.*part-002\)"):
        count_parts(examples()[:1], out, index_date=INDEX)
    with pytest.raises(PartError, match="part 2"):
        evaluate_parts(examples()[:1], out, index_date=INDEX)


def test_issue17_noise_is_refused_for_histograms(partitioned):
    [got] = count_parts(examples()[:1], partitioned[2], index_date=INDEX)
    with pytest.raises(Exception, match="noise"):
        build_raw(got, FeasibilityQuery(), with_keys=True)


def _split(data, parts: int) -> list[dict[str, pl.DataFrame]]:
    """The frames of ``data`` split by patient with the partitioned snapshot's own hash."""
    frames = {name: data.table(name).collect() for name in TABLES}
    assignment = frames["patients"].select(
        "patient_id", partition_of(frames["patients"]["patient_id"], parts).alias("__part")
    )
    out = []
    for i in range(parts):
        keep = assignment.filter(pl.col("__part") == i).select("patient_id")
        out.append({n: f.join(keep, on="patient_id", how="semi") for n, f in frames.items()})
    return out


@st.composite
def split_cases(draw):
    items = [draw(studies(sid=f"s{i}")) for i in range(draw(st.integers(1, 2)))]
    return items, draw(datasets(items[0].index_date)), draw(st.sampled_from(PART_COUNTS))


@settings(max_examples=20)
@given(split_cases())
def test_issue17_generated_studies_combine_exactly(case):
    items, data, parts = case
    reference = evaluate_many(items, data, validate=False)
    row_job = PartJob(index=0, path="", studies=tuple(items), mode="rows")
    count_job = PartJob(index=0, path="", studies=tuple(items), mode="histogram", dims=ALL_DIMS)
    per_part = [evaluate_many(items, frames, validate=False) for frames in _split(data, parts)]
    rows = combine_rows(
        items,
        [[reduce_result(row_job, r) for r in results] for results in per_part],
        snapshot="x",
    )
    counts = combine_counts(
        items,
        [[reduce_result(count_job, r) for r in results] for results in per_part],
        snapshot="x",
        query=FeasibilityQuery(),
        dims=ALL_DIMS,
        sketch_secret=None,
    )
    for study, ref, got_rows, got_counts in zip(items, reference, rows, counts, strict=True):
        assert got_rows.patients.equals(ref.patients.sort("patient_id"))
        assert_same_feasibility(ref, got_counts, study)


def _cli(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, env={"P4DP_DASK_SCHEDULER": ""})
    return result.exit_code, result.output


def test_issue17_cluster_options_are_checked_before_any_work(partitioned, tmp_path, monkeypatch):
    ledger = tmp_path / "ledger.sqlite"
    assert _cli(["ledger", "init", "--ledger", str(ledger)])[0] == 0
    base = ["count", "examples/t2d_glp1.p4dp", "--data", str(partitioned[2])]
    base += ["--ledger", str(ledger)]
    code, out = _cli([*base, "--workers", "2", "--noise", "1.5"])
    assert code == 1 and "--noise" in out and "Traceback" not in out
    code, out = _cli([*base, "--workers", "2", "--cluster", "tcp://127.0.0.1:9"])
    assert code == 1 and "one or the other" in out
    monkeypatch.setattr("matcher.scaleout.cluster.CONNECT_TIMEOUT_S", 1)
    code, out = _cli([*base, "--cluster", "tcp://127.0.0.1:9"])
    assert code == 1 and "no Dask scheduler answers" in out and "Traceback" not in out
    assert Ledger.open(ledger).releases() == []  # nothing counted, nothing recorded


def test_issue17_noise_policy_refused_on_a_cluster_through_the_service(partitioned, tmp_path):
    """Merge of issue 17 with the platform policy: noise is the ledger's, so a request asking
    for a cluster under a noise policy is refused by run_feasibility before any count."""
    ledger = tmp_path / "ledger.sqlite"
    init = ["ledger", "init", "--ledger", str(ledger), "--set", "noise=true"]
    assert _cli(init)[0] == 0
    base = ["count", "examples/t2d_glp1.p4dp", "--data", str(partitioned[2])]
    code, out = _cli([*base, "--ledger", str(ledger), "--workers", "2"])
    assert code == 1 and "noise" in out and "cluster" in out and "Traceback" not in out
    assert Ledger.open(ledger).releases() == []
    code, out = _cli([*base, "--ledger", str(ledger), "--index-date", INDEX.isoformat()])
    assert code == 0, out  # without a cluster the partitioned snapshot counts with noise


def test_issue17_in_memory_frames_cannot_go_to_a_cluster():
    from matcher.scaleout import parts_of

    with pytest.raises(DataError, match="every worker can read"):
        parts_of({"patients": pl.DataFrame({"patient_id": ["a"]})})


def test_issue17_rows_written_per_part_equal_one_process(reference, partitioned, tmp_path):
    out = tmp_path / "rows"
    written = write_parts(examples()[:2], partitioned[7], out, index_date=INDEX)
    for ref, got in zip(reference[:2], written, strict=True):
        assert len(got.files) == 7 and all(f.parent.parent == out for f in got.files)
        rows = pl.concat([pl.read_parquet(f) for f in got.files], how="vertical_relaxed")
        expected = ref.patients.select(result_columns(ref))
        assert rows.sort("patient_id").equals(expected.sort("patient_id"))
        assert got.counts == ref.counts
        assert got.code_rows == ref.code_rows and got.index_date == ref.index_date
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    with pytest.raises(OutputExistsError):
        write_parts(examples()[:1], partitioned[2], out, index_date=INDEX)


def test_issue17_a_failed_written_run_leaves_nothing(raw_dir, tmp_path):
    data = tmp_path / "parts"
    ingest_partitioned(raw_dir, data, partitions=2)
    (data / "part-001" / "patients.arrow").write_bytes(b"damaged")
    with pytest.raises(PartError, match="part 1"):
        write_parts(examples()[:1], data, tmp_path / "rows", index_date=INDEX)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parts"]


def test_issue18_a_table_not_provided_is_warned_about_through_the_parts(raw_dir, tmp_path):
    """Data without the optional procedures table: the combined results name it and the rules
    it makes unknown, exactly as one process does."""
    import shutil

    from criteria_dsl import compile_text

    source = tmp_path / "raw"
    shutil.copytree(raw_dir, source)
    (source / "procedures.parquet").unlink()
    ingest_partitioned(source, tmp_path / "parts", partitions=2)
    ingest(source, tmp_path / "plain")
    study = compile_text(
        'study "PROC"\nindex date 2026-06-30\ninclusion\n'
        "  ecg: has procedure ccam DEQP003 within 2 years before index\n"
    )
    alone = evaluate_many([study], tmp_path / "plain")[0].code_set_warnings()
    assert any("provides no procedures table" in w and "ecg" in w for w in alone)
    counted = count_parts([study], tmp_path / "parts")[0].code_set_warnings()
    rows = evaluate_parts([study], tmp_path / "parts")[0].code_set_warnings()
    assert counted == rows == alone
