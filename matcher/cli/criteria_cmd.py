"""``p4dp check``, ``p4dp fmt`` and ``p4dp explain``: the criteria language at the command line."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path

import click

from criteria_dsl.check import check_text, read_source
from criteria_dsl.errors import CriteriaError, Diagnostic
from matcher.cli.rewrite import rewrite_in_place


def _params(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(
                f"{item!r}: write NAME=VALUE, e.g. min_age=50", param_hint="--param"
            )
        out[name.strip()] = value.strip()
    return out


def _read(path: Path) -> tuple[str | None, list[Diagnostic]]:
    try:
        return read_source(path), []
    except CriteriaError as exc:
        return None, exc.diagnostics


@click.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Diagnostics as text (with caret excerpts) or as a JSON list.",
)
@click.option(
    "--param", "params", multiple=True, metavar="NAME=VALUE", help="Override a parameter."
)
def check(files: tuple[Path, ...], output_format: str, params: tuple[str, ...]) -> None:
    """Check criteria files: syntax, names, codes, units, then lint warnings.

    Exits 0 when every file is valid (warnings are printed), 1 otherwise. Errors are printed
    as FILE:LINE:COL: error: MESSAGE followed by the line and a caret under the offending text.

    \b
    Examples:
      p4dp check examples/t2d_glp1.p4dp
      p4dp check examples/*.p4dp --format json
      p4dp check study.p4dp --param min_age=50
    """
    overrides = _params(params)
    failed = False
    records: list[dict[str, object]] = []
    for path in files:
        source, diagnostics = _read(path)
        if source is None:
            failed = True
            records.extend(d.to_json() for d in diagnostics)
            if output_format == "text":
                for d in diagnostics:
                    click.echo(d.render(), err=False)
            continue
        result = check_text(source, filename=str(path), params=overrides)
        failed = failed or not result.ok
        if output_format == "json":
            records.extend(result.to_json())
            continue
        for d in result.diagnostics:
            click.echo(d.render(result.source))
        for term in result.terms:
            line = term.span.line if term.span else 1
            click.echo(f"{path}:{line}: note: {term.note()}")
        if result.ok:
            n = len(result.warnings)
            tail = f", {n} warning{'s' if n != 1 else ''}" if n else ""
            click.echo(f"{path}: ok{tail}")
    if output_format == "json":
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
    if failed:
        sys.exit(1)


@click.command("fmt")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--check", "check_only", is_flag=True, help="Change nothing; exit 1 if a file would change."
)
@click.option("--diff", "show_diff", is_flag=True, help="Print the changes as a unified diff.")
def fmt(files: tuple[Path, ...], check_only: bool, show_diff: bool) -> None:
    """Rewrite criteria files in canonical form (in place).

    Formatting never changes meaning: the file parses to the same rules before and after.
    A file that 'p4dp check' refuses is left untouched and its errors are printed. The file
    keeps its mode, its hard links and its symbolic link (the link's target is rewritten).

    \b
    Examples:
      p4dp fmt examples/t2d_glp1.p4dp
      p4dp fmt --check examples/*.p4dp
      p4dp fmt --diff --check study.p4dp
    """
    from criteria_dsl.format import format_text

    failed = False
    would_change = False
    for path in files:
        source, diagnostics = _read(path)
        if source is None:
            failed = True
            for d in diagnostics:
                click.echo(d.render())
            continue
        checked = check_text(source, filename=str(path))
        if not checked.ok:
            failed = True
            click.echo("\n".join(d.render(checked.source) for d in checked.errors))
            click.echo(f"{path}: not formatted (check refuses it)")
            continue
        try:
            formatted = format_text(source, filename=str(path))
        except CriteriaError as exc:  # pragma: no cover - check_text reports it first
            failed = True
            click.echo(exc.render())
            continue
        if formatted == source:
            continue
        would_change = True
        if show_diff:
            diff = difflib.unified_diff(
                source.splitlines(keepends=True),
                formatted.splitlines(keepends=True),
                fromfile=f"{path} (before)",
                tofile=f"{path} (formatted)",
            )
            click.echo("".join(diff), nl=False)
        if check_only:
            click.echo(f"{path}: would be reformatted")
            continue
        rewrite_in_place(path, formatted)
        click.echo(f"{path}: formatted")
    if failed or (check_only and would_change):
        sys.exit(1)


@click.command("explain")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--param", "params", multiple=True, metavar="NAME=VALUE", help="Override a parameter."
)
def explain(file: Path, params: tuple[str, ...]) -> None:
    """Print a compiled study in plain language, every code set expanded.

    Each code set is listed with its codes, labels and terminology versions, so a physician
    can read exactly what will run.

    \b
    Examples:
      p4dp explain examples/t2d_glp1.p4dp
      p4dp explain study.p4dp --param min_age=50 > study.txt
    """
    from criteria_dsl.check import compile_text
    from criteria_dsl.explain import explain as render

    source, diagnostics = _read(file)
    if source is None:
        raise CriteriaError(diagnostics)
    study = compile_text(source, filename=str(file), params=_params(params))
    click.echo(render(study))


COMMANDS = [check, fmt, explain]
