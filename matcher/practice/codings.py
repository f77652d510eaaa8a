"""Code systems the practice kit recognises: FHIR system URIs, CSV names, code normalisation.

A coding is kept only in a recognised system that fits its table (diagnoses: ICD-10,
ICD-10-CM, ICPC-2; prescriptions: ATC; observations: LOINC; procedures: CCAM, ICD-10-PCS,
SNOMED CT, CPT). Every other coding is counted
per system and reported; a row left with no recognised coding is reported, never dropped
silently.

>>> SYSTEM_URIS["http://hl7.org/fhir/sid/icd-10"], SYSTEM_URIS["http://www.whocc.no/atc"]
('icd10', 'atc')
>>> table_system("diagnoses", "http://snomed.info/sct") is None
True
>>> df = pl.DataFrame({"system": ["icd10", "icd10", "atc", "icpc2"],
...                    "code": [" e119 ", "I10", "a10ba02", "t90"]})
>>> df.select(normalise_code(pl.col("system"), pl.col("code")))["code"].to_list()
['E11.9', 'I10', 'A10BA02', 'T90']
"""

from __future__ import annotations

import polars as pl

SYSTEM_URIS: dict[str, str] = {
    # ICD-10 (WHO; the French CIM-10 is coded in the same system)
    "http://hl7.org/fhir/sid/icd-10": "icd10",
    "urn:oid:2.16.840.1.113883.6.3": "icd10",
    # ICD-10-CM (United States)
    "http://hl7.org/fhir/sid/icd-10-cm": "icd10cm",
    "urn:oid:2.16.840.1.113883.6.90": "icd10cm",
    # ICPC-2 (WONCA), as spelled by record software in use
    "http://hl7.org/fhir/sid/icpc-2": "icpc2",
    "urn:oid:2.16.840.1.113883.6.139": "icpc2",
    "urn:oid:2.16.578.1.12.4.1.1.7170": "icpc2",
    # ATC (WHO Collaborating Centre)
    "http://www.whocc.no/atc": "atc",
    "https://www.whocc.no/atc": "atc",
    "urn:oid:2.16.840.1.113883.6.73": "atc",
    # LOINC
    "http://loinc.org": "loinc",
    "https://loinc.org": "loinc",
    "urn:oid:2.16.840.1.113883.6.1": "loinc",
    # ---- issue 18: records (procedure systems) ----
    "urn:oid:1.2.250.1.213.2.5": "ccam",  # CCAM (French OID register)
    "http://snomed.info/sct": "snomed",
    "urn:oid:2.16.840.1.113883.6.96": "snomed",
    "http://www.ama-assn.org/go/cpt": "cpt",
    "urn:oid:2.16.840.1.113883.6.12": "cpt",
    "http://www.cms.gov/Medicare/Coding/ICD10": "icd10pcs",
    "urn:oid:2.16.840.1.113883.6.4": "icd10pcs",
}
"""FHIR ``Coding.system`` values recognised, and the data-contract system name of each."""

TABLE_SYSTEMS: dict[str, tuple[str, ...]] = {
    "diagnoses": ("icd10", "icd10cm", "icpc2"),
    "prescriptions": ("atc",),
    "observations": ("loinc",),
    "procedures": ("ccam", "icd10pcs", "snomed", "cpt"),  # issue 18
    "allergies": ("atc", "snomed"),  # issue 18: the substance (a drug in ATC, else SNOMED CT)
}
"""The system names each event table keeps (CSV exports name them in their ``system`` column)."""

UCUM = "http://unitsofmeasure.org"

_ICD = ("icd10", "icd10cm")


def table_system(table: str, uri: str | None) -> str | None:
    """The contract system name of a FHIR coding ``uri`` for ``table``, or ``None``."""
    name = SYSTEM_URIS.get((uri or "").rstrip("/"))
    return name if name in TABLE_SYSTEMS.get(table, ()) else None


def normalise_code(system: pl.Expr, code: pl.Expr) -> pl.Expr:
    """Codes as the platform stores them: trimmed, upper case, ICD-10 dotted (``E119`` → E11.9).

    LOINC codes are only trimmed (they hold no letters).
    """
    trimmed = code.str.strip_chars()
    upper = trimmed.str.to_uppercase()
    undotted = upper.str.contains(r"^[A-Z][0-9]{2}[0-9A-Z]{1,4}$")
    dotted = upper.str.slice(0, 3) + pl.lit(".") + upper.str.slice(3)
    icd = pl.when(undotted).then(dotted).otherwise(upper)
    return (
        pl.when(system.is_in(_ICD))
        .then(icd)
        .when(system == "loinc")
        .then(trimmed)
        .otherwise(upper)
        .alias("code")
    )
