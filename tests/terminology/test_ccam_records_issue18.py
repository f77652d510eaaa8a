"""Issue 18 (records): the shipped partial CCAM table, the CCAM loader, and the format checks
of the exact procedure systems (ICD-10-PCS, SNOMED CT with its Verhoeff check digit, CPT)."""

from __future__ import annotations

from pathlib import Path

import pytest

from terminology import loaders
from terminology.errors import TerminologyError
from terminology.model import CodePattern, CodeSetSpec
from terminology.service import TerminologyService
from terminology.store import Store
from terminology.systems import normalise_code, validate_code

CCAM_CSV = (
    "CODE;TEXTE;ACTIVITE;PHASE\n"
    "DEQP003;Électrocardiographie sur au moins 12 dérivations;1;0\n"
    "HFFC004-1-0;Gastrectomie, par cœlioscopie;1;0\n"
    "HFFC004-4-0;Gastrectomie, par cœlioscopie (anesthésie);4;0\n"
)


def test_issue18_shipped_ccam_is_partial_with_french_and_english_labels():
    svc = TerminologyService(use_store=False)
    assert svc.default_version("ccam") == "p4dp-defaults"
    assert svc.label("ccam", "HFFC018").startswith("Gastrectomie longitudinale")
    assert "Sleeve gastrectomy" in svc.label("ccam", "HFFC018", lang="en")
    resolved = svc.resolve(CodeSetSpec((CodePattern("ccam", "hffc004"),)))
    assert [c.code for c in resolved.codes] == ["HFFC004"]  # kept as written, normal form
    assert "valid code not in the shipped table" in resolved.warnings[0]
    with pytest.raises(TerminologyError, match="not well formed"):
        svc.resolve(CodeSetSpec((CodePattern("ccam", "HFFC04"),)))


def test_issue18_ccam_loader_installs_a_full_table_that_gives_no_partial_warning(
    tmp_path: Path,
):
    path = tmp_path / "ccam_v78.csv"
    path.write_text(CCAM_CSV, encoding="utf-8")
    store = Store(tmp_path / "store")
    [info] = loaders.install("ccam", path, store=store)
    assert (info.system, info.version, info.codes) == ("ccam", "78", 2)  # phases merged
    svc = TerminologyService(store=store)
    assert svc.default_version("ccam") == "78"
    resolved = svc.resolve(CodeSetSpec((CodePattern("ccam", "HFFC004"),)))
    assert resolved.warnings == () and resolved.codes[0].version == "78"
    assert svc.label("ccam", "HFFC004") == "Gastrectomie, par cœlioscopie"


def test_issue18_ccam_loader_refuses_bad_codes_and_missing_columns(tmp_path: Path):
    bad = tmp_path / "ccam_v78.csv"
    bad.write_text("code;libelle\nDEQP03;ECG\n", encoding="utf-8")
    with pytest.raises(TerminologyError, match="line 2: column 'code': CCAM code 'DEQP03'"):
        loaders.read("ccam", bad)
    bad.write_text("acte_id;libelle\nDEQP003;ECG\n", encoding="utf-8")
    with pytest.raises(TerminologyError, match="no code column"):
        loaders.read("ccam", bad)


@pytest.mark.parametrize(
    ("system", "code", "normal"),
    [
        ("ccam", " hffc018 ", "HFFC018"),
        ("icd10pcs", "0dt90zz", "0DT90ZZ"),
        ("snomed", " 73761001 ", "73761001"),
        ("snomed", "44054006", "44054006"),
        ("cpt", "0001f", "0001F"),
        ("cpt", "45378", "45378"),
    ],
)
def test_issue18_procedure_codes_valid_in_normal_form(system, code, normal):
    assert normalise_code(system, code) == normal
    assert validate_code(system, code) is None


@pytest.mark.parametrize(
    ("system", "code", "message"),
    [
        ("ccam", "HFF018", "four letters and three digits"),
        ("icd10pcs", "0DTO0ZZ", "without I or O"),
        ("icd10pcs", "0DT90Z", "seven letters or digits"),
        ("snomed", "73761002", "wrong check digit (expected 73761001)"),
        ("snomed", "0123456", "6 to 18 digits"),
        ("cpt", "4537", "five digits"),
        ("cpt", "0001X", "five digits"),
    ],
)
def test_issue18_procedure_codes_badly_formed_are_named(system, code, message):
    error = validate_code(system, code)
    assert error is not None and message in error
