"""Risk elimination (风险消除): criteria, households without labour, roll-back and re-entry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.helpers import HOME_VISIT, PASSING_REVIEW, VERIFICATION, Api, new_id_number
from tests.test_measures import MEASURE, plan, progress
from tests.test_rules_api import refused

STABLE = {
    **VERIFICATION,
    "wage_income": "40000.00",
    "compliant_out_of_pocket": "1000",
    "large_rigid_spending": False,
}


async def members_path(api: Api, case_id: str) -> str:
    household = (await api.case(case_id))["household"]["id"]
    return f"/api/v1/households/{household}/members"


async def set_head_labour(api: Api, case_id: str, skill: str) -> None:
    path = await members_path(api, case_id)
    members = (await api.get("cadre.pinggang", path.removesuffix("/members"))).json()["members"]
    for member in members:
        response = await api.client.patch(
            f"{path}/{member['id']}",
            json={"labour_skill": skill},
            headers=api.headers("cadre.pinggang"),
        )
        assert response.status_code == 200, response.text


async def monitored_and_helped(api: Api, id_number: str | None = None) -> str:
    """A case confirmed, its plan approved, one measure done."""
    case_id = await api.to_assisted(id_number=id_number)
    measure_id = await plan(api, case_id)
    await api.must_fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
    await api.must_fact("committee.pinggang", case_id, "plan-notices", {})
    api.clock.advance(timedelta(days=6))
    for status in ("in_progress", "done"):
        response = await progress(api, "township.baishishan", case_id, measure_id, status=status)
        assert response.status_code == 201, response.text
    return case_id


async def assess(api: Api, case_id: str, verified_on: str, **changes: Any) -> None:
    await api.must_fact(
        "cadre.pinggang",
        case_id,
        "income-assessments",
        {**STABLE, "verified_on": verified_on, **changes},
    )


async def publish_lines(api: Api) -> None:
    """The 2026 and 2027 lines, published after the case opened (effective 2026-03-10)."""
    response = await api.post(
        "bureau.jiaohe",
        "/api/v1/policies",
        {
            "effective_from": "2026-03-10",
            "reason": "2026、2027年度监测范围指导线",
            "income_lines": {"2026": "7000.00", "2027": "7200.00"},
        },
    )
    assert response.status_code == 201, response.text


async def test_a_household_is_eliminated_only_through_the_procedure(api: Api) -> None:
    await publish_lines(api)
    case_id = await monitored_and_helped(api)  # confirmed 2026-03-08
    await set_head_labour(api, case_id, "ordinary")
    await assess(api, case_id, "2026-03-14")
    api.clock.advance(timedelta(days=190))  # 2026-09-20
    await assess(api, case_id, "2026-09-19", wage_income="12000.00")  # 4250/person: below 7000
    codes = await refused(api, "cadre.pinggang", case_id, "propose_elimination")
    assert codes == {"income_not_stable"}
    api.clock.advance(timedelta(days=10))
    await assess(api, case_id, "2026-09-29")  # (40000+8000.50+3000-2000.50)/4 = 12250
    # 03-14 and 09-29 are six months apart and above the line, but 09-19 between them is not
    assert (await refused(api, "cadre.pinggang", case_id, "propose_elimination")) == {
        "income_not_stable"
    }
    api.clock.advance(timedelta(days=190))  # 2027-04-07
    await assess(api, case_id, "2027-04-07")
    moved = await api.must("cadre.pinggang", case_id, "propose_elimination")
    assert moved["state"] == "elimination_nomination"
    # the same village procedure: verification, review, notice, township, city
    assert await refused(api, "committee.pinggang", case_id, "publish_elimination_notice") == {
        "household_facts_missing",
        "review_missing",
    }
    await api.must_fact(
        "cadre.pinggang",
        case_id,
        "household-verifications",
        {**STABLE, "verified_on": "2027-04-08"},
    )
    await api.must_fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
    await api.must("committee.pinggang", case_id, "publish_elimination_notice")
    notice = await api.get(
        "cadre.pinggang", f"/api/v1/cases/{case_id}/documents/elimination_notice"
    )
    assert "风险消除" in notice.text
    api.clock.advance(timedelta(days=6))
    await api.must("committee.pinggang", case_id, "submit_elimination_to_township")
    assert await refused(api, "township.baishishan", case_id, "submit_elimination_to_city") == {
        "home_visit_missing"
    }
    await api.must_fact("township.baishishan", case_id, "home-visits", HOME_VISIT)
    await api.must("township.baishishan", case_id, "submit_elimination_to_city")
    no_method = await api.act("bureau.jiaohe", case_id, "mark_risk_eliminated", {})
    assert no_method.status_code == 422
    done = await api.must(
        "bureau.jiaohe", case_id, "mark_risk_eliminated", {"method": "assisted_out"}
    )
    assert done["state"] == "risk_eliminated"
    assert done["is_open"] is False
    elimination = done["facts"]["elimination"]
    assert elimination["method"] == "assisted_out"
    assert elimination["income_after"]["net_income_per_person"] == "12250.00"
    replay = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/replay")).json()
    assert replay["matches"], [s for s in replay["steps"] if not s["legal"]]
    assert replay["all_steps_legal"], [s for s in replay["steps"] if not s["legal"]]
    assert replay["facts_match"], [s for s in replay["steps"] if not s["legal"]]
    events = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/events")).json()
    propose = next(e for e in events if e["name"] == "propose_elimination")
    assert propose["payload"]["observed"]["income_lines"] == {"2026": "7000.00", "2027": "7200.00"}


async def test_without_labour_the_household_is_kept_under_watch(api: Api) -> None:
    case_id = await monitored_and_helped(api)
    await set_head_labour(api, case_id, "lost")
    assert await refused(api, "bureau.jiaohe", case_id, "keep_under_watch") == {
        "social_security_missing"
    }
    social = await plan(
        api, case_id, {**MEASURE, "category": "social_security", "content": "纳入农村低保"}
    )
    # the plan has passed its review and notice: a measure added to it starts under that
    started = await progress(api, "township.baishishan", case_id, social, status="in_progress")
    assert started.status_code == 201, started.text
    kept = await api.must("bureau.jiaohe", case_id, "keep_under_watch")
    assert kept["state"] == "kept_under_watch"
    assert kept["is_open"] is True


async def to_city_for_elimination(api: Api, case_id: str) -> None:
    """Stable income over a year, then the elimination procedure up to the city."""
    await assess(api, case_id, "2026-03-14")
    api.clock.advance(timedelta(days=400))  # 2027-04-18
    await assess(api, case_id, "2027-04-18")
    await elimination_to_city(api, case_id)


async def elimination_to_city(api: Api, case_id: str, **verified: Any) -> None:
    """Proposed today, through the village's procedure and the township, up to the city."""
    await api.must("cadre.pinggang", case_id, "propose_elimination")
    verification = {**STABLE, "verified_on": api.today(), **verified}
    await api.must_fact("cadre.pinggang", case_id, "household-verifications", verification)
    await api.must_fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
    await api.must("committee.pinggang", case_id, "publish_elimination_notice")
    api.clock.advance(timedelta(days=6))
    await api.must("committee.pinggang", case_id, "submit_elimination_to_township")
    await api.must_fact("township.baishishan", case_id, "home-visits", HOME_VISIT)
    await api.must("township.baishishan", case_id, "submit_elimination_to_city")


