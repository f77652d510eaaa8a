"""Synthetic record-software exports of a few practices, so the candidate-list loop runs end to end.

For the first ``n`` practices of a generated population, it writes what the record software at
each practice would export, in both formats the practice kit reads, with made-up names and
national identifiers (NIR-shaped, 15 digits with a valid key), plus that practice's key file
(the same secret the generator used for its practice tokens, so an extract recomputes exactly
the tokens of the data set) and one authority key for all::

    DIR/authority.key
    DIR/PR0001/practice.key
    DIR/PR0001/csv/patients.csv, diagnoses.csv, ...
    DIR/PR0001/fhir/Patient.000.ndjson, Condition.000.ndjson, ...

Birth dates keep the data set's year and month (only the year when its month is null), so an
extract gives back the same birth year and month; the day is made up.

*Transfers*: the first ``transfers`` patients who left practice ``k`` (alive) also appear in the
export of practice ``k + 1``, under a new local record number, registered from the day after
they left, with one office visit that day. They are not in the synthetic data set: they show
that one person exported by two practices gets one pseudonym (same national identifier).

>>> nir = national_ids([0, 1], [2, 1], [1950, 1984], [5, None])
>>> nir[0][:7], len(nir[0]), 97 - int(nir[0][:13]) % 97 == int(nir[0][13:])
('2500501', 15, True)
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import polars as pl

from matcher.errors import MatcherError
from matcher.practice.extract import staged_directory
from matcher.practice.fhir_dosage import dosage_instruction
from matcher.practice.fhir_status import SOCIAL_HISTORY, coded_value
from matcher.practice.keys import create_authority_key, create_practice_key
from matcher.synth.population import TOKEN_VERSION, practice_key


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FAMILY = _words(
    "Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon Michel "
    "Lefebvre Leroy Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert "
    "Fontaine Rousseau Vincent Muller Lefevre Faure Andre Mercier Blanc Guerin Boyer "
    "Garnier Chevalier Francois Legrand Gauthier Garcia Perrin Robin Clement Morin Nicolas "
    "Henry Roussel Mathieu"
)
GIVEN_F = _words(
    "Marie Nathalie Isabelle Sylvie Catherine Françoise Martine Christine Monique Valérie "
    "Sandrine Sophie Céline Julie Camille Léa Manon Chloé Emma Inès Jeanne Louise Alice "
    "Anne"
)
GIVEN_M = _words(
    "Jean Pierre Michel Philippe Alain Nicolas Christophe Patrick Daniel Bernard Éric "
    "Laurent Thomas Julien Lucas Hugo Louis Gabriel Léo Raphaël Arthur Paul Jacques Antoine"
)
FHIR_SYSTEMS = {
    "icd10": "http://hl7.org/fhir/sid/icd-10",
    "icpc2": "http://hl7.org/fhir/sid/icpc-2",
    "atc": "http://www.whocc.no/atc",
    "loinc": "http://loinc.org",
    "ccam": "urn:oid:1.2.250.1.213.2.5",  # issue 18: procedures
}
NIR_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
KIND_CLASS = {"office": "AMB", "home": "HH", "tele": "VR", "admission": "IMP", "emergency": "EMER"}


def national_ids(
    index: list[int], sex: list[int], year: list[int], month: list[int | None]
) -> list[str]:
    """NIR-shaped numbers: sex, year, month, a place and order unique per patient ``index``."""
    out = []
    for i, s, y, m in zip(index, sex, year, month, strict=True):
        dept = 1 + (i // 1_000_000) % 95
        body = f"{s}{y % 100:02d}{(m or 99):02d}{dept:02d}{i % 1_000_000:06d}"
        out.append(f"{body}{97 - int(body) % 97:02d}")
    return out


def _patients(patients: pl.DataFrame, seed: int) -> pl.DataFrame:
    n = patients.height
    rng = np.random.default_rng([seed, 77])
    female = (patients["sex"] == "F").to_numpy()
    given_f = np.array(GIVEN_F)[rng.integers(0, len(GIVEN_F), n)]
    given_m = np.array(GIVEN_M)[rng.integers(0, len(GIVEN_M), n)]
    month = patients["birth_month"]
    day = rng.integers(1, 29, n)
    birth = pl.format("{}-{}-{}", pl.col("birth_year"), pl.col("mm"), pl.col("dd"))
    return patients.with_columns(
        national_id=pl.Series(
            national_ids(
                patients["row"].to_list(),
                np.where(female, 2, 1).tolist(),
                patients["birth_year"].to_list(),
                month.to_list(),
            )
        ),
        family_name=pl.Series(np.array(FAMILY)[rng.integers(0, len(FAMILY), n)]),
        given_names=pl.Series(np.where(female, given_f, given_m)),
        mm=month.cast(pl.String).str.zfill(2),
        dd=pl.Series(day).cast(pl.String).str.zfill(2),
    ).with_columns(
        birth_date=pl.when(pl.col("birth_month").is_null())
        .then(pl.col("birth_year").cast(pl.String))
        .otherwise(birth)
    )


def _write_csv(dest: Path, patients: pl.DataFrame, events: dict[str, pl.DataFrame]) -> None:
    dest.mkdir(parents=True)
    patients.select(
        "local_id",
        "national_id",
        "family_name",
        "given_names",
        "birth_date",
        "sex",
        "registered_from",
        "registered_to",
        "death_date",
        "opted_out",
    ).write_csv(dest / "patients.csv")
    for name, frame in events.items():
        frame.select("local_id", pl.exclude("local_id")).write_csv(dest / f"{name}.csv")


def _fhir_patient(p: dict) -> list[dict]:
    fid = f"pat-{p['local_id']}"
    res = {
        "resourceType": "Patient",
        "id": fid,
        "identifier": [
            {"type": {"coding": [{"system": V2_0203, "code": "MR"}]}, "value": p["local_id"]},
            {"system": NIR_SYSTEM, "value": p["national_id"]},
        ],
        "name": [{"use": "official", "family": p["family_name"], "given": [p["given_names"]]}],
        "gender": {"F": "female", "M": "male"}.get(p["sex"], "unknown"),
        "birthDate": p["birth_date"],
    }
    if p["death_date"]:
        res["deceasedDateTime"] = f"{p['death_date']}T12:00:00+01:00"
    out = [res]
    if p["registered_from"] or p["registered_to"]:
        period = {k: str(p[f"registered_{k2}"]) for k, k2 in (("start", "from"), ("end", "to"))}
        out.append(
            {
                "resourceType": "EpisodeOfCare",
                "id": f"reg-{p['local_id']}",
                "status": "finished" if p["registered_to"] else "active",
                "patient": {"reference": f"Patient/{fid}"},
                "period": {k: v for k, v in period.items() if v != "None"},
            }
        )
    if p["opted_out"]:
        out.append(
            {
                "resourceType": "Consent",
                "id": f"optout-{p['local_id']}",
                "status": "active",
                "scope": {"coding": [{"code": "research"}]},
                "patient": {"reference": f"Patient/{fid}"},
                "provision": {"type": "deny"},
            }
        )
    return out


def _fhir_event(table: str, n: int, e: dict) -> dict:
    subject = {"reference": f"Patient/pat-{e['local_id']}"}
    date = f"{e['date']}T09:00:00+01:00"
    rid = f"{table[:3]}-{n}"
    if table == "encounters":
        klass = {"system": ACT_CODE, "code": KIND_CLASS.get(e["kind"], e["kind"].upper())}
        return {"resourceType": "Encounter", "id": rid, "status": "finished", "class": klass}
    concept = {"coding": [{"system": FHIR_SYSTEMS[e["system"]], "code": e["code"]}]}
    if table == "diagnoses":
        res = {"resourceType": "Condition", "id": rid, "code": concept, "subject": subject}
        return res | {"recordedDate": date}
    if table == "procedures":  # issue 18
        res = {"resourceType": "Procedure", "id": rid, "status": "completed", "code": concept}
        return res | {"subject": subject, "performedDateTime": date}
    if table == "prescriptions":
        res = {"resourceType": "MedicationRequest", "id": rid, "status": "completed"}
        res |= {"intent": "order", "medicationCodeableConcept": concept, "subject": subject}
        if e["duration_days"] is not None:
            supply = {"value": e["duration_days"], "unit": "days"}
            res["dispenseRequest"] = {"expectedSupplyDuration": supply | {"code": "d"}}
        res |= dosage_instruction(e.get("dose"), e.get("daily_dose"), e.get("dose_unit"))
        return res | {"authoredOn": date}
    res = {"resourceType": "Observation", "id": rid, "status": "final", "code": concept}
    if e.get("value_code") is not None:  # issue 18: US Core social-history coded answer
        res["category"] = [SOCIAL_HISTORY]
        res["valueCodeableConcept"] = coded_value(e["value_code"])
    if e["value"] is not None:
        quantity = {"value": e["value"], "system": "http://unitsofmeasure.org"}
        res["valueQuantity"] = quantity | (
            {"unit": e["unit"], "code": e["unit"]} if e["unit"] else {}
        )
    return res | {"subject": subject, "effectiveDateTime": date}


_FHIR_FILES = {
    "diagnoses": "Condition",
    "prescriptions": "MedicationRequest",
    "observations": "Observation",
    "encounters": "Encounter",
    "procedures": "Procedure",  # issue 18
}


def _write_fhir(dest: Path, patients: pl.DataFrame, events: dict[str, pl.DataFrame]) -> None:
    dest.mkdir(parents=True)
    dumps = json.dumps
    files = {
        t: (dest / f"{t}.000.ndjson").open("w", encoding="utf-8")
        for t in ("Patient", "EpisodeOfCare", "Consent")
    }
    try:
        for p in patients.iter_rows(named=True):
            for res in _fhir_patient(p):
                files[res["resourceType"]].write(dumps(res, ensure_ascii=False) + "\n")
    finally:
        for f in files.values():
            f.close()
    for table, frame in events.items():
        with (dest / f"{_FHIR_FILES[table]}.000.ndjson").open("w", encoding="utf-8") as out:
            for n, e in enumerate(frame.iter_rows(named=True), start=1):
                res = _fhir_event(table, n, e)
                if table == "encounters":
                    res["subject"] = {"reference": f"Patient/pat-{e['local_id']}"}
                    res["period"] = {"start": f"{e['date']}T09:00:00+01:00"}
                out.write(dumps(res) + "\n")


def _transfers(
    patients: pl.DataFrame, encounters: pl.DataFrame, chosen: list[str], transfers: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Add the first leavers of each practice to the next practice's export (see above)."""
    added, visits = [], []
    for before, after in itertools.pairwise(chosen):
        target = patients.filter(pl.col("practice_id") == after)
        next_local = int(target["local_id"].cast(pl.Int64).max() or 0) + 1
        movers = (
            patients.filter(
                (pl.col("practice_id") == before)
                & pl.col("registered_to").is_not_null()
                & pl.col("death_date").is_null()
            )
            .head(transfers)
            .with_columns(
                practice_id=pl.lit(after),
                centre_id=pl.lit(target["centre_id"][0]),
                local_id=(pl.int_range(pl.len()) + next_local).cast(pl.String).str.zfill(6),
                registered_from=pl.col("registered_to") + pl.duration(days=1),
                registered_to=pl.lit(None, pl.Date()),
            )
        )
        added.append(movers)
        visits.append(
            movers.select(
                "local_id", date="registered_from", kind=pl.lit("office"), pid="practice_id"
            )
        )
    patients = pl.concat([patients, *added], how="vertical_relaxed")
    return patients, pl.concat([encounters, *(v.select(encounters.columns) for v in visits)])


