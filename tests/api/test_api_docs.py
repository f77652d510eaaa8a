"""Issue 14: the curl examples of docs/api.md run against a real ``p4dp serve`` on loopback."""

from __future__ import annotations

import json
import shutil

import pytest
from api_doc_blocks import REPO, run_doc_blocks
from api_doc_blocks import doc_blocks as bash_blocks


def doc_blocks() -> list[str]:
    return bash_blocks("bash")


def test_issue14_api_doc_has_curl_examples_for_every_resource():
    joined = "\n".join(doc_blocks())
    for route in (
        "/validate",
        "/studies",
        "/submissions",
        "/versions",
        "/diff/",
        "/terms",
        "/codesets/expand",
        "/audit",
        "/accounts",
        "Idempotency-Key",
    ):
        assert route in joined, f"docs/api.md: no executed example uses {route}"


@pytest.mark.slow
def test_issue14_api_doc_curl_examples_run_against_a_live_server(tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed: the examples of docs/api.md cannot be run")
    blocks = doc_blocks()
    database = f"sqlite:///{tmp_path / 'api.sqlite'}"
    outputs = run_doc_blocks(blocks, database, cwd=REPO)
    validate = json.loads(outputs[1])
    assert validate["ok"] is True and validate["errors"] == 0
    rejected = json.loads(outputs[3].rsplit("\nHTTP", 1)[0])
    assert rejected["status"] == "rejected" and rejected["errors"] >= 1
    assert any("t2dd" in d["message"] for d in rejected["diagnostics"])
    assert "audit log intact" in outputs[-2]
