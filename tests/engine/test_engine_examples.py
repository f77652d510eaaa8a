"""Every study in ``examples/`` runs on realistic data and agrees with the reference evaluator.

Two populations: a small synthetic one (``matcher.synth``, generated once per session) and the
OMOP-imported Synthea27Nj files (skipped when ``../shared/data`` is absent). For each example
the engine evaluates the whole population; the reference evaluator then re-evaluates a
deterministic sample (all of it for OMOP) and every rule value and verdict must agree exactly,
unknowns and base-population membership included. New examples are picked up by the glob.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from pathlib import Path

import polars as pl
import pytest
from engine_helpers import engine_rows, reference_rows

from criteria_dsl import compile_file, ir
from matcher.data.loader import Dataset, load_dataset
from matcher.data.schema import TABLES
from matcher.engine.evaluate import evaluate, evaluate_many
from matcher.engine.result import Result
from matcher.omop.importer import import_omop
from matcher.synth import generate

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.p4dp"))
SYNTH_PATIENTS = 3_000
SYNTH_SEED = 11
LATE_INDEX = dt.date(2026, 6, 30)  # last day of the synthetic data window
SAMPLE_SIZE = 200  # patients re-evaluated by the reference, per example and index date
FOCUS_CAP = 120  # at most this many eligible / possibly eligible patients in the sample
OUTSIDE_BASE = 20  # patients outside the engine's base population, checked to stay out
OMOP_FILE = Path("omop_synthea27nj") / "Synthea27Nj_5.4.zip"
OMOP_INDEXES = (dt.date(2020, 1, 1), dt.date(2021, 6, 30))  # most persons observed then


def _name(path: Path) -> str:
    return path.stem


@functools.cache
def example(stem: str) -> ir.Study:
    """The compiled example (compiled once per session; compilation loads terminologies)."""
    return compile_file(EXAMPLES_DIR / f"{stem}.p4dp")


def index_dates(study: ir.Study) -> list[dt.date | None]:
    """The study's own index date (``None``: the engine's default, the end of the data) and
    ``LATE_INDEX``."""
    return [study.index_date, LATE_INDEX]


def subset(data: Dataset, ids: list[str]) -> dict[str, pl.DataFrame]:
    """The rows of ``data`` that belong to the patients ``ids``, as in-memory frames."""
    keep = pl.col("patient_id").is_in(ids)
    return {name: data.table(name).filter(keep).collect() for name in TABLES}


def check_counts(result: Result) -> None:
    """Counts add up and match the per-patient table; rule columns are the study's rules."""
    counts = result.counts
    verdicts = result.patients["verdict"].value_counts()
    by_verdict = dict(zip(verdicts["verdict"], verdicts["count"], strict=True))
    assert counts.base == result.patients.height
    assert counts.base == counts.eligible + counts.possibly_eligible + counts.not_eligible
    assert counts.eligible == by_verdict.get("eligible", 0)
    assert counts.possibly_eligible == by_verdict.get("possibly_eligible", 0)
    assert counts.not_eligible == by_verdict.get("not_eligible", 0)
    names = [rule.name for rule in result.study.rules]
    assert set(names) | {"patient_id", "verdict"} <= set(result.patients.columns)
    assert result.patients["patient_id"].is_unique().all()


def sample_ids(result: Result, everyone: list[str], seed: str) -> list[str]:
    """A deterministic sample: eligible and possibly eligible patients first (up to
    ``FOCUS_CAP``), some patients outside the base population, the rest drawn at random."""
    rng = random.Random(seed)
    table = result.patients
    focus = sorted(table.filter(pl.col("verdict") != "not_eligible")["patient_id"])
    rng.shuffle(focus)
    base = set(table["patient_id"])
    outside = sorted(set(everyone) - base)
    chosen = set(focus[:FOCUS_CAP]) | set(rng.sample(outside, min(OUTSIDE_BASE, len(outside))))
    rest = sorted(set(everyone) - chosen)
    chosen |= set(rng.sample(rest, max(0, min(SAMPLE_SIZE - len(chosen), len(rest)))))
    return sorted(chosen)


def assert_agrees(result: Result, study: ir.Study, data, ids: list[str], index) -> None:
    """The reference evaluator, run on the sampled patients' rows only, gives exactly the
    engine's rule values, verdicts and base-population membership for them."""
    wanted = set(ids)
    got = {pid: row for pid, row in engine_rows(result).items() if pid in wanted}
    expected = reference_rows(study, subset(data, ids), index)
    assert set(got) == set(expected), "base population differs from the reference"
    wrong = sorted(pid for pid in got if got[pid] != expected[pid])
    # pseudonyms of synthetic / public test data only: safe to show in a failure message
    assert not wrong, f"{len(wrong)} patients differ, e.g. {wrong[0]}: engine {got[wrong[0]]}, " + (
        f"reference {expected[wrong[0]]}"
    )


# -- synthetic population ------------------------------------------------------------------


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory) -> Dataset:
    out = tmp_path_factory.mktemp("synth-examples") / "data"
    generate(SYNTH_PATIENTS, SYNTH_SEED, out)
    return load_dataset(out)


@pytest.fixture(scope="session")
def synth_ids(synth_data) -> list[str]:
    return sorted(synth_data.table("patients").select("patient_id").collect()["patient_id"])


