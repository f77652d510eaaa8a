"""Issue 16 item 1: the checks computed per distinct code give the same report as row by row."""

from __future__ import annotations

import polars as pl
import pytest

from matcher.data import validate
from matcher.data.sources import frame_source
from tests.data.conftest import PROBLEM_CASES as CASES
from tests.data.conftest import valid_frames


def _report(frames: dict[str, pl.DataFrame], *, exact: bool, monkeypatch: pytest.MonkeyPatch):
    with monkeypatch.context() as patch:
        if exact:
            patch.setattr(validate, "screened_groups", lambda *a, **k: None)
        sources = {name: frame_source(name, frame) for name, frame in frames.items()}
        return validate.validate_sources(sources, label="m")


def _as_text(frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Every column stored as text, as in a CSV file."""
    return {n: f.with_columns(pl.all().cast(pl.String)) for n, f in frames.items()}


@pytest.mark.parametrize("text", [False, True], ids=["typed", "text"])
@pytest.mark.parametrize("case", list(CASES))
def test_issue16_item1_grouped_checks_match_row_by_row(
    case: str, text: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = {**valid_frames(), **CASES[case]}
    if text:
        frames = _as_text(frames)
    fast = _report(frames, exact=False, monkeypatch=monkeypatch)
    exact = _report(frames, exact=True, monkeypatch=monkeypatch)
    assert [str(e) for e in fast.errors] == [str(e) for e in exact.errors]
    assert [str(w) for w in fast.warnings] == [str(w) for w in exact.warnings]
    assert fast.summary == exact.summary
    assert fast.code_groups.keys() == exact.code_groups.keys()
    for table, groups in fast.code_groups.items():
        keys = [c for c in groups.columns if c != "__rows"]
        assert groups.sort(keys, nulls_last=True).equals(
            exact.code_groups[table].sort(keys, nulls_last=True)
        ), table
    if case != "valid":
        assert fast.errors or fast.warnings  # the case does hold a problem
