"""A small directed graph for code hierarchies: what :class:`~terminology.hierarchy.Hierarchy`
needs of one, without importing networkx (0.12 s of CPU, a fifth of ``p4dp check``).

Nodes keep their insertion order and a dict of attributes; edges go parent → child. The
methods used follow networkx's ``DiGraph`` names (``add_node``, ``nodes(data=True)``,
``nodes[code]``, ``successors``, ``predecessors``, ``edges``), so a hierarchy reads the same.

    >>> g = DiGraph()
    >>> g.add_node("A", en="Alimentary tract")
    >>> g.add_edge("A", "A10"); g.add_edge("A10", "A10BA02")
    >>> g.nodes["A"]["en"], list(g.successors("A")), sorted(g.descendants("A"))
    ('Alimentary tract', ['A10'], ['A10', 'A10BA02'])
    >>> sorted(g.ancestors("A10BA02")), "A10" in g, list(g)
    (['A', 'A10'], True, ['A', 'A10', 'A10BA02'])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any


class NodeView:
    """``graph.nodes``: iterate the nodes, ``nodes[n]`` for one node's attributes,
    ``nodes(data=True)`` for ``(node, attributes)`` pairs."""

    def __init__(self, attrs: dict[str, dict[str, Any]]) -> None:
        self._attrs = attrs

    def __getitem__(self, node: str) -> dict[str, Any]:
        return self._attrs[node]

    def __iter__(self) -> Iterator[str]:
        return iter(self._attrs)

    def __len__(self) -> int:
        return len(self._attrs)

    def __contains__(self, node: object) -> bool:
        return node in self._attrs

    def __call__(self, data: bool = False) -> Iterable[Any]:
        return self._attrs.items() if data else self._attrs.keys()


class DiGraph:
    """Nodes with attributes and parent → child edges (see the module docstring)."""

    def __init__(self) -> None:
        self._attrs: dict[str, dict[str, Any]] = {}
        self._children: dict[str, dict[str, None]] = {}
        self._parents: dict[str, dict[str, None]] = {}

    @property
    def nodes(self) -> NodeView:
        return NodeView(self._attrs)

    def add_node(self, node: str, **attrs: Any) -> None:
        """Add ``node`` (or update its attributes when it exists)."""
        if node in self._attrs:
            self._attrs[node].update(attrs)
            return
        self._attrs[node] = dict(attrs)
        self._children[node] = {}
        self._parents[node] = {}

    def add_nodes_from(self, nodes: Iterable[tuple[str, dict[str, Any]]]) -> None:
        for node, attrs in nodes:
            self.add_node(node, **attrs)

    def add_edge(self, parent: str, child: str) -> None:
        """Add the edge ``parent`` → ``child``, adding either node when it is new."""
        for node in (parent, child):
            if node not in self._attrs:
                self.add_node(node)
        self._children[parent][child] = None
        self._parents[child][parent] = None

    def add_edges_from(self, edges: Iterable[tuple[str, str]]) -> None:
        for parent, child in edges:
            self.add_edge(parent, child)

    def edges(self) -> Iterator[tuple[str, str]]:
        for parent, children in self._children.items():
            for child in children:
                yield parent, child

    def successors(self, node: str) -> Iterator[str]:
        return iter(self._children[node])

    def predecessors(self, node: str) -> Iterator[str]:
        return iter(self._parents[node])

    def __contains__(self, node: object) -> bool:
        return node in self._attrs

    def __iter__(self) -> Iterator[str]:
        return iter(self._attrs)

    def __len__(self) -> int:
        return len(self._attrs)

    def _reach(self, node: str, links: dict[str, dict[str, None]]) -> set[str]:
        seen: set[str] = set()
        stack = list(links[node])
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(links[current])
        seen.discard(node)
        return seen

    def descendants(self, node: str) -> set[str]:
        """Every node below ``node`` (not itself)."""
        return self._reach(node, self._children)

    def ancestors(self, node: str) -> set[str]:
        """Every node above ``node`` (not itself)."""
        return self._reach(node, self._parents)


__all__ = ["DiGraph", "NodeView"]
