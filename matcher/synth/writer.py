"""Generate a synthetic population chunk by chunk and write it as contract Parquet files.

Each chunk of patients is generated, sorted (events by patient then date) and appended to one
Parquet file per table as its own row groups, so memory stays bounded by the chunk size. The
files are written into a temporary directory beside ``out`` and renamed into place at the end:
an interrupted run leaves no half-written data set. Practice keys are never written there.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "pop"
    >>> summary = generate(300, seed=7, out=d)
    >>> sorted(p.name for p in d.iterdir())[:4]
    ['allergies.parquet', 'diagnoses.parquet', 'encounters.parquet', 'extract.json']
    >>> summary.rows["patients"]
    300
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from matcher.data.extract_date import write_extract
from matcher.errors import MatcherError
from matcher.synth import status_records
from matcher.synth._common import NULL_DAY, WINDOW_END, WINDOW_START
from matcher.synth.allergies import KINDS as ALLERGY_KINDS
from matcher.synth.allergies import build_allergies
from matcher.synth.catalog import CODES, UNITS
from matcher.synth.conditions import build_conditions
from matcher.synth.doses import DOSE_UNITS
from matcher.synth.events import (
    ENCOUNTER_KINDS,
    OUTSIDE_KINDS,
    Rows,
    build_diagnoses,
    build_encounters,
)
from matcher.synth.measurements import build_observations
from matcher.synth.population import (
    SEX_CODES,
    TOKEN_VERSION,
    Patients,
    Practices,
    build_patients,
    build_practices,
    local_id,
    practice_tokens,
)
from matcher.synth.procedures import build_hospital_contacts, build_procedures
from matcher.synth.treatments import build_courses, build_prescriptions, first_start

GENERATOR_VERSION = "2"
"""Bumped whenever the same seed gives other data (2: rare conditions added)."""
DEFAULT_CHUNK_SIZE = 200_000
MANIFEST = "synth-manifest.json"
ROW_GROUP = 1_000_000

_STR = pa.string()
SCHEMAS: dict[str, pa.Schema] = {
    "patients": pa.schema(
        [
            ("patient_id", _STR),
            ("birth_year", pa.int32()),
            ("birth_month", pa.int8()),
            ("sex", _STR),
            ("practice_id", _STR),
            ("centre_id", _STR),
            ("registered_from", pa.date32()),
            ("registered_to", pa.date32()),
            ("death_date", pa.date32()),
            ("opted_out", pa.bool_()),
            ("practice_token", _STR),
        ]
    ),
    "diagnoses": pa.schema(
        [("patient_id", _STR), ("date", pa.date32()), ("system", _STR), ("code", _STR)]
    ),
    "prescriptions": pa.schema(
        [
            ("patient_id", _STR),
            ("date", pa.date32()),
            ("system", _STR),
            ("code", _STR),
            ("duration_days", pa.int32()),
            ("dose", pa.float64()),  # issue 18: drugs
            ("daily_dose", pa.float64()),
            ("dose_unit", _STR),
        ]
    ),
    "observations": pa.schema(
        [
            ("patient_id", _STR),
            ("date", pa.date32()),
            ("system", _STR),
            ("code", _STR),
            ("value", pa.float64()),
            ("unit", _STR),
            ("value_code", _STR),
        ]
    ),
    "encounters": pa.schema(
        [("patient_id", _STR), ("date", pa.date32()), ("practice_id", _STR), ("kind", _STR)]
    ),
    "procedures": pa.schema(
        [("patient_id", _STR), ("date", pa.date32()), ("system", _STR), ("code", _STR)]
    ),
    "allergies": pa.schema(  # issue 18: records
        [
            ("patient_id", _STR),
            ("date", pa.date32()),
            ("system", _STR),
            ("code", _STR),
            ("kind", _STR),
        ]
    ),
}
_SYSTEMS = pa.array([s for s, _ in CODES], _STR)
_CODES = pa.array([c for _, c in CODES], _STR)
_UNITS = pa.array(list(UNITS), _STR)
_KINDS = pa.array(list(ENCOUNTER_KINDS), _STR)
_DOSE_UNITS = pa.array(list(DOSE_UNITS), _STR)
_ALLERGY_KINDS = pa.array(list(ALLERGY_KINDS), _STR)


@dataclass
class Summary:
    """What a generation run produced."""

    patients: int
    seed: int
    practices: int
    centres: int
    rows: dict[str, int] = field(default_factory=dict)


def _dates(days: np.ndarray) -> pa.Array:
    days = np.asarray(days, dtype=np.int32)
    return pa.array(days, type=pa.date32(), mask=days == NULL_DAY)


def _sorted(rows: Rows) -> dict[str, np.ndarray]:
    cols = rows.columns()
    date = cols["date"]
    if len(date) and (date.min() < WINDOW_START or date.max() > WINDOW_END):
        raise AssertionError("generator produced an event outside the observation window")
    key = (cols["patient"].astype(np.int64) << 16) | (date - WINDOW_START).astype(np.int64)
    order = np.argsort(key, kind="stable")
    return {k: v[order] for k, v in cols.items()}


def _event_table(name: str, rows: Rows, pat: Patients, practices: pa.Array) -> pa.Table:
    c = _sorted(rows)
    pid = pc.take(pat.patient_id, pa.array(c["patient"]))
    date = _dates(c["date"])
    if name == "encounters":
        outside = np.isin(c["code"], OUTSIDE_KINDS)  # admissions, emergencies: no practice
        practice = pc.take(practices, pa.array(pat.practice[c["patient"]], mask=outside))
        kind = pc.take(_KINDS, pa.array(c["code"]))
        return pa.Table.from_arrays([pid, date, practice, kind], schema=SCHEMAS[name])
    code_idx = pa.array(c["code"])
    arrays = [pid, date, pc.take(_SYSTEMS, code_idx), pc.take(_CODES, code_idx)]
    if name == "prescriptions":
        d = c["duration"]
        arrays.append(pa.array(d, type=pa.int32(), mask=d < 0))
        for amount in (c["dose"], c["daily"]):  # issue 18: drugs
            arrays.append(pa.array(amount, type=pa.float64(), mask=np.isnan(amount)))
        unit = c["unit"].astype(np.int32)
        arrays.append(pc.take(_DOSE_UNITS, pa.array(unit, mask=unit < 0)))
    elif name == "observations":
        v = c["value"]
        missing = np.isnan(v)
        arrays.append(pa.array(v, type=pa.float64(), mask=missing))
        arrays.append(pc.take(_UNITS, pa.array(c["unit"].astype(np.int32), mask=missing)))
        answer = c.get("answer", np.full(len(v), -1, dtype=np.int8))
        arrays.append(status_records.value_codes(answer))  # issue 18
    elif name == "allergies":  # issue 18: records (kind -1: not recorded)
        kind = c["kind"].astype(np.int32)
        arrays.append(pc.take(_ALLERGY_KINDS, pa.array(kind, mask=kind < 0)))
    return pa.Table.from_arrays(arrays, schema=SCHEMAS[name])


def _patients_table(pat: Patients, practices: Practices, tokens: pa.Array) -> pa.Table:
    birth = pat.birth.astype("datetime64[D]")
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    month = birth.astype("datetime64[M]").astype(np.int64) % 12 + 1
    pidx = pa.array(pat.practice)
    centre_of = pa.array(practices.centre_id, _STR)
    arrays = [
        pat.patient_id,
        pa.array(year.astype(np.int32)),
        pa.array(month.astype(np.int8), mask=~pat.birth_month_known),
        pc.take(pa.array(list(SEX_CODES), _STR), pa.array(pat.sex)),
        pc.take(pa.array(practices.practice_id, _STR), pidx),
        pc.take(centre_of, pidx),
        _dates(pat.reg_from),
        _dates(pat.reg_to),
        _dates(pat.death),
        pa.array(pat.opted_out),
        tokens,
    ]
    return pa.Table.from_arrays(arrays, schema=SCHEMAS["patients"])


def generate_chunk(
    practices: Practices, seed: int, chunk: int, first: int, size: int, counts: np.ndarray
) -> tuple[dict[str, pa.Table], pa.Table]:
    """Tables of one chunk, and the practice-side (patient_id, practice_id, local_id) table."""
    pat = build_patients(practices, seed, chunk, first, size, counts)
    cond = build_conditions(pat, seed, chunk)
    enc = build_encounters(pat, cond, seed, chunk)
    diagnoses = build_diagnoses(pat, practices, cond, enc, seed, chunk)
    courses = build_courses(pat, cond, seed, chunk)
    prescriptions = build_prescriptions(pat, courses, enc, seed, chunk)
    starts = {g: first_start(courses, g) for g in ("antihypertensive", "statin")}
    observations = build_observations(pat, cond, enc, starts, seed, chunk)
    # issue 18: smoking, pregnancy-status and breast-feeding records, deliveries
    status_records.add_smoking(observations, pat, seed, chunk)
    status_records.add_pregnancy_answers(observations, pat, cond, seed, chunk)
    status_records.add_deliveries(diagnoses, pat, cond, practices.icpc[pat.practice], seed, chunk)
    encounters = Rows()
    encounters.add(enc[0], enc[1], enc[2].astype(np.int16))
    hospital = build_hospital_contacts(pat, cond, seed, chunk)  # issue 18: drawn last
    encounters.add(hospital[0], hospital[1], hospital[2].astype(np.int16))
    practice_ids = pa.array(practices.practice_id, _STR)
    tables = {
        "patients": _patients_table(pat, practices, practice_tokens(pat, practices)),
        "diagnoses": _event_table("diagnoses", diagnoses, pat, practice_ids),
        "prescriptions": _event_table("prescriptions", prescriptions, pat, practice_ids),
        "observations": _event_table("observations", observations, pat, practice_ids),
        "encounters": _event_table("encounters", encounters, pat, practice_ids),
        "procedures": _event_table(
            "procedures", build_procedures(pat, cond, seed, chunk), pat, practice_ids
        ),
        "allergies": _event_table(  # issue 18: drawn last
            "allergies", build_allergies(pat, seed, chunk), pat, practice_ids
        ),
    }
    local = pa.table(
        {
            "patient_id": pat.patient_id,
            "practice_id": pc.take(practice_ids, pa.array(pat.practice)),
            "local_id": pa.array([local_id(s) for s in pat.local_seq.tolist()], _STR),
        }
    )
    return tables, local


@contextlib.contextmanager
def _staging(out: Path, overwrite: bool) -> Iterator[Path]:
    """A temporary directory beside ``out``, swapped into place only on success."""
    if out.exists() and not overwrite and (not out.is_dir() or any(out.iterdir())):
        raise MatcherError(f"{out}: already exists; pass --overwrite to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    if old.exists():
        shutil.rmtree(old) if old.is_dir() else old.unlink()


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def generate(
    n_patients: int,
    seed: int,
    out: Path | str,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    overwrite: bool = False,
    keys_out: Path | str | None = None,
    local_ids_out: Path | str | None = None,
    progress: bool = False,
) -> Summary:
    """Generate ``n_patients`` patients for ``seed`` into the directory ``out``.

    The content is a pure function of ``(n_patients, seed, chunk_size)``. ``keys_out`` (JSON)
    receives the practice keys and ``local_ids_out`` (Parquet) the practices' own record
    numbers; both must lie outside ``out``, since the data set must never hold them.
    """
    if n_patients < 1:
        raise MatcherError(f"--patients: must be at least 1, got {n_patients}")
    if seed < 0:
        raise MatcherError(f"--seed: must be a non-negative integer, got {seed}")
    if chunk_size < 1:
        raise MatcherError(f"chunk size must be at least 1, got {chunk_size}")
    out = Path(out)
    side_files = [Path(p) for p in (keys_out, local_ids_out) if p is not None]
    for side in side_files:
        if _inside(side, out):
            raise MatcherError(f"{side}: practice secrets must be kept outside the data set {out}")
        if side.exists() and not overwrite:
            raise MatcherError(f"{side}: already exists; pass --overwrite to replace it")
    practices = build_practices(n_patients, seed)
    counts = np.zeros(len(practices.practice_id), dtype=np.int64)
    summary = Summary(
        patients=n_patients,
        seed=seed,
        practices=len(practices.practice_id),
        centres=len(set(practices.centre_id)),
        rows=dict.fromkeys(SCHEMAS, 0),
    )
    n_chunks = -(-n_patients // chunk_size)
    with _staging(out, overwrite) as tmp, contextlib.ExitStack() as stack:
        writers = {
            name: stack.enter_context(
                pq.ParquetWriter(tmp / f"{name}.parquet", schema, compression="zstd")
            )
            for name, schema in SCHEMAS.items()
        }
        local_tmp = tmp.parent / f".{tmp.name}.local-ids.parquet"
        local_writer = None
        if local_ids_out is not None:
            local_schema = pa.schema(
                [("patient_id", _STR), ("practice_id", _STR), ("local_id", _STR)]
            )
            local_writer = stack.enter_context(pq.ParquetWriter(local_tmp, local_schema))
        bar = stack.enter_context(_progress(progress, n_chunks))
        for chunk in range(n_chunks):
            first = chunk * chunk_size
            size = min(chunk_size, n_patients - first)
            tables, local = generate_chunk(practices, seed, chunk + 1, first, size, counts)
            for name, table in tables.items():
                writers[name].write_table(table, row_group_size=ROW_GROUP)
                summary.rows[name] += table.num_rows
            if local_writer is not None:
                local_writer.write_table(local)
            del tables, local
            bar(chunk + 1)
        stack.close()
        manifest = {
            "generator": "p4dp synth",
            "generator_version": GENERATOR_VERSION,
            "patients": n_patients,
            "seed": seed,
            "chunk_size": chunk_size,
            "practices": summary.practices,
            "centres": summary.centres,
            "window": [_day(WINDOW_START).isoformat(), _day(WINDOW_END).isoformat()],
            "rows": summary.rows,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        write_extract(tmp, _day(WINDOW_END), source="p4dp synth")
        if local_ids_out is not None:
            os.replace(local_tmp, Path(local_ids_out))
        if keys_out is not None:
            _write_keys(Path(keys_out), practices, seed)
    return summary


def _day(days: int) -> dt.date:
    """A generator day number (days since 1970-01-01) as a date."""
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(days))


def _write_keys(path: Path, practices: Practices, seed: int) -> None:
    payload = {
        "format": "p4dp-synth-practice-keys",
        "token": "hex(HMAC-SHA-256(key, 'v1' || local_id))",
        "token_version": TOKEN_VERSION.decode(),
        "seed": seed,
        "keys": {p: k.hex() for p, k in zip(practices.practice_id, practices.keys, strict=True)},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(tmp, path)


@contextlib.contextmanager
def _progress(enabled: bool, total: int) -> Iterator:
    """A callback advancing a rich progress bar over chunks (a no-op when disabled)."""
    if not enabled:
        yield lambda done: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task("generating chunks", total=total)
        yield lambda done: bar.update(task, completed=done)
