"""The small tables p4dp ships: complete hierarchies, both languages, valid cross-map targets."""

from __future__ import annotations

import csv
from pathlib import Path

from terminology.builtin import default_icpc2_icd10_map, defaults, icd10_who_2019
from terminology.systems import atc_parent, validate_code

DATA = Path(__file__).resolve().parents[2] / "terminology" / "data"

REQUIRED_ATC = [
    "A10BA02",
    "A10BB09",
    "A10BB12",
    "A10BH01",
    "A10BJ02",
    "A10BJ05",
    "A10BJ06",
    "A10BK01",
    "A10BK03",
    "A10AE04",
    "A10AB05",
    "C09AA05",
    "C09AA02",
    "C09CA01",
    "C09CA03",
    "C08CA01",
    "C03AA03",
    "C07AB07",
    "C10AA05",
    "C10AA01",
    "C10AA07",
    "B01AF01",
    "B01AF02",
    "B01AA07",
    "B01AA03",
    "B01AC06",
    "R03AC02",
    "R03AK06",
    "R03BB04",
    "R03BA02",
    "N06AB10",
    "N06AB06",
    "N06AX11",
    "M05BA04",
    "M05BA07",
    "C03CA01",
    "C03DA01",
    "C09DX04",
    "H03AA01",
    "N02BE01",
]
REQUIRED_ICPC2 = [
    "T90",
    "T89",
    "K86",
    "K87",
    "T93",
    "R95",
    "R96",
    "K78",
    "K77",
    "U99",
    "P76",
    "L95",
    "T82",
    "W78",
    "W84",
    "A97",
]
REQUIRED_LOINC = [
    "4548-4",
    "2160-0",
    "62238-1",
    "33914-3",
    "13457-7",
    "2093-3",
    "2085-9",
    "8480-6",
    "8462-4",
    "39156-5",
    "29463-7",
    "8302-2",
    "2345-7",
    "14959-1",
    "2889-4",
]


def rows() -> list[dict[str, str]]:
    with (DATA / "defaults.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_row_is_valid_and_bilingual() -> None:
    seen = set()
    for row in rows():
        key = (row["system"], row["code"])
        assert key not in seen, key
        seen.add(key)
        assert row["label_en"] and row["label_fr"], key
        if not (row["system"] == "icpc2" and len(row["code"]) == 1):
            assert validate_code(row["system"], row["code"]) is None, key


def test_required_codes_are_shipped_with_their_atc_parents() -> None:
    tables = defaults()
    for code in REQUIRED_ATC:
        assert code in tables["atc"], code
        parent = atc_parent(code)
        while parent:
            concept = tables["atc"].concept(parent)
            assert concept is not None and concept.label_fr, parent
            parent = atc_parent(parent)
    assert all(code in tables["icpc2"] for code in REQUIRED_ICPC2)
    assert all(code in tables["loinc"] for code in REQUIRED_LOINC)


def test_icpc2_icd10_map_targets_exist_in_icd10_2019() -> None:
    icd = icd10_who_2019()
    icpc = defaults()["icpc2"]
    mapping = default_icpc2_icd10_map()
    for code, targets in mapping.items():
        assert code in icpc, code
        for target in targets:
            assert target in icd and not icd.is_group(target), (code, target)
    assert mapping["T90"] == ("E11",) and mapping["R95"] == ("J43", "J44")
