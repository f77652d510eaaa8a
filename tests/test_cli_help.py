"""Every ``p4dp`` command is listed with a one-line description and carries an example."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from matcher.cli import main

EXPECTED_COMMANDS = {
    "data",
    "synth",
    "import",
    "terms",
    "check",
    "fmt",
    "explain",
    "evaluate",
    "count",
}


def _walk(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path, command
        if isinstance(command, click.Group):
            yield from _walk(command, path)


ALL_COMMANDS = list(_walk(main))


def test_top_level_help_lists_every_command_with_a_description() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert set(main.commands) >= EXPECTED_COMMANDS
    for name, command in main.commands.items():
        assert name in result.output
        assert command.get_short_help_str(limit=80).strip(), f"{name} has no description"


@pytest.mark.parametrize("path", [p for p, _ in ALL_COMMANDS], ids=" ".join)
def test_every_command_help_has_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"p4dp {' '.join(path)} --help shows no example"
    assert f"p4dp {' '.join(path)}" in result.output.replace("\n  ", " ")


def test_unknown_command_is_a_usage_error_without_traceback() -> None:
    result = CliRunner().invoke(main, ["no-such-command"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
