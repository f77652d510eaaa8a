"""Loaders for the official tables a platform receives; ``p4dp terms load KIND FILE``.

>>> sorted(KINDS)
['atc', 'ccam', 'cim10-atih', 'gem', 'icd10-labels', 'icpc2', 'loinc', 'omop']
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from terminology.errors import TerminologyError
from terminology.loaders.atc import load_atc
from terminology.loaders.atih import load_atih
from terminology.loaders.ccam import load_ccam
from terminology.loaders.gem import load_gem
from terminology.loaders.icd10_labels import load_icd10_labels
from terminology.loaders.icpc2 import load_icpc2
from terminology.loaders.loinc import load_loinc
from terminology.loaders.omop import load_omop
from terminology.store import CrossmapTable, LabelTable, LoadedTable, Store, TableInfo

Loader = Callable[..., list]

KINDS: dict[str, Loader] = {
    "atc": load_atc,
    "icpc2": load_icpc2,
    "cim10-atih": load_atih,
    "loinc": load_loinc,
    "omop": load_omop,
    "icd10-labels": load_icd10_labels,
    "gem": load_gem,
    "ccam": load_ccam,
}

SETS_DEFAULT = frozenset({"atc", "icpc2", "cim10-atih", "loinc", "ccam"})
"""Kinds whose loaded version becomes the default of its system (OMOP subsets do not)."""


def read(kind: str, path: Path, version: str | None = None, **options: str) -> list:
    """Read a file with the loader of ``kind`` (tables are returned, nothing is installed)."""
    loader = KINDS.get(kind)
    if loader is None:
        raise TerminologyError(f"unknown table kind {kind!r} (expected one of: {', '.join(KINDS)})")
    path = Path(path)
    if not path.exists():
        raise TerminologyError(f"{path}: no such file or folder")
    return loader(path, version, **options)


def install(
    kind: str,
    path: Path,
    version: str | None = None,
    *,
    store: Store | None = None,
    set_default: bool | None = None,
    **options: str,
) -> list[TableInfo]:
    """Read a file and install what it holds into the store; returns what was installed."""
    store = store or Store()
    default = kind in SETS_DEFAULT if set_default is None else set_default
    installed = []
    for table in read(kind, path, version, **options):
        if isinstance(table, LabelTable):
            installed.append(store.install_labels(table))
        elif isinstance(table, CrossmapTable):
            installed.append(store.install_crossmap(table))
        else:
            assert isinstance(table, LoadedTable)
            installed.append(store.install(table, set_default=default))
    return installed


__all__ = ["KINDS", "install", "read"]
