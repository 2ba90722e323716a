"""The workflow alone: every transition fires when its rules are met, and each rule refuses.

The ways to meet and to break each rule are written here, independently of the rules module,
so a wrong rule cannot also be the expectation.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from statemachine.exceptions import TransitionNotAllowed

from tests.machine import machine_sends
from workflows import case as case_module
from workflows.case import (
    CASE_V1,
    CLOSED_STATES,
    STATES,
    STEPS_V1,
    Step,
    UnknownState,
    Workflow,
)
from workflows.facts import initial_facts
from workflows.policy import PolicyParameters
from workflows.rules import Rule, RuleContext, Unmet, evaluate, met, verdicts
from workflows.vocabulary import Procedure, Role

NOW = datetime(2026, 9, 1, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
LONG_AGO = (NOW - timedelta(days=400)).isoformat()

Setup = Callable[[dict[str, Any]], object]
"""Mutates a scenario: {"facts", "payload", "now", "other_open_cases", "procedure"}."""


RULES_POLICY = PolicyParameters(version="workflow-tests")
"""The parameters' defaults (5-day notice, 15-day limit …): these tests run without a database,
so without the versions the service reads from it."""


def _proc(s: dict[str, Any]) -> dict[str, Any]:
    procedure_facts: dict[str, Any] = s["facts"]["procedures"][s["procedure"]]
    return procedure_facts


def _review(present: int, votes_for: int, eligible: int = 30) -> dict[str, Any]:
    against = present - votes_for
    return {
        "eligible_members": eligible,
        "present": present,
        "votes_for": votes_for,
        "votes_against": against,
        "abstentions": 0,
    }


def _assessment(verified_on: str, per_person: str) -> dict[str, Any]:
    guarantees = dict.fromkeys(
        (
            "food_and_clothing",
            "compulsory_education",
            "basic_medical_care",
            "housing_safety",
            "drinking_water",
        ),
        True,
    )
    return {
        "verified_on": verified_on,
        "recorded_at": verified_on,
        "large_rigid_spending": False,
        "net_income_per_person": per_person,
        "guarantees": guarantees,
    }


def _latest_assessment(s: dict[str, Any]) -> dict[str, Any]:
    if not s["facts"]["assessments"]:
        s["facts"]["assessments"] = [_assessment("2021-01-10", "7000.00")]
    latest: dict[str, Any] = s["facts"]["assessments"][-1]
    return latest


def _return_into(s: dict[str, Any]) -> dict[str, Any]:
    """A return that sent the case to the state the scenario stands in."""
    action = {"village_nomination": "return_to_village"}.get(s["state"], "return_to_township")
    return {"action": action, "reason": "材料不全"}


def _objection(outcome: str | None) -> dict[str, Any]:
    resolution = None if outcome is None else {"outcome": outcome, "reason": "查实"}
    return {"lodged_by_name": "村民", "statement": "收入不实", "resolution": resolution}


# rule name -> (meet, break, the code the break must produce)
RULE_CASES: dict[str, tuple[Setup, Setup, str]] = {
    "reason_given": (
        lambda s: s["payload"].update(reason="户主外出务工, 收入稳定"),
        lambda s: s["payload"].update(reason="   "),
        "reason_missing",
    ),
    "township_named": (
        lambda s: s["payload"].update(township_code="220281102"),
        lambda s: s["payload"].pop("township_code", None),
        "township_missing",
    ),
    "commitment_form_on_file": (
        lambda s: s["facts"].update(commitment_form={"signatory_name": "王"}),
        lambda s: s["facts"].update(commitment_form=None),
        "commitment_form_missing",
    ),
    "household_facts_verified": (
        lambda s: _proc(s).update(verification={"net_income_per_person": "3000.00"}),
        lambda s: _proc(s).update(verification=None),
        "household_facts_missing",
    ),
    "review_recorded": (
        lambda s: _proc(s).update(review=_review(21, 15)),
        lambda s: _proc(s).update(review=None),
        "review_missing",
    ),
    "review_quorate": (  # exactly two thirds present is quorate
        lambda s: _proc(s).update(review=_review(20, 15)),
        lambda s: _proc(s).update(review=_review(19, 15)),
        "review_quorum_not_met",
    ),
    "review_passed": (  # exactly half in favour is not a majority
        lambda s: _proc(s).update(review=_review(20, 11)),
        lambda s: _proc(s).update(review=_review(20, 10)),
        "review_majority_not_met",
    ),
    "notice_period_over": (
        # published 2026-08-20 (Shanghai), 5 days: may leave from 2026-08-26 00:00 Shanghai
        lambda s: (
            _proc(s).update(notice={"published_at": "2026-08-20T02:00:00+00:00", "days": 5}),
            s.update(now=datetime(2026, 8, 25, 16, 0, tzinfo=UTC)),
        ),
        lambda s: (
            _proc(s).update(notice={"published_at": "2026-08-20T02:00:00+00:00", "days": 5}),
            s.update(now=datetime(2026, 8, 25, 15, 59, 59, tzinfo=UTC)),
        ),
        "notice_period_running",
    ),
    "no_open_objection": (
        lambda s: _proc(s).update(objections={"a": _objection("dismissed")}),
        lambda s: _proc(s).update(objections={"a": _objection(None)}),
        "objection_open",
    ),
    "objection_upheld": (
        lambda s: _proc(s).update(objections={"a": _objection("upheld")}),
        lambda s: _proc(s).update(objections={"a": _objection("dismissed")}),
        "objection_not_upheld",
    ),
    "return_addressed": (
        lambda s: s["facts"].update(last_return={**_return_into(s), "response": {"r": "已补充"}}),
        lambda s: s["facts"].update(last_return=_return_into(s)),
        "return_not_addressed",
    ),
    "home_visit_recorded": (
        lambda s: _proc(s).update(home_visit={"findings": "属实"}),
        lambda s: _proc(s).update(home_visit=None),
        "home_visit_missing",
    ),
    "comparison_run": (
        lambda s: s["facts"].update(comparison={"findings": {}}),
        lambda s: s["facts"].update(comparison=None),
        "comparison_not_run",
    ),
    "comparison_resolved": (
        lambda s: s["facts"].update(
            comparison={
                "findings": {"f1": {"contradicts": True, "resolution": {"reason": "营运车辆"}}}
            }
        ),
        lambda s: s["facts"].update(
            comparison={"findings": {"f1": {"contradicts": True, "resolution": None}}}
        ),
        "comparison_unresolved",
    ),
    "monitoring_type_chosen": (
        lambda s: s["facts"]["classification"].update(monitoring_type="marginal"),
        lambda s: s["facts"]["classification"].update(monitoring_type=None),
        "monitoring_type_missing",
    ),
    "risk_types_chosen": (
        lambda s: s["facts"]["classification"].update(
            risk_types=["illness", "disability", "schooling", "accident", "other"]
        ),
        lambda s: s["facts"]["classification"].update(
            risk_types=["illness", "disability", "schooling", "accident", "other", "drinking_water"]
        ),
        "risk_types_invalid",
    ),
    "responsible_person_named": (
        lambda s: s["facts"]["classification"].update(responsible_person={"name": "赵"}),
        lambda s: s["facts"]["classification"].update(responsible_person=None),
        "responsible_person_missing",
    ),
    "monitored_long_enough": (  # confirmed 2026-02-28 (Shanghai); six months on: 2026-08-28
        lambda s: (
            s["facts"].update(confirmed_at="2026-02-28T01:00:00+00:00"),
            s.update(now=datetime(2026, 8, 27, 16, 0, tzinfo=UTC)),
        ),
        lambda s: (
            s["facts"].update(confirmed_at="2026-02-28T01:00:00+00:00"),
            s.update(now=datetime(2026, 8, 27, 15, 59, tzinfo=UTC)),
        ),
        "monitoring_too_short",
    ),
    "measure_done": (
        lambda s: s["facts"]["measures"].update(m1={"category": "employment", "status": "done"}),
        lambda s: s["facts"].update(
            measures={"m1": {"category": "employment", "status": "planned"}}
        ),
        "no_measure_done",
    ),
    "social_security_in_place": (
        lambda s: s["facts"]["measures"].update(
            m2={"category": "social_security", "status": "in_progress"}
        ),
        lambda s: s["facts"].update(measures={"m1": {"category": "employment", "status": "done"}}),
        "social_security_missing",
    ),
    "income_stable": (  # both above the 2021 line of 6000, exactly six months apart
        lambda s: s["facts"].update(
            assessments=[_assessment("2021-01-10", "6000.01"), _assessment("2021-07-10", "7000.00")]
        ),
        lambda s: s["facts"]["assessments"][0].update(verified_on="2021-01-11"),
        "income_not_stable",
    ),
    "rigid_spending_resolved": (
        lambda s: _latest_assessment(s).update(large_rigid_spending=False),
        lambda s: _latest_assessment(s).update(large_rigid_spending=True),
        "rigid_spending_unresolved",
    ),
    "guarantees_secure": (
        lambda s: _latest_assessment(s)["guarantees"].update(housing_safety=True),
        lambda s: _latest_assessment(s)["guarantees"].update(housing_safety=False),
        "guarantees_not_secure",
    ),
    "has_labour_capacity": (
        lambda s: s.update(members_with_labour=1),
        lambda s: s.update(members_with_labour=0),
        "no_labour_capacity",
    ),
    "lacks_labour_capacity": (
        lambda s: s.update(members_with_labour=0, members_labour_unknown=0),
        lambda s: s.update(members_with_labour=1),
        "labour_capacity_present",
    ),
    "household_has_no_other_open_case": (
        lambda s: s.update(other_open_cases=0),
        lambda s: s.update(other_open_cases=1),
        "household_has_open_case",
    ),
}

TRANSITIONS = [(step, source) for step in STEPS_V1 for source in step.sources]


def scenario(step: Step, source: str = "") -> dict[str, Any]:
    facts = initial_facts()
    facts["classification"] = {}
    facts["confirmed_at"] = LONG_AGO
    return {
        "facts": facts,
        "payload": {},
        "now": NOW,
        "other_open_cases": 0,
        "members_with_labour": 0,
        "members_labour_unknown": 0,
        "state": source,
        "procedure": step.procedure or Procedure.identification,
    }


def context(s: dict[str, Any], step: Step) -> RuleContext:
    return RuleContext(
        facts=s["facts"],
        now=s["now"],
        policy=RULES_POLICY,
        procedure=step.procedure,
        payload=s["payload"],
        other_open_cases=s["other_open_cases"],
        members_with_labour=s["members_with_labour"],
        members_labour_unknown=s["members_labour_unknown"],
        state=s["state"],
    )


def meet_all(step: Step, source: str = "") -> dict[str, Any]:
    s = scenario(step, source)
    for rule in step.rules:
        RULE_CASES[rule.name][0](s)
    return s


def test_every_rule_has_a_case_here() -> None:
    used = {rule.name for step in STEPS_V1 for rule in step.rules}
    assert used <= set(RULE_CASES), used - set(RULE_CASES)


@pytest.mark.parametrize(
    ("step", "source"), TRANSITIONS, ids=[f"{s.action}-from-{src}" for s, src in TRANSITIONS]
)
def test_transition_fires_when_every_rule_is_met(step: Step, source: str) -> None:
    s = meet_all(step, source)
    ctx = context(s, step)
    assert evaluate(step.rules, ctx, with_payload=True) == []
    assert CASE_V1.run(source, step.action, ctx) == step.target


CASES = [(step, source, rule.name) for step, source in TRANSITIONS for rule in step.rules]


@pytest.mark.parametrize(
    ("step", "source", "rule_name"),
    CASES,
    ids=[f"{s.action}-from-{src}-{r}" for s, src, r in CASES],
)
def test_each_rule_alone_refuses(step: Step, source: str, rule_name: str) -> None:
    s = meet_all(step, source)
    RULE_CASES[rule_name][1](s)
    ctx = context(s, step)
    codes = [u.code for u in evaluate(step.rules, ctx, with_payload=True)]
    assert codes == [RULE_CASES[rule_name][2]]
    with pytest.raises(TransitionNotAllowed):
        CASE_V1.run(source, step.action, ctx)


def test_all_unmet_rules_are_listed_not_just_the_first() -> None:
    step = CASE_V1.step("confirm", "city_confirmation")
    assert step is not None
    s = scenario(step)
    codes = [u.code for u in evaluate(step.rules, context(s, step), with_payload=True)]
    assert codes == [
        "comparison_not_run",
        "monitoring_type_missing",
        "risk_types_invalid",
        "responsible_person_missing",
    ]


def test_notice_rule_says_when_it_will_be_met() -> None:
    step = CASE_V1.step("submit_to_township", "public_notice")
    assert step is not None
    s = scenario(step)
    RULE_CASES["notice_period_over"][1](s)
    (unmet,) = evaluate(step.rules, context(s, step), with_payload=True)
    assert unmet.met_at == datetime(2026, 8, 25, 16, 0, tzinfo=UTC)  # 2026-08-26 00:00 Shanghai


def test_actions_that_do_not_leave_a_state_are_refused() -> None:
    ctx = context(scenario(STEPS_V1[0]), STEPS_V1[0])
    for state in STATES:
        leaving = {step.action for step in CASE_V1.steps_from(state)}
        for action in set(CASE_V1.actions) - leaving:
            with pytest.raises(TransitionNotAllowed):
                CASE_V1.run(state, action, ctx)


def test_closed_states() -> None:
    assert not CASE_V1.steps_from("rejected")
    assert not CASE_V1.steps_from("withdrawn")
    # risk_eliminated is closed but can be rolled back
    assert [s.action for s in CASE_V1.steps_from("risk_eliminated")] == ["roll_back_elimination"]
    assert set(CLOSED_STATES) == {"rejected", "withdrawn", "risk_eliminated"}


def test_unknown_stored_state_is_corruption() -> None:
    step = STEPS_V1[0]
    with pytest.raises(UnknownState):
        CASE_V1.run("approved", "confirm", context(scenario(step), step))


def test_roles_follow_the_spec_table() -> None:
    expected = {
        "start_village_review": {Role.village_cadre},
        "distribute": {Role.city_bureau},
        "publish_notice": {Role.village_committee},
        "submit_to_township": {Role.village_committee, Role.system},
        "return_to_village": {Role.township_official},
        "submit_to_city": {Role.township_official},
        "return_to_township": {Role.city_bureau},
        "confirm": {Role.city_bureau},
        "reject": {Role.village_committee, Role.township_official, Role.city_bureau},
        "withdraw": {Role.village_cadre},
        "propose_elimination": {Role.village_cadre},
        "publish_elimination_notice": {Role.village_committee},
        "submit_elimination_to_township": {Role.village_committee, Role.system},
        "submit_elimination_to_city": {Role.township_official},
        "mark_risk_eliminated": {Role.city_bureau},
        "continue_assistance": {Role.township_official, Role.city_bureau},
        "keep_under_watch": {Role.city_bureau},
        "resume_assistance": {Role.city_bureau},
        "roll_back_elimination": {Role.city_bureau},
    }
    for action, roles in expected.items():
        assert CASE_V1.roles_for(action) == roles, action
    # reject: each level in its own states only
    for state, role in (
        ("township_verification", Role.township_official),
        ("city_confirmation", Role.city_bureau),
        ("public_notice", Role.village_committee),
    ):
        step = CASE_V1.step("reject", state)
        assert step is not None, state
        assert step.roles == {role}, state


def test_same_rule_functions_serve_both_procedures() -> None:
    identification = CASE_V1.step("publish_notice", "village_nomination")
    elimination = CASE_V1.step("publish_elimination_notice", "elimination_nomination")
    assert identification
    assert elimination
    assert set(elimination.rules) <= set(identification.rules)
    assert identification.procedure != elimination.procedure


def test_rules_read_the_procedure_they_run_in() -> None:
    step = CASE_V1.step("publish_elimination_notice", "elimination_nomination")
    assert step is not None
    s = meet_all(step)
    # a review of the identification procedure does not count for elimination
    s["facts"]["procedures"]["identification"]["review"] = copy.deepcopy(
        s["facts"]["procedures"]["elimination"]["review"]
    )
    s["facts"]["procedures"]["elimination"]["review"] = None
    codes = [u.code for u in evaluate(step.rules, context(s, step), with_payload=True)]
    assert codes == ["review_missing"]


def test_diagram_is_generated_from_the_definition() -> None:
    diagram = CASE_V1.mermaid()
    assert diagram.startswith("stateDiagram-v2")
    for step in STEPS_V1:
        for source in step.sources:
            assert f"{source} --> {step.target}" in diagram


def test_the_machine_reads_the_verdicts_it_is_sent() -> None:
    step = CASE_V1.step("publish_notice", "village_nomination")
    assert step is not None
    s = meet_all(step, "village_nomination")
    ctx = context(s, step)
    found = met(verdicts(step.rules, ctx, with_payload=True))
    assert found == {rule.name for rule in step.rules}
    assert CASE_V1.run("village_nomination", "publish_notice", ctx, found) == step.target
    # a verdict the service did not find met holds the machine, whatever the context says
    with pytest.raises(TransitionNotAllowed):
        CASE_V1.run("village_nomination", "publish_notice", ctx, found - {step.rules[0].name})


def test_the_machine_asks_no_rule_it_has_a_verdict_for(monkeypatch: pytest.MonkeyPatch) -> None:
    step = CASE_V1.step("publish_notice", "village_nomination")
    assert step is not None
    ctx = context(meet_all(step, "village_nomination"), step)
    found = met(verdicts(step.rules, ctx, with_payload=True))
    asked: list[str] = []

    def counted(self: Rule, c: RuleContext) -> Unmet | None:
        asked.append(self.name)
        return self.check(c)

    monkeypatch.setattr(Rule, "__call__", counted)
    CASE_V1.run("village_nomination", "publish_notice", ctx, found)
    assert asked == []
    CASE_V1.run("village_nomination", "publish_notice", ctx)  # without verdicts: it asks
    assert sorted(asked) == sorted(rule.name for rule in step.rules)


def _fresh() -> Workflow:
    """The first workflow with nothing decided yet, and a machine class of its own."""
    return dataclasses.replace(CASE_V1)


def _notice(workflow: Workflow) -> tuple[Step, RuleContext, frozenset[str]]:
    """Publishing the notice from the village's nomination, every rule of it met: the step,
    its context and its verdicts."""
    step = workflow.step("publish_notice", "village_nomination")
    assert step is not None
    ctx = context(meet_all(step, "village_nomination"), step)
    return step, ctx, frozenset(rule.name for rule in step.rules)


def test_the_machine_answers_once_for_a_state_an_action_and_its_verdicts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workflow = _fresh()
    sent = machine_sends(monkeypatch, workflow)
    sends = [
        (step, source, context(meet_all(step, source), step), frozenset(r.name for r in step.rules))
        for step in STEPS_V1
        for source in step.sources
    ]
    for _ in range(2):  # the second time: the same states, and the machine not asked
        for step, source, ctx, every in sends:
            assert workflow.run(source, step.action, ctx, every) == step.target
        assert len(sent) == len(sends)


def test_a_refusal_is_never_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    workflow = _fresh()
    step, ctx, every = _notice(workflow)
    short = every - {step.rules[0].name}
    sent = machine_sends(monkeypatch, workflow)
    for _ in range(2):
        with pytest.raises(TransitionNotAllowed):
            workflow.run("village_nomination", "publish_notice", ctx, short)
    assert workflow.run("village_nomination", "publish_notice", ctx, every) == step.target
    # what was kept for every verdict met is not given for fewer
    with pytest.raises(TransitionNotAllowed):
        workflow.run("village_nomination", "publish_notice", ctx, short)
    # nor for another action from the same state, nor from another state
    with pytest.raises(TransitionNotAllowed):
        workflow.run("village_nomination", "submit_to_township", ctx, every)
    with pytest.raises(TransitionNotAllowed):
        workflow.run("public_notice", "publish_notice", ctx, every)
    assert len(sent) == 6


def test_without_verdicts_the_machine_is_asked_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    workflow = _fresh()
    step, ctx, _ = _notice(workflow)
    sent = machine_sends(monkeypatch, workflow)
    for _ in range(3):
        assert workflow.run("village_nomination", "publish_notice", ctx) == step.target
    assert len(sent) == 3
    assert workflow._decided == {}


def test_what_the_machine_answered_is_kept_within_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    workflow = _fresh()
    step, ctx, every = _notice(workflow)
    monkeypatch.setattr(case_module, "DECIDED_AT_MOST", 0)
    sent = machine_sends(monkeypatch, workflow)
    for _ in range(2):
        assert workflow.run("village_nomination", "publish_notice", ctx, every) == step.target
    assert len(sent) == 2
    assert workflow._decided == {}


def test_a_workflow_made_from_another_decides_for_itself() -> None:
    """One whose step has a rule more does not answer from what the first one kept for the
    step: the verdicts that moved the first one leave its rule unmet, and it refuses."""
    step, ctx, every = _notice(CASE_V1)
    other = CASE_V1.step("return_to_township", "city_confirmation")
    assert other is not None
    extra = other.rules[0]
    assert extra not in step.rules
    assert CASE_V1.run("village_nomination", "publish_notice", ctx, every) == step.target
    stricter = dataclasses.replace(
        CASE_V1,
        steps=tuple(
            dataclasses.replace(s, rules=(*s.rules, extra)) if s is step else s
            for s in CASE_V1.steps
        ),
    )
    assert stricter._decided == {}
    with pytest.raises(TransitionNotAllowed):
        stricter.run("village_nomination", "publish_notice", ctx, every)
    more = every | {extra.name}
    assert stricter.run("village_nomination", "publish_notice", ctx, more) == step.target
