"""Each loader on a small file written in its official format, and on the real shared files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from terminology import loaders
from terminology.errors import TerminologyError
from terminology.model import CodePattern, CodeSetSpec
from terminology.service import TerminologyService
from terminology.store import Store

ATC_CSV = """atc_code,atc_name,ddd,uom,adm_r,note
A,ALIMENTARY TRACT AND METABOLISM,NA,NA,NA,NA
A10,DRUGS USED IN DIABETES,NA,NA,NA,NA
A10B,"BLOOD GLUCOSE LOWERING DRUGS, EXCL. INSULINS",NA,NA,NA,NA
A10BA,Biguanides,NA,NA,NA,NA
A10BA02,metformin,2,g,O,NA
A10BA02,metformin,2,g,O,extended release
A10BB,Sulfonylureas,NA,NA,NA,NA
A10BB09,gliclazide,60,mg,O,NA
"""

ICPC2_CSV = """cod,componente,nome,nome_curto,incl,excl,crit,cons,nota,icd10
-30,2,Exame médico completo,Ex médico completo,,,,,,
T89,7,Diabetes insulino-dependente,Diabetes ID,,,,,,E10.0; E10.9
T90,7,Diabetes não insulino-dependente,Diabetes NID,,,,,,E11.0; E11.9; E14.9
K86,7,Hipertensão sem complicações,HTA,,,,,,I10
"""

ATIH_TXT = (
    "E11   |0|NOO|4|DIABETE TYPE 2|Diabète sucré de type 2\r\n"
    "E110  |0|NOO|4|DT2 AVEC COMA|Diabète sucré de type 2, avec coma\r\n"
    "E119  |0|NOO|4|DT2 SANS COMPL.|Diabète sucré de type 2, sans complication\r\n"
    "U0710 |0|NOO|4|COVID-19 CONFIRME|*** SU09 *** COVID-19, forme respiratoire\r\n"
    "U071  |0|NOO|4|COVID-19|COVID-19, virus identifié\r\n"
    "U07   |0|NOO|4|USAGE URGENCE|Codes d'usage urgent\r\n"
    "B24+0 |0|NOO|4|VIH STADE A|Infection par le VIH, stade A\r\n"
    "B24   |0|NOO|4|VIH|Maladie due au VIH, sans précision\r\n"
)

LOINC_CSV = "\n".join(
    [
        '"LOINC_NUM","COMPONENT","LONG_COMMON_NAME","SHORTNAME","STATUS","EXAMPLE_UCUM_UNITS"',
        '"4548-4","Hemoglobin A1c","Hemoglobin A1c/Hemoglobin.total in Blood",'
        '"HbA1c MFr Bld","ACTIVE","%"',
        '"2160-0","Creatinine","Creatinine [Mass/volume] in Serum or Plasma",'
        '"Creat SerPl-mCnc","ACTIVE","mg/dL"',
        '"1234-5","Made up","Made up code","Made up","ACTIVE","mg/dL"',
        "",
    ]
)

CONCEPT = (
    "concept_id\tconcept_name\tdomain_id\tvocabulary_id\tconcept_class_id\tstandard_concept"
    "\tconcept_code\tvalid_start_date\tvalid_end_date\tinvalid_reason\n"
    "201826\tType 2 diabetes mellitus\tCondition\tSNOMED\tClinical Finding\tS\t44054006"
    "\t19700101\t20991231\t\n"
    "201820\tDiabetes mellitus\tCondition\tSNOMED\tClinical Finding\tS\t73211009\t19700101"
    "\t20991231\t\n"
    "45561952\tType 2 diabetes mellitus without complications\tCondition\tICD10CM\t5-char"
    "\t\tE11.9\t19700101\t20991231\t\n"
    "8554\tpercent\tUnit\tUCUM\tUnit\tS\t%\t19700101\t20991231\t\n"
)
ANCESTOR = (
    "ancestor_concept_id\tdescendant_concept_id\tmin_levels_of_separation\tmax_levels_of_separation\n"
    "201820\t201826\t1\t1\n201826\t201826\t0\t0\n"
)
RELATIONSHIP = (
    "concept_id_1\tconcept_id_2\trelationship_id\tvalid_start_date\tvalid_end_date\tinvalid_reason\n"
    "45561952\t201826\tMaps to\t19700101\t20991231\t\n"
)

LABELS_CSV = "\n".join(
    [
        "xml_id,code,label_en,label_fr,category_ref,category_name",
        "A00,A00,Cholera,Choléra,icdcat1-1,(A00-A09)",
        'A000,A00.0,"Cholera due to Vibrio cholerae 01, biovar cholerae",'
        '"A Vibrio cholerae 01, biovar cholerae",icdcat1-1,(A00-A09)',
        "E11,E11,Type 2 diabetes mellitus,Diabète sucré de type 2,x,y",
        "E119,E11.9,Type 2 diabetes mellitus without complications,Sans complication,x,y",
        "",
    ]
)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_atc_loader(tmp_path: Path, store: Store) -> None:
    path = write(tmp_path, "who_atc_ddd_2026-04-25.csv", ATC_CSV)
    [info] = loaders.install("atc", path, store=store)
    assert (info.system, info.version, info.codes) == ("atc", "2026", 7)  # repeated row merged
    svc = TerminologyService(store=store)
    assert svc.default_version("atc") == "2026"
    assert svc.versions("atc") == ("2026", "p4dp-defaults")
    assert svc.descendants("atc", "A10B") == {"A10BA", "A10BA02", "A10BB", "A10BB09"}
    assert svc.label("atc", "A10BA02") == "metformine"  # French label kept from the defaults
    assert svc.label("atc", "A10B", lang="en") == "BLOOD GLUCOSE LOWERING DRUGS, EXCL. INSULINS"
    old = svc.resolve(CodeSetSpec((CodePattern("atc", "A10BA02"),)), {"atc": "p4dp-defaults"})
    assert old.codes[0].version == "p4dp-defaults"


def test_atc_loader_rejects_bad_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "atc_2026.csv", ATC_CSV + "A10XX9,broken,NA,NA,NA,NA\n")
    with pytest.raises(TerminologyError, match=r"line 10: column 'atc_code'"):
        loaders.read("atc", path)
    with pytest.raises(TerminologyError, match="pass --version"):
        loaders.read("atc", write(tmp_path, "atc.csv", ATC_CSV))
    with pytest.raises(TerminologyError, match="missing column"):
        loaders.read("atc", write(tmp_path, "x_2026.csv", "code,name\nA,x\n"))


def test_icpc2_loader_with_icd10_map(tmp_path: Path, store: Store) -> None:
    path = write(tmp_path, "icpc2e_v4.4_pt.csv", ICPC2_CSV)
    [info] = loaders.install("icpc2", path, store=store, lang="none")
    assert (info.version, info.codes) == ("4.4", 4)
    svc = TerminologyService(store=store)
    assert svc.ancestors("icpc2", "-30") == {"-/2", "-"}
    assert svc.label("icpc2", "T90") == "Diabète non insulino-dépendant"  # from the defaults
    mapped = svc.crossmap("icpc2", "T90", "icd10")
    assert [m.code for m in mapped] == ["E11.0", "E11.9", "E14.9"]
    assert {m.provenance for m in mapped} == {"mapped from icpc2 T90"}
    back = svc.crossmap("icd10", "E14.9", "icpc2")
    assert [(m.code, m.version) for m in back] == [("T90", "4.4")]


def test_atih_loader(tmp_path: Path, store: Store) -> None:
    path = write(tmp_path, "LIBCIM10MULTI_2025.TXT", ATIH_TXT, "latin-1")
    [info] = loaders.install("cim10-atih", path, store=store)
    assert (info.version, info.codes) == ("cim10fr-2025", 8)
    svc = TerminologyService(store=store)
    assert svc.default_version("icd10") == "cim10fr-2025"
    assert svc.label("icd10", "E119") == "Diabète sucré de type 2, sans complication"
    assert svc.label("icd10", "E11", lang="en") == "Type 2 diabetes mellitus"  # WHO English
    assert svc.ancestors("icd10", "E11.9") == {"E11", "E10-E14", "IV"}
    assert svc.descendants("icd10", "U07") == {"U07.1", "U07.10"}
    assert svc.label("icd10", "U07.10") == "COVID-19, forme respiratoire"
    assert svc.ancestors("icd10", "B24+0") >= {"B24"}
    assert svc.resolve(CodeSetSpec((CodePattern("icd10", "E11"),)), {"icd10": "2019"})


def test_loinc_loader(tmp_path: Path, store: Store) -> None:
    path = write(tmp_path, "Loinc.csv", LOINC_CSV)
    with pytest.raises(TerminologyError, match=r"line 4: column 'LOINC_NUM'.*check digit"):
        loaders.read("loinc", path, "2.80")
    path = write(tmp_path, "Loinc.csv", LOINC_CSV.replace('"1234-5"', '"1234-4"'))
    [info] = loaders.install("loinc", path, "2.80", store=store)
    assert info.codes == 3
    svc = TerminologyService(store=store)
    assert svc.label("loinc", "2160-0", lang="en") == "Creatinine [Mass/volume] in Serum or Plasma"
    assert svc.label("loinc", "4548-4") == "Hémoglobine glyquée (HbA1c) dans le sang"
    with pytest.raises(TerminologyError, match="--version"):
        loaders.read("loinc", path)


def test_omop_loader_folder_and_zip(tmp_path: Path, store: Store) -> None:
    folder = tmp_path / "vocab"
    folder.mkdir()
    (folder / "CONCEPT.csv").write_text(CONCEPT, encoding="utf-8")
    (folder / "CONCEPT_ANCESTOR.csv").write_text(ANCESTOR, encoding="utf-8")
    (folder / "CONCEPT_RELATIONSHIP.csv").write_text(RELATIONSHIP, encoding="utf-8")
    tables = {t.system: t for t in loaders.read("omop", folder, "v5-2024")}
    assert set(tables) == {"snomed", "icd10cm"}  # UCUM is not a code system for criteria
    zipped = tmp_path / "vocab.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        for p in folder.iterdir():
            z.write(p, f"export/{p.name.lower()}")
        z.writestr("__MACOSX/export/._concept.csv", "junk")
    loaders.install("omop", zipped, "v5-2024", store=store)
    svc = TerminologyService(store=store)
    assert svc.descendants("snomed", "73211009", "v5-2024") == {"44054006"}
    mapped = svc.crossmap(
        "icd10cm", "E11.9", "snomed", from_version="v5-2024", to_version="v5-2024"
    )
    assert [(m.code, m.provenance) for m in mapped] == [("44054006", "mapped from icd10cm E11.9")]
    rs = svc.resolve(CodeSetSpec((CodePattern("snomed", "73211009", "descendants"),)))
    assert rs.by_system() == {"snomed": ("44054006", "73211009")}


def test_icd10_labels_loader(tmp_path: Path, store: Store) -> None:
    path = write(tmp_path, "icd10_who_en_fr.csv", LABELS_CSV)
    [info] = loaders.install("icd10-labels", path, store=store)
    assert info.codes == 4
    svc = TerminologyService(store=store)
    assert svc.label("icd10", "A00.0") == "Choléra à Vibrio cholerae 01, biovar cholerae"
    assert svc.label("icd10", "E11") == "Diabète sucré de type 2"
    assert svc.label("icd10", "E11.9") == "Diabète sucré de type 2 sans complication"
    assert svc.label("icd10", "E11", lang="en") == "Type 2 diabetes mellitus"


def test_unknown_kind_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TerminologyError, match="unknown table kind"):
        loaders.read("snomed", tmp_path)
    with pytest.raises(TerminologyError, match="no such file"):
        loaders.read("atc", tmp_path / "absent_2026.csv")


# ------------------------------------------------------------- the real shared files
def test_real_atc_table(shared_data: Path, store: Store) -> None:
    [info] = loaders.install("atc", shared_data / "atc" / "who_atc_ddd_2026-04-25.csv", store=store)
    assert (info.version, info.codes) == ("2026", 6996)
    svc = TerminologyService(store=store)
    assert "A10BA02" in svc.descendants("atc", "A10")
    assert svc.resolve(CodeSetSpec((CodePattern("atc", "A10BJ*", "wildcard"),))).codes


def test_real_icpc2_table(shared_data: Path, store: Store) -> None:
    path = shared_data / "icpc2" / "icpc2e_v4.4_pt_with_icd10.csv"
    [info] = loaders.install("icpc2", path, store=store, lang="none")
    assert (info.version, info.codes) == ("4.4", 726)
    svc = TerminologyService(store=store)
    t90 = {m.code for m in svc.crossmap("icpc2", "T90", "icd10")}
    assert {"E11.9", "E14.9"} <= t90
    assert {m.code for m in svc.crossmap("icpc2", "K86", "icd10")} == {"I10"}
    assert {m.code for m in svc.crossmap("icd10", "I48", "icpc2")} == {"K78"}


def test_real_icd10_french_labels(shared_data: Path, store: Store) -> None:
    loaders.install("icd10-labels", shared_data / "icd10_fr" / "icd10_who_en_fr.csv", store=store)
    svc = TerminologyService(store=store)
    assert svc.label("icd10", "E11") == "Diabète sucré de type 2"
    assert svc.label("icd10", "A00.1").startswith("Choléra à Vibrio")


def test_real_omop_vocabulary(shared_data: Path, store: Store) -> None:
    tables = loaders.read("omop", shared_data / "omop_synthea27nj" / "Synthea27Nj_5.4.zip")
    systems = {t.system: t for t in tables}
    assert {"snomed", "rxnorm", "loinc"} <= set(systems)
    assert any(r.code == "4548-4" for r in systems["loinc"].rows)
