"""Issue 17: the same answers on a local Dask cluster of 2 worker processes, a worker killed
mid-run survived, and disclosure control applied once to the combined counts.

One cluster for the whole module (127.0.0.1, no dashboard); small populations.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from conftest import PART_COUNTS, examples
from helpers import ALL_DIMS, INDEX, SECRET, SKETCHED, assert_same_feasibility, assert_same_sketches

from matcher.cli import main
from matcher.disclosure.ledger import Ledger
from matcher.engine.evaluate import evaluate_many
from matcher.engine.write import result_columns
from matcher.scaleout import PartError, count_parts, evaluate_parts, local_cluster, write_parts
from matcher.snapshot.partition import ingest_partitioned

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with local_cluster(2) as client:
        client.wait_for_workers(2)
        yield client


@pytest.fixture(scope="module")
def reference(plain_snapshot: Path):
    return evaluate_many(examples(), plain_snapshot, index_date=INDEX)


def _listening(pid: int) -> list[str]:
    """The addresses process ``pid`` listens on (workers are inspected from here: no test code
    is sent to them)."""
    import psutil

    sockets = psutil.Process(pid).net_connections(kind="inet")
    return [s.laddr.ip for s in sockets if s.status == psutil.CONN_LISTEN]


def test_issue17_local_cluster_listens_on_localhost_only(client):
    info = client.scheduler_info()
    assert client.scheduler.address.startswith("tcp://127.0.0.1:")
    assert len(info["workers"]) == 2
    assert all(address.startswith("tcp://127.0.0.1:") for address in info["workers"])
    scheduler_side = _listening(os.getpid())  # the scheduler runs in this process
    worker_side = [ip for pid in client.run(os.getpid).values() for ip in _listening(pid)]
    assert scheduler_side and worker_side
    assert set(scheduler_side) | set(worker_side) == {"127.0.0.1"}


@pytest.mark.parametrize("parts", PART_COUNTS)
def test_issue17_cluster_equals_one_process(client, reference, partitioned, parts):
    rows = evaluate_parts(examples(), partitioned[parts], index_date=INDEX, client=client)
    counted = count_parts(
        examples(), partitioned[parts], index_date=INDEX, client=client, dims=ALL_DIMS
    )
    sketched = count_parts(
        examples(),
        partitioned[parts],
        index_date=INDEX,
        client=client,
        query=SKETCHED,
        sketch_secret=SECRET,
    )
    for study, ref, got_rows, got_counts, got_sketched in zip(
        examples(), reference, rows, counted, sketched, strict=True
    ):
        assert got_rows.patients.equals(ref.patients.sort("patient_id")), study.id
        assert_same_feasibility(ref, got_counts, study)
        assert_same_sketches(ref, got_sketched)


def _init_ledger(ledger: Path) -> Path:
    """A ledger made by ``p4dp ledger init`` (the account running the tests is its steward)."""
    if not ledger.exists():
        made = CliRunner().invoke(main, ["ledger", "init", "--ledger", str(ledger)])
        assert made.exit_code == 0, made.output
    return ledger


def _count(args: list[str], ledger: Path) -> str:
    _init_ledger(ledger)
    result = CliRunner().invoke(
        main,
        ["count", *map(str, args), "--index-date", INDEX.isoformat(), "--ledger", str(ledger)],
        env={"P4DP_DASK_SCHEDULER": ""},
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def _ledger_rows(path: Path) -> list[tuple]:
    ledger = Ledger.open(path)
    return [(r.study_id, r.what, r.true_count, r.released) for r in ledger.releases()]


def test_issue17_disclosure_applied_once_to_the_combined_counts(client, partitioned, tmp_path):
    files = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.p4dp"))[:3]
    common = [*files, "--data", partitioned[7], "--by", "sex", "--format", "json"]
    alone = _count(common, tmp_path / "alone.sqlite")
    spread = _count([*common, "--cluster", client.scheduler.address], tmp_path / "spread.sqlite")
    assert spread == alone  # masked, rounded, suppressed: the same released object
    # code-set warnings (rows per code set summed over the parts) reach the sponsor the same
    assert any(study["warnings"] for study in json.loads(spread))
    for study in json.loads(spread):  # the sponsor's view: masked or rounded, never exact
        assert all(v == "<10" or v % 5 == 0 for v in study["counts"].values())
    one, many = _ledger_rows(tmp_path / "alone.sqlite"), _ledger_rows(tmp_path / "spread.sqlite")
    assert many == one  # the same true counts recorded: no per-part count, each once
    assert len({(s, w) for s, w, _, _ in many}) == len(many)


def test_issue17_a_part_failing_on_a_worker_fails_the_run(client, raw_dir, tmp_path):
    out = tmp_path / "parts"
    ingest_partitioned(raw_dir, out, partitions=2)
    (out / "part-001" / "patients.arrow").write_bytes(b"damaged")
    with pytest.raises(PartError, match=r"part 1 \(.*part-001\)"):
        count_parts(examples()[:2], out, index_date=INDEX, client=client)
    result = CliRunner().invoke(
        main,
        [
            "count",
            "examples/t2d_glp1.p4dp",
            "--data",
            str(out),
            "--cluster",
            client.scheduler.address,
            "--ledger",
            str(_init_ledger(tmp_path / "l.sqlite")),
        ],
    )
    assert result.exit_code == 1 and "part-001" in result.output
    assert "Traceback" not in result.output and "eligible" not in result.output


def test_issue17_cli_workers_gives_the_same_numbers(partitioned, tmp_path):
    args = ["examples/t2d_glp1.p4dp", "--data", partitioned[2], "--role", "steward"]
    here = _count([*args, "--format", "json"], tmp_path / "a.sqlite")
    local = _count([*args, "--format", "json", "--workers", "2"], tmp_path / "b.sqlite")
    assert json.loads(local) == json.loads(here)


def test_issue17_evaluate_cli_on_the_cluster_writes_the_same_rows(client, partitioned, tmp_path):
    outputs = {}
    for name, extra in (("here", []), ("cluster", ["--cluster", client.scheduler.address])):
        out = tmp_path / f"{name}.parquet"
        result = CliRunner().invoke(
            main,
            [
                "evaluate",
                "examples/ckd_sglt2.p4dp",
                "--data",
                str(partitioned[7]),
                "--out",
                str(out),
                "--index-date",
                INDEX.isoformat(),
                "--ledger",
                str(_init_ledger(tmp_path / "evaluate.sqlite")),
                *extra,
            ],
            env={"P4DP_DASK_SCHEDULER": ""},
        )
        assert result.exit_code == 0, result.output
        outputs[name] = pl.read_parquet(out)
    assert outputs["cluster"].height > 0
    assert outputs["cluster"].equals(outputs["here"])


def test_issue17_workers_write_their_parts_rows(client, reference, partitioned, tmp_path):
    written = write_parts(
        examples()[:1], partitioned[2], tmp_path / "rows", index_date=INDEX, client=client
    )
    [got] = written
    rows = pl.concat([pl.read_parquet(f) for f in got.files], how="vertical_relaxed")
    expected = reference[0].patients.select(result_columns(reference[0]))
    assert rows.sort("patient_id").equals(expected.sort("patient_id"))
    assert got.counts == reference[0].counts


def test_issue17_worker_killed_mid_run_same_answer(client, reference, partitioned):
    client.restart()  # fresh workers: the first part on each imports the engine (slow)
    client.wait_for_workers(2)
    pids = client.run(os.getpid)
    answer: dict[str, object] = {}

    def run() -> None:
        try:
            answer["value"] = count_parts(
                examples(), partitioned[7], index_date=INDEX, client=client, dims=ALL_DIMS
            )
        except Exception as exc:  # reported by the assertion below
            answer["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    victim = None
    deadline = time.monotonic() + 60
    while victim is None and time.monotonic() < deadline:
        busy = {w: tasks for w, tasks in client.processing().items() if tasks}
        victim = next(iter(busy), None)
        time.sleep(0.005)
    assert victim is not None, "no part started on any worker"
    os.kill(pids[victim], signal.SIGKILL)
    killed_mid_run = worker.is_alive()
    worker.join(120)
    assert killed_mid_run, "the run ended before the worker was killed"
    assert "error" not in answer, answer.get("error")
    for study, ref, got in zip(examples(), reference, answer["value"], strict=True):
        assert_same_feasibility(ref, got, study)
    assert victim not in client.scheduler_info()["workers"]


def _evaluate(files: list[str], data: Path, out: Path, ledger: Path, *extra: str) -> None:
    args = ["evaluate", *files, "--data", str(data), "--out", str(out)]
    args += ["--index-date", INDEX.isoformat(), "--ledger", str(_init_ledger(ledger)), *extra]
    result = CliRunner().invoke(main, args, env={"P4DP_DASK_SCHEDULER": ""})
    assert result.exit_code == 0, result.output


def test_issue17_evaluate_several_files_on_the_cluster_writes_per_part(
    client, partitioned, tmp_path
):
    files = ["examples/ckd_sglt2.p4dp", "examples/t2d_glp1.p4dp"]
    ledger = tmp_path / "ledger.sqlite"
    _evaluate(files, partitioned[7], tmp_path / "here", ledger)
    cluster = ["--cluster", client.scheduler.address]
    _evaluate(files, partitioned[7], tmp_path / "spread", ledger, *cluster)
    for name in (Path(f).stem for f in files):
        gathered = pl.read_parquet(tmp_path / "here" / f"{name}.parquet")
        target = tmp_path / "spread" / f"{name}.parquet"
        parts = sorted(target.glob("part-*.parquet"))
        assert target.is_dir() and len(parts) == 7
        rows = pl.concat([pl.read_parquet(p) for p in parts], how="vertical_relaxed")
        assert gathered.height > 0
        assert rows.sort("patient_id").equals(gathered.sort("patient_id"))
    assert not [p for p in (tmp_path / "spread").iterdir() if p.name.startswith(".")]
    runs = [r for r in Ledger.open(ledger).releases() if r.what == "evaluate:base"]
    assert len(runs) == 4  # each run recorded once per study
    true_counts = [r.true_count for r in runs]
    assert true_counts[:2] == true_counts[2:]  # the same exact counts, gathered or per part
    # the directories are outputs like any other: refused unless --overwrite, then replaced
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            *files,
            "--data",
            str(partitioned[7]),
            "--out",
            str(tmp_path / "spread"),
            "--ledger",
            str(ledger),
        ],
        env={"P4DP_DASK_SCHEDULER": ""},
    )
    assert result.exit_code == 1 and "--overwrite" in result.output
    _evaluate(files, partitioned[2], tmp_path / "spread", ledger, *cluster, "--overwrite")
    assert len(list((tmp_path / "spread" / "t2d_glp1.parquet").glob("part-*.parquet"))) == 2
