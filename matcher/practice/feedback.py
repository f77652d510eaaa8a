"""What the physician did with a list, as counts only (``p4dp practice feedback``).

The outcomes file is a CSV the practice keeps, one line per candidate it acted on::

    row,outcome,failed_rule
    1,enrolled,
    2,not_eligible,hba1c
    3,declined,

``row`` is the list's row number; a ``local_id`` column may be used instead when the practice
key and export are given (the tokens are then recomputed to find the row). ``outcome`` is one
of :data:`OUTCOMES`; ``failed_rule`` (only with ``not_eligible``) names the rule the record
contradicted (several separated by ``;``). Candidates without a line count as
``not_contacted``. The feedback document holds counts only, never a name, id or token::

    {"format": "p4dp-feedback", "version": 1, "list_id", "study_id", "study_version",
     "practice_id", "created", "candidates": N, "outcomes": {...}, "failed_rules": {...}}

>>> normalise_outcome("Not eligible")
'not_eligible'
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

from matcher.candidates.document import CandidateList, CandidateListError, parse_list
from matcher.errors import MatcherError
from matcher.practice.keys import SecretKey, practice_tokens

FEEDBACK_FORMAT = "p4dp-feedback"
"""The feedback file's format (version 1); :mod:`matcher.candidates.feedback` reads it."""
OUTCOMES: tuple[str, ...] = ("not_contacted", "contacted", "declined", "not_eligible", "enrolled")


class OutcomesError(MatcherError):
    """The outcomes file cannot be turned into feedback (bad row, outcome or rule)."""


def normalise_outcome(text: str) -> str:
    """``Not eligible`` / ``not-eligible`` / ``NOT_ELIGIBLE`` → ``not_eligible``."""
    return "_".join(text.strip().lower().replace("-", " ").replace("_", " ").split())


def read_list(path: Path | str) -> CandidateList:
    """A candidate list checked against the format (its signature is checked on receipt)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CandidateListError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise CandidateListError(f"{path}: not a readable JSON candidate list") from None
    return parse_list(doc, source=str(path))


def _rows_by_local_id(
    lst: CandidateList, key: SecretKey | None, export_dir: Path | None, source_format: str | None
) -> dict[str, int]:
    if key is None or export_dir is None:
        raise OutcomesError("outcomes by local_id need --key and --export to find the list rows")
    from matcher.practice.export import read_patients

    local_ids = read_patients(export_dir, source_format)["local_id"].to_list()
    row_of = {c.token: c.row for c in lst.candidates}
    tokens = practice_tokens(key, local_ids)
    return {i: row_of[t] for i, t in zip(local_ids, tokens, strict=True) if t in row_of}


def _read_outcomes(
    path: Path, lst: CandidateList, row_of_local: Any
) -> dict[int, tuple[str, list[str]]]:
    rules = {r.name for r in lst.rules}
    rows = {c.row for c in lst.candidates}
    found: dict[int, tuple[str, list[str]]] = {}
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise OutcomesError(f"{path}: no such outcomes file") from None
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        if "outcome" not in header or not ({"row", "local_id"} & set(header)):
            raise OutcomesError(f"{path}:1: needs columns 'row' (or 'local_id') and 'outcome'")
        mapping = row_of_local() if "row" not in header else None
        try:
            for record in reader:
                where = f"{path}:{reader.line_num}"
                if None in record or any(v is None for v in record.values()):
                    raise OutcomesError(f"{where}: wrong number of fields")
                if mapping is None:
                    text = (record.get("row") or "").strip()
                    if not text.isdigit() or int(text) not in rows:
                        raise OutcomesError(f"{where}: row {text!r} is not a row of the list")
                    row = int(text)
                else:
                    local = (record.get("local_id") or "").strip()
                    if local not in mapping:
                        raise OutcomesError(f"{where}: this local id is not on the list")
                    row = mapping[local]
                outcome = normalise_outcome(record.get("outcome") or "")
                if outcome not in OUTCOMES:
                    raise OutcomesError(f"{where}: outcome must be one of {', '.join(OUTCOMES)}")
                failed = [r.strip() for r in (record.get("failed_rule") or "").split(";")]
                failed = [r for r in failed if r]
                if failed and outcome != "not_eligible":
                    raise OutcomesError(f"{where}: failed_rule is only given with not_eligible")
                unknown = [r for r in failed if r not in rules]
                if unknown:
                    raise OutcomesError(f"{where}: {unknown[0]!r} is not a rule of the study")
                if row in found:
                    raise OutcomesError(f"{where}: list row {row} has a second outcome")
                found[row] = (outcome, failed)
        except csv.Error as exc:
            raise OutcomesError(f"{path}:{reader.line_num}: not well-formed CSV ({exc})") from None
        except UnicodeDecodeError:
            raise OutcomesError(f"{path}: not UTF-8 text") from None
    return found


def build_feedback(
    list_path: Path | str,
    outcomes_path: Path | str,
    *,
    key: SecretKey | None = None,
    export_dir: Path | str | None = None,
    source_format: str | None = None,
) -> dict[str, Any]:
    """The feedback document for one list: counts per outcome and per failed rule."""
    lst = read_list(list_path)
    if key is not None and key.practice_id != lst.practice_id:
        raise CandidateListError(
            f"{list_path}: this list is for practice {lst.practice_id!r}, not {key.practice_id!r}"
        )
    export = Path(export_dir) if export_dir is not None else None
    found = _read_outcomes(
        Path(outcomes_path), lst, lambda: _rows_by_local_id(lst, key, export, source_format)
    )
    outcomes = dict.fromkeys(OUTCOMES, 0)
    failed_rules: dict[str, int] = {}
    for candidate in lst.candidates:
        outcome, failed = found.get(candidate.row, ("not_contacted", []))
        outcomes[outcome] += 1
        for rule in failed:
            failed_rules[rule] = failed_rules.get(rule, 0) + 1
    return {
        "format": FEEDBACK_FORMAT,
        "version": 1,
        "list_id": lst.list_id,
        "study_id": lst.study_id,
        "study_version": lst.study_version,
        "practice_id": lst.practice_id,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "candidates": len(lst.candidates),
        "outcomes": outcomes,
        "failed_rules": dict(sorted(failed_rules.items())),
    }
