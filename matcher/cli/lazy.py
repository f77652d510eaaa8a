"""Commands imported on first use, so ``p4dp --help`` starts in a fraction of a second.

Each command family lives in its own module (``matcher.cli.count_cmd``...), which imports
what it needs (Polars, the engine, terminology...). The ``p4dp`` group knows its commands by
name from :data:`COMMANDS` and :data:`DATA_COMMANDS` (name, module, attribute and the
one-line help shown by ``--help``) and imports a module only when one of its commands runs or
shows its own help. ``tests/test_cli_lazy.py`` checks that every entry matches the command it
names (same one-line help) and that ``p4dp --help`` imports neither Polars nor matplotlib.

    >>> commands = LazyCommands(COMMANDS)
    >>> "count" in commands, "matcher.cli.count_cmd" in commands.loaded_modules()
    (True, False)
    >>> commands["count"].name
    'count'
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class CommandEntry:
    """Where a command lives and what ``p4dp --help`` says about it."""

    module: str
    attribute: str
    short_help: str


def _entry(module: str, attribute: str, short_help: str) -> CommandEntry:
    return CommandEntry(f"matcher.cli.{module}", attribute, short_help)


COMMANDS: dict[str, CommandEntry] = {
    "synth": _entry(
        "synth_cmd", "synth", "Generate a deterministic synthetic primary-care population."
    ),
    "import": _entry(
        "import_cmd",
        "import_group",
        "Import data from other data models into the p4dp data contract.",
    ),
    "terms": _entry(
        "terms_cmd",
        "terms_group",
        "Terminologies: what is loaded, installing official tables, searching codes.",
    ),
    "check": _entry(
        "criteria_cmd",
        "check",
        "Check criteria files: syntax, names, codes, units, then lint warnings.",
    ),
    "fmt": _entry("criteria_cmd", "fmt", "Rewrite criteria files in canonical form (in place)."),
    "explain": _entry(
        "criteria_cmd",
        "explain",
        "Print a compiled study in plain language, every code set expanded.",
    ),
    "evaluate": _entry(
        "evaluate_cmd",
        "evaluate",
        "Evaluate criteria FILEs on a data directory; write per-patient results to Parquet.",
    ),
    "count": _entry(
        "count_cmd",
        "count",
        "Feasibility of criteria FILEs: counts, attrition funnel, breakdowns, "
        "disclosure-controlled.",
    ),
    "keys": _entry(
        "keys_cmd",
        "keys_group",
        "Create the platform's own keys (signing, second pseudonym level).",
    ),
    "candidates": _entry(
        "candidates_cmd",
        "candidates_group",
        "Candidate lists for practices (signed), and the recruitment funnel.",
    ),
    "practice": _entry(
        "practice_cmd", "practice", "The practice kit: keys, extract, re-identify, feedback."
    ),
    "ledger": _entry(
        "ledger_cmd",
        "ledger_group",
        "Create, verify and configure the query ledger (steward commands).",
    ),
    "serve": _entry("api_cmd", "serve", "Run the HTTP service (OpenAPI documentation at /docs)."),
    "worker": _entry(
        "worker_cmd",
        "worker",
        "Execute queued feasibility runs (the HTTP service's background work).",
    ),
    "db": _entry(
        "api_cmd",
        "db_group",
        "Upgrade or downgrade the service's database schema (Alembic migrations).",
    ),
    "users": _entry(
        "api_cmd", "users_group", "Add, revoke and list the accounts of the HTTP service."
    ),
    "audit": _entry("api_cmd", "audit_group", "Check the HTTP service's hash-chained audit log."),
}
"""The top-level commands (``p4dp NAME``)."""

DATA_COMMANDS: dict[str, CommandEntry] = {
    "check": _entry(
        "data_cmd",
        "check_command",
        "Validate a data directory and print a summary of what it holds.",
    ),
    "ingest": _entry(
        "ingest_cmd",
        "ingest_command",
        "Validate a data directory and write it as a snapshot for fast repeated evaluation.",
    ),
    "verify": _entry(
        "ingest_cmd",
        "verify_command",
        "Check a snapshot (every part of a partitioned one) byte for byte against its manifest.",
    ),
    "use": _entry(
        "api_cmd",
        "data_use",
        "Point the running HTTP service and its workers at SNAPSHOT (no restart).",
    ),
    "receive": _entry(
        "receive_cmd",
        "receive",
        "Check practice UPLOADS and merge them into the platform's data directory.",
    ),
}
"""The commands of ``p4dp data``."""


def _shortened(text: str, limit: int) -> str:
    """``text`` cut at a word to fit ``limit`` characters, with ``...`` (as click does).

    >>> _shortened("Check criteria files: syntax, names", 30)
    'Check criteria files:...'
    """
    if len(text) <= limit:
        return text
    kept = ""
    for word in text.split():
        candidate = f"{kept} {word}" if kept else word
        if len(candidate) + 3 > limit:
            break
        kept = candidate
    return kept + "..."


class LazyCommands(dict[str, click.Command]):
    """A group's ``commands`` dict whose values are imported when first read.

    Keys are every known command name (``in``, ``sorted`` and ``len`` import nothing);
    reading a value imports its module. Commands added with ``add_command`` are kept as given.
    """

    def __init__(self, entries: dict[str, CommandEntry]) -> None:
        super().__init__()
        self._entries = dict(entries)
        for name in entries:
            super().__setitem__(name, None)  # type: ignore[arg-type]

    def entry(self, name: str) -> CommandEntry | None:
        """The registry entry of ``name`` while its command is not imported yet."""
        if dict.get(self, name) is None:
            return self._entries.get(name)
        return None

    def loaded_modules(self) -> set[str]:
        """The modules whose commands were imported."""
        return {e.module for n, e in self._entries.items() if dict.get(self, n) is not None}

    def __getitem__(self, name: str) -> click.Command:
        command = dict.__getitem__(self, name)
        if command is None:
            entry = self._entries[name]
            command = getattr(importlib.import_module(entry.module), entry.attribute)
            super().__setitem__(name, command)
        return command

    def get(self, name: str, default: object = None) -> click.Command | None:  # type: ignore[override]
        if name not in self:
            return default  # type: ignore[return-value]
        return self[name]

    def values(self) -> list[click.Command]:  # type: ignore[override]
        return [self[name] for name in self]

    def items(self) -> list[tuple[str, click.Command]]:  # type: ignore[override]
        return [(name, self[name]) for name in self]

    def __iter__(self) -> Iterator[str]:
        return iter(list(dict.keys(self)))


class LazyGroup(click.Group):
    """A click group over a :class:`LazyCommands`: its help lists commands without importing."""

    def __init__(self, *args: object, entries: dict[str, CommandEntry], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.commands = LazyCommands(entries)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        commands = self.commands
        assert isinstance(commands, LazyCommands)
        rows = []
        names = sorted(commands)
        limit = formatter.width - 6 - max((len(n) for n in names), default=0)  # as click does
        for name in names:
            entry = commands.entry(name)
            if entry is not None:
                rows.append((name, _shortened(entry.short_help, limit)))
                continue
            command = commands[name]
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


__all__ = ["COMMANDS", "DATA_COMMANDS", "CommandEntry", "LazyCommands", "LazyGroup"]
