"""The local terminology store where ``p4dp terms load`` installs full official tables.

Licensed tables (the WHO ATC index, ICPC-2, LOINC, CIM-10 FR) are not shipped with p4dp; a user
who holds them installs them here. The store lives in ``$P4DP_TERMINOLOGY_HOME`` or
``~/.local/share/p4dp/terminology``::

    <home>/<system>/<version>/concepts.csv    code, parent, label_en, label_fr, group
    <home>/<system>/<version>/map_<target>.csv from_code, to_code (cross-map to another system)
    <home>/<system>/<version>/meta.json       source, licence, kind, number of codes, date
    <home>/<system>/<version>/ddd.csv          code, ddd, uom, adm_r (ATC with WHO DDDs only)
    <home>/labels/<system>.csv                 extra labels for every version (e.g. French ICD-10)
    <home>/crossmaps/<from>-<to>.csv           a cross-map between systems, all versions (GEMs)
    <home>/defaults.json                       {system: version} chosen as default

Every write goes to a temporary folder first and is renamed into place, so an interrupted load
never leaves a half-written table.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from terminology.ddd import DDD_FILE, read_ddd, write_ddd
from terminology.errors import TerminologyError
from terminology.hierarchy import ConceptRow, Hierarchy

HOME_ENV = "P4DP_TERMINOLOGY_HOME"


def default_home() -> Path:
    """``$P4DP_TERMINOLOGY_HOME`` or ``~/.local/share/p4dp/terminology``."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "share" / "p4dp" / "terminology"


@dataclass(frozen=True)
class LoadedTable:
    """A code table read by a loader, ready to be installed as one system version."""

    system: str
    version: str
    rows: tuple[ConceptRow, ...]
    source: str
    licence: str
    kind: str
    crossmaps: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    """target system → (from_code, to_code) pairs."""
    ddd: tuple[tuple[str, float, str, str], ...] = ()
    """WHO defined daily doses (ATC only): (code, amount, unit as WHO writes it, route)."""


@dataclass(frozen=True)
class LabelTable:
    """Extra labels for codes of a system (all versions), e.g. French ICD-10 labels."""

    system: str
    labels: tuple[tuple[str, str | None, str | None], ...]
    """(code, label_en, label_fr)."""
    source: str
    licence: str
    kind: str


@dataclass(frozen=True)
class CrossmapTable:
    """A cross-map between two code systems, for every version of each (e.g. the CMS GEMs)."""

    from_system: str
    to_system: str
    version: str
    pairs: tuple[tuple[str, str], ...]
    """(from_code, to_code) in normal form."""
    source: str
    licence: str
    kind: str


@dataclass(frozen=True)
class TableInfo:
    """What ``p4dp terms info`` shows for one installed table."""

    system: str
    version: str
    codes: int
    source: str
    licence: str
    kind: str
    loaded_at: str = ""


def _atomic_dir(target: Path) -> tempfile.TemporaryDirectory[str]:
    target.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=f".{target.name}.", dir=target.parent)


