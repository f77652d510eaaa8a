"""Issue 16 (cold count): the fast sketch path gives exactly the values of the first release.

Stored sketches are compared with new ones across versions: the fast keyed hash and the
one-pass sketches of a study must equal, value for value, the code they replaced (kept in
``sketch_reference.py``), on any pseudonyms (lengths 0..70, any script) and any per-patient
table (rule bits, unknown bits, verdicts, breakdowns).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sketch_reference import reference_keyed_hashes, reference_sketches

from matcher.disclosure import sketch as sketch_module
from matcher.disclosure.sketch import SKETCH_SIZE, hash_key, keyed_hashes
from matcher.feasibility.build import status_columns
from matcher.feasibility.sketches import study_sketches

KEY = hash_key(b"issue16-secret")
RULES = ["a", "b", "c", "d"]


@given(st.lists(st.text(max_size=70), max_size=60))
def test_issue16_fast_keyed_hashes_equal_the_reference(ids) -> None:
    assert np.array_equal(keyed_hashes(ids, KEY), reference_keyed_hashes(ids, KEY))


@given(st.lists(st.text(max_size=30), min_size=1, max_size=40), st.integers(0, 39))
def test_issue16_fast_hashes_of_a_sliced_series_equal_the_reference(ids, cut) -> None:
    series = pl.concat([pl.Series(["x" * 9]), pl.Series(ids, dtype=pl.String)])[cut % len(ids) :]
    assert np.array_equal(keyed_hashes(series, KEY), reference_keyed_hashes(series, KEY))


def test_issue16_fast_hashes_across_blocks(monkeypatch) -> None:
    """Blocks of rows (small here) with mixed lengths give the values of one pass."""
    monkeypatch.setattr(sketch_module, "_BLOCK", 7)
    ids = [f"{'é' * (i % 5)}p{i:0{i % 23}d}" for i in range(500)]
    assert np.array_equal(keyed_hashes(ids, KEY), reference_keyed_hashes(ids, KEY))


def test_issue16_missing_pseudonym_is_still_refused() -> None:
    with pytest.raises(ValueError, match="missing pseudonym"):
        keyed_hashes(pl.Series(["a", None], dtype=pl.String), KEY)


def _frame(seed: int, n: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rule_bits = rng.integers(0, 16, n) * (rng.random(n) < 0.7)
    unknown_bits = rng.integers(0, 16, n) * (rng.random(n) < 0.2)
    patients = pl.DataFrame(
        {
            "patient_id": [f"pat-{seed}-{i}" for i in range(n)],
            "rule_bits": rule_bits.astype(np.uint64),
            "unknown_bits": unknown_bits.astype(np.uint64),
            "sex": rng.choice(["F", "M", "U"], n),
            "centre_id": rng.choice(["C01", "C02", "C03"], n),
            "practice_id": rng.choice(["P1", "P2", "P3", "P4"], n),
            "birth_year": rng.integers(1930, 2010, n).astype(np.int32),
            "age_low": rng.integers(0, 95, n).astype(np.int32),
            "age_high": rng.integers(0, 95, n).astype(np.int32),
        }
    )
    return patients


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.sampled_from([0, 1, 5, SKETCH_SIZE - 1, SKETCH_SIZE + 3, 3000]),
    order=st.permutations(RULES),
    without=st.sets(st.sampled_from(RULES), max_size=2),
)
def test_issue16_study_sketches_equal_the_reference(seed, n, order, without) -> None:
    active = [r for r in RULES if r not in without]
    steps = [r for r in order if r in active]
    frame = status_columns(_frame(seed, n), RULES, active)
    got = study_sketches(frame, steps, RULES, active, (), b"ledger-secret")
    assert got == reference_sketches(frame, steps, RULES, active, (), b"ledger-secret")


@pytest.mark.parametrize(
    "dims", [("sex",), ("centre",), ("age_band",), ("practice",), ("centre", "sex")]
)
@pytest.mark.parametrize("pooled", [True, False])
def test_issue16_breakdown_sketches_equal_the_reference(dims, pooled) -> None:
    frame = status_columns(_frame(7, 4000), RULES, RULES)
    got = study_sketches(frame, RULES, RULES, RULES, dims, b"s", pooled=pooled)
    want = reference_sketches(frame, RULES, RULES, RULES, dims, b"s", pooled=pooled)
    assert got == want and any(name.startswith("breakdown:") for name in got)


def test_issue16_sketches_of_a_study_with_many_rules_equal_the_reference() -> None:
    """Rule bits up to bit 63: the classes are grouped on three keys, with the same sketches."""
    rng = np.random.default_rng(3)
    names = [f"r{i}" for i in range(64)]
    n = 2000
    bits = rng.choice(np.array([0, 1, 1 << 62, 1 << 63, (1 << 63) | 5], dtype=np.uint64), n)
    frame = status_columns(
        pl.DataFrame(
            {
                "patient_id": [f"m{i}" for i in range(n)],
                "rule_bits": bits,
                "unknown_bits": rng.choice(np.array([0, 2], dtype=np.uint64), n),
            }
        ),
        names,
        names,
    )
    steps = ["r63", "r62", "r0", "r2"]
    got = study_sketches(frame, steps, names, names, (), b"s")
    assert got == reference_sketches(frame, steps, names, names, (), b"s")
    assert len(got["excluded_alone:r63"]) > 0


def _layouts() -> dict[str, pl.Series]:
    """Series whose bytes Polars keeps in each of the layouts the fast hash reads."""
    long = [f"pseudonym-{i:08d}" for i in range(300)]
    parts = [pl.Series(long[:100]), pl.Series(["é" * 9] * 3), pl.Series(long[100:])]
    return {
        "one data buffer": pl.Series(long),
        "inline only": pl.Series([f"p{i}" for i in range(300)]),
        "inline and long": pl.Series([*long[:5], "", "a", "x" * 12, "y" * 13]),
        "several data buffers": pl.concat(parts, rechunk=False).rechunk(),
        "sliced": pl.Series([*long, "tail"])[7:250],
        "last bytes at the end": pl.Series(["z" * 13, "w" * 29]),
    }


@pytest.mark.parametrize("layout", list(_layouts()))
def test_issue16_fast_hashes_of_every_byte_layout_equal_the_reference(layout) -> None:
    series = _layouts()[layout]
    got = keyed_hashes(series, KEY)
    assert np.array_equal(got, reference_keyed_hashes(series, KEY))
    assert np.array_equal(got, keyed_hashes(series.to_list(), KEY))  # whatever the batch


def test_issue16_layouts_cover_several_data_buffers() -> None:
    arrow = _layouts()["several data buffers"].to_arrow(compat_level=pl.CompatLevel.newest())
    assert len(arrow.buffers()) > 3  # validity, views, two data buffers or more


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    rules=st.sampled_from([4, 31, 33, 64]),
    without=st.sets(st.integers(0, 3), max_size=2),
)
def test_issue16_funnel_from_the_classes_equals_the_funnel_over_patients(
    seed, rules, without
) -> None:
    """The attrition funnel summed over the patient classes (one grouped pass, as build_raw
    now counts it) equals the funnel over every patient row, packed key or two keys."""
    from criteria_dsl import ir
    from matcher.engine.result import funnel
    from matcher.feasibility.sketches import patient_classes, rule_mask

    rng = np.random.default_rng(seed)
    names = [f"r{i}" for i in range(rules)]
    study = ir.Study(
        "S",
        1,
        None,
        None,
        (),
        (),
        tuple(ir.Rule(n, ir.Section.INCLUSION, ir.Constant(True)) for n in names),
        (),
    )
    n = 3000
    high = np.array([0, 1, 2, 1 << (rules - 1), 1 << (rules // 2), 3], dtype=np.uint64)
    frame = pl.DataFrame(
        {
            "rule_bits": rng.choice(high, n) | rng.choice(high, n),
            "unknown_bits": rng.choice(high, n) * (rng.random(n) < 0.3),
        },
        schema={"rule_bits": pl.UInt64, "unknown_bits": pl.UInt64},
    )
    off = [names[i] for i in without]
    order = [names[-1], *names[: min(rules, 6)], names[rules // 2]]
    order = [r for r in dict.fromkeys(order) if r not in off]
    active = rule_mask(names, [r for r in names if r not in off])
    classes = patient_classes(frame, active)
    assert classes["n"].sum() == n
    assert funnel(study, classes, order, off, weight="n") == funnel(study, frame, order, off)
