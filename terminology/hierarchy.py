"""One code system version as a directed graph (parent → child), with fast expansions.

Grouping nodes (ICD-10 chapters and blocks, ICPC-2 chapters and components) are part of the
graph so that "chapter IV and descendants" works, but they are never returned as concrete codes:
data rows never carry them.

    >>> h = Hierarchy.from_rows("atc", "demo", [
    ...     ConceptRow("A", None, "Alimentary tract", None),
    ...     ConceptRow("A10", "A", "Drugs used in diabetes", None),
    ...     ConceptRow("A10BA02", "A10", "metformin", "metformine"),
    ... ])
    >>> sorted(h.descendants("A"))
    ['A10', 'A10BA02']
    >>> h.wildcard("A10"), h.ancestors("A10BA02") == {"A", "A10"}
    (('A10', 'A10BA02'), True)
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from terminology.digraph import DiGraph
from terminology.model import Concept


class ConceptRow(NamedTuple):
    """One row of a code table as loaders produce it and the store keeps it."""

    code: str
    parent: str | None
    label_en: str | None
    label_fr: str | None
    group: bool = False
    """True for grouping nodes (chapters, blocks) that never appear in data."""


class Hierarchy:
    """The codes of one system version, their labels and their is-a graph."""

    def __init__(
        self,
        system: str,
        version: str,
        graph: DiGraph,
        *,
        source: str = "",
        licence: str = "",
        partial: bool = False,
    ) -> None:
        self.system = system
        self.partial = partial
        """True for a table known to hold only some codes of the system (the shipped defaults):
        wildcards, ranges and descendants expanded against it carry a warning."""
        self.version = version
        self.graph = graph
        self.source = source
        self.licence = licence
        self.codes: tuple[str, ...] = tuple(
            sorted(n for n, data in graph.nodes(data=True) if not data.get("group"))
        )
        """Concrete (non-grouping) codes, sorted."""
        self._descendants: dict[str, frozenset[str]] = {}

    @classmethod
    def from_rows(
        cls,
        system: str,
        version: str,
        rows: Iterable[ConceptRow],
        *,
        source: str = "",
        licence: str = "",
        partial: bool = False,
    ) -> Hierarchy:
        """Build from rows; a parent that is not itself a row is added as a bare node."""
        graph = DiGraph()
        edges: list[tuple[str, str]] = []
        for row in rows:
            graph.add_node(row.code, en=row.label_en, fr=row.label_fr, group=row.group)
            if row.parent:
                edges.append((row.parent, row.code))
        for parent, child in edges:
            if parent not in graph:
                graph.add_node(parent, en=None, fr=None, group=False)
            graph.add_edge(parent, child)
        return cls(system, version, graph, source=source, licence=licence, partial=partial)

    def copy(self) -> Hierarchy:
        """An independent copy (labels can then be changed without touching the original)."""
        graph = DiGraph()
        graph.add_nodes_from((n, dict(d)) for n, d in self.graph.nodes(data=True))
        graph.add_edges_from(self.graph.edges())
        return Hierarchy(
            self.system,
            self.version,
            graph,
            source=self.source,
            licence=self.licence,
            partial=self.partial,
        )

    def __contains__(self, code: object) -> bool:
        return code in self.graph

    def __len__(self) -> int:
        return len(self.codes)

    def is_group(self, code: str) -> bool:
        """True for a chapter, block or component node (never a data code)."""
        return bool(self.graph.nodes[code].get("group")) if code in self.graph else False

    def concept(self, code: str) -> Concept | None:
        """The :class:`Concept` of ``code``, or None when this version has no such node."""
        if code not in self.graph:
            return None
        data = self.graph.nodes[code]
        return Concept(self.system, code, self.version, data.get("en"), data.get("fr"))

    def concepts(self, *, include_groups: bool = True) -> Iterator[Concept]:
        """Every concept, in code order (grouping nodes first when included)."""
        if include_groups:
            for node, data in self.graph.nodes(data=True):
                if data.get("group"):
                    yield Concept(self.system, node, self.version, data.get("en"), data.get("fr"))
        for code in self.codes:
            data = self.graph.nodes[code]
            yield Concept(self.system, code, self.version, data.get("en"), data.get("fr"))

    def set_labels(self, code: str, label_en: str | None, label_fr: str | None) -> None:
        """Fill in labels of an existing node (only the ones given, only when missing)."""
        data = self.graph.nodes[code]
        if label_en and not data.get("en"):
            data["en"] = label_en
        if label_fr and not data.get("fr"):
            data["fr"] = label_fr

    def parents(self, code: str) -> tuple[str, ...]:
        """Direct parents, sorted (one for ICD-10, ATC and ICPC-2; several in SNOMED)."""
        return tuple(sorted(self.graph.predecessors(code)))

    def children(self, code: str) -> tuple[str, ...]:
        """Direct children, sorted (grouping nodes included)."""
        return tuple(sorted(self.graph.successors(code)))

    def descendants(self, code: str) -> frozenset[str]:
        """Concrete codes below ``code`` (not ``code`` itself), cached per code."""
        cached = self._descendants.get(code)
        if cached is None:
            found = self.graph.descendants(code)
            nodes = self.graph.nodes
            cached = frozenset(n for n in found if not nodes[n].get("group"))
            self._descendants[code] = cached
        return cached

    def ancestors(self, code: str) -> frozenset[str]:
        """Every node above ``code``, grouping nodes included."""
        return frozenset(self.graph.ancestors(code))

    def wildcard(self, prefix: str) -> tuple[str, ...]:
        """Concrete codes starting with ``prefix`` (what ``A10A*`` means), sorted."""
        start = bisect.bisect_left(self.codes, prefix)
        end = start
        while end < len(self.codes) and self.codes[end].startswith(prefix):
            end += 1
        return self.codes[start:end]

    def code_range(self, first: str, last: str) -> tuple[str, ...]:
        """Concrete codes from ``first`` to ``last`` inclusive, with the codes below ``last``.

        ``E10``-``E14`` gives E10, E10.0 ... E14.9 but not E15.
        """
        start = bisect.bisect_left(self.codes, first)
        end = bisect.bisect_right(self.codes, last)
        while end < len(self.codes) and self.codes[end].startswith(last):
            end += 1
        return self.codes[start:end]
