"""Benchmark of the terminology fuzzy search (``terminology.search.SearchIndex``).

Builds one index of more than 100,000 labels and times about 200 realistic queries (French and
English terms, typos, GP abbreviations, codes typed directly). Not part of the test suite.

Labels used, when available:

* WHO ICD-10 2019 English labels (chapters, blocks, categories, sub-categories) from the
  ``simple-icd-10`` dependency;
* French CIM-10 labels from ``../shared/data/icd10_fr`` (merged into the same concepts);
* the WHO ATC index from ``../shared/data/atc`` and ICPC-2 (Portuguese) from
  ``../shared/data/icpc2``;
* ICD-10-CM (98,505 codes) from ``simple-icd-10-cm`` when it is installed
  (``pip install simple-icd-10-cm``; benchmark only, not a project dependency).

If fewer than 100,000 labels are found, synthetic variants of the WHO labels (word order
shuffled, in a ``synthetic`` system) fill the index up to that size.

Usage::

    .venv/bin/python benchmarks/bench_terms_search.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from terminology.model import Concept  # noqa: E402
from terminology.search import SearchIndex  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
TARGET_LABELS = 100_000

BASE_QUERIES = [
    "diabète de type 2",
    "type 2 diabetes",
    "diabete type 1",
    "hypertension artérielle",
    "essential hypertension",
    "insuffisance cardiaque",
    "heart failure",
    "fibrillation auriculaire",
    "atrial fibrillation",
    "insuffisance rénale chronique",
    "chronic kidney disease",
    "asthme",
    "asthma",
    "bronchopneumopathie chronique obstructive",
    "copd",
    "dépression",
    "depressive episode",
    "ostéoporose",
    "osteoporosis",
    "obésité",
    "obesity",
    "dyslipidémie",
    "hypercholesterolemia",
    "infarctus du myocarde",
    "myocardial infarction",
    "accident vasculaire cérébral",
    "stroke",
    "embolie pulmonaire",
    "pulmonary embolism",
    "cancer du sein",
    "breast cancer",
    "cancer de la prostate",
    "maladie d'alzheimer",
    "parkinson",
    "épilepsie",
    "migraine",
    "hypothyroïdie",
    "hyperthyroidism",
    "goutte",
    "gout",
    "polyarthrite rhumatoïde",
    "rheumatoid arthritis",
    "arthrose du genou",
    "lombalgie",
    "low back pain",
    "anémie ferriprive",
    "iron deficiency anaemia",
    "cirrhose",
    "hépatite c",
    "reflux gastro-oesophagien",
    "ulcère gastrique",
    "maladie de crohn",
    "psoriasis",
    "eczéma",
    "zona",
    "grippe",
    "influenza",
    "pneumonie",
    "infection urinaire",
    "urinary tract infection",
    "insomnie",
    "anxiété",
    "schizophrénie",
    "trouble bipolaire",
    "démence",
    "glaucome",
    "cataracte",
    "surdité",
    "metformin",
    "insulin glargine",
    "atorvastatin",
    "amlodipine",
    "ramipril",
    "levothyroxine",
    "apixaban",
    "warfarin",
    "paracetamol",
    "ibuprofen",
    "omeprazole",
    "sertraline",
    "salbutamol",
    "semaglutide",
    "empagliflozin",
    "glycated haemoglobin",
    "grossesse",
    "pregnancy",
]
ABBREVIATIONS = [
    "HTA",
    "DT2",
    "DT1",
    "BPCO",
    "FA",
    "ACFA",
    "IRC",
    "MRC",
    "IC",
    "AVC",
    "AIT",
    "IDM",
    "SCA",
    "EP",
    "TVP",
    "SAOS",
    "RGO",
    "HBP",
    "HbA1c",
    "DFG",
    "LDL",
    "IMC",
    "AOD",
    "AVK",
    "IEC",
    "ARA2",
    "ISRS",
    "DNID",
    "DID",
    "TSH",
]
CODES = ["E11", "E11.9", "I10", "J44", "a10ba02", "C09AA05", "N18", "I48", "T90", "K86"]


def _typo(text: str, rng: random.Random) -> str:
    """Swap two adjacent letters or drop one, in a word of five letters or more."""
    words = text.split()
    long_words = [i for i, w in enumerate(words) if len(w) >= 5]
    if not long_words:
        return text
    i = rng.choice(long_words)
    w = words[i]
    j = rng.randrange(1, len(w) - 2)
    swapped = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    dropped = w[:j] + w[j + 1 :]
    words[i] = swapped if rng.random() < 0.5 else dropped
    return " ".join(words)


def queries(seed: int = 7) -> list[str]:
    """About 200 queries: terms, typos of them, abbreviations and codes."""
    rng = random.Random(seed)
    typos = [_typo(q, rng) for q in BASE_QUERIES]
    return [*BASE_QUERIES, *typos, *ABBREVIATIONS, *CODES]


def concepts() -> tuple[list[Concept], list[str]]:
    """Every concept the benchmark indexes, and a description of the sources used."""
    import simple_icd_10 as icd

    sources: list[str] = []
    french: dict[str, str] = {}
    fr_file = SHARED / "icd10_fr" / "icd10_who_en_fr.csv"
    if fr_file.exists():
        with fr_file.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row["label_fr"]:
                    french[row["code"]] = row["label_fr"]
        sources.append(f"CIM-10 French labels ({len(french)})")
    out: list[Concept] = []
    for code in icd.get_all_codes(True):
        out.append(Concept("icd10", code, "2019", icd.get_description(code), french.get(code)))
    sources.append(f"ICD-10 WHO 2019 ({len(out)} codes, simple-icd-10)")

    atc_file = SHARED / "atc" / "who_atc_ddd_2026-04-25.csv"
    if atc_file.exists():
        seen: set[str] = set()
        with atc_file.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row["atc_code"] not in seen:
                    seen.add(row["atc_code"])
                    out.append(Concept("atc", row["atc_code"], "2026", row["atc_name"]))
        sources.append(f"ATC ({len(seen)} codes)")
    icpc_file = SHARED / "icpc2" / "icpc2e_v4.4_pt_with_icd10.csv"
    if icpc_file.exists():
        with icpc_file.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        out.extend(Concept("icpc2", r["cod"], "4.4-pt", r["nome"]) for r in rows)
        sources.append(f"ICPC-2 Portuguese ({len(rows)} rubrics)")
    try:
        import simple_icd_10_cm as cm
    except ImportError:
        sources.append("ICD-10-CM not installed (pip install simple-icd-10-cm)")
    else:
        cm_codes = cm.get_all_codes(True)
        out.extend(Concept("icd10cm", c, "2026", cm.get_description(c)) for c in cm_codes)
        sources.append(f"ICD-10-CM ({len(cm_codes)} codes, simple-icd-10-cm)")

    n_labels = sum(1 + bool(c.label_fr) for c in out)
    if n_labels < TARGET_LABELS:
        rng = random.Random(1)
        base = [c for c in out if c.system == "icd10" and c.label_en]
        n_extra = 0
        while n_labels < TARGET_LABELS:
            c = rng.choice(base)
            words = c.label_en.split()
            rng.shuffle(words)
            out.append(Concept("synthetic", f"S{n_extra:06d}", "1", " ".join(words)))
            n_extra += 1
            n_labels += 1
        sources.append(f"synthetic shuffled-label variants ({n_extra})")
    return out, sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over the queries")
    args = parser.parse_args()

    data, sources = concepts()
    index = SearchIndex(data)
    print("sources:", "; ".join(sources))
    print(f"index: {len(index):,} concepts, {index.n_labels:,} distinct labels")
    print(f"build: {index.build_seconds:.2f} s")
    print(f"machine load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    qs = queries()
    for q in qs:  # warm-up pass (fills the per-word match cache, as a running server would)
        index.search(q)
    cold: list[float] = []
    fresh = SearchIndex.__new__(SearchIndex)
    fresh.__dict__.update(index.__dict__)
    fresh._match_cache = {}
    for q in qs:
        t = time.perf_counter()
        fresh.search(q)
        cold.append((time.perf_counter() - t) * 1000)
    warm: list[float] = []
    cpu: list[float] = []
    for _ in range(args.repeat):
        for q in qs:
            t, c = time.perf_counter(), time.process_time()
            index.search(q)
            warm.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)

    def summary(name: str, values: list[float]) -> None:
        values = sorted(values)
        p95 = values[int(0.95 * (len(values) - 1))]
        print(
            f"{name}: {len(values)} queries, median {statistics.median(values):.2f} ms, "
            f"p95 {p95:.2f} ms, max {values[-1]:.2f} ms"
        )

    summary("first pass (cold word cache)", cold)
    summary(f"repeated ({args.repeat} passes)", warm)
    summary("repeated, CPU time of this process (less sensitive to a busy machine)", cpu)
    worst = sorted(zip(cold, qs, strict=True), reverse=True)[:5]
    print("slowest cold:", ", ".join(f"{q!r} {ms:.1f} ms" for ms, q in worst))


if __name__ == "__main__":
    main()
