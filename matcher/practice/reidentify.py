"""Map a signed candidate list back to the practice's own patients (``p4dp practice reidentify``).

The list is checked first (Ed25519 signature with the platform's public key, issue and expiry
dates, and that it is addressed to this key's practice): any failure is one clear
:class:`~matcher.candidates.document.CandidateListError` and nothing is shown. Then the
practice token of every patient of the current export is recomputed with the practice key and
joined to the list's tokens. Tokens that match no patient are reported by row (the patient has
left the practice, or the export is older than the upload the list was built from).

Outputs: a terminal table, CSV (:func:`write_csv`) and a printable HTML page (:mod:`.html`).

>>> from matcher.candidates.document import RuleInfo
>>> rule_text(RuleInfo("adult", "inclusion", "age at index between 40 and 75"))
'adult (age at index between 40 and 75)'
>>> rule_text(RuleInfo("insulin", "exclusion", "has a prescription of insulin"))
'insulin (exclusion, must be absent: has a prescription of insulin)'

An exclusion rule is *met* when its condition is absent from the record, and *to verify* when
the record does not say: the physician checks that the patient does not have it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from matcher.candidates.document import CandidateList, RuleInfo, verify_list
from matcher.candidates.signing import PublicKey
from matcher.practice.export import read_patients
from matcher.practice.keys import SecretKey, practice_tokens

STATUS_TEXT = {"eligible": "eligible", "possibly_eligible": "possibly eligible"}
CSV_HEADER = (
    "row",
    "local_id",
    "family_name",
    "given_names",
    "birth_date",
    "status",
    "rules_met",
    "rules_to_verify",
)


@dataclass(frozen=True)
class Match:
    """One listed candidate found among the practice's patients."""

    row: int
    status: str
    local_id: str
    family_name: str | None
    given_names: str | None
    birth_date: str
    met: tuple[RuleInfo, ...]
    to_verify: tuple[RuleInfo, ...]

    @property
    def name(self) -> str:
        family = (self.family_name or "").upper()
        return " ".join(p for p in (family, self.given_names or "") if p) or "(no name)"


@dataclass(frozen=True)
class Reidentified:
    """A verified list, its candidates found in the export, and the rows not found."""

    candidate_list: CandidateList
    matches: tuple[Match, ...]
    unmatched_rows: tuple[int, ...]
    export_patients: int


def rule_text(rule: RuleInfo) -> str:
    """A rule's name with its plain-language description (exclusions: what must be absent)."""
    if rule.kind == "exclusion":
        return f"{rule.name} (exclusion, must be absent: {rule.description or rule.name})"
    return f"{rule.name} ({rule.description})" if rule.description else rule.name


def reidentify(
    list_path: Path | str,
    *,
    key: SecretKey,
    public_key: PublicKey,
    export_dir: Path | str,
    source_format: str | None = None,
    now: dt.datetime | None = None,
) -> Reidentified:
    """Verify ``list_path`` and find its candidates among the patients of ``export_dir``."""
    checked = verify_list(list_path, public_key, now=now, practice_id=key.practice_id)
    patients = read_patients(export_dir, source_format).unique("local_id", keep="first")
    tokens = pl.Series("token", practice_tokens(key, patients["local_id"].to_list()), pl.String)
    local = patients.with_columns(tokens)
    listed = pl.DataFrame(
        {
            "row": [c.row for c in checked.candidates],
            "token": [c.token for c in checked.candidates],
        },
        schema={"row": pl.Int64(), "token": pl.String()},
    )
    joined = listed.join(local, on="token", how="left", maintain_order="left")
    by_row = {r["row"]: r for r in joined.filter(pl.col("local_id").is_not_null()).to_dicts()}
    matches: list[Match] = []
    for candidate in checked.candidates:
        found = by_row.get(candidate.row)
        if found is None:
            continue
        matches.append(
            Match(
                row=candidate.row,
                status=candidate.status,
                local_id=found["local_id"],
                family_name=found["family_name"],
                given_names=found["given_names"],
                birth_date=found["birth_date"],
                met=tuple(checked.rule(n) for n in candidate.met),
                to_verify=tuple(checked.rule(n) for n in candidate.to_verify),
            )
        )
    unmatched = tuple(c.row for c in checked.candidates if c.row not in by_row)
    return Reidentified(checked, tuple(matches), unmatched, patients.height)


def csv_text(result: Reidentified) -> str:
    """The matched candidates as CSV (rules as ``name (description)``, joined by ``; ``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for m in result.matches:
        met, to_verify = "; ".join(map(rule_text, m.met)), "; ".join(map(rule_text, m.to_verify))
        names = (m.family_name or "", m.given_names or "")
        writer.writerow(
            [m.row, m.local_id, *names, m.birth_date, STATUS_TEXT[m.status], met, to_verify]
        )
    return buffer.getvalue()


def summary_lines(result: Reidentified) -> list[str]:
    """Plain lines: the study, the list's dates, what was found and what was not."""
    lst = result.candidate_list
    title = f" — {lst.study_title}" if lst.study_title else ""
    lines = [
        f"Study {lst.study_id} version {lst.study_version}{title}",
        f"List {lst.list_id} for practice {lst.practice_id}, issued {lst.issued:%Y-%m-%d},"
        f" valid until {lst.expires:%Y-%m-%d}",
        f"{len(result.matches)} of {len(lst.candidates)} candidates found among"
        f" {result.export_patients} patients of the export",
    ]
    if result.unmatched_rows:
        rows = ", ".join(map(str, result.unmatched_rows))
        lines.append(
            f"Not found (patient left the practice, or the export is older than the upload): "
            f"rows {rows}"
        )
    return lines


def render_table(result: Reidentified) -> str:
    """A terminal table of the matched candidates, with the summary lines above it."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=True)
    for header in ("row", "local id", "name", "born", "status", "rules met", "to verify"):
        table.add_column(header, overflow="fold")
    for m in result.matches:
        cells = (
            str(m.row),
            m.local_id,
            m.name,
            m.birth_date,
            STATUS_TEXT[m.status],
            "\n".join(map(rule_text, m.met)),
            "\n".join(map(rule_text, m.to_verify)),
        )
        # Text, not markup: "[has ...] OR [...]" and names such as "[b]" are shown as written.
        table.add_row(*(Text(cell) for cell in cells))
    console = Console(file=io.StringIO(), width=140, force_terminal=False, color_system=None)
    for line in summary_lines(result):
        console.print(line, markup=False, highlight=False)
    console.print(table)
    return console.file.getvalue()  # type: ignore[attr-defined]
