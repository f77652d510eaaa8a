"""``p4dp terms search``: find codes by words, abbreviations or codes, in French or English.

The command is exported as :data:`search_command` and added to the ``terms`` group by
``matcher.cli.terms_cmd`` (it is not a top-level command).
"""

from __future__ import annotations

import json
import shutil
import sys

import click

from terminology.errors import TerminologyError
from terminology.model import SearchHit

__all__ = ["hits_as_json", "search_command"]


def hits_as_json(hits: list[SearchHit]) -> str:
    """The hits as a JSON list of objects (rank, system, code, version, label, score).

    >>> print(hits_as_json([SearchHit("icd10", "E11", "2019", "Type 2 diabetes mellitus", 97.5)]))
    [
      {
        "rank": 1,
        "system": "icd10",
        "code": "E11",
        "version": "2019",
        "label": "Type 2 diabetes mellitus",
        "score": 97.5
      }
    ]
    """
    rows = [
        {
            "rank": rank,
            "system": hit.system,
            "code": hit.code,
            "version": hit.version,
            "label": hit.label,
            "score": hit.score,
        }
        for rank, hit in enumerate(hits, start=1)
    ]
    return json.dumps(rows, ensure_ascii=False, indent=2)


def _print_table(query: str, hits: list[SearchHit]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Search: {query}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("system")
    table.add_column("code", style="bold")
    table.add_column("version")
    table.add_column("label", overflow="fold")
    table.add_column("score", justify="right")
    for rank, hit in enumerate(hits, start=1):
        table.add_row(str(rank), hit.system, hit.code, hit.version, hit.label, f"{hit.score:.1f}")
    width = max(100, shutil.get_terminal_size((120, 24)).columns)
    Console(file=sys.stdout, width=width).print(table)


@click.command("search")
@click.argument("query", nargs=-1)
@click.option(
    "--system",
    "system",
    default=None,
    metavar="SYSTEM",
    help="Search one code system only (icd10, icd10cm, icpc2, atc, loinc...).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1, max=1000),
    default=10,
    show_default=True,
    help="Number of results.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="A table for people, or a JSON list of objects for programs.",
)
def search_command(query: tuple[str, ...], system: str | None, limit: int, fmt: str) -> None:
    """Find codes whose labels match QUERY (words, an abbreviation or a code).

    Accents, case and small typos are ignored; French and English labels are both searched;
    the abbreviations French GPs write (HTA, DT2, BPCO, FA, IRC, IC, AVC, HbA1c, DFG...) are
    expanded; a code typed directly (E11, a10ba02, 4548-4) comes first. Scores run from 0 to
    100. The output lists rank, system, code, version, label and score.

    \b
    Examples:
      p4dp terms search "diabete type 2"
      p4dp terms search HTA --system icd10 --limit 5
      p4dp terms search metformine --system atc --format json
      p4dp terms search E11.9
    """
    from terminology.search import default_index

    text = " ".join(query).strip()
    if not text:
        raise TerminologyError(
            'empty search query: give words, an abbreviation or a code, e.g. "diabete type 2"'
        )
    index = default_index(system)
    hits = index.search(text, system=system, limit=limit)
    if fmt == "json":
        click.echo(hits_as_json(hits))
    elif not hits:
        click.echo(f"No match for {text!r}" + (f" in {system}" if system else "") + ".")
    else:
        _print_table(text, hits)
