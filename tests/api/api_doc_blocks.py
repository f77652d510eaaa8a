"""Run the shell examples of docs/api.md, in order, against a live ``p4dp serve``.

Shared by the documentation tests: each fenced block of one language (``bash`` for the
service's basics, ``sh`` for runs and lists) runs in one shell, and every ``# expect: TEXT``
line of a block must appear in that block's output.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from matcher.api.live import live_server

REPO = Path(__file__).parents[2]


def doc_blocks(language: str) -> list[str]:
    """The fenced ``language`` blocks of docs/api.md, in order."""
    text = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def run_doc_blocks(
    blocks: list[str], database: str, *, cwd: Path, data: Path | None = None
) -> list[str]:
    """Run ``blocks`` in one shell against a live server; each block's output, in order."""
    script = ["set -euo pipefail"]
    for i, block in enumerate(blocks):
        script += [f"echo '@@BLOCK {i}@@'", block]
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    server = live_server(database, data=data) if data is not None else live_server(database)
    with server as url:
        env["P4DP_URL"] = url
        done = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    outputs = re.split(r"@@BLOCK \d+@@\n", done.stdout)[1:]
    assert len(outputs) == len(blocks)
    for block, output in zip(blocks, outputs, strict=True):
        for expected in re.findall(r"# expect: (.+)", block):
            assert expected.strip().lower() in output.lower(), (block, output)
    return outputs
