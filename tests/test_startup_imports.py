"""Issue 16 item 5 (start-up, second round): ``p4dp check`` and ``p4dp count`` import only what
they use, so a fresh ``p4dp check FILE`` stays under 0.6 s of CPU.

``check`` parses and resolves codes: no Polars, no networkx (hierarchies are a small graph of
their own, :mod:`terminology.digraph`), no database or plotting library. ``count`` needs
Polars and the ledger's database layer, but matplotlib only to draw ``--plot`` and networkx
only to audit a breakdown.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "t2d_glp1.p4dp"

_PROBE = """
import json, sys
STATEMENTS
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(WATCHED))))
"""


def _imported_after(statements: str, watched: tuple[str, ...]) -> list[str]:
    code = _PROBE.replace("STATEMENTS", statements).replace("WATCHED", repr(watched))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_issue16_item5_check_imports_only_what_it_needs() -> None:
    run_check = (
        "from matcher.cli import main\n"
        "try:\n"
        f"    main(['check', {str(EXAMPLE)!r}], standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "import terminology.service\n"
        "assert 'criteria_dsl.parser' in sys.modules  # the file was really checked\n"
    )
    heavy = ("networkx", "polars", "matplotlib", "sqlalchemy", "sqlmodel", "pyarrow", "numpy")
    assert _imported_after(run_check, heavy) == []


def test_issue16_item5_count_modules_import_no_plotting_nor_graph_library() -> None:
    count_imports = (
        "import matcher.cli.count_cmd, matcher.feasibility.plot, matcher.disclosure.audit\n"
        "import matcher.disclosure.ledger, matcher.services, criteria_dsl\n"
    )
    assert _imported_after(count_imports, ("matplotlib", "networkx")) == []
