"""Remembering that a data directory passed validation, so an unchanged one is not checked again.

Full validation (:mod:`matcher.data.validate`) reads every row of every table; on a national
extract it costs more than a study. ``load_dataset`` therefore records each directory that
passed, with a fingerprint of every file in it, and skips validation when the fingerprint
still matches. A directory that failed is never recorded (its errors are found again).

The fingerprint of a file is its relative name, its size, its modification time (ns) and a
hash of its content: the whole file when it is at most :data:`WHOLE_FILE_BYTES`, else its
first and last :data:`EDGE_BYTES` (a Parquet file keeps its metadata, with every row group's
offsets, sizes and min/max statistics, in its footer) and :data:`SAMPLES` blocks of
:data:`SAMPLE_BYTES` spread evenly over the rest. The trade-off: hashing a large file whole
would cost about as much as reading it (seconds per GB), while a sampled hash costs
milliseconds; a change escapes it only if it keeps the size and the modification time (a
deliberate reset of the mtime) *and* touches no sampled byte *and* (for Parquet) leaves the
footer unchanged. Any ordinary rewrite, copy, ``touch`` or replacement changes the size or
the modification time and is re-validated. Set ``P4DP_VALIDATION_CACHE=off`` to validate
every time.

The records live in ``$P4DP_VALIDATION_CACHE`` when it names a folder, else under the user's
cache folder (``$P4DP_CACHE_DIR``, ``$XDG_CACHE_HOME/p4dp`` or ``~/.cache/p4dp``) in
``validated/``: one JSON file per directory, keyed by a hash of its absolute path, mode 0600 in
a folder of mode 0700, written atomically; never inside the data directory. A record holds
file names, sizes, times and hashes, and the data set's respelled codes (which codes are not
written in normal form): no patient data.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> cache = folder / "cache"
    >>> data = folder / "data"; data.mkdir(); _ = (data / "patients.csv").write_text("a\\n1\\n")
    >>> found, forms = lookup(data, cache)
    >>> forms is None
    True
    >>> remember(found, {}, cache)
    >>> lookup(data, cache)[1]
    {}
    >>> _ = (data / "patients.csv").write_text("a\\n2\\n")  # same size, new content
    >>> lookup(data, cache)[1] is None
    True
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

CACHE_ENV = "P4DP_VALIDATION_CACHE"
RULES_VERSION = "2026-12-07"
"""Changed whenever validation rules change, so that older records are ignored."""
WHOLE_FILE_BYTES = 4 << 20
EDGE_BYTES = 1 << 20
SAMPLES = 64
SAMPLE_BYTES = 64 << 10


@dataclass(frozen=True)
class Fingerprint:
    """A data directory's absolute path and the fingerprint of each of its files."""

    path: str
    files: tuple[tuple[str, int, int, str], ...]
    """``(relative name, size, mtime_ns, content hash)``, sorted by name."""


def _content_hash(file: Path, size: int) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with file.open("rb") as handle:
        if size <= WHOLE_FILE_BYTES:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
            return digest.hexdigest()
        digest.update(handle.read(EDGE_BYTES))
        middle = size - 2 * EDGE_BYTES
        for i in range(SAMPLES):
            handle.seek(EDGE_BYTES + middle * i // SAMPLES)
            digest.update(handle.read(SAMPLE_BYTES))
        handle.seek(size - EDGE_BYTES)
        digest.update(handle.read(EDGE_BYTES))
    return digest.hexdigest()


def fingerprint(path: Path) -> Fingerprint:
    """The fingerprint of every file under ``path`` (see the module docstring)."""
    root = path.resolve()
    files = []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        stat = file.stat()
        rel = file.relative_to(root).as_posix()
        files.append((rel, stat.st_size, stat.st_mtime_ns, _content_hash(file, stat.st_size)))
    return Fingerprint(str(root), tuple(files))


def cache_folder() -> Path | None:
    """Where records are kept; None when ``$P4DP_VALIDATION_CACHE`` is ``off``."""
    chosen = os.environ.get(CACHE_ENV, "")
    if chosen.lower() in ("off", "0", "no", "false"):
        return None
    if chosen:
        return Path(chosen).expanduser()
    from terminology.builtin import _cache_dir

    return _cache_dir() / "validated"


def _record_path(folder: Path, path: str) -> Path:
    return folder / (hashlib.sha256(path.encode()).hexdigest()[:32] + ".json")


def _version() -> str:
    from matcher import __version__

    return f"{__version__}/{RULES_VERSION}"


def lookup(
    path: Path, folder: Path | None = None
) -> tuple[Fingerprint, dict[str, pl.DataFrame] | None]:
    """``path``'s fingerprint now, and the respelled codes (per table) recorded for it if it
    passed validation unchanged (else None). ``folder``: default :func:`cache_folder`."""
    current = fingerprint(path)
    folder = folder or cache_folder()
    if folder is None:
        return current, None
    try:
        record = json.loads(_record_path(folder, current.path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return current, None
    if not isinstance(record, dict) or record.get("version") != _version():
        return current, None
    if record.get("path") != current.path:
        return current, None
    if [tuple(f) for f in record.get("files", [])] != list(current.files):
        return current, None
    schema = {"system": pl.String, "code": pl.String, "normal": pl.String}
    forms = record.get("code_forms", {})
    return current, {
        table: pl.DataFrame(rows, schema=schema, orient="row") for table, rows in forms.items()
    }


def forget(path: Path, folder: Path | None = None) -> None:
    """Drop the record of ``path`` (a file found unreadable after all): it is validated again
    next time. Best effort, like :func:`remember`."""
    folder = folder or cache_folder()
    if folder is not None:
        with contextlib.suppress(OSError):
            _record_path(folder, str(Path(path).resolve())).unlink(missing_ok=True)


def remember(
    before: Fingerprint, code_forms: dict[str, pl.DataFrame], folder: Path | None = None
) -> None:
    """Record that the directory of ``before`` (fingerprinted before validating) passed, with
    its respelled codes per table. Best effort: a folder that cannot be written only means
    validating again next time.
    """
    folder = folder or cache_folder()
    if folder is None:
        return
    record = {
        "version": _version(),
        "path": before.path,
        "files": [list(f) for f in before.files],
        "code_forms": {t: [list(r) for r in m.iter_rows()] for t, m in code_forms.items()},
    }
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".validated-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:  # mkstemp: mode 0600
                json.dump(record, handle)
            os.replace(tmp, _record_path(folder, before.path))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


__all__ = ["CACHE_ENV", "Fingerprint", "cache_folder", "fingerprint", "lookup", "remember"]
