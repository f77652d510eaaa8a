"""Issue 11, item 5: a definition used several times is one shared IR node; the engine
compiles it once and gives the same results as the written-out tree (and as the reference
evaluator)."""

from __future__ import annotations

from engine_helpers import INDEX, D, codeset, frames, inc, patient, run, study, window_before

from criteria_dsl import ir
from criteria_dsl.ir_json import from_json, to_json
from matcher.engine.compile import Context, predicate
from matcher.engine.plan import Plan
from matcher.engine.shared import SharedPredicates

T2D = codeset("t2d", ("icd10", "E11"))


def shared_chain(levels: int) -> ir.Predicate:
    """``d0 = age >= 60 or has t2d``; ``d(i) = d(i-1) and not (not d(i-1))``, one node each."""
    events = ir.EventSet(ir.Domain.DIAGNOSIS, ir.CodeSetRef("t2d"), window_before(12))
    node: ir.Predicate = ir.Or(
        (ir.Compare(ir.Age(), ">=", ir.Quantity(60)), ir.Exists(events)),
    )
    for _ in range(levels):
        node = ir.And((node, ir.Not(ir.Not(node))))
    return node


def data():
    patients = [
        patient("old", birth_year=1950),
        patient("young", birth_year=2000),
        patient("young_t2d", birth_year=2000),
        patient("borderline", birth_year=1964, birth_month=None),
    ]
    diagnoses = [
        {"patient_id": "young_t2d", "date": D(2024, 1, 10), "system": "icd10", "code": "E11"},
    ]
    return frames(patients=patients, diagnoses=diagnoses)


def test_issue11_item5_shared_definitions_match_the_written_out_tree() -> None:
    dag = shared_chain(6)
    tree = from_json(to_json(study((inc("r", dag),), codesets=(T2D,)))).inclusion[0].predicate
    assert tree == dag and tree.items[0] is not tree.items[1].item.item  # no sharing left
    got_dag = run(study((inc("r", dag),), codesets=(T2D,)), data())
    got_tree = run(study((inc("r", tree),), codesets=(T2D,)), data())
    assert got_dag == got_tree
    assert {pid: row["r"] for pid, row in got_dag.items()} == {
        "old": True,
        "young": False,
        "young_t2d": True,
        "borderline": None,
    }


def test_issue11_item5_the_engine_compiles_a_shared_node_once() -> None:
    dag = shared_chain(30)  # 2^30 leaves written out: only sharing makes this instant
    st = study((inc("r", dag),), codesets=(T2D,))
    shared = SharedPredicates.of_rules(st.rules, "__s0#")
    ctx = Context(st, INDEX, Plan(), shared)
    expr = predicate(dag, ctx)
    assert expr is predicate(dag, ctx)
    # one entry per distinct node: 30 x (And, Not, Not) + Or, Compare, Exists
    assert len(ctx.compiled) == 30 * 3 + 3
    # the 30 nodes with two parents are columns, each in a stage after the one it reads
    assert [len(stage) for stage in shared.stages] == [1] * 30


def test_issue11_item5_ten_shared_levels_evaluate_like_one() -> None:
    """2^10 copies of the definition written out (the criteria hash writes them out); the
    engine and the reference evaluator compute each shared node once."""
    expected = run(study((inc("r", shared_chain(1)),), codesets=(T2D,)), data())
    got = run(study((inc("r", shared_chain(10)),), codesets=(T2D,)), data())
    assert got == expected


def test_issue11_item5_a_definition_shared_by_rules_and_studies() -> None:
    node = shared_chain(3)
    two_rules = study((inc("a", node), inc("b", ir.Not(node))), codesets=(T2D,))
    got = run(two_rules, data())
    assert all(row["b"] is (None if row["a"] is None else not row["a"]) for row in got.values())
