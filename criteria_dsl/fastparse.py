"""Parse straight to the AST: the transformer runs inside the LALR parse, no tree is built.

The plain way (:func:`criteria_dsl.parser.parse_collect` before this module) was: Lark
builds a parse tree with positions (``propagate_positions``), a walk checks its depth, then
:class:`~criteria_dsl.transform.ToAst` walks it again to make the AST. About a third of the
time of a validation went there. Here, every reduction of the parser calls the
:class:`~criteria_dsl.transform.ToAst` method of its rule at once, with the positions
computed from the children exactly as Lark's ``propagate_positions`` does (a node starts at
the start of its first child, keywords included, and ends at the end of its last one), so
the AST, its spans and every diagnostic are the same. The grammar and the parse tables are
those of the one parser (:func:`criteria_dsl.parser._parser`): only the reduction callbacks
differ.

What this path does not decide itself, it hands back to the plain one by raising
:class:`NeedsTree`: a rule method that raises (a date that does not exist, an empty term:
the plain path reports those only after the whole file has parsed, so a later syntax error
would come first) and a statement nested deep enough to come near
:data:`~criteria_dsl.limits.MAX_NESTING`. Syntax errors and the postlexer's errors are raised
as in the plain path, at the same token.

The callbacks are installed on a copy of Lark's LALR front end (``_Parser`` over the parse
table Lark computed): internals of Lark 1.3, pinned in ``constraints.txt``; the tests of
``tests/criteria_dsl/test_issue14_fast_parse.py`` compare both paths on every example.

    >>> from criteria_dsl.parser import _parser
    >>> ast = fast_parse(_parser(), 'study "S"\\ninclusion\\n  adult: age at index >= 18\\n')
    >>> rule = ast.statements[1].rules[0]
    >>> rule.name, rule.condition.op, rule.span
    ('adult', '>=', Span(line=3, column=3, end_line=3, end_column=29))
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

from lark import Lark
from lark.parse_tree_builder import maybe_create_child_filter
from lark.parsers.lalr_parser import _Parser

from criteria_dsl.limits import MAX_NESTING
from criteria_dsl.transform import ToAst


class NeedsTree(Exception):
    """This text needs the plain path (a tree first, then the AST)."""


class _Node:
    """One reduction's result with the positions Lark would give its tree node: ``line`` to
    ``end_column`` its own span, ``c_*`` the span of what it was written with (for a node
    passed through a ``?rule``, the parentheses around it), ``height`` the tree nodes on
    the longest path down (for the nesting limit)."""

    __slots__ = (
        "c_column",
        "c_end_column",
        "c_end_line",
        "c_line",
        "column",
        "empty",
        "end_column",
        "end_line",
        "height",
        "line",
        "value",
    )

    def __init__(self, value: Any, height: int) -> None:
        self.value = value
        self.empty = True
        self.height = height


def _place(node: _Node, children: list[Any], fresh: bool) -> None:
    """Set ``node``'s positions from its raw children, as ``PropagatePositions`` does: a
    fresh node gets its span and its container; a node passed through a ``?rule`` (``(``
    condition ``)``) keeps its span (its AST value holds it already) and gets the wider
    container. A child is a token or a :class:`_Node`; a node without a span is skipped."""
    first = last = None
    for child in children:
        if type(child) is not _Node or not child.empty:
            first = child
            break
    if first is None:
        return
    for child in reversed(children):
        if type(child) is not _Node or not child.empty:
            last = child
            break
    if not fresh and node.empty:  # Lark would give it a span now: not in this grammar
        raise NeedsTree("a node without a span passed through")
    if type(first) is _Node:
        node.c_line, node.c_column = first.c_line, first.c_column
    else:
        node.c_line, node.c_column = first.line, first.column
    if type(last) is _Node:
        node.c_end_line, node.c_end_column = last.c_end_line, last.c_end_column
    else:
        node.c_end_line, node.c_end_column = last.end_line, last.end_column
    if fresh:
        node.line, node.column = node.c_line, node.c_column
        node.end_line, node.end_column = node.c_end_line, node.c_end_column
    node.empty = False


def _callback(rule: Any, builder: ToAst) -> Callable[[list[Any]], Any]:
    """The reduction callback of one grammar rule: keeps the children Lark's child filter
    keeps (keywords dropped, ``_rules`` spliced in: their ``value`` is the list of what
    they kept), passes a lone child of a ``?rule`` through, else calls the rule's
    :class:`~criteria_dsl.transform.ToAst` method with the node as its ``meta``."""
    options = rule.options
    name = rule.alias or options.template_source or rule.origin.name
    expand1 = bool(options.expand1 and not rule.alias)
    child_filter = maybe_create_child_filter(rule.expansion, options.keep_all_tokens, False, None)
    include = child_filter.args[0] if child_filter is not None else None
    indices = [i for i, _ in include] if include is not None else None
    splices = include is not None and any(splice for _, splice in include)
    spliced = name.startswith("_")
    method = None if spliced else getattr(ToAst, name, None)
    function = getattr(method, "base_func", method)

    def reduce(raw: list[Any]) -> Any:
        if indices is None:
            kept = raw
        elif splices:
            kept = []
            for i, splice in include:
                if splice:
                    kept.extend(raw[i].value)
                else:
                    kept.append(raw[i])
        else:
            kept = [raw[i] for i in indices]
        if expand1 and len(kept) == 1:
            only = kept[0]
            if type(only) is _Node:
                _place(only, raw, fresh=False)
            return only
        height = 0
        for child in raw:
            if type(child) is _Node and child.height > height:
                height = child.height
        if spliced:
            node = _Node(kept, height)
            _place(node, raw, fresh=True)
            return node
        if height >= MAX_NESTING:
            raise NeedsTree("deeply nested")
        if function is None:  # a tree node without an AST method (none in the grammar)
            raise NeedsTree(f"no AST method for the rule {name}")
        node = _Node(None, height + 1)
        _place(node, raw, fresh=True)
        try:
            node.value = function(builder, node, [c.value if type(c) is _Node else c for c in kept])
        except Exception as exc:  # a SourceError, reported by the plain path in its order
            raise NeedsTree(f"{type(exc).__name__} in {name}") from exc
        return node

    return reduce


@functools.cache
def _fast_parser(lark: Lark) -> Any:
    """A copy of ``lark``'s parsing front end whose reductions build the AST."""
    builder = ToAst()
    rules = [rule for rule, _ in lark._parse_tree_builder.rule_builders]
    callbacks = {rule: _callback(rule, builder) for rule in rules}
    frontend = copy.copy(lark.parser)
    frontend.parser = copy.copy(lark.parser.parser)
    frontend.parser.parser = _Parser(lark.parser.parser._parse_table, callbacks)
    return frontend


def fast_parse(lark: Lark, text: str) -> Any:
    """The AST of ``text`` (a :class:`~criteria_dsl.ast.StudyFile`) built during the parse;
    raises Lark's syntax errors, the postlexer's
    :class:`~criteria_dsl.transform.SourceError` and :class:`NeedsTree`."""
    result = _fast_parser(lark).parse(text)
    return result.value if type(result) is _Node else result
