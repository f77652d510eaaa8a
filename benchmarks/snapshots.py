"""The snapshot seen from the benchmarks: held warm in memory, and exposed to DuckDB.

A snapshot (``matcher/snapshot``, ``docs/snapshots.md``) stores each table as an uncompressed
Arrow IPC file: ``patient_key`` (UInt32) instead of the pseudonym in event tables, and
dictionary-encoded ``system``, ``code``, ``unit`` columns, events sorted by code.

``load_warm(path)`` returns what ``matcher.evaluate`` accepts with the snapshot held in memory.
``duckdb_snapshot_setup`` gives DuckDB the same integer-keyed layout: the Arrow files are
memory-mapped, dictionary columns replaced by their integer indices, and declared under the
contract's table names (``patient_id`` holding the integer key), either scanned from the
mapped Arrow data on every query, or (``warm``) copied once into DuckDB's own in-memory
tables. The returned wrapper maps the integer keys back to pseudonyms at the very end, so the
hand-written query is the same text over both layouts, with integer code literals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.baselines.common import SnapshotLayout

CODED = ("diagnoses", "prescriptions", "observations")


def available() -> bool:
    """True when the snapshot package is importable."""
    try:
        from matcher.snapshot import open_snapshot  # noqa: F401
    except ImportError:
        return False
    return True


def open_snapshot(path: str | Path) -> Any:
    """The snapshot opened by the public API (``matcher.data.open`` when it exists)."""
    try:
        from matcher.data.open import open_snapshot as opener
    except ImportError:
        from matcher.snapshot import open_snapshot as opener
    return opener(Path(path))


def load_warm(path: str | Path) -> Any:
    """The snapshot opened and held in memory (the harness runs a warm-up query first)."""
    snap = open_snapshot(path)
    return snap.in_memory() if hasattr(snap, "in_memory") else snap


def ingest_command(raw: Path, out: Path, python: str) -> list[str]:
    """``p4dp data ingest RAW --out OUT``, or the Python API when the command is not there."""
    from matcher.cli import main

    data_group = getattr(main, "commands", {}).get("data")
    if data_group is not None and "ingest" in getattr(data_group, "commands", {}):
        return [str(Path(python).parent / "p4dp"), "data", "ingest", str(raw), "--out", str(out)]
    code = f"from matcher.snapshot import ingest; ingest({str(raw)!r}, {str(out)!r})"
    return [python, "-c", code]


def _arrow(path: Path) -> Any:
    import pyarrow as pa

    return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()


def _indices(table: Any, columns: tuple[str, ...]) -> tuple[Any, dict[str, list[str]]]:
    """``table`` with the dictionary ``columns`` replaced by their indices, and dictionaries."""
    import pyarrow as pa

    dictionaries: dict[str, list[str]] = {}
    arrays, names = [], []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name in columns and pa.types.is_dictionary(column.type):
            chunks = column.chunks
            dictionary = chunks[0].dictionary if chunks else pa.array([], pa.string())
            dictionaries[name] = dictionary.cast(pa.string()).to_pylist()
            column = pa.chunked_array([c.indices for c in chunks], type=column.type.index_type)
        arrays.append(column)
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names), dictionaries


def duckdb_snapshot_setup(con: Any, path: str | Path, *, warm: bool) -> tuple[SnapshotLayout, str]:
    """Declare the snapshot's tables to DuckDB; returns its layout and the outer SQL wrapper."""
    import json

    directory = Path(path)
    manifest = json.loads((directory / "manifest.json").read_text())
    layout = SnapshotLayout()
    for name in ("patients", *CODED):
        entry = manifest["tables"][name]
        table = _arrow(directory / entry["file"])
        if name == "patients":
            con.register("patients_arrow", table)
            select = (
                "SELECT patient_key AS patient_id, * EXCLUDE (patient_id, patient_key)"
                " FROM patients_arrow"
            )
            ids = "SELECT patient_key, patient_id FROM patients_arrow"
            if warm:
                con.execute(f"CREATE TABLE patients AS {select}")
                con.execute(f"CREATE TABLE patient_ids AS {ids}")
            else:
                con.execute(f"CREATE VIEW patients AS {select}")
                con.execute(f"CREATE VIEW patient_ids AS {ids}")
            continue
        keyed, dictionaries = _indices(table, ("system", "code", "unit"))
        for system_id, system in enumerate(dictionaries.get("system", [])):
            layout.system_ids[(name, system)] = system_id
        codes = {code: i for i, code in enumerate(dictionaries.get("code", []))}
        index = _arrow(directory / entry["code_index"])
        for system, code in zip(
            index.column("system").cast("string").to_pylist(),
            index.column("code").cast("string").to_pylist(),
            strict=True,
        ):
            layout.code_ids[(name, system, code)] = codes[code]
        if name == "observations":
            layout.unit_ids = {u: i for i, u in enumerate(dictionaries.get("unit", []))}
        con.register(f"{name}_arrow", keyed)
        select = f"SELECT patient_key AS patient_id, * EXCLUDE (patient_key) FROM {name}_arrow"
        kind = "TABLE" if warm else "VIEW"
        con.execute(f"CREATE {kind} {name} AS {select}")
    wrapper = (
        "SELECT ids.patient_id, q.* EXCLUDE (patient_id) FROM ({sql}) q"
        " JOIN patient_ids ids ON ids.patient_key = q.patient_id"
    )
    return layout, wrapper
