"""Issue 16 (cold count): a fresh ``p4dp count --format json`` loads only what it uses.

The table format draws with rich; JSON and CSV do not need it, so a count that writes JSON
(what ``make bench`` times) never imports it, and the JSON of a count is the same as before.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from feasibility_helpers import write_dataset

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "t2d_glp1.p4dp"

_PROBE = """
import json, sys
from matcher.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'matplotlib'})))
"""


def _count(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        env=env,
    )


def test_issue16_json_count_imports_no_table_renderer(tmp_path) -> None:
    data = write_dataset(tmp_path / "data")
    ledger = tmp_path / "ledger.sqlite"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "P4DP_CACHE_DIR": str(tmp_path)}
    _count(["ledger", "init", "--ledger", str(ledger)], env)
    base = ["count", str(EXAMPLE), "--data", str(data), "--ledger", str(ledger)]
    as_json = _count([*base, "--format", "json", "--requester", "ana"], env)
    *output, imported = as_json.stdout.strip().splitlines()
    assert json.loads(imported) == []
    assert json.loads("\n".join(output))["study"] == "T2D-GLP1"
    as_table = _count([*base, "--requester", "ana"], env)
    assert json.loads(as_table.stdout.strip().splitlines()[-1]) == ["rich"]
    assert "Attrition funnel" in as_table.stdout