async def test_no_labour_is_never_proposed_nor_marked_eliminated(api: Api) -> None:
    await publish_lines(api)
    case_id = await monitored_and_helped(api)
    await set_head_labour(api, case_id, "none")
    await assess(api, case_id, "2026-03-14")
    api.clock.advance(timedelta(days=400))
    await assess(api, case_id, "2027-04-18")
    # 暂不标注: a household without labour capacity is not proposed at all
    assert await refused(api, "cadre.pinggang", case_id, "propose_elimination") == {
        "no_labour_capacity"
    }
    # proposed once the head can work; the city finds the labour lost by its decision
    await set_head_labour(api, case_id, "ordinary")
    await elimination_to_city(api, case_id)
    await set_head_labour(api, case_id, "lost")
    assert await refused(
        api, "bureau.jiaohe", case_id, "mark_risk_eliminated", {"method": "natural"}
    ) == {"no_labour_capacity"}
    back = await api.must(
        "bureau.jiaohe",
        case_id,
        "continue_assistance",
        {"reason": "无劳动能力, 落实兜底保障后持续监测"},
    )
    assert back["state"] == "assisted"


async def eliminated(api: Api, id_number: str) -> str:
    """A case taken through the whole elimination procedure."""
    case_id = await monitored_and_helped(api, id_number)
    await set_head_labour(api, case_id, "ordinary")
    await to_city_for_elimination(api, case_id)
    await api.must("bureau.jiaohe", case_id, "mark_risk_eliminated", {"method": "assisted_out"})
    return case_id


