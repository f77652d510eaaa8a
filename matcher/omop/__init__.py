"""Import OMOP CDM 5.3/5.4 exports into the p4dp data contract.

See ``docs/omop-import.md`` for the mapping. Entry points:

- :func:`convert_omop`: an export (directory or zip) → contract tables and a report, in memory;
- :func:`import_omop`: the same, written atomically to a directory with ``import-report.json``.
"""

from matcher.omop.importer import REPORT_NAME, convert_omop, import_omop, write_tables
from matcher.omop.report import ImportReport, TableReport

__all__ = [
    "REPORT_NAME",
    "ImportReport",
    "TableReport",
    "convert_omop",
    "import_omop",
    "write_tables",
]