def _replace_dir(tmp: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    if old.exists():
        shutil.rmtree(old)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """Read and write the tables of one terminology home folder."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()

    # ----------------------------------------------------------------- reading
    def tables(self) -> list[TableInfo]:
        """Installed system versions, sorted by system and version."""
        out: list[TableInfo] = []
        if not self.home.is_dir():
            return out
        for meta_path in sorted(self.home.glob("*/*/meta.json")):
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            out.append(TableInfo(**meta))
        for meta_path in sorted((self.home / "labels").glob("*.json")):
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            out.append(TableInfo(**meta))
        return out

    def versions(self, system: str) -> tuple[str, ...]:
        """Installed versions of ``system``, sorted."""
        folder = self.home / system
        if not folder.is_dir() or system in ("labels", "cache"):
            return ()
        return tuple(sorted(p.parent.name for p in folder.glob("*/meta.json")))

    def systems(self) -> tuple[str, ...]:
        """Systems with at least one installed version."""
        if not self.home.is_dir():
            return ()
        return tuple(sorted({p.parent.parent.name for p in self.home.glob("*/*/meta.json")}))

    def hierarchy(self, system: str, version: str) -> Hierarchy:
        """Read one installed version as a :class:`Hierarchy`."""
        folder = self.home / system / version
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        with (folder / "concepts.csv").open(encoding="utf-8", newline="") as handle:
            rows = [
                ConceptRow(
                    r["code"],
                    r["parent"] or None,
                    r["label_en"] or None,
                    r["label_fr"] or None,
                    r["group"] == "1",
                )
                for r in csv.DictReader(handle)
            ]
        return Hierarchy.from_rows(
            system, version, rows, source=meta["source"], licence=meta["licence"]
        )

    def crossmap(self, system: str, version: str, target: str) -> dict[str, tuple[str, ...]] | None:
        """The installed map from ``system`` (that version) to ``target``, or None."""
        path = self.home / system / version / f"map_{target}.csv"
        if not path.is_file():
            return None
        out: dict[str, list[str]] = {}
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                out.setdefault(row["from_code"], []).append(row["to_code"])
        return {code: tuple(sorted(set(targets))) for code, targets in out.items()}

    def ddd(self, system: str, version: str) -> dict[str, tuple[tuple[float, str, str], ...]]:
        """The defined daily doses of an installed version: code → (amount, unit, route);
        empty when the table carries none."""
        return read_ddd(self.home / system / version / DDD_FILE)

    def labels(self, system: str) -> dict[str, tuple[str | None, str | None]]:
        """Extra labels installed for ``system`` (code → (English, French))."""
        path = self.home / "labels" / f"{system}.csv"
        if not path.is_file():
            return {}
        with path.open(encoding="utf-8", newline="") as handle:
            return {
                r["code"]: (r["label_en"] or None, r["label_fr"] or None)
                for r in csv.DictReader(handle)
            }

    def crossmap_tables(self) -> list[TableInfo]:
        """Installed system-to-system cross-maps (``system`` is ``from->to``)."""
        folder = self.home / "crossmaps"
        return [
            TableInfo(**json.loads(p.read_text(encoding="utf-8")))
            for p in sorted(folder.glob("*.json"))
        ]

    def system_crossmap(
        self, from_system: str, to_system: str
    ) -> tuple[dict[str, tuple[str, ...]], TableInfo] | None:
        """The installed cross-map from one system to another (any version), with its info."""
        path = self.home / "crossmaps" / f"{from_system}-{to_system}.csv"
        meta = path.with_suffix(".json")
        if not path.is_file() or not meta.is_file():
            return None
        out: dict[str, list[str]] = {}
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                out.setdefault(row["from_code"], []).append(row["to_code"])
        info = TableInfo(**json.loads(meta.read_text(encoding="utf-8")))
        return {code: tuple(sorted(set(t))) for code, t in out.items()}, info

    def default_versions(self) -> dict[str, str]:
        """Versions chosen as default by ``terms load`` (system → version)."""
        path = self.home / "defaults.json"
        if not path.is_file():
            return {}
        return dict(json.loads(path.read_text(encoding="utf-8")))

    # ----------------------------------------------------------------- writing
    def install(self, table: LoadedTable, *, set_default: bool) -> TableInfo:
        """Install (or replace) one system version; optionally make it the default."""
        if not table.rows:
            raise TerminologyError(
                f"{table.kind}: no codes found for {table.system}; nothing loaded"
            )
        target = self.home / table.system / table.version
        info = TableInfo(
            table.system,
            table.version,
            len({r.code for r in table.rows if not r.group}),
            table.source,
            table.licence,
            table.kind,
            _now(),
        )
        with _atomic_dir(target) as tmp_name:
            tmp = Path(tmp_name) / "t"
            tmp.mkdir()
            with (tmp / "concepts.csv").open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["code", "parent", "label_en", "label_fr", "group"])
                for r in table.rows:
                    writer.writerow(
                        [r.code, r.parent or "", r.label_en or "", r.label_fr or "", int(r.group)]
                    )
            for to_system, pairs in table.crossmaps.items():
                self._write_pairs(tmp / f"map_{to_system}.csv", pairs)
            if table.ddd:  # issue 18: drugs
                write_ddd(tmp / DDD_FILE, table.ddd)
            (tmp / "meta.json").write_text(json.dumps(info.__dict__, indent=1), encoding="utf-8")
            _replace_dir(tmp, target)
        if set_default:
            self._set_default(table.system, table.version)
        return info

    def install_labels(self, table: LabelTable) -> TableInfo:
        """Install extra labels for a system, replacing earlier ones."""
        if not table.labels:
            raise TerminologyError(f"{table.kind}: no labels found; nothing loaded")
        folder = self.home / "labels"
        folder.mkdir(parents=True, exist_ok=True)
        info = TableInfo(
            table.system,
            "labels",
            len(table.labels),
            table.source,
            table.licence,
            table.kind,
            _now(),
        )
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["code", "label_en", "label_fr"])
            for code, en, fr in table.labels:
                writer.writerow([code, en or "", fr or ""])
        os.replace(tmp, folder / f"{table.system}.csv")
        (folder / f"{table.system}.json").write_text(
            json.dumps(info.__dict__, indent=1), encoding="utf-8"
        )
        return info

    def install_crossmap(self, table: CrossmapTable) -> TableInfo:
        """Install (or replace) the cross-map from one system to another."""
        if not table.pairs:
            raise TerminologyError(f"{table.kind}: no mappings found; nothing loaded")
        folder = self.home / "crossmaps"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{table.from_system}-{table.to_system}"
        info = TableInfo(
            f"{table.from_system}->{table.to_system}",
            table.version,
            len(table.pairs),
            table.source,
            table.licence,
            table.kind,
            _now(),
        )
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        os.close(fd)
        self._write_pairs(Path(tmp), table.pairs)
        os.replace(tmp, folder / f"{name}.csv")
        (folder / f"{name}.json").write_text(json.dumps(info.__dict__, indent=1), encoding="utf-8")
        return info

    @staticmethod
    def _write_pairs(path: Path, pairs: Iterable[tuple[str, str]]) -> None:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["from_code", "to_code"])
            writer.writerows(sorted(set(pairs)))

    def _set_default(self, system: str, version: str) -> None:
        current = self.default_versions()
        current[system] = version
        self.home.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.home, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(current, handle, indent=1, sort_keys=True)
        os.replace(tmp, self.home / "defaults.json")
