"""Assistance measures: the plan passes the village review and notice before measures start."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.helpers import PASSING_REVIEW, Api, rule_refusal, sha

MEASURE = {
    "category": "employment",
    "content": "安排公益性岗位 (护林员)",
    "responsible_unit": "白石山镇人民政府",
    "responsible_person": {"name": "李乡长", "sub": "township.baishishan"},
    "starts_on": "2026-04-01",
    "ends_on": "2026-12-31",
    "evidence_sha256": [sha("岗位协议")],
}


async def plan(api: Api, case_id: str, measure: dict[str, Any] | None = None) -> str:
    case = await api.must_fact("bureau.jiaohe", case_id, "measures", measure or MEASURE)
    return str(list(case["facts"]["measures"])[-1])


async def progress(api: Api, user: str, case_id: str, measure_id: str, **body: Any) -> Any:
    return await api.post(user, f"/api/v1/cases/{case_id}/measures/{measure_id}/progress", body)


async def test_measures_start_only_after_the_plans_review_and_notice(api: Api) -> None:
    case_id = await api.to_assisted()
    measure_id = await plan(api, case_id)
    early = await progress(api, "township.baishishan", case_id, measure_id, status="in_progress")
    assert early.status_code == 409
    assert rule_refusal(early) == "plan_not_approved"
    # the notice needs the plan's review first
    no_review = await api.fact("committee.pinggang", case_id, "plan-notices", {})
    assert no_review.status_code == 409
    assert rule_refusal(no_review) == "review_missing"
    await api.must_fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
    case = await api.must_fact("committee.pinggang", case_id, "plan-notices", {"location": "村部"})
    assert case["facts"]["procedures"]["plan"]["notice"]["days"] == 5
    again = await api.fact("committee.pinggang", case_id, "plan-notices", {})
    assert again.status_code == 409
    assert rule_refusal(again) == "plan_notice_published"
    running = await progress(api, "township.baishishan", case_id, measure_id, status="in_progress")
    assert running.status_code == 409
    assert running.json()["unmet"][0]["met_at"] is not None  # when the notice will have run
    api.clock.advance(timedelta(days=6))
    started = await progress(
        api, "township.baishishan", case_id, measure_id, status="in_progress", note="已上岗"
    )
    assert started.status_code == 201, started.text
    done = await progress(
        api,
        "township.baishishan",
        case_id,
        measure_id,
        status="done",
        evidence_sha256=[sha("工资发放表")],
    )
    assert done.status_code == 201
    assert done.json()["facts"]["measures"][measure_id]["status"] == "done"
    backwards = await progress(api, "bureau.jiaohe", case_id, measure_id, status="in_progress")
    assert backwards.status_code == 409
    assert rule_refusal(backwards) == "measure_status_not_allowed"
    replay = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/replay")).json()
    assert replay["matches"], replay
    assert replay["all_steps_legal"], replay
    assert replay["facts_match"], replay


async def test_an_open_objection_holds_the_plan_and_an_upheld_one_sends_it_back(api: Api) -> None:
    case_id = await api.to_assisted()
    measure_id = await plan(api, case_id)
    await api.must_fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
    await api.must_fact("committee.pinggang", case_id, "plan-notices", {})
    lodged = await api.must_fact(
        "cadre.pinggang",
        case_id,
        "objections",
        {"lodged_by_name": "村民", "statement": "岗位分配不公"},
    )
    objection_id = next(iter(lodged["facts"]["procedures"]["plan"]["objections"]))
    api.clock.advance(timedelta(days=6))
    held = await progress(api, "township.baishishan", case_id, measure_id, status="in_progress")
    assert held.status_code == 409
    assert "objection_open" in held.json()["detail"]
    case = await api.must_fact(
        "township.baishishan",
        case_id,
        f"objections/{objection_id}/resolution",
        {"outcome": "upheld", "reason": "岗位应公开选聘"},
    )
    assert case["state"] == "assisted"  # the case stays; the plan goes back to the village
    plan_facts = case["facts"]["procedures"]["plan"]
    assert plan_facts["review"] is None
    assert plan_facts["notice"] is None
    await api.must_fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
    await api.must_fact("committee.pinggang", case_id, "plan-notices", {})
    api.clock.advance(timedelta(days=6))
    started = await progress(api, "township.baishishan", case_id, measure_id, status="in_progress")
    assert started.status_code == 201, started.text


async def test_who_plans_and_who_reports_progress(api: Api) -> None:
    case_id = await api.to_assisted()
    for user in ("cadre.pinggang", "township.baishishan"):
        response = await api.fact(user, case_id, "measures", MEASURE)
        assert response.status_code == 403, user
    measure_id = await plan(api, case_id)
    other_cadre = await progress(
        api, "cadre.pinggang", case_id, measure_id, status="stopped", note="x"
    )
    assert other_cadre.status_code == 403
    assert other_cadre.json()["code"] == "not_the_responsible_person"
    no_reason = await progress(api, "bureau.jiaohe", case_id, measure_id, status="stopped")
    assert no_reason.status_code == 422
    stopped = await progress(
        api, "bureau.jiaohe", case_id, measure_id, status="stopped", note="农户外出务工, 岗位调整"
    )
    assert stopped.status_code == 201  # stopping needs no approved plan
    unknown = await progress(api, "bureau.jiaohe", case_id, "nope", status="done")
    assert unknown.status_code == 409
    assert rule_refusal(unknown) == "measure_not_found"
    bad = await api.fact(
        "bureau.jiaohe",
        case_id,
        "measures",
        {**MEASURE, "category": "luck", "ends_on": "2026-01-01"},
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} >= {"category"}
    before_assisted = await api.to_village_nomination()
    early = await api.fact("bureau.jiaohe", before_assisted, "measures", MEASURE)
    assert early.status_code == 409
    assert early.json()["code"] == "not_recordable_in_state"


async def test_first_measure_is_due_within_a_month_of_confirmation(api: Api) -> None:
    case_id = await api.to_assisted()  # confirmed 2026-03-08 (Shanghai)
    case = await api.case(case_id)
    assert case["deadlines"]["measures_due_at"] == "2026-04-07T16:00:00Z"  # 2026-04-08 00:00
    assert case["deadlines"]["measures_overdue"] is False
    api.clock.advance(timedelta(days=31))
    late = (await api.get("bureau.jiaohe", "/api/v1/cases", measures_overdue="true")).json()
    assert [c["id"] for c in late["items"]] == [case_id]
    assert late["items"][0]["deadlines"]["measures_overdue"] is True
    await plan(api, case_id)
    assert (await api.get("bureau.jiaohe", "/api/v1/cases", measures_overdue="true")).json()[
        "items"
    ] == []
    assert (await api.case(case_id))["deadlines"]["measures_due_at"] is None


async def test_a_plan_notice_needs_a_planned_measure(api: Api) -> None:
    case_id = await api.to_assisted()
    await api.must_fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
    empty = await api.fact("committee.pinggang", case_id, "plan-notices", {})
    assert empty.status_code == 409
    assert rule_refusal(empty) == "plan_empty"
    await plan(api, case_id)
    published = await api.fact("committee.pinggang", case_id, "plan-notices", {})
    assert published.status_code == 201, published.text
