"""Snapshot of the ``p4dp count`` table (a fixed data set and criteria file), and the progress
display staying silent when not on a terminal.

Regenerate the snapshot deliberately with ``P4DP_UPDATE_SNAPSHOTS=1`` and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from click.testing import CliRunner
from feasibility_helpers import CRITERIA, write_dataset

from matcher.cli import main

SNAPSHOT = Path(__file__).parent / "snapshots" / "count_table_sponsor.txt"


def normalise(text: str) -> str:
    """Hide the data snapshot (file times) and the criteria hash (IR hashing may evolve)."""
    text = re.sub(r"files:sha256:[0-9a-f]+…", "files:sha256:<snapshot>", text)
    return re.sub(r"criteria sha256:[0-9a-f]+…", "criteria sha256:<hash>", text)


def _init_ledger(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["ledger", "init", "--ledger", str(tmp_path / "ledger.sqlite")])
    assert res.exit_code == 0, res.output


def test_table_output_snapshot(tmp_path):
    _init_ledger(tmp_path)
    data = write_dataset(tmp_path / "data")
    criteria = tmp_path / "study.p4dp"
    criteria.write_text(CRITERIA, encoding="utf-8")
    args = ["count", str(criteria), "--data", str(data), "--by", "centre", "--by", "sex"]
    args += ["--ledger", str(tmp_path / "ledger.sqlite"), "--requester", "snap"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert res.stderr == ""  # CliRunner's stderr is not a terminal: no progress display
    got = normalise(res.stdout)
    if os.environ.get("P4DP_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(got, encoding="utf-8")
    assert got == SNAPSHOT.read_text(encoding="utf-8")


def test_progress_is_shown_only_on_a_terminal(tmp_path, monkeypatch):
    from matcher.cli import count_cmd

    _init_ledger(tmp_path)
    data = write_dataset(tmp_path / "data")
    criteria = tmp_path / "study.p4dp"
    criteria.write_text(CRITERIA, encoding="utf-8")
    args = ["count", str(criteria), "--data", str(data), "--format", "json"]
    args += ["--ledger", str(tmp_path / "ledger.sqlite"), "--requester", "p"]
    quiet = CliRunner().invoke(main, args)
    assert quiet.exit_code == 0 and quiet.stderr == ""
    monkeypatch.setattr(count_cmd, "progress_enabled", lambda: True)
    loud = CliRunner().invoke(main, args)
    assert loud.exit_code == 0, loud.output
    for phase in ("compiling criteria", "loading", "evaluating 1 study", "counting"):
        assert phase in loud.stderr
    assert loud.stdout.startswith("{")  # progress never mixes into the output
