"""Each identification rule refuses and allows over HTTP; a refusal writes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter

from app.cases.schemas import ActionOut
from tests.helpers import (
    CLASSIFICATION,
    COMMITMENT_FORM,
    HOME_VISIT,
    PASSING_REVIEW,
    VERIFICATION,
    Api,
    new_id_number,
    rule_refusal,
)
from workflows.case import CURRENT
from workflows.rules import Rule, RuleContext, Unmet

ACTIONS = TypeAdapter(list[ActionOut])


async def refused(api: Api, user: str, case_id: str, action: str, payload: Any = None) -> set[str]:
    """Fire and expect 409 guard_failed with nothing written; answers the unmet codes."""
    before = await api.case(case_id)
    events_before = await api.event_count(case_id)
    response = await api.act(user, case_id, action, payload)
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "guard_failed"
    after = await api.case(case_id)
    assert (after["version"], after["state"]) == (before["version"], before["state"])
    assert await api.event_count(case_id) == events_before
    return {u["code"] for u in body["unmet"]}


async def action(api: Api, user: str, case_id: str, name: str) -> dict[str, Any]:
    response = await api.get(user, f"/api/v1/cases/{case_id}/actions")
    assert response.status_code == 200, response.text
    # written without the models (app.cases.service.available_actions), as the models write it
    assert ACTIONS.dump_json(ACTIONS.validate_json(response.content)) == response.content
    found: dict[str, Any] = next(a for a in response.json() if a["name"] == name)
    return found


async def test_publish_notice_needs_form_and_review(api: Api) -> None:
    case_id = await api.to_village_nomination()
    listed = await action(api, "committee.pinggang", case_id, "publish_notice")
    assert not listed["allowed"]
    assert {u["code"] for u in listed["unmet"]} == {
        "commitment_form_missing",
        "household_facts_missing",
        "review_missing",
    }
    assert await refused(api, "committee.pinggang", case_id, "publish_notice") == {
        "commitment_form_missing",
        "household_facts_missing",
        "review_missing",
    }
    form = {**COMMITMENT_FORM, "covered_member_id_numbers": [api.heads[case_id]]}
    await api.must_fact("cadre.pinggang", case_id, "commitment-forms", form)
    assert await refused(api, "committee.pinggang", case_id, "publish_notice") == {
        "household_facts_missing",
        "review_missing",
    }
    await api.must_fact("cadre.pinggang", case_id, "household-verifications", VERIFICATION)
    assert await refused(api, "committee.pinggang", case_id, "publish_notice") == {"review_missing"}
    await api.must_fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
    assert (await action(api, "committee.pinggang", case_id, "publish_notice"))["allowed"]
    case = await api.must("committee.pinggang", case_id, "publish_notice")
    assert case["state"] == "public_notice"


async def test_review_quorum_and_majority(api: Api) -> None:
    case_id = await api.to_village_nomination()
    # 19 of 30 present (< 2/3) and 9 of 19 for (not > 1/2): both reported
    failing = {
        **PASSING_REVIEW,
        "present": 19,
        "votes_for": 9,
        "votes_against": 8,
        "abstentions": 2,
    }
    await api.prepare_nomination(case_id, review=failing)
    assert await refused(api, "committee.pinggang", case_id, "publish_notice") == {
        "review_quorum_not_met",
        "review_majority_not_met",
    }
    # the village re-convenes: a failed vote is held again in the same stage, the latest counts
    second = await api.must_fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
    procedure = second["facts"]["procedures"]["identification"]
    assert procedure["review"]["present"] == 21
    assert [r["present"] for r in procedure["earlier_reviews"]] == [19]
    assert (await action(api, "committee.pinggang", case_id, "publish_notice"))["allowed"]
    # one passing review per procedure
    third = await api.fact("committee.pinggang", case_id, "reviews", failing)
    assert third.status_code == 409
    assert rule_refusal(third) == "review_already_recorded"
    replayed = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/replay")).json()
    assert replayed["matches"]
    assert replayed["facts_match"]
    assert replayed["all_steps_legal"]


async def test_quorate_passing_review_at_the_boundary_allows(api: Api) -> None:
    case_id = await api.to_village_nomination()
    # exactly 2/3 present (20 of 30), 11 of 20 for (> 1/2)
    boundary = {
        **PASSING_REVIEW,
        "present": 20,
        "votes_for": 11,
        "votes_against": 9,
        "abstentions": 0,
    }
    await api.prepare_nomination(case_id, review=boundary)
    assert (await api.must("committee.pinggang", case_id, "publish_notice"))["state"] == (
        "public_notice"
    )


async def test_notice_runs_its_whole_period(api: Api) -> None:
    case_id = await api.to_village_nomination()
    await api.nominate(case_id)  # published Monday 2026-03-02 09:30 Shanghai
    case = await api.case(case_id)
    # runs 03-03 … 03-07, may be left from 2026-03-08 00:00 Shanghai = 03-07 16:00 UTC
    assert case["deadlines"]["notice_ends_at"] == "2026-03-07T16:00:00Z"
    listed = await action(api, "committee.pinggang", case_id, "submit_to_township")
    assert listed["unmet"][0]["code"] == "notice_period_running"
    assert listed["unmet"][0]["met_at"] == "2026-03-07T16:00:00Z"
    api.clock.advance(timedelta(days=5, hours=14, minutes=29, seconds=59))  # 03-07 23:59:59
    assert await refused(api, "committee.pinggang", case_id, "submit_to_township") == {
        "notice_period_running"
    }
    api.clock.advance(timedelta(seconds=1))  # 03-08 00:00:00 Shanghai
    case = await api.must("committee.pinggang", case_id, "submit_to_township")
    assert case["state"] == "township_verification"


async def test_open_objection_holds_the_notice_and_dismissal_releases_it(api: Api) -> None:
    case_id = await api.to_village_nomination()
    await api.nominate(case_id)
    objection_id = await api.lodge_objection(case_id, "该户有车辆")
    api.clock.advance(timedelta(days=6))
    assert await refused(api, "committee.pinggang", case_id, "submit_to_township") == {
        "objection_open"
    }
    late = await api.fact(
        "cadre.pinggang", case_id, "objections", {"lodged_by_name": "王", "statement": "迟到的异议"}
    )
    assert late.status_code == 409
    assert rule_refusal(late) == "notice_period_over"
    await api.must_fact(
        "township.baishishan",
        case_id,
        f"objections/{objection_id}/resolution",
        {"outcome": "dismissed", "reason": "车辆为营运所需, 已核实"},
    )
    again = await api.fact(
        "township.baishishan",
        case_id,
        f"objections/{objection_id}/resolution",
        {"outcome": "upheld", "reason": "改判"},
    )
    assert again.status_code == 409
    assert rule_refusal(again) == "objection_already_resolved"
    case = await api.must("committee.pinggang", case_id, "submit_to_township")
    assert case["state"] == "township_verification"


async def test_upheld_objection_returns_to_village_and_voids_review_and_notice(api: Api) -> None:
    case_id = await api.to_village_nomination()
    await api.nominate(case_id)
    objection_id = await api.lodge_objection(case_id, "该户有商铺")
    case = await api.must_fact(
        "township.baishishan",
        case_id,
        f"objections/{objection_id}/resolution",
        {"outcome": "upheld", "reason": "查实有商铺出租"},
    )
    assert case["state"] == "village_nomination"
    procedure = case["facts"]["procedures"]["identification"]
    assert procedure["review"] is None
    assert procedure["notice"] is None
    # the commitment form stays; the review is held again once the objection is addressed
    assert await refused(api, "committee.pinggang", case_id, "publish_notice") == {
        "review_missing",
        "return_not_addressed",
    }
    names = [
        e["name"]
        for e in (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/events")).json()
    ]
    assert names[-2:] == ["objection_resolution", "return_to_village"]


async def test_return_to_village_from_notice_needs_an_upheld_objection(api: Api) -> None:
    case_id = await api.to_village_nomination()
    await api.nominate(case_id)
    assert await refused(
        api, "township.baishishan", case_id, "return_to_village", {"reason": "复核"}
    ) == {"objection_not_upheld"}


async def test_submit_to_city_needs_a_home_visit(api: Api) -> None:
    case_id = await api.to_village_nomination()
    await api.to_township(case_id)
    assert await refused(api, "township.baishishan", case_id, "submit_to_city") == {
        "home_visit_missing"
    }
    await api.must_fact("township.baishishan", case_id, "home-visits", HOME_VISIT)
    case = await api.must("township.baishishan", case_id, "submit_to_city")
    assert case["state"] == "city_confirmation"


async def test_confirm_needs_a_complete_classification(api: Api) -> None:
    case_id = await api.to_village_nomination()
    await api.to_city(case_id)
    assert await refused(api, "bureau.jiaohe", case_id, "confirm") == {
        "monitoring_type_missing",
        "risk_types_invalid",
        "responsible_person_missing",
    }
    six = ["illness", "disability", "schooling", "accident", "other", "drinking_water"]
    await api.must_fact(
        "bureau.jiaohe", case_id, "classification", {**CLASSIFICATION, "risk_types": six}
    )
    assert await refused(api, "bureau.jiaohe", case_id, "confirm") == {"risk_types_invalid"}
    await api.must_fact("bureau.jiaohe", case_id, "classification", CLASSIFICATION)
    assert (await api.must("bureau.jiaohe", case_id, "confirm"))["state"] == "assisted"


async def test_returns_and_rejections_need_a_reason(api: Api) -> None:
    case_id = await api.to_village_nomination()
    await api.to_city(case_id)
    assert await refused(api, "bureau.jiaohe", case_id, "return_to_township") == {"reason_missing"}
    case = await api.must("bureau.jiaohe", case_id, "return_to_township", {"reason": "补充材料"})
    assert case["state"] == "township_verification"
    assert await refused(
        api, "township.baishishan", case_id, "return_to_village", {"reason": ""}
    ) == {"reason_missing"}
    case = await api.must(
        "township.baishishan", case_id, "return_to_village", {"reason": "收入核算有误"}
    )
    assert case["state"] == "village_nomination"
    assert await refused(api, "committee.pinggang", case_id, "reject") == {"reason_missing"}
    case = await api.must("committee.pinggang", case_id, "reject", {"reason": "收入高于指导线"})
    assert case["state"] == "rejected"
    assert case["is_open"] is False


async def test_distribute_goes_to_the_households_township_only(api: Api) -> None:
    case = await api.open_case("department_flagged")
    before = await api.event_count(case["id"])
    # 天北镇 is not the township of 平岗村 (白石山镇)
    other = await api.act("bureau.jiaohe", case["id"], "distribute", {"township_code": "220281105"})
    assert other.status_code == 422, other.text
    assert other.json()["code"] == "township_mismatch"
    assert other.json()["field"] == "township_code"
    assert await api.event_count(case["id"]) == before
    assert (await api.case(case["id"]))["state"] == "department_flagged"
    named = await api.must(
        "bureau.jiaohe", case["id"], "distribute", {"township_code": "220281102"}
    )
    assert (named["state"], named["facts"]["township_code"]) == ("village_nomination", "220281102")
    # left out, the household's own township is taken
    unnamed = await api.open_case("department_flagged")
    moved = await api.must("bureau.jiaohe", unnamed["id"], "distribute")
    assert moved["facts"]["township_code"] == "220281102"


async def test_withdraw_at_the_households_request(api: Api) -> None:
    case = await api.open_case("cadre_found")
    assert await refused(api, "cadre.pinggang", case["id"], "withdraw") == {"reason_missing"}
    moved = await api.must("cadre.pinggang", case["id"], "withdraw", {"reason": "农户申请撤回"})
    assert moved["state"] == "withdrawn"


async def test_elimination_cannot_start_without_the_criteria(api: Api) -> None:
    case_id = await api.to_assisted()
    codes = await refused(api, "cadre.pinggang", case_id, "propose_elimination")
    # one assessment (the identification's), with heavy rigid spending
    assert codes == {
        "monitoring_too_short",
        "no_measure_done",
        "income_not_stable",
        "rigid_spending_unresolved",
        "no_labour_capacity",  # 暂不标注: not even proposed without labour capacity
    }
    # the head's labour skill is not recorded yet
    assert await refused(api, "bureau.jiaohe", case_id, "keep_under_watch") == {
        "labour_capacity_present",
        "social_security_missing",
    }


async def test_role_that_may_fire_elsewhere_is_listed_as_not_permitted_here(api: Api) -> None:
    case_id = await api.to_village_nomination()
    await api.to_township(case_id)
    # village_committee rejects in village states only; here it is the township's
    listed = await action(api, "committee.pinggang", case_id, "reject")
    assert not listed["allowed"]
    assert "role_not_permitted" in {u["code"] for u in listed["unmet"]}
    assert "role_not_permitted" in await refused(
        api, "committee.pinggang", case_id, "reject", {"reason": "x"}
    )


async def test_household_verification_computes_income_per_person(api: Api) -> None:
    case_id = await api.to_village_nomination()
    case = await api.must_fact("cadre.pinggang", case_id, "household-verifications", VERIFICATION)
    verification = case["facts"]["procedures"]["identification"]["verification"]
    # (12000 + 8000.50 + 0 + 3000 - 2000.50) / 4 = 5250; less 15000 spending: 1500.00
    assert verification["net_income"] == "21000.00"
    assert verification["net_income_per_person"] == "5250.00"
    assert verification["net_income_per_person_after_spending"] == "1500.00"
    assert verification["wage_income"] == "12000.00"  # money as decimal strings, never floats


async def test_household_verification_refuses_bad_amounts(api: Api) -> None:
    case_id = await api.to_village_nomination()
    before = await api.case(case_id)
    for field, value in (
        ("wage_income", "-1"),
        ("transfer_income", "12.345"),
        ("household_size", 0),
        ("business_income", "abc"),
    ):
        response = await api.fact(
            "cadre.pinggang", case_id, "household-verifications", {**VERIFICATION, field: value}
        )
        assert response.status_code == 422, (field, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}, field
    assert (await api.case(case_id))["version"] == before["version"]


async def test_household_verification_is_the_village_cadres_in_nomination(api: Api) -> None:
    case = await api.open_case()
    early = await api.fact("cadre.pinggang", case["id"], "household-verifications", VERIFICATION)
    assert early.status_code == 409
    assert early.json()["code"] == "not_recordable_in_state"
    await api.must("cadre.pinggang", case["id"], "start_village_review")
    by_committee = await api.fact(
        "committee.pinggang", case["id"], "household-verifications", VERIFICATION
    )
    assert by_committee.status_code == 403


async def test_resubmission_needs_the_return_addressed(api: Api) -> None:
    case_id = await api.to_village_nomination()
    await api.to_city(case_id)
    early = await api.fact("township.baishishan", case_id, "return-responses", {"response": "x"})
    assert early.status_code == 409
    assert early.json()["code"] == "not_recordable_in_state"
    await api.must("bureau.jiaohe", case_id, "return_to_township", {"reason": "入户核实记录不全"})
    assert await refused(api, "township.baishishan", case_id, "submit_to_city") == {
        "return_not_addressed"
    }
    await api.must_fact(
        "township.baishishan", case_id, "return-responses", {"response": "已重新入户核实并补充记录"}
    )
    again = await api.fact("township.baishishan", case_id, "return-responses", {"response": "y"})
    assert again.status_code == 409
    assert rule_refusal(again) == "no_return_to_address"
    moved = await api.must("township.baishishan", case_id, "submit_to_city")
    assert moved["state"] == "city_confirmation"
    # back at the village: the review and notice are void, and the return must be answered
    await api.must("bureau.jiaohe", case_id, "return_to_township", {"reason": "收入存疑"})
    await api.must_fact("township.baishishan", case_id, "return-responses", {"response": "退村"})
    await api.must("township.baishishan", case_id, "return_to_village", {"reason": "收入核算有误"})
    assert await refused(api, "committee.pinggang", case_id, "publish_notice") == {
        "review_missing",
        "return_not_addressed",
    }
    await api.must_fact("cadre.pinggang", case_id, "return-responses", {"response": "已重新核算"})
    await api.must_fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
    assert (await api.must("committee.pinggang", case_id, "publish_notice"))["state"] == (
        "public_notice"
    )
    replay = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/replay")).json()
    assert replay["matches"]
    assert replay["all_steps_legal"]
    assert replay["facts_match"]


async def test_suggested_classification_and_override(api: Api) -> None:
    case_id = await api.to_village_nomination()
    assert (await api.case(case_id))["suggested_classification"] is None  # nothing verified yet
    await api.to_city(case_id)
    suggested = (await api.case(case_id))["suggested_classification"]
    # reported for illness, with heavy rigid spending: sudden severe hardship
    assert suggested["monitoring_type"] == "sudden_hardship"
    marginal = {**CLASSIFICATION, "monitoring_type": "marginal"}
    refusal = await api.fact("bureau.jiaohe", case_id, "classification", marginal)
    assert refusal.status_code == 409
    assert rule_refusal(refusal) == "override_reason_missing"
    override = {**marginal, "override_reason": "医疗费用已由大病保险报销大部分"}
    case = await api.must_fact("bureau.jiaohe", case_id, "classification", override)
    assert case["monitoring_type"] == "marginal"
    assert case["facts"]["classification"]["override_reason"] == override["override_reason"]


async def test_lifted_out_households_are_suggested_unstable(api: Api) -> None:
    response = await api.post(
        "cadre.pinggang",
        "/api/v1/cases",
        {
            "channel": "cadre_found",
            "risk_type": "unstable_employment",
            "household": {
                "head_name": "李",
                "head_id_number": new_id_number(),
                "village_code": "220281102200",
                "size": 3,
                "household_type": "lifted_out",
            },
        },
    )
    case_id = response.json()["id"]
    await api.must("cadre.pinggang", case_id, "start_village_review")
    await api.must_fact("cadre.pinggang", case_id, "household-verifications", VERIFICATION)
    suggested = (await api.case(case_id))["suggested_classification"]
    assert suggested["monitoring_type"] == "unstable_lifted"


async def test_ordinary_household_without_sudden_cause_is_marginal(api: Api) -> None:
    response = await api.post(
        "cadre.pinggang",
        "/api/v1/cases",
        {
            "channel": "cadre_found",
            "risk_type": "unstable_employment",
            "household": {
                "head_name": "赵",
                "head_id_number": new_id_number(),
                "village_code": "220281102200",
                "size": 3,
            },
        },
    )
    case_id = response.json()["id"]
    await api.must("cadre.pinggang", case_id, "start_village_review")
    await api.must_fact("cadre.pinggang", case_id, "household-verifications", VERIFICATION)
    assert (await api.case(case_id))["suggested_classification"]["monitoring_type"] == "marginal"


async def test_a_resolution_names_an_objection_of_this_notice(api: Api) -> None:
    case_id = await api.to_village_nomination()
    await api.nominate(case_id)
    objection_id = await api.lodge_objection(case_id, "有车辆")
    unknown = await api.fact(
        "township.baishishan",
        case_id,
        "objections/nope/resolution",
        {"outcome": "dismissed", "reason": "x"},
    )
    assert unknown.status_code == 409
    assert rule_refusal(unknown) == "objection_not_found"
    known = await api.fact(
        "township.baishishan",
        case_id,
        f"objections/{objection_id}/resolution",
        {"outcome": "dismissed", "reason": "营运车辆"},
    )
    assert known.status_code == 201, known.text


async def test_a_step_asks_each_of_its_rules_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the service finds the verdicts, and the machine's named conditions read them: no rule
    # is asked a second time by the machine
    case_id = await api.to_village_nomination()
    await api.prepare_nomination(case_id)
    asked: list[str] = []
    ask = Rule.__call__

    def counted(self: Rule, ctx: RuleContext) -> Unmet | None:
        asked.append(self.name)
        return ask(self, ctx)

    monkeypatch.setattr(Rule, "__call__", counted)
    await api.must("committee.pinggang", case_id, "publish_notice", {"location": "村务公开栏"})
    step = CURRENT.step("publish_notice", "village_nomination")
    assert step is not None
    assert sorted(asked) == sorted(rule.name for rule in step.rules)
