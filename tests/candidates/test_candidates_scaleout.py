"""Issue 17 x issue 13: ``p4dp candidates issue`` on a partitioned snapshot, in one process
and on a local Dask cluster (``--workers``), writes the same lists as one process on the whole
data: the same practices, candidates, tokens, statuses and rules (only the random list ids,
the times, the signatures and the snapshot id differ)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from matcher.candidates.receive import receive_uploads
from matcher.cli import main
from matcher.snapshot.partition import ingest_partitioned

pytest.importorskip("distributed")

STUDY = str(Path(__file__).resolve().parents[2] / "examples" / "hypertension_sprint.p4dp")
PER_ISSUE = {"list_id", "issued", "expires", "signature", "data_snapshot"}


def _issue(data: Path, out: Path, key: Path, *extra: str) -> dict[str, dict]:
    """Issue lists for STUDY; the lists written, by practice, without per-issue fields."""
    ledger = key.parent / "ledger.sqlite"  # issuance is a steward's, recorded in the ledger
    if not ledger.exists():
        assert CliRunner().invoke(main, ["ledger", "init", "--ledger", str(ledger)]).exit_code == 0
    args = ["candidates", "issue", STUDY, "--data", str(data), "--out", str(out)]
    args += ["--signing-key", str(key), "--ledger", str(ledger), "--index-date", "2026-06-30"]
    args += extra
    result = CliRunner().invoke(main, args, env={"P4DP_DASK_SCHEDULER": ""})
    assert result.exit_code == 0, result.output
    lists = {}
    for path in out.glob("*/*.json"):
        document = json.loads(path.read_text(encoding="utf-8"))
        lists[document["practice_id"]] = {k: v for k, v in document.items() if k not in PER_ISSUE}
    return lists


def test_issue17_candidate_lists_on_a_cluster_equal_one_process(uploads, pseudonym_key, tmp_path):
    data = tmp_path / "data"
    receive_uploads(list(uploads.values()), data, pseudonym_key)
    ingest_partitioned(data, tmp_path / "parts", partitions=3)
    keys = tmp_path / "keys"
    assert CliRunner().invoke(main, ["keys", "init", "--out", str(keys)]).exit_code == 0
    key = keys / "platform-signing.key"
    whole = _issue(data, tmp_path / "whole", key)
    assert whole and any(doc["candidates"] for doc in whole.values())
    assert _issue(tmp_path / "parts", tmp_path / "parts-here", key) == whole
    assert _issue(tmp_path / "parts", tmp_path / "parts-cluster", key, "--workers", "2") == whole
