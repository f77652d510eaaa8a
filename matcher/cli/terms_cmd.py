"""``p4dp terms``: install official terminology tables and list what is loaded."""

from __future__ import annotations

import json
from pathlib import Path

import click

from terminology import builtin, loaders
from terminology.service import TerminologyService, reset_default_service
from terminology.store import Store, default_home


@click.group("terms")
def terms_group() -> None:
    """Terminologies: what is loaded, installing official tables, searching codes.

    \b
    Examples:
      p4dp terms info
      p4dp terms load atc who_atc_ddd_2026-04-25.csv
      p4dp terms search "diabete type 2"
    """


@terms_group.command("load")
@click.argument("kind", type=click.Choice(sorted(loaders.KINDS)))
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--version", "version", help="Version name to record (default: from the file name).")
@click.option(
    "--lang",
    type=click.Choice(["en", "fr", "none"]),
    default=None,
    help="icpc2 only: language of the file's labels ('none' keeps codes and ICD-10 map only).",
)
@click.option(
    "--default/--no-default",
    "set_default",
    default=None,
    help="Make this version the default of its system (default: yes, except for omop).",
)
def load_command(
    kind: str, file: Path, version: str | None, lang: str | None, set_default: bool | None
) -> None:
    """Install a full official table into the local terminology store.

    KIND is one of atc (WHO ATC/DDD CSV), icpc2 (ICPC-2 table with an icd10 column),
    cim10-atih (ATIH LIBCIM10MULTI.TXT), loinc (Loinc.csv), omop (folder or zip of OMOP
    vocabulary tables), icd10-labels (code,label_en,label_fr CSV) or gem (a CMS ICD-9-CM <->
    ICD-10-CM General Equivalence Mapping, 2018_I9gem.txt or 2018_I10gem.txt: it replaces the
    shipped GEM edition for its direction). The store is $P4DP_TERMINOLOGY_HOME or
    ~/.local/share/p4dp/terminology.

    \b
    Examples:
      p4dp terms load atc who_atc_ddd_2026-04-25.csv
      p4dp terms load icpc2 icpc2e_v4.4_pt_with_icd10.csv --lang none
      p4dp terms load cim10-atih LIBCIM10MULTI.TXT --version cim10fr-2025
      p4dp terms load loinc Loinc.csv --version 2.80
      p4dp terms load icd10-labels icd10_who_en_fr.csv
      p4dp terms load gem 2018_I9gem.txt
    """
    options = {}
    if lang is not None:
        if kind != "icpc2":
            raise click.UsageError("--lang applies to icpc2 tables only")
        options["lang"] = lang
    installed = loaders.install(kind, file, version, set_default=set_default, **options)
    reset_default_service()
    for info in installed:
        what = "mappings" if "->" in info.system else "codes"
        click.echo(f"loaded {info.system} {info.version}: {info.codes} {what} from {info.source}")


@terms_group.command("info")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def info_command(fmt: str) -> None:
    """List the loaded terminologies: system, version, codes, source and licence.

    \b
    Examples:
      p4dp terms info
      p4dp terms info --format json
    """
    service = TerminologyService()
    rows = []
    installed = {(t.system, t.version): t for t in (service.store or Store()).tables()}
    for system in service.systems():
        default = service.default_version(system)
        for version in service.versions(system):
            meta = installed.get((system, version))
            if meta is not None:
                codes, source, licence = meta.codes, meta.source, meta.licence
            elif system == "icd10cm":  # large optional table: count without building it
                codes, source, licence = builtin.icd10cm_count(), version, "US public domain"
            else:
                h = service.hierarchy(system, version)
                codes, source, licence = len(h), h.source, h.licence
            rows.append(
                {
                    "system": system,
                    "version": version,
                    "default": version == default,
                    "codes": codes,
                    "source": source,
                    "licence": licence,
                }
            )
    for (system, version), meta in sorted(installed.items()):
        if version == "labels":
            rows.append(
                {
                    "system": system,
                    "version": "labels",
                    "default": False,
                    "codes": meta.codes,
                    "source": meta.source,
                    "licence": meta.licence,
                }
            )
    for meta in (service.store or Store()).crossmap_tables():
        rows.append(
            {
                "system": meta.system,
                "version": meta.version,
                "default": True,
                "codes": meta.codes,
                "source": meta.source,
                "licence": meta.licence,
            }
        )
    if fmt == "json":
        click.echo(json.dumps({"store": str(default_home()), "tables": rows}, indent=2))
        return
    click.echo(f"store: {default_home()}")
    for row in rows:
        mark = "*" if row["default"] else " "
        click.echo(
            f"{mark} {row['system']:<8} {row['version']:<24} {row['codes']:>7} codes  "
            f"{row['source']}  [{row['licence']}]"
        )
    click.echo("(* = default version)")


COMMANDS = [terms_group]

try:
    from matcher.cli.terms_search_cmd import search_command

    terms_group.add_command(search_command)
except ModuleNotFoundError as exc:  # the search command is built separately
    if exc.name != "matcher.cli.terms_search_cmd":
        raise
