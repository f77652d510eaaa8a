"""Fixtures shared by the ``p4dp count`` tests: the small data set with two criteria files,
and a fresh ledger."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from feasibility_helpers import CRITERIA, SECOND, write_dataset

from matcher.cli import main


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """``(root, data, criteria, other)``: the data set and two criteria files, per module."""
    root = tmp_path_factory.mktemp("feas-cli")
    data = write_dataset(root / "data")
    criteria = root / "study.p4dp"
    criteria.write_text(CRITERIA, encoding="utf-8")
    other = root / "other.p4dp"
    other.write_text(SECOND, encoding="utf-8")
    return root, data, criteria, other


@pytest.fixture()
def ledger_path(tmp_path):
    """A ledger made by ``p4dp ledger init``: the account running the tests is its steward."""
    path = tmp_path / "ledger.sqlite"
    res = CliRunner().invoke(main, ["ledger", "init", "--ledger", str(path)])
    assert res.exit_code == 0, res.output
    return path
