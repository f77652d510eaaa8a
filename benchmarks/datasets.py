"""Synthetic populations and snapshots for the benchmarks, generated once and reused.

Layout under the data root (``.cache/bench`` by default)::

    synth-3m/          p4dp synth --patients 3000000 --seed 1
    snap-3m/           p4dp data ingest synth-3m --out snap-3m
    snap-3m.ingest.json  how long that ingest took, and its peak memory

    >>> label(3_000_000), label(300_000), label(100_000), label(1_500_000)
    ('3m', '300k', '100k', '1.5m')
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.harness import ROOT, run_command

P4DP = str(ROOT / ".venv" / "bin" / "p4dp")


def label(patients: int) -> str:
    if patients >= 1_000_000:
        return f"{patients / 1_000_000:g}m"
    return f"{patients / 1000:g}k"


def _manifest(path: Path) -> dict[str, Any] | None:
    file = path / "synth-manifest.json"
    if not file.is_file():
        return None
    data: dict[str, Any] = json.loads(file.read_text())
    return data


def _matches(manifest: dict[str, Any], patients: int, seed: int) -> bool:
    """Whether a cached population is the one asked for, by today's generator."""
    from matcher.synth.writer import GENERATOR_VERSION

    params = manifest.get("parameters", manifest)
    return (
        params.get("patients", params.get("n_patients")) == patients
        and params.get("seed") == seed
        and manifest.get("generator_version") == GENERATOR_VERSION
    )


def row_counts(path: Path) -> dict[str, int]:
    """Rows per contract table of a raw data directory (from the Parquet metadata)."""
    out = {}
    for file in sorted(path.glob("*.parquet")):
        out[file.stem] = pl.scan_parquet(file).select(pl.len()).collect().item()
    return out


def disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def ensure_population(root: Path, patients: int, seed: int, log: Any = print) -> dict[str, Any]:
    """The raw population directory for ``patients``/``seed``, generated if absent."""
    path = root / f"synth-{label(patients)}"
    manifest = _manifest(path)
    info: dict[str, Any] = {"path": str(path), "patients": patients, "seed": seed}
    if manifest is not None and _matches(manifest, patients, seed):
        log(f"  reusing {path}")
        info["generated"] = False
    else:
        log(f"  generating {patients:,} patients into {path} (p4dp synth)")
        root.mkdir(parents=True, exist_ok=True)
        run = run_command(
            [
                P4DP,
                "synth",
                "--patients",
                str(patients),
                "--seed",
                str(seed),
                "--out",
                str(path),
                "--overwrite",
            ],
            log=log,
        )
        info.update(generated=True, synth_seconds=run["seconds"], synth_peak_mb=run["peak_mb"])
    info["rows"] = row_counts(path)
    info["event_rows"] = sum(v for k, v in info["rows"].items() if k != "patients")
    info["disk_mb"] = disk_mb(path)
    return info


def source_id(raw: Path) -> str:
    """What identifies a generated population: the SHA-256 of its synth manifest (seed,
    size, generator version and row counts; the generator is deterministic)."""
    manifest = raw / "synth-manifest.json"
    return hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.is_file() else ""


def ensure_snapshot(
    root: Path, raw: Path, patients: int, *, force: bool = False, log: Any = print
) -> dict[str, Any]:
    """The snapshot of ``raw`` (``p4dp data ingest``), built if absent; with its ingest timing."""
    path = root / f"snap-{label(patients)}"
    timing = root / f"snap-{label(patients)}.ingest.json"
    source = source_id(raw)
    if path.exists() and timing.is_file() and not force:
        info: dict[str, Any] = json.loads(timing.read_text())
        if info.get("source") == source:  # ingested from this very population
            log(f"  reusing {path}")
            info["reused"] = True
            return info
    if path.exists():
        shutil.rmtree(path)
    log(f"  ingesting {raw} into {path} (p4dp data ingest)")
    import sys

    from benchmarks.snapshots import ingest_command

    run = run_command(ingest_command(raw, path, sys.executable), log=log)
    info = {
        "path": str(path),
        "source": source,
        "ingest_seconds": run["seconds"],
        "ingest_peak_mb": run["peak_mb"],
        "disk_mb": disk_mb(path),
        "reused": False,
    }
    timing.write_text(json.dumps(info, indent=2))
    return info
