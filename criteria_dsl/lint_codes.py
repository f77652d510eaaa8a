"""Lint of how codes are written: ``W511 code-alone``, a code with codes below it written
alone (``icd10 E11``), which matches the category code only while records usually carry the
codes below it (``E11.9``).

The check is against the terminology: the code has children in its hierarchy and none of
them is in the set. Writing ``icd10 E11 only`` says the category code alone is meant and
silences it; ``icd10 E11 and descendants`` selects the codes below.
"""

from __future__ import annotations

from typing import Any

from criteria_dsl import ast as A
from criteria_dsl import ir
from criteria_dsl.codesets import HIERARCHICAL_SYSTEMS
from criteria_dsl.errors import Diagnostic
from terminology.errors import TerminologyError
from terminology.systems import normalise_code


def _written_only(file: A.StudyFile, nodes: Any = None) -> set[str]:
    """Codes written ``X only`` anywhere in the file (normalised, any system); ``nodes``: the
    file's AST nodes when the caller walked them already."""
    from criteria_dsl.lint import _ast_nodes

    return {
        normalise_code("icd10", node.code)
        for node in (nodes if nodes is not None else _ast_nodes(file))
        if isinstance(node, A.CodeItem) and node.only and node.code
    }


def lone_parent_codes(
    codeset: ir.CodeSetDef, service: Any
) -> list[tuple[str, str, tuple[str, ...]]]:
    """(system, code, children) of each code of ``codeset`` written alone while its hierarchy
    has codes below it, none of them in the set.

    >>> from terminology.service import default_service
    >>> from terminology.model import CodePattern, CodeSetSpec
    >>> spec = CodeSetSpec((CodePattern("icd10", "E11"),))
    >>> c = ir.CodeSetDef("t2d", spec, default_service().resolve(spec))
    >>> [(s, code, len(below)) for s, code, below in lone_parent_codes(c, default_service())]
    [('icd10', 'E11', 10)]
    """
    versions = dict(codeset.resolved.versions)
    held = {(rc.system, rc.code) for rc in codeset.resolved.codes}
    out: list[tuple[str, str, tuple[str, ...]]] = []
    for pattern in codeset.spec.include:
        if pattern.kind != "exact" or pattern.system not in HIERARCHICAL_SYSTEMS:
            continue
        version = versions.get(pattern.system)
        try:
            hierarchy = service.hierarchy(pattern.system, version)
        except (TerminologyError, AttributeError):
            continue
        code = normalise_code(pattern.system, pattern.code)
        if code not in hierarchy:
            continue
        below = tuple(sorted(hierarchy.children(code)))
        if below and not any((pattern.system, child) in held for child in below):
            out.append((pattern.system, code, below))
    return out


def lone_parent_diagnostics(
    study: ir.Study, file: A.StudyFile, filename: str, service: Any, *, nodes: Any = None
) -> list[Diagnostic]:
    """A ``W511 code-alone`` warning per code written alone while it has codes below it
    (``nodes``: the file's AST nodes, when the caller walked them already)."""
    if service is None:
        return []
    only = _written_only(file, nodes)
    out: list[Diagnostic] = []
    for c in study.codesets:
        for system, code, below in lone_parent_codes(c, service):
            if code in only:
                continue
            shown = f"{below[0]}-{below[-1]}" if len(below) > 1 else below[0]
            out.append(
                Diagnostic.at(
                    filename,
                    c.span,
                    "W511 code-alone",
                    f"code set '{c.name}': {system} {code} selects that code alone, not the "
                    f"{len(below)} code{'s' if len(below) > 1 else ''} below it ({shown}) "
                    "that records usually carry",
                    f"write '{system} {code} and descendants'; write '{system} {code} only' "
                    "if the code alone is meant",
                    "warning",
                )
            )
    return out