async def test_roll_back_and_re_entry_keep_the_history(api: Api) -> None:
    await publish_lines(api)
    id_number = new_id_number()
    first = await eliminated(api, id_number)
    # reported again: a new case, linked to the earlier one
    again = await api.open_case("cadre_found", id_number=id_number)
    assert again["attached"] is False
    assert again["id"] != first
    assert again["facts"]["previous_case_ids"] == [first]
    history = (
        await api.get("cadre.pinggang", f"/api/v1/households/{again['household']['id']}")
    ).json()["cases"]
    assert [c["id"] for c in history] == [first, again["id"]]
    # the earlier elimination cannot be rolled back while the new case is open
    assert await refused(
        api, "bureau.jiaohe", first, "roll_back_elimination", {"reason": "抽查发现收入核算有误"}
    ) == {"household_has_open_case"}
    await api.must("cadre.pinggang", again["id"], "withdraw", {"reason": "重复上报"})
    assert await refused(api, "bureau.jiaohe", first, "roll_back_elimination") == {"reason_missing"}
    rolled = await api.must(
        "bureau.jiaohe", first, "roll_back_elimination", {"reason": "抽查发现收入核算有误"}
    )
    assert rolled["state"] == "assisted"
    assert rolled["facts"]["elimination"] is None
    for case_id in (first, again["id"]):
        replay = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/replay")).json()
        assert replay["matches"]
        assert replay["all_steps_legal"]
        assert replay["facts_match"]


async def test_an_assessment_round_lists_who_is_ready_and_what_others_miss(api: Api) -> None:
    await publish_lines(api)
    ready = await monitored_and_helped(api)
    not_ready = await api.to_assisted()
    elsewhere = await api.open_case(village="220281105200", user="cadre.laodong")  # elsewhere
    await set_head_labour(api, ready, "ordinary")
    await assess(api, ready, "2026-03-14")
    api.clock.advance(timedelta(days=200))
    await assess(api, ready, "2026-10-01")
    for user, body in (
        ("township.baishishan", {"area": "220281102", "reason": "x"}),
        ("bureau.jiaohe", {"area": "220282", "reason": "x"}),
    ):
        assert (await api.post(user, "/api/v1/elimination-rounds", body)).status_code == 403
    opened = await api.post(
        "bureau.jiaohe",
        "/api/v1/elimination-rounds",
        {"area": "220281102", "reason": "2026年第四季度风险消除评估"},
    )
    assert opened.status_code == 201, opened.text
    path = f"/api/v1/elimination-rounds/{opened.json()['id']}"
    listing = (await api.get("bureau.jiaohe", path)).json()
    standing = {h["case_id"]: (h["standing"], set(h["unmet"])) for h in listing["households"]}
    assert standing[ready] == ("ready", set())
    assert standing[not_ready][0] == "not_ready"
    assert standing[not_ready][1] == {
        "no_measure_done",
        "income_not_stable",
        "rigid_spending_unresolved",
        "no_labour_capacity",  # no member's labour skill is recorded yet
    }
    assert elsewhere["id"] not in standing
    # tracked through the procedure
    await api.must("cadre.pinggang", ready, "propose_elimination")
    listing = (await api.get("bureau.jiaohe", path)).json()
    assert listing["counts"] == {"ready": 0, "not_ready": 1, "in_procedure": 1, "eliminated": 0}
    township_view = await api.get("township.tianbei", path)
    assert township_view.status_code == 404  # the round's area is not theirs
    assert (await api.get("bureau.jiaohe", "/api/v1/elimination-rounds/nope")).status_code == 404


async def test_weak_stability_keeps_assistance_with_its_causes(api: Api) -> None:
    await publish_lines(api)
    case_id = await monitored_and_helped(api)
    await set_head_labour(api, case_id, "ordinary")
    await assess(api, case_id, "2026-03-14")
    api.clock.advance(timedelta(days=200))
    await assess(api, case_id, "2026-09-30")
    await api.must("cadre.pinggang", case_id, "propose_elimination")
    bad = await api.act(
        "township.baishishan",
        case_id,
        "continue_assistance",
        {"reason": "x", "weak_stability": ["bad_luck"]},
    )
    assert bad.status_code == 422
    back = await api.must(
        "township.baishishan",
        case_id,
        "continue_assistance",
        {
            "reason": "务工收入不稳定, 取消帮扶即返贫",
            "weak_stability": ["unstable_income", "relapses_without_support"],
        },
    )
    assert back["state"] == "assisted"
    assert back["facts"]["weak_stability"]["causes"] == [
        "unstable_income",
        "relapses_without_support",
    ]
