"""Code systems as distinct types: names, format checks and normal forms.

Each known system has a format check and a normal form, so that ``e119`` written by an author
and ``E11.9`` stored in the data are recognised as the same ICD-10 code, and so that a LOINC code
with a wrong check digit is caught before it silently matches nothing:

    >>> normalise_code("icd10", "e119")
    'E11.9'
    >>> validate_code("loinc", "4548-4") is None
    True
    >>> validate_code("loinc", "4548-5")
    "LOINC code '4548-5' has a wrong check digit (expected 4548-4)"
    >>> validate_code("atc", "A10BA02") is None
    True
    >>> validate_code("snomed", "44054006") is None  # other systems: no format check
    True
    >>> normalise_code("icd9cm", "25000"), normalise_code("icd9cm", "v4581")
    ('250.00', 'V45.81')
    >>> normal_form("icd9cm", "E8497"), normal_form("icd10", "E11.99.9") is None
    ('E849.7', True)

Data columns are normalised by :func:`normalise_code_expr` (one Polars expression, the same
rules as :func:`normalise_code`); codes not valid in their system are found with
:func:`normal_form` over the distinct codes of a column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

KNOWN_SYSTEMS: tuple[str, ...] = ("icd10", "icd10cm", "icd9cm", "icpc2", "atc", "loinc", "ccam")
"""Systems whose codes the service checks, expands and labels."""

EXACT_SYSTEMS: tuple[str, ...] = ("icd10pcs", "snomed", "cpt")
"""Systems matched exactly (no table ships), whose codes are format-checked all the same:
ICD-10-PCS (seven characters), SNOMED CT concept ids (Verhoeff check digit), CPT (five
characters)."""

OTHER_SYSTEMS: tuple[str, ...] = ("rxnorm", "cip13", "cip7", "ucd", "nabm")
"""Examples of systems matched exactly, without a format check (any other name works too)."""

ICPC2_CHAPTERS: str = "ABDFHKLNPRSTUWXYZ"
ATC_GROUPS: str = "ABCDGHJLMNPRSV"

_SYSTEM_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_ICD10_RE = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z+]{1,3})?$")
_ICD10CM_RE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
_ICD9CM_RE = re.compile(r"^([0-9]{3}(\.[0-9]{1,2})?|V[0-9]{2}(\.[0-9]{1,2})?|E[0-9]{3}(\.[0-9])?)$")
_ICPC2_RE = re.compile(rf"^([{ICPC2_CHAPTERS}][0-9]{{2}}|-[0-9]{{2}})$")
_ATC_RE = re.compile(rf"^[{ATC_GROUPS}]([0-9]{{2}}([A-Z]([A-Z]([0-9]{{2}})?)?)?)?$")
_LOINC_RE = re.compile(r"^([0-9]{1,7})-([0-9])$")
_CCAM_RE = re.compile(r"^[A-Z]{4}[0-9]{3}$")
_ICD10PCS_RE = re.compile(r"^[0-9A-HJ-NP-Z]{7}$")
_SNOMED_RE = re.compile(r"^[1-9][0-9]{5,17}$")
_CPT_RE = re.compile(r"^([0-9]{5}|[0-9]{4}[FTU])$")


@dataclass(frozen=True, slots=True)
class SystemInfo:
    """Display name and an example code of a known system, for messages and docs."""

    name: str
    display: str
    example: str


SYSTEM_INFO: dict[str, SystemInfo] = {
    "icd10": SystemInfo("icd10", "ICD-10", "E11.9"),
    "icd10cm": SystemInfo("icd10cm", "ICD-10-CM", "E11.9"),
    "icd9cm": SystemInfo("icd9cm", "ICD-9-CM", "250.00"),
    "icpc2": SystemInfo("icpc2", "ICPC-2", "T90"),
    "atc": SystemInfo("atc", "ATC", "A10BA02"),
    "loinc": SystemInfo("loinc", "LOINC", "4548-4"),
    "ccam": SystemInfo("ccam", "CCAM", "HFFC004"),
    "icd10pcs": SystemInfo("icd10pcs", "ICD-10-PCS", "0DB64Z3"),
    "snomed": SystemInfo("snomed", "SNOMED CT", "44054006"),
    "cpt": SystemInfo("cpt", "CPT", "45378"),
}


def display_name(system: str) -> str:
    """Human name of a system: ``display_name('icd10') == 'ICD-10'``; others upper-cased."""
    info = SYSTEM_INFO.get(system)
    return info.display if info else system.upper()


def is_known(system: str) -> bool:
    """True for the systems with a format check (icd10, icd10cm, icd9cm, icpc2, atc, loinc,
    ccam, and the exact systems icd10pcs, snomed, cpt)."""
    return system in SYSTEM_INFO


def check_system_name(system: str) -> None:
    """Reject system names that cannot be right (empty, spaces, upper case...).

    >>> check_system_name("ICD10")
    Traceback (most recent call last):
    ...
    terminology.errors.TerminologyError: invalid code system name 'ICD10': use lower case ...
    """
    from terminology.errors import TerminologyError

    if not _SYSTEM_RE.match(system):
        raise TerminologyError(
            f"invalid code system name {system!r}: use lower case letters, digits, '-' or '_' "
            f"(known systems: {', '.join(KNOWN_SYSTEMS)})"
        )


def loinc_check_digit(number: str) -> int:
    """The LOINC mod-10 check digit of the part before the dash.

    >>> loinc_check_digit("4548"), loinc_check_digit("2160"), loinc_check_digit("62238")
    (4, 0, 1)
    """
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 0:  # 1st, 3rd... digit from the right is doubled
            digit *= 2
            digit = digit // 10 + digit % 10
        total += digit
    return (10 - total % 10) % 10


_ICD10_FILLER_RE = re.compile(r"^([A-Z][0-9]{2}[0-9A-Z]*?)\.?[X-]+$")
"""``I10X``, ``I10-``, ``I10.X``: a three-character ICD-10 code padded with fillers."""


def _dotted(code: str, head: int = 3) -> str:
    """``E119`` → ``E11.9``; codes already dotted or of ``head`` characters are kept."""
    if "." not in code and len(code) > head and code.isalnum():
        return f"{code[:head]}.{code[head:]}"
    return code


def _icd9cm(text: str) -> str:
    """ICD-9-CM: ``25000`` → ``250.00``, ``E8497`` → ``E849.7``, ``V4581`` → ``V45.81``."""
    if "." in text:
        category, _, rest = text.partition(".")
        if category.isdigit() and len(category) < 3:  # a lost leading zero: 1.0 → 001.0
            return f"{category.zfill(3)}.{rest}"
        return text
    head = 4 if text.startswith("E") else 3
    return _dotted(text, head) if text[1:].replace("X", "0").isdigit() else text


def normalise_code(system: str, code: str) -> str:
    """The normal form of a code in its system (case, dots, spaces, fillers).

    ICD-10, ICD-10-CM and ICD-9-CM use the dotted form (``E11.9``, ``250.00``); the undotted
    form used by PMSI and US files (``E119``, ``25000``) is accepted on input. An ICD-10 code
    padded with fillers (``I10X``, ``I10-``) is the three-character code. Other systems are
    only stripped of spaces. The result may still be invalid: see :func:`normal_form`.

    >>> normalise_code("icd10cm", "e1165"), normalise_code("atc", " a10ba02 ")
    ('E11.65', 'A10BA02')
    >>> normalise_code("icpc2", "t 90"), normalise_code("snomed", " 44054006 ")
    ('T90', '44054006')
    >>> normalise_code("icd10", "I10X"), normalise_code("icd9cm", "4019")
    ('I10', '401.9')
    """
    text = code.strip()
    if system in ("icd10", "icd10cm", "icd9cm"):
        text = text.upper().replace(" ", "").rstrip(".")
        if system == "icd9cm":
            return _icd9cm(text)
        if system == "icd10":
            text = _ICD10_FILLER_RE.sub(r"\1", text)
        return _dotted(text)
    if system in ("icpc2", "atc", *_UPPER_SYSTEMS):
        return text.upper().replace(" ", "")
    if system in ("loinc", "snomed"):
        return text.replace(" ", "")
    return text


def normal_form(system: str, code: str) -> str | None:
    """The normal form of ``code`` when it is a well-formed code of ``system``, else None.

    Existence in a table is not checked (see the terminology service); LOINC check digits are.

    >>> normal_form("icd10", " e119 "), normal_form("icd9cm", "25000")
    ('E11.9', '250.00')
    >>> normal_form("icd10", "diabetes") is None, normal_form("loinc", "4548-5") is None
    (True, True)
    """
    if validate_code(system, code) is not None:
        return None
    return normalise_code(system, code)


def normalise_code_expr(code: Any, system: str | Any) -> Any:
    """A Polars expression giving the normal form of a code column, row by row.

    ``code`` is a ``pl.Expr`` (or a column name); ``system`` is one system name (a string),
    or an expression holding each row's system (``pl.col("system")``). The result equals
    :func:`normalise_code` on every row, without a Python call per row.

    >>> import polars as pl
    >>> df = pl.DataFrame({"system": ["icd10", "icd9cm", "atc"], "code": ["e119", "25000", "a10"]})
    >>> df.select(normalise_code_expr("code", pl.col("system")))["code"].to_list()
    ['E11.9', '250.00', 'A10']
    >>> df.select(normalise_code_expr(pl.col("code"), "icd10"))["code"].to_list()[0]
    'E11.9'
    """
    import polars as pl

    column = pl.col(code) if isinstance(code, str) else code
    if isinstance(system, str):
        if system in _COLUMN_SYSTEMS:
            return _normalise_system_expr(column, system)
        return column.str.strip_chars()
    first, *others = _COLUMN_SYSTEMS
    expr = pl.when(system == first).then(_normalise_system_expr(column, first))
    for name in others:
        expr = expr.when(system == name).then(_normalise_system_expr(column, name))
    return expr.otherwise(column.str.strip_chars()).alias(column.meta.output_name())


_UPPER_SYSTEMS = ("ccam", "icd10pcs", "cpt")
"""Systems whose normal form is upper case without spaces (as ATC and ICPC-2)."""
_COLUMN_SYSTEMS = ("icd10", "icd10cm", "icd9cm", "icpc2", "atc", "loinc", "snomed", *_UPPER_SYSTEMS)


_ALNUM = r"[\p{L}\p{N}]"
_DOT_AFTER_3 = rf"^({_ALNUM}{{3}})({_ALNUM}+)$"
_ICD9_E_DOT = r"^(E[0-9X]{3})([0-9X]+)$"
_ICD9_DOT = rf"^([{_ALNUM[1:-1]}&&[^E]][0-9X]{{2}})([0-9X]+)$"


def _normalise_system_expr(column: Any, system: str) -> Any:
    """:func:`normalise_code` for one system as a Polars expression (see the Python version)."""
    text = column.str.strip_chars()
    if system in ("loinc", "snomed"):
        return text.str.replace_all(" ", "", literal=True)
    text = text.str.to_uppercase().str.replace_all(" ", "", literal=True)
    if system in ("icpc2", "atc", *_UPPER_SYSTEMS):
        return text
    text = text.str.strip_chars_end(".")
    if system == "icd9cm":
        text = text.str.replace(_ICD9_E_DOT, "${1}.${2}").str.replace(_ICD9_DOT, "${1}.${2}")
        return text.str.replace(r"^([0-9])\.", "00${1}.").str.replace(r"^([0-9]{2})\.", "0${1}.")
    if system == "icd10":
        text = text.str.replace(_ICD10_FILLER_RE.pattern, "${1}")
    return text.str.replace(_DOT_AFTER_3, "${1}.${2}")


def normalise_code_columns(frame: Any, code: str = "code", system: str = "system") -> Any:
    """``frame`` (a Polars DataFrame or LazyFrame) with its ``code`` column in normal form,
    computed once per distinct (system, code) pair and joined back: the fast way for data
    tables, where millions of rows hold a few thousand distinct codes. Row order is kept.

    >>> import polars as pl
    >>> codes = ["e119", "25000", "E11.9", "4019"]
    >>> df = pl.DataFrame({"system": ["icd10", "icd9cm"] * 2, "code": codes})
    >>> normalise_code_columns(df)["code"].to_list()
    ['E11.9', '250.00', 'E11.9', '401.9']
    """
    import polars as pl

    lazy = frame.lazy() if isinstance(frame, pl.DataFrame) else frame
    pairs = (
        lazy.select(system, code)
        .unique()
        .with_columns(normalise_code_expr(pl.col(code), pl.col(system)).alias("__normal"))
    )
    out = (
        lazy.join(pairs, on=[system, code], how="left", nulls_equal=True, maintain_order="left")
        .with_columns(pl.col("__normal").alias(code))
        .drop("__normal")
    )
    return out.collect() if isinstance(frame, pl.DataFrame) else out


def validate_code(system: str, code: str) -> str | None:
    """An error message when ``code`` is not well formed for ``system``, else None.

    The code is checked in its normal form (see :func:`normalise_code`). Systems other than
    the known ones accept any non-empty code.

    >>> validate_code("icd10", "E11.9") is None, validate_code("icpc2", "-30") is None
    (True, True)
    >>> validate_code("icpc2", "Q90")
    "ICPC-2 code 'Q90' is not well formed (expected a chapter letter and two digits, e.g. T90)"
    """
    if not code or not code.strip():
        return f"empty {display_name(system)} code"
    norm = normalise_code(system, code)
    if system == "icd10":
        if not _ICD10_RE.match(norm):
            return (
                f"ICD-10 code {code!r} is not well formed (expected a letter, two digits and an "
                "optional '.' with one or two characters, e.g. E11 or E11.9)"
            )
    elif system == "icd10cm":
        if not _ICD10CM_RE.match(norm):
            return (
                f"ICD-10-CM code {code!r} is not well formed (expected e.g. E11.9, E119 or N18.30)"
            )
    elif system == "icd9cm":
        if not _ICD9CM_RE.match(norm):
            return (
                f"ICD-9-CM code {code!r} is not well formed (expected three digits with up to "
                "two decimals, V and two digits, or E and three digits, e.g. 250.00, 25000, "
                "V45.81 or E849.7)"
            )
    elif system == "icpc2":
        if not _ICPC2_RE.match(norm):
            return (
                f"ICPC-2 code {code!r} is not well formed (expected a chapter letter and two "
                "digits, e.g. T90)"
            )
    elif system == "atc":
        if not _ATC_RE.match(norm):
            return (
                f"ATC code {code!r} is not well formed (expected one of the five levels, "
                "e.g. A, A10, A10B, A10BA or A10BA02)"
            )
    elif system == "loinc":
        match = _LOINC_RE.match(norm)
        if not match:
            return f"LOINC code {code!r} is not well formed (expected digits, '-', check digit)"
        number, check = match.groups()
        expected = loinc_check_digit(number)
        if int(check) != expected:
            return f"LOINC code {code!r} has a wrong check digit (expected {number}-{expected})"
    elif system in _PROCEDURE_FORMATS:
        return _procedure_format(system, code, norm)
    return None


_PROCEDURE_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "ccam": (_CCAM_RE, "four letters and three digits, e.g. HFFC004"),
    "icd10pcs": (_ICD10PCS_RE, "seven letters or digits without I or O, e.g. 0DB64Z3"),
    "snomed": (_SNOMED_RE, "6 to 18 digits ending in a Verhoeff check digit, e.g. 44054006"),
    "cpt": (_CPT_RE, "five digits, or four digits and F, T or U, e.g. 45378 or 0001F"),
}


def _procedure_format(system: str, code: str, norm: str) -> str | None:
    """The format checks of CCAM, ICD-10-PCS, SNOMED CT and CPT codes.

    >>> _procedure_format("ccam", "hffc4", "HFFC4")
    "CCAM code 'hffc4' is not well formed (expected four letters and three digits, e.g. HFFC004)"
    >>> _procedure_format("snomed", "44054007", "44054007")
    "SNOMED CT code '44054007' has a wrong check digit (expected 44054006)"
    """
    pattern, expected = _PROCEDURE_FORMATS[system]
    name = display_name(system)
    if not pattern.match(norm):
        return f"{name} code {code!r} is not well formed (expected {expected})"
    if system == "snomed":
        check = verhoeff_check_digit(norm[:-1])
        if int(norm[-1]) != check:
            return f"{name} code {code!r} has a wrong check digit (expected {norm[:-1]}{check})"
    return None


_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_VERHOEFF_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)


def verhoeff_check_digit(number: str) -> int:
    """The Verhoeff check digit SNOMED CT appends to its identifiers.

    >>> verhoeff_check_digit("4405400"), verhoeff_check_digit("7321100")  # 44054006, 73211009
    (6, 9)
    """
    c = 0
    for i, char in enumerate(reversed(number)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[(i + 1) % 8][int(char)]]
    return _VERHOEFF_INV[c]


def atc_level(code: str) -> int:
    """ATC level (1-5) from the code length: ``atc_level('A10BA02') == 5``."""
    return {1: 1, 3: 2, 4: 3, 5: 4, 7: 5}[len(code)]


def atc_parent(code: str) -> str | None:
    """The ATC code one level up: ``atc_parent('A10BA02') == 'A10BA'``; None at level 1."""
    return {1: None, 3: code[:1], 4: code[:3], 5: code[:4], 7: code[:5]}[len(code)]


ICPC2_COMPONENTS: dict[int, str] = {
    1: "Symptoms and complaints",
    2: "Diagnostic, screening and prevention",
    3: "Medication, treatment, procedures",
    4: "Test results",
    5: "Administrative",
    6: "Referrals and other reasons for encounter",
    7: "Diseases",
}

ICPC2_COMPONENTS_FR: dict[int, str] = {
    1: "Symptômes et plaintes",
    2: "Procédures diagnostiques et préventives",
    3: "Médication, traitements, procédures thérapeutiques",
    4: "Résultats d'examens",
    5: "Administratif",
    6: "Références et autres motifs de rencontre",
    7: "Maladies",
}


def icpc2_component(code: str) -> int:
    """ICPC-2 component (1-7) of a rubric from its two digits.

    >>> icpc2_component("T90"), icpc2_component("K01"), icpc2_component("-30")
    (7, 1, 2)
    """
    number = int(code[1:3])
    if number < 30:
        return 1
    if number < 50:
        return 2
    if number < 60:
        return 3
    if number < 62:
        return 4
    if number == 62:
        return 5
    if number < 70:
        return 6
    return 7
