"""A minimal CSV export for the practice-kit tests: one patient and the five required files
with their headers only (the optional files are left to each test)."""

from __future__ import annotations

from pathlib import Path

REQUIRED_HEADERS = {
    "diagnoses": "local_id,date,system,code",
    "prescriptions": "local_id,date,system,code",
    "observations": "local_id,date,system,code",
    "encounters": "local_id,date,kind",
}


def minimal_csv_export(folder: Path) -> Path:
    """Write patient L1 and empty required event files into ``folder`` (created)."""
    folder.mkdir()
    (folder / "patients.csv").write_text(
        "local_id,national_id,family_name,given_names,birth_date,sex\n"
        "L1,250027510812345,Martin,Anne,1950-02-03,F\n"
    )
    for name, header in REQUIRED_HEADERS.items():
        (folder / f"{name}.csv").write_text(header + "\n")
    return folder
