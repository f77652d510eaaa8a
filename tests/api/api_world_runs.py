"""The objects of the runs, approvals and lists routes for the access matrix: a ledger, a
signing key and a tiny data set on the app's settings; a run and a funnel of the sponsor's
study; an approved second study; a list of practice P001 (the matrix physician's)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from matcher.api.models_lists import CandidateListRecord
from matcher.candidates.signing import generate_signing_key, save_signing_key
from matcher.data.open import open_data
from matcher.disclosure import DisclosurePolicy
from matcher.disclosure.ledger import Ledger
from matcher.services.runs import submit_run

ADULTS = (
    'study "ADULTS" version 1\nindex date 2024-06-15\n\ninclusion\n  adult: age at index >= 18\n'
)
LIST_ID = "matrix-list-p001"
FEEDBACK = {
    "format": "p4dp-feedback",
    "version": 1,
    "list_id": LIST_ID,
    "study_id": "ADULTS",
    "study_version": 1,
    "practice_id": "P001",
    "created": "2026-12-07T10:00:00Z",
    "candidates": 2,
    "outcomes": {
        "not_contacted": 1,
        "contacted": 1,
        "declined": 0,
        "not_eligible": 0,
        "enrolled": 0,
    },
    "failed_rules": {},
}


def tiny_patients() -> pl.DataFrame:
    n = 4
    return pl.DataFrame(
        {
            "patient_id": [f"p{i}" for i in range(n)],
            "birth_year": [1950] * n,
            "birth_month": [1] * n,
            "sex": ["F", "M"] * (n // 2),
            "practice_id": ["P001", "P001", "P002", "P002"],
            "centre_id": ["C1"] * n,
            "registered_from": [None] * n,
            "registered_to": [None] * n,
            "death_date": [None] * n,
            "opted_out": [False] * n,
            "practice_token": [c * 64 for c in "abcd"],
        }
    )


def done_sponsor_run(api: Any, ledger: Path, study_id: int) -> int:
    """A run of ``ADULTS`` for the sponsor, executed: what-ifs answer from its histogram."""
    from matcher.services.run_worker import RunWorker

    engine = api.app.state.engine
    run = submit_run(engine, criteria=ADULTS, requester="sponsor-sam", study_id=study_id)
    worker = RunWorker(engine, ledger=str(ledger), data=api.settings.data)
    assert worker.run_once() == run.id
    return int(run.id or 0)


def runs_world(api: Any, world: dict[str, Any]) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="p4dp-matrix-"))
    Ledger.init(
        folder / "ledger.sqlite",
        DisclosurePolicy(),
        stewards=["steward-stella"],
        created_by="steward-stella",
    )
    key = generate_signing_key()
    save_signing_key(key, folder / "signing.key")
    api.settings.ledger = str(folder / "ledger.sqlite")
    api.settings.signing_key = str(folder / "signing.key")
    api.settings.data = open_data({"patients": tiny_patients()})
    sponsor = api.client("sponsor")
    adults = sponsor.post("/studies", json={"name": "adults"}).json()["id"]
    sponsor.post(
        f"/studies/{adults}/submissions", content=ADULTS, headers={"Content-Type": "text/plain"}
    )
    assert api.client("steward").post(f"/studies/{adults}/versions/1/approval").status_code == 201
    done = done_sponsor_run(api, folder / "ledger.sqlite", world["study_id"])
    run = submit_run(
        api.app.state.engine,
        criteria="(not executed)",
        requester="sponsor-sam",
        study_id=world["study_id"],
    )
    document = {
        "study_id": "ADULTS",
        "candidates": [{"row": 1}, {"row": 2}],
        "rules": [{"name": "adult"}],
    }
    with api.session() as session:
        from sqlmodel import select

        from matcher.api.models import CriteriaVersion

        version = session.exec(
            select(CriteriaVersion).where(CriteriaVersion.study_id == adults)
        ).one()
        record = CandidateListRecord(
            list_id=LIST_ID,
            study_id=adults,
            version_id=version.id,
            practice="P001",
            eligible=2,
            possibly_eligible=0,
            data_snapshot="matrix",
            issued="2026-12-07T00:00:00Z",
            expires="2027-01-07T00:00:00Z",
            signing_key_id=key.key_id,
            document=json.dumps(document).encode(),
            created_by=version.created_by,
        )
        session.add(record)
        session.commit()
        session.refresh(record)
    from matcher.synth import generate

    generate(30, seed=3, out=folder / "data")  # a data directory POST /admin/data may choose
    return {
        "data_dir": str(folder / "data"),
        "run_id": run.id,
        "done_run_id": done,
        "adults_id": adults,
        "list_pk": record.id,
        "practice": "P001",
    }
