"""Issue 16 target 1 (wall time): ``p4dp count`` validates a raw directory in a background
thread while it evaluates (:mod:`matcher.data.deferred`), and releases nothing before the
validation has passed.

Nothing is weakened: the deferred validation raises exactly what the synchronous one raises
(every bad case of the screen's tests), a failing evaluation on bad data is answered with the
validation's error, the directory is recorded as validated only once it passed, and a count
on bad data exits 1 with the validation's error and no release in the ledger.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from matcher.cli import main
from matcher.data import loader, validcache
from matcher.data.deferred import PendingValidation, confirm_valid
from matcher.data.loader import load_dataset
from matcher.disclosure.ledger import Ledger
from matcher.errors import DataError
from matcher.synth import generate
from tests.data.conftest import valid_frames
from tests.data.test_screen import BAD_CASES, _write_arrow

STUDY = Path(__file__).resolve().parents[2] / "examples" / "t2d_glp1.p4dp"


def _error(directory: Path, *, defer: bool) -> str:
    """What loading ``directory`` (then confirming, when deferred) raises; empty if nothing."""
    try:
        dataset = load_dataset(directory, defer_validation=defer)
        confirm_valid(dataset)
    except DataError as exc:
        return str(exc)
    return ""


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_issue16_target1_deferred_validation_raises_the_same_errors(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P4DP_VALIDATION_CACHE", "off")
    directory = _write_arrow(tmp_path / "data", {**valid_frames(), **BAD_CASES[case]})
    deferred = _error(directory, defer=True)
    assert deferred  # every case holds an error
    assert deferred == _error(directory, defer=False)


def test_issue16_target1_missing_column_deferred_gives_the_full_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing column makes the typed frames fail before any evaluation: the error raised
    is still the validation's whole report, not the loader's one-line message."""
    monkeypatch.setenv("P4DP_VALIDATION_CACHE", "off")
    frames = valid_frames()
    frames["diagnoses"] = frames["diagnoses"].drop("system")
    frames["observations"] = frames["observations"].with_columns(pl.lit(" ").alias("code"))
    directory = _write_arrow(tmp_path / "data", frames)
    text = _error(directory, defer=True)
    assert "system" in text and "observations" in text
    assert text == _error(directory, defer=False)


def test_issue16_target1_deferred_load_returns_before_validation_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The point of deferring: the data set is handed back while the validation still runs,
    and confirm_valid waits for it."""
    monkeypatch.setenv("P4DP_VALIDATION_CACHE", str(tmp_path / "cache"))
    directory = _write_arrow(tmp_path / "data", valid_frames())
    release = threading.Event()
    real = loader._validate

    def slow(sources, label):
        assert release.wait(10)
        return real(sources, label)

    monkeypatch.setattr(loader, "_validate", slow)
    dataset = load_dataset(directory, defer_validation=True)
    pending = dataset.pending_validation
    assert isinstance(pending, PendingValidation) and not pending.done()
    assert validcache.lookup(directory)[1] is None  # not recorded before it passed
    assert dataset.observations.collect().height == 3  # evaluation may go on meanwhile
    release.set()
    confirm_valid(dataset)
    assert pending.done()
    assert validcache.lookup(directory)[1] is not None  # passed: recorded


def test_issue16_target1_without_deferral_load_validates_before_returning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P4DP_VALIDATION_CACHE", "off")
    directory = _write_arrow(tmp_path / "data", valid_frames())
    assert load_dataset(directory).pending_validation is None
    confirm_valid(load_dataset(directory))  # nothing to wait for


def test_issue16_target1_bad_data_gives_the_validation_error_however_evaluation_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A date that is not one: the evaluation may fail on it (strict conversion) or finish
    without reading it; either way the error raised is the validation's, naming the file,
    the row and the column (p4dp count's pattern; the engine's own error path waits too)."""
    from criteria_dsl.check import compile_file
    from matcher.engine.evaluate import evaluate_many

    monkeypatch.setenv("P4DP_VALIDATION_CACHE", "off")
    frames = valid_frames()
    diagnoses = frames["diagnoses"]
    dates = ["2015-01-01"] * diagnoses.height
    dates[-1] = "2015-13-45"
    frames["diagnoses"] = diagnoses.with_columns(pl.Series("date", dates))
    directory = _write_arrow(tmp_path / "data", frames)
    expected = _error(directory, defer=False)
    assert "diagnoses" in expected and "date" in expected
    study = compile_file(STUDY)
    dataset = load_dataset(directory, defer_validation=True)
    with pytest.raises(DataError) as raised:
        try:
            evaluate_many([study], dataset, validate=False)
        except Exception:
            confirm_valid(dataset)
            raise
        confirm_valid(dataset)
    assert str(raised.value) == expected
    with pytest.raises(DataError) as engine_path:  # what evaluate_many runs when a read fails
        loader.raise_if_unreadable(load_dataset(directory, defer_validation=True))
    assert str(engine_path.value) == expected


