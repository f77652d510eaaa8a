"""The real OMOP export Synthea27Nj after ``p4dp import omop``: what ``p4dp data check``
reports on it, and the same verdicts whatever the spelling of its codes (issue 12)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from criteria_dsl import ir
from matcher.data.loader import Dataset, load_dataset
from matcher.data.schema import TABLES
from matcher.data.validate import validate_dataset
from matcher.engine.evaluate import evaluate
from matcher.omop import import_omop
from matcher.reference import reference_evaluate
from terminology.model import CodePattern, CodeSetSpec, ResolvedCode, ResolvedCodeSet

ZIP = Path("omop_synthea27nj/Synthea27Nj_5.4.zip")
INDEX = dt.date(2018, 1, 1)


@pytest.fixture(scope="module")
def imported(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    archive = shared_data / ZIP
    if not archive.is_file():
        pytest.skip(f"{archive} is absent")
    out = tmp_path_factory.mktemp("synthea27nj-spellings") / "out"
    import_omop(archive, out)
    return out


def test_issue12_data_check_on_the_shared_omop_export(imported):
    report = validate_dataset(imported)
    assert report.ok and report.invalid_codes == []
    assert [str(w) for w in report.warnings] == [
        "patients.parquet: column 'centre_id': 1 centre with a single practice ('omop'): a "
        "breakdown by centre would show one practice's count, so sponsors get such centres pooled",
        "diagnoses.parquet: column 'code': 470 rows (100.0 % of diagnoses) in code system "
        "'snomed', which terminology cannot resolve: only codes written exactly in a criteria "
        "file reach them (no hierarchy, wildcard or label)",
        "prescriptions.parquet: column 'code': 883 rows (100.0 % of prescriptions) in code "
        "system 'rxnorm', which terminology cannot resolve: only codes written exactly in a "
        "criteria file reach them (no hierarchy, wildcard or label)",
        "observations.parquet: column 'code': 885 rows (8.8 % of observations) in code system "
        "'snomed', which terminology cannot resolve: only codes written exactly in a criteria "
        "file reach them (no hierarchy, wildcard or label)",
        # issue 18: PROCEDURE_OCCURRENCE imported (SNOMED CT, every code with a valid check digit)
        "procedures.parquet: column 'code': 1,649 rows (100.0 % of procedures) in code system "
        "'snomed', which terminology cannot resolve: only codes written exactly in a criteria "
        "file reach them (no hierarchy, wildcard or label)",
    ]


def _codeset(name: str, codes: list[tuple[str, str]]) -> ir.CodeSetDef:
    resolved = ResolvedCodeSet(
        codes=tuple(sorted(ResolvedCode(s, c, "data", "exact") for s, c in codes)),
        versions=tuple(sorted({(s, "data") for s, _ in codes})),
    )
    return ir.CodeSetDef(name, CodeSetSpec(tuple(CodePattern(s, c) for s, c in codes)), resolved)


def _study(tables: dict[str, pl.DataFrame]) -> ir.Study:
    """Criteria on the export's most frequent diagnoses and labs, with values and units."""
    top = tables["diagnoses"]["code"].value_counts(sort=True)["code"].head(3).to_list()
    labs = (
        tables["observations"]
        .filter((pl.col("system") == "loinc") & pl.col("value").is_not_null())
        .group_by("code", "unit")
        .agg(pl.len(), pl.col("value").median().alias("median"))
        .sort("len", "code", descending=[True, False])
        .head(2)
    )
    codesets = [_codeset("dx", [("snomed", c) for c in top])]
    rules = [ir.Rule("dx", ir.Section.INCLUSION, ir.Exists(_events("diagnoses", "dx")))]
    for i, (code, unit, _, median) in enumerate(labs.rows()):
        codesets.append(_codeset(f"lab{i}", [("loinc", code)]))
        high = ir.ValueCondition(">", ir.Quantity(median, unit))
        count = ir.Count(_events("observations", f"lab{i}", high))
        latest = ir.ValueAggregate(_events("observations", f"lab{i}"), "latest", unit)
        rules += [
            ir.Rule(
                f"often_high{i}", ir.Section.INCLUSION, ir.Compare(count, ">=", ir.Quantity(2))
            ),
            ir.Rule(
                f"latest{i}",
                ir.Section.EXCLUSION,
                ir.Compare(latest, ">", ir.Quantity(median, unit)),
            ),
        ]
    inclusion = tuple(r for r in rules if r.section is ir.Section.INCLUSION)
    exclusion = tuple(r for r in rules if r.section is ir.Section.EXCLUSION)
    return ir.Study("omop", 1, None, INDEX, (), tuple(codesets), inclusion, exclusion)


def _events(domain: str, name: str, value: ir.ValueCondition | None = None) -> ir.EventSet:
    return ir.EventSet(domain, ir.CodeSetRef(name), ir.Window.up_to_index(), value)


def _respelled(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Codes padded with blanks, alternately before and after (as fixed-width extracts do)."""
    out = dict(tables)
    for name in ("diagnoses", "prescriptions", "observations"):
        frame = tables[name]
        odd = pl.int_range(pl.len()) % 2 == 1
        code = pl.when(odd).then(pl.lit(" ") + pl.col("code")).otherwise(pl.col("code") + "  ")
        out[name] = frame.with_columns(code.alias("code"))
    return out


def test_issue12_item1_same_verdicts_whatever_the_spelling_of_the_codes(imported, tmp_path):
    files = {name: imported / f"{name}.parquet" for name in TABLES}
    clean = {name: pl.read_parquet(f) for name, f in files.items() if f.is_file()}  # optional
    spelled = _respelled(clean)
    assert not spelled["diagnoses"]["code"].is_in(clean["diagnoses"]["code"].implode()).any()
    path = tmp_path / "spelled"
    path.mkdir()
    for name, frame in spelled.items():
        frame.write_parquet(path / f"{name}.parquet")
    study = _study(clean)
    on_clean = evaluate(study, imported)
    on_spelled = evaluate(study, path)
    assert on_spelled.patients.equals(on_clean.patients)
    assert on_spelled.code_rows == on_clean.code_rows
    assert all(rows > 0 for rows in on_clean.code_rows.values())
    reference = reference_evaluate(study, load_dataset(path))
    engine = on_spelled.patients.sort("patient_id")
    names = [r.name for r in study.rules]
    assert [
        {"patient_id": r["patient_id"], **{n: r[n] for n in names}, "verdict": r["verdict"]}
        for r in engine.iter_rows(named=True)
    ] == reference
    assert on_clean.counts.base == 24 and on_clean.counts.not_eligible < 24
    assert isinstance(load_dataset(path), Dataset)