@pytest.fixture(scope="session")
def synth_result(synth_data):
    """``synth_result(stem, index)``: the example evaluated on the whole synthetic population
    (memoised for the session, so tests that look at the same result share it)."""
    done: dict[tuple[str, dt.date | None], Result] = {}

    def get(stem: str, index: dt.date | None) -> Result:
        if (stem, index) not in done:
            done[stem, index] = evaluate(example(stem), synth_data, index_date=index)
        return done[stem, index]

    return get


def test_examples_are_discovered():
    assert len(EXAMPLES) >= 9
    assert "t2d_glp1" in [_name(p) for p in EXAMPLES]


@pytest.mark.parametrize("path", EXAMPLES, ids=_name)
def test_example_on_synthetic_population_agrees_with_reference(
    path, synth_data, synth_ids, synth_result
):
    study = example(path.stem)
    for index in index_dates(study):
        result = synth_result(path.stem, index)
        # no index date: the end of the data (extract.json of p4dp synth), issue 11 item 4
        assert result.index_date == (index or study.index_date or dt.date(2026, 6, 30))
        check_counts(result)
        assert result.counts.base > SYNTH_PATIENTS // 2  # most synthetic patients are registered
        ids = sample_ids(result, synth_ids, f"{path.stem}/{index}")
        # the reference sees a sample only: give it the date the engine took from the whole data
        assert_agrees(result, study, synth_data, ids, result.index_date)


def test_t2d_example_finds_eligible_patients(synth_result):
    counts = synth_result("t2d_glp1", example("t2d_glp1").index_date).counts
    assert counts.eligible > 0
    assert counts.not_eligible > counts.eligible  # a trial population is a minority


def test_most_examples_find_eligible_patients(synth_result):
    found = [p.stem for p in EXAMPLES if synth_result(p.stem, LATE_INDEX).counts.eligible > 0]
    assert len(found) * 3 >= len(EXAMPLES) * 2, f"only {found} find eligible patients"


def test_all_examples_together_equal_one_by_one(synth_data, synth_result):
    studies = [example(path.stem) for path in EXAMPLES]
    together = evaluate_many(studies, synth_data, index_date=LATE_INDEX)
    for path, result in zip(EXAMPLES, together, strict=True):
        alone = synth_result(path.stem, LATE_INDEX)
        assert result.patients.equals(alone.patients), path.stem
        assert result.counts == alone.counts


def test_results_follow_the_order_of_the_patients_table(synth_data, synth_result):
    """No sort of the results (a second at national scale): the base population comes in the
    order of the data's ``patients`` table, so the same data gives the same table."""
    result = synth_result("t2d_glp1", LATE_INDEX)
    listed = synth_data.table("patients").select("patient_id").collect()["patient_id"]
    assert not listed.is_sorted()  # synthetic pseudonyms are random: the test means something
    base = set(result.patients["patient_id"])
    assert result.patients["patient_id"].to_list() == [p for p in listed if p in base]


# -- OMOP-imported real files (Synthea27Nj) -------------------------------------------------


@pytest.fixture(scope="session")
def omop_data(shared_data, tmp_path_factory) -> Dataset:
    out = tmp_path_factory.mktemp("omop-examples") / "data"
    import_omop(shared_data / OMOP_FILE, out)
    return load_dataset(out)


@pytest.fixture(scope="session")
def omop_ids(omop_data) -> list[str]:
    return sorted(omop_data.table("patients").select("patient_id").collect()["patient_id"])


@pytest.mark.parametrize("path", EXAMPLES, ids=_name)
def test_example_on_omop_import_agrees_with_reference(path, omop_data, omop_ids):
    study = example(path.stem)
    assert len(omop_ids) == 28
    for index in (*OMOP_INDEXES, study.index_date):
        result = evaluate(study, omop_data, index_date=index)
        check_counts(result)
        expected = reference_rows(study, omop_data, index)  # every one of the 28 persons
        assert engine_rows(result) == expected


def test_omop_import_reaches_loinc_labs(omop_data):
    """The imported LOINC HbA1c results feed the T2D example's lab rule (it is not unknown
    for everyone), so the cross-check above exercises value aggregation on real files."""
    result = evaluate(example("t2d_glp1"), omop_data, index_date=OMOP_INDEXES[0])
    assert result.counts.base > 0
    assert result.patients["uncontrolled"].is_not_null().any()


def test_examples_on_a_snapshot_equal_raw_files(synth_data, synth_result, tmp_path_factory):
    """The same population ingested into a snapshot (integer keys, dictionary-encoded codes,
    row ranges per code) gives exactly the per-patient results of the raw files."""
    from matcher.snapshot import ingest, open_snapshot

    out = tmp_path_factory.mktemp("snapshot-examples") / "snap"
    ingest(synth_data.path, out, progress=False)
    snapshot = open_snapshot(out)
    studies = [example(path.stem) for path in EXAMPLES]
    together = evaluate_many(studies, snapshot)  # each study at its own index date
    for path, study, result in zip(EXAMPLES, studies, together, strict=True):
        raw = synth_result(path.stem, study.index_date)
        # the snapshot stores patients by pseudonym; raw results follow the file's order
        assert result.patients.equals(raw.patients.sort("patient_id")), path.stem
        assert result.counts == raw.counts
        assert result.data_snapshot == snapshot.snapshot_id
