"""The reducer (``workflows.facts.evolve``) folds each event into a new document and leaves its
input alone, though it copies only what the event changes: every kind of event it knows,
folded one after another, each output the next input."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from workflows.facts import evolve, initial_facts

START = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)

EVENTS: list[tuple[str, dict[str, Any]]] = [
    (
        "open_self_declared",
        {"source": "12317", "acceptance_due_at": (START + timedelta(days=3)).isoformat()},
    ),
    ("report", {"channel": "cadre_found", "source": "网格员"}),
    ("commitment_form", {"signed_on": "2026-03-02", "covered_members": [{"id": "m"}]}),
    ("start_village_review", {}),
    ("review", {"procedure": "identification", "votes_for": 10}),
    ("review", {"procedure": "identification", "votes_for": 20}),  # held again
    ("review", {"procedure": "identification", "votes_for": 30}),  # and again
    ("home_visit", {"procedure": "identification", "visited_by": ["李乡长"]}),
    ("publish_notice", {"location": "村务公开栏"}),
    ("objection", {"procedure": "identification", "objection_id": "o1"}),
    (
        "objection_resolution",
        {"procedure": "identification", "objection_id": "o1", "outcome": "dismissed"},
    ),
    ("household_verification", {"procedure": "identification", "net_income": 100}),
    ("income_assessment", {"net_income": 200}),
    ("committee_study", {"held_on": "2026-03-20"}),
    ("announcement_posting", {"posted_on": "2026-03-21"}),
    ("distribute", {"township_code": "220281100"}),
    ("data_comparison", {"findings": [{"id": "f1", "dataset": "vehicles"}], "snapshots": ["s"]}),
    ("comparison_resolution", {"finding_id": "f1", "resolution": "explained"}),
    ("return_to_township", {"reason": "补充材料"}),
    ("return_response", {"response": "已补充"}),
    ("deadline_escalation", {}),
    ("classification", {"monitoring_type": "marginal"}),
    ("confirm", {}),
    ("plan_notice", {"location": "村务公开栏"}),
    ("review", {"procedure": "plan", "votes_for": 10}),
    ("review", {"procedure": "plan", "votes_for": 20}),
    ("objection", {"procedure": "plan", "objection_id": "p1"}),
    ("objection_resolution", {"procedure": "plan", "objection_id": "p1", "outcome": "upheld"}),
    ("measure_planned", {"measure_id": "m1", "kind": "employment"}),
    ("measure_progress", {"measure_id": "m1", "status": "in_progress"}),
    ("measure_progress", {"measure_id": "m1", "status": "done"}),
    ("publish_elimination_notice", {"location": "村务公开栏"}),
    ("mark_risk_eliminated", {"method": "income"}),
    ("roll_back_elimination", {}),
    ("continue_assistance", {"weak_stability": ["income"], "reason": "收入不稳"}),
    ("return_to_village", {"reason": "重新评议"}),
]


def fold(fresh_inputs: bool) -> list[dict[str, Any]]:
    """Every document along the fold; ``fresh_inputs``: each event folded into a deep copy
    of the document before it, so nothing is shared between steps."""
    facts, documents = initial_facts(), []
    for number, (name, payload) in enumerate(EVENTS):
        given = copy.deepcopy(facts) if fresh_inputs else facts
        before = copy.deepcopy(given)
        facts = evolve(
            given,
            name,
            copy.deepcopy(payload),
            START + timedelta(hours=number),
            from_state="any",
            notice_days=5,
        )
        assert given == before, f"{name} changed its input"
        assert facts is not given
        documents.append(facts)
    return documents


def test_every_event_leaves_its_input_alone_and_the_fold_shares_nothing_it_changes() -> None:
    shared, apart = fold(fresh_inputs=False), fold(fresh_inputs=True)
    # each document is still what it was when made: no later event changed what it shares
    assert shared == apart
    assert {name for name, _ in EVENTS} >= {"report", "comparison_resolution", "return_response"}


def test_the_fold_records_what_each_kind_of_event_says() -> None:
    facts = fold(fresh_inputs=False)[-1]
    assert [report["channel"] for report in facts["reports"]] == ["self_declared", "cadre_found"]
    identification = facts["procedures"]["identification"]
    # sent back to the village: its review, notice and objections are void, its visit stays
    assert identification["review"] is None
    assert identification["notice"] is None
    assert identification["objections"] == {}
    assert "earlier_reviews" not in identification
    assert identification["home_visit"]["visited_by"] == ["李乡长"]
    assert identification["verification"]["net_income"] == 100
    plan = facts["procedures"]["plan"]  # an upheld objection sends the plan back
    assert plan["review"] is None
    assert plan["notice"] is None
    assert "earlier_reviews" not in plan
    assert plan["objections"]["p1"]["resolution"]["outcome"] == "upheld"
    assert facts["procedures"]["elimination"]["notice"] is None  # afresh after continuing
    assert [a.get("net_income") for a in facts["assessments"]] == [100, 200]
    measure = facts["measures"]["m1"]
    assert measure["status"] == "done"
    assert [p["status"] for p in measure["progress"]] == ["in_progress", "done"]
    assert facts["comparison"]["findings"]["f1"]["resolution"]["resolution"] == "explained"
    assert facts["last_return"]["action"] == "return_to_village"
    assert facts["weak_stability"]["causes"] == ["income"]
    assert facts["elimination"] is None
    assert facts["acceptance"] == {
        "accepted_at": (START + timedelta(hours=3)).isoformat(),
        "late": False,
    }
    assert facts["township_code"] == "220281100"
    assert facts["identification_escalated_at"] is not None


def test_a_review_held_again_keeps_the_earlier_votes() -> None:
    documents = fold(fresh_inputs=False)
    votes = [document["procedures"]["identification"] for document in documents[4:7]]
    assert [vote["review"]["votes_for"] for vote in votes] == [10, 20, 30]
    assert "earlier_reviews" not in votes[0]
    assert [r["votes_for"] for r in votes[1]["earlier_reviews"]] == [10]
    assert [r["votes_for"] for r in votes[2]["earlier_reviews"]] == [10, 20]
