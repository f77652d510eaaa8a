"""Issue 16 item 5 (start-up): commands are imported lazily, so ``p4dp --help`` stays light."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import click
import pytest

from matcher.cli.lazy import COMMANDS, DATA_COMMANDS, CommandEntry

HEAVY = ("polars", "matplotlib", "sqlalchemy", "sqlmodel", "rich", "pyarrow")

_PROBE = """
import json, sys
from matcher.cli import main
try:
    main(ARGS, standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in HEAVY)))
"""


def _heavy_modules_after(args: list[str]) -> list[str]:
    code = _PROBE.replace("ARGS", repr(args)).replace("HEAVY", repr(HEAVY))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_issue16_item5_help_imports_no_heavy_library() -> None:
    assert _heavy_modules_after(["--help"]) == []


def test_issue16_item5_data_help_imports_no_heavy_library() -> None:
    assert _heavy_modules_after(["data", "--help"]) == []


@pytest.mark.parametrize(
    ("name", "entry"),
    [(n, e) for n, e in COMMANDS.items()] + [(f"data {n}", e) for n, e in DATA_COMMANDS.items()],
)
def test_issue16_item5_registry_matches_the_command(name: str, entry: CommandEntry) -> None:
    command = getattr(importlib.import_module(entry.module), entry.attribute)
    assert isinstance(command, click.Command)
    assert command.name == name.split()[-1]
    assert command.get_short_help_str(limit=1000) == entry.short_help


def test_issue16_item5_every_command_module_is_registered() -> None:
    from pathlib import Path

    import matcher.cli

    folder = Path(matcher.cli.__file__).parent
    for path in sorted(folder.glob("*_cmd.py")):
        module = importlib.import_module(f"matcher.cli.{path.stem}")
        for listing, registry in (("COMMANDS", COMMANDS), ("DATA_COMMANDS", DATA_COMMANDS)):
            for command in getattr(module, listing, ()):
                entry = registry.get(command.name)
                assert entry is not None, f"{path.name}: {command.name} not in matcher/cli/lazy.py"
                assert entry.module == module.__name__


def test_issue16_item5_help_lists_every_command() -> None:
    from click.testing import CliRunner

    from matcher.cli import main

    output = CliRunner().invoke(main, ["--help"]).output
    for name in COMMANDS:
        assert f"\n  {name} " in output
