"""The README's criteria file is real: it compiles and its commands exist."""

from __future__ import annotations

import re

from criteria_dsl import compile_text
from matcher.cli import main


def _readme(repo_root) -> str:
    return (repo_root / "README.md").read_text(encoding="utf-8")


def test_readme_criteria_file_compiles(repo_root) -> None:
    text = _readme(repo_root)
    section = text.split("## A criteria file", 1)[1]
    block = re.search(r"```\n(.*?)```", section, re.S)
    assert block is not None
    study = compile_text(block.group(1), filename="README.md")
    assert study.id == "T2D-GLP1"
    assert [r.name for r in study.inclusion] == [
        "adult",
        "diabetes",
        "on_metformin",
        "uncontrolled",
    ]


def test_readme_commands_exist(repo_root) -> None:
    text = _readme(repo_root)
    for command in sorted(set(re.findall(r"`p4dp (\w+)", text))):
        assert command in main.commands, f"README mentions p4dp {command}, which does not exist"