@pytest.fixture()
def raw(tmp_path: Path) -> Path:
    directory = tmp_path / "raw"
    generate(300, seed=11, out=directory)
    return directory


def _count(raw: Path, ledger: Path, cache: Path) -> object:
    runner = CliRunner()
    args = ["count", str(STUDY), "--data", str(raw), "--ledger", str(ledger)]
    args += ["--requester", "ana", "--format", "json"]
    return runner.invoke(main, args, env={"P4DP_VALIDATION_CACHE": str(cache)})


def _ledger(tmp_path: Path) -> Path:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "ledger.sqlite"
    res = CliRunner().invoke(main, ["ledger", "init", "--ledger", str(path)])
    assert res.exit_code == 0, res.output
    return path


def test_issue16_target1_count_on_bad_raw_data_exits_1_and_releases_nothing(
    raw: Path, tmp_path: Path
) -> None:
    patients = pl.read_parquet(raw / "patients.parquet")
    diagnoses = pl.read_parquet(raw / "diagnoses.parquet")
    orphan = diagnoses.head(1).with_columns(pl.lit("not-a-patient").alias("patient_id"))
    pl.concat([diagnoses, orphan]).write_parquet(raw / "diagnoses.parquet")
    assert patients.height == 300
    ledger = _ledger(tmp_path)
    res = _count(raw, ledger, tmp_path / "cache")
    assert res.exit_code == 1, res.output
    with pytest.raises(DataError) as expected:
        load_dataset(raw)
    assert str(expected.value).splitlines()[0] in res.output
    assert "patient_id" in res.output and "Traceback" not in res.output
    assert Ledger.open(ledger).releases() == []
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_issue16_target1_count_on_valid_raw_data_same_answer_and_recorded(
    raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deferred first run answers what the second (validation skipped) answers, and
    records the directory."""
    ledger = _ledger(tmp_path)
    first = _count(raw, ledger, tmp_path / "cache")
    assert first.exit_code == 0, first.output
    monkeypatch.setenv("P4DP_VALIDATION_CACHE", str(tmp_path / "cache"))
    assert validcache.lookup(raw)[1] is not None
    second = _count(raw, _ledger(tmp_path / "second"), tmp_path / "cache")
    assert second.exit_code == 0, second.output
    released = [json.loads(r.output[r.output.index("{\n") :]) for r in (first, second)]
    assert [(r["counts"], r["attrition"]) for r in released] == [
        (released[1]["counts"], released[1]["attrition"])
    ] * 2


def test_issue16_target1_started_early_is_taken_once_and_only_if_unchanged(
    raw: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``p4dp count`` opens the raw directory at its start (the validation then overlaps
    compiling the criteria and opening the ledger); the data set is handed over once, and
    not at all when a file changed in between (then opened and validated afresh)."""
    from matcher.data.deferred import start_early, take_started
    from matcher.data.open import open_data

    monkeypatch.setenv("P4DP_VALIDATION_CACHE", "off")
    start_early(raw)
    dataset = take_started(raw)
    assert dataset is not None and take_started(raw) is None
    confirm_valid(dataset)
    start_early(raw)
    started = open_data(raw, defer_validation=True)  # what run_feasibility calls
    assert take_started(raw) is None  # taken by open_data
    confirm_valid(started)
    start_early(raw)
    diagnoses = pl.read_parquet(raw / "diagnoses.parquet")
    bad = diagnoses.with_columns(pl.lit("not-a-patient").alias("patient_id"))
    bad.write_parquet(raw / "diagnoses.parquet")
    assert take_started(raw) is None  # changed since: not handed over
    fresh = open_data(raw, defer_validation=True)
    with pytest.raises(DataError, match="diagnoses"):
        confirm_valid(fresh)


def test_issue16_target1_start_early_leaves_snapshots_and_bad_paths_alone(
    tmp_path: Path,
) -> None:
    from matcher.data.deferred import start_early, take_started

    start_early(tmp_path / "missing")
    assert take_started(tmp_path / "missing") is None
    empty = tmp_path / "empty"
    empty.mkdir()
    start_early(empty)  # missing tables: reported by the later open, in its place
    assert take_started(empty) is None
