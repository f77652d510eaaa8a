"""Issue candidate lists: evaluate a study, sign one list per practice, write and record them.

:func:`issue_candidate_lists` is what ``p4dp candidates issue`` runs (the HTTP service will
call it too). Lists name patients (through practice tokens), so only the ledger's stewards
may issue them: the operator is checked before anything is evaluated. Then:

1. the study is evaluated on the data and one signed list is built per practice with
   candidates (:func:`matcher.candidates.build.build_lists`);
2. each list is written atomically to ``OUT/<practice>/<study>-v<version>-<list id>.json``;
3. one line per list is appended to ``OUT/issued.jsonl`` (mode 0600): list id, study,
   criteria hash, data snapshot, practice, counts, dates and signing key id;
4. the issuance is recorded in the query ledger (kind ``candidates``): who, the study, its
   criteria hash and data snapshot, the number of lists, eligible and possibly eligible
   candidates, and the list ids. Neither the log nor the ledger holds a token or a patient.

The ledger row is committed after the lists are in place; if recording fails, the error is
raised (the lists exist but the caller learns the issuance is not recorded).

>>> safe_name("T2D GLP/1")
'T2D_GLP_1'
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matcher.candidates.build import DEFAULT_VALIDITY, ListsOutcome, PracticeList, build_lists
from matcher.candidates.signing import SigningKey

if TYPE_CHECKING:
    from criteria_dsl import ir
    from matcher.data.loader import Dataset
    from matcher.disclosure.ledger import Ledger
    from matcher.engine.result import Result

ISSUANCE_LOG = "issued.jsonl"


@dataclass(frozen=True)
class Issuance:
    """What one issuance wrote: the evaluation, every list with its file, and the counts."""

    result: Result
    outcome: ListsOutcome
    files: tuple[tuple[PracticeList, Path], ...]

    @property
    def counts(self) -> dict[str, int]:
        """Exact counts of the issuance (as recorded in the ledger)."""
        lists = self.outcome.lists
        return {
            "lists": len(lists),
            "eligible": sum(item.eligible for item in lists),
            "possibly_eligible": sum(item.possibly_eligible for item in lists),
            "without_token": sum(item.without_token for item in lists),
        }


def safe_name(text: str) -> str:
    """A string usable as a file name part."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def issue_candidate_lists(
    *,
    study: ir.Study,
    dataset: Dataset,
    out: Path | None,
    signing_key: SigningKey,
    ledger: Ledger,
    operator: str,
    practices: Collection[str] | None = None,
    validity: dt.timedelta = DEFAULT_VALIDITY,
    index_date: dt.date | None = None,
    cluster: Any = None,
    workers: int | None = None,
) -> Issuance:
    """Evaluate ``study``, write one signed list per practice under ``out``, record it all.

    ``cluster``/``workers``: evaluate the data's parts on a Dask cluster (a scheduler address,
    a client, or a local cluster of ``workers`` processes; docs/scale-out.md); the lists are
    the same as in one process.

    ``out=None``: no file and no ``issued.jsonl`` (the HTTP service stores the signed
    documents in its database); the ledger records the issuance all the same.

    Raises :class:`~matcher.disclosure.transaction.NotStewardError` before any work when
    ``operator`` is not a steward of ``ledger``.
    """
    from matcher.atomic import atomic_write_path
    from matcher.engine.evaluate import evaluate
    from matcher.scaleout import connect

    ledger.require_steward(operator, "p4dp candidates (lists of patients)")
    with connect(cluster or None, workers=workers) as client:  # None: in this process
        result = evaluate(study, dataset, index_date=index_date, cluster=client)
    outcome = build_lists(
        result, dataset.patients, signing_key, practices=practices, validity=validity
    )
    stem = f"{safe_name(study.id)}-v{safe_name(str(study.version))}"
    written: list[tuple[PracticeList, Path]] = []
    with ledger.transaction() as txn:
        for item in outcome.lists if out is not None else ():
            path = out / safe_name(item.practice_id) / f"{stem}-{item.list_id[:12]}.json"
            text = json.dumps(item.document, ensure_ascii=False, indent=2) + "\n"
            with atomic_write_path(path) as tmp:
                tmp.write_text(text, encoding="utf-8")
            written.append((item, path))
        issuance = Issuance(result, outcome, tuple(written))
        if out is not None:
            _log_issuance(out, written, signing_key.key_id)
        lists = " ".join(item.list_id for item in outcome.lists)
        txn.record_steward_run(
            "candidates",
            operator=operator,
            study_id=study.id,
            criteria_hash=result.criteria_hash,
            data_snapshot=result.data_snapshot,
            counts=issuance.counts,
            view=f"candidate lists {lists}" if lists else "candidate lists (none)",
        )
    return issuance


def _log_issuance(out: Path, written: list[tuple[PracticeList, Path]], key_id: str) -> None:
    """Append one line per list to OUT/issued.jsonl (mode 0600): no token, no patient data."""
    if not written:
        return
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / ISSUANCE_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        for item, path in written:
            doc = item.document
            record = {
                "list_id": doc["list_id"],
                "study_id": doc["study_id"],
                "study_version": doc["study_version"],
                "criteria_hash": doc["criteria_hash"],
                "data_snapshot": doc["data_snapshot"],
                "practice_id": doc["practice_id"],
                "issued": doc["issued"],
                "expires": doc["expires"],
                "eligible": item.eligible,
                "possibly_eligible": item.possibly_eligible,
                "signing_key_id": key_id,
                "file": str(path.relative_to(out)),
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
