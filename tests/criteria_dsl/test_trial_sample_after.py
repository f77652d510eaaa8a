"""Issue 18: every after-file of the trial sample passes ``p4dp check``.

The after-files (``tests/fixtures/trials/<id>.p4dp``) use the constructs of issue 18
(procedures, allergies, admissions, doses, stable dose, spanning, smoking, pregnancy and
breast-feeding); each must pass ``p4dp check`` as written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks.trial_sample import TRIALS_DIR
from matcher.cli import main

AFTER_FILES = sorted(TRIALS_DIR.glob("*.p4dp"))


def test_issue18_the_sample_has_its_after_files() -> None:
    assert len(AFTER_FILES) >= 20


@pytest.mark.parametrize("path", AFTER_FILES, ids=lambda p: p.stem)
def test_issue18_every_after_file_passes_p4dp_check(path: Path) -> None:
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "error" not in result.output