def authority_secret(seed: int) -> bytes:
    """The synthetic authority's secret (derived from the seed: synthetic data only)."""
    return hashlib.sha256(b"p4dp-synth-authority/v1/" + str(seed).encode()).digest()


def write_practice_exports(
    data_dir: Path | str,
    local_ids: Path | str,
    *,
    seed: int,
    out: Path | str,
    n_practices: int = 3,
    transfers: int = 5,
    overwrite: bool = False,
) -> list[str]:
    """Write exports of the first ``n_practices`` practices of ``data_dir``; their ids."""
    if n_practices < 1:
        raise MatcherError(f"--export-practices: must be at least 1, got {n_practices}")
    data_dir, out = Path(data_dir), Path(out)
    patients = pl.read_parquet(data_dir / "patients.parquet").with_row_index("row")
    ids = pl.read_parquet(local_ids).select("patient_id", "local_id")
    chosen = sorted(patients["practice_id"].unique().to_list())[:n_practices]
    patients = patients.filter(pl.col("practice_id").is_in(chosen)).join(
        ids, on="patient_id", how="left", maintain_order="left"
    )
    patients = _patients(patients, seed)
    keyed = patients.select("patient_id", "local_id", pid="practice_id")
    tables = {
        name: pl.read_parquet(data_dir / f"{name}.parquet")
        .drop("practice_id", strict=False)
        .join(keyed, on="patient_id", how="inner", maintain_order="left")
        .drop("patient_id")
        for name in _FHIR_FILES
    }
    patients, tables["encounters"] = _transfers(patients, tables["encounters"], chosen, transfers)
    with staged_directory(out, overwrite=overwrite) as tmp:
        create_authority_key(tmp / "authority.key", secret=authority_secret(seed))
        for pid in chosen:
            mine = patients.filter(pl.col("practice_id") == pid)
            centre = mine["centre_id"][0]
            create_practice_key(
                tmp / pid / "practice.key",
                pid,
                centre,
                key_version=TOKEN_VERSION.decode(),
                secret=practice_key(seed, pid),
            )
            events = {n: t.filter(pl.col("pid") == pid).drop("pid") for n, t in tables.items()}
            _write_csv(tmp / pid / "csv", mine, events)
            _write_fhir(tmp / pid / "fhir", mine, events)
    return chosen
