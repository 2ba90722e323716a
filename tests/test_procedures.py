"""The procedures against a determined or careless office: objections to an elimination,
dates, the commitment form, re-votes, the two committees' study and the announcement."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.auth.tokens import Principal
from app.cases import opening, service
from app.cases.errors import GuardFailed
from app.core.db import make_engine, make_sessionmaker
from app.households import idnumber
from tests.helpers import (
    COMMITMENT_FORM,
    COMMITTEE_STUDY,
    PASSING_REVIEW,
    VILLAGE,
    Api,
    new_id_number,
    rule_refusal,
)
from tests.test_elimination import (
    STABLE,
    assess,
    elimination_to_city,
    monitored_and_helped,
    publish_lines,
    set_head_labour,
)
from tests.test_measures import MEASURE, plan, progress
from tests.test_rules_api import action, refused
from tests.test_timers import fire, timers_of
from workflows.case import CASE_V1
from workflows.vocabulary import Role


async def unchanged(api: Api, case_id: str, response: Any, fields: set[str]) -> None:
    """A 422 naming exactly ``fields``; nothing written."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_failed"
    assert {e["field"] for e in body["errors"]} == fields, body


async def proposable(api: Api) -> str:
    """A monitored, helped household able to work, its income stable for six months."""
    await publish_lines(api)
    case_id = await monitored_and_helped(api)
    await set_head_labour(api, case_id, "ordinary")
    await assess(api, case_id, "2026-03-14")
    api.clock.advance(timedelta(days=200))
    await assess(api, case_id, api.today())
    return case_id


async def to_elimination_notice(api: Api) -> str:
    case_id = await proposable(api)
    await api.must("cadre.pinggang", case_id, "propose_elimination")
    await api.must_fact("cadre.pinggang", case_id, "household-verifications", STABLE)
    await api.must_fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
    await api.must("committee.pinggang", case_id, "publish_elimination_notice")
    return case_id


# --- 1. an upheld objection stops the elimination ---------------------------------------------


async def object_and_resolve(api: Api, case_id: str, outcome: str, reason: str) -> Any:
    """A villager objects to the elimination notice; the township resolves it."""
    lodged = await api.must_fact(
        "cadre.pinggang", case_id, "objections", {"lodged_by_name": "李村民", "statement": "仍欠债"}
    )
    (objection_id,) = lodged["facts"]["procedures"]["elimination"]["objections"]
    return await api.must_fact(
        "township.baishishan",
        case_id,
        f"objections/{objection_id}/resolution",
        {"outcome": outcome, "reason": reason},
    )


async def test_an_upheld_objection_sends_the_elimination_back_to_assistance(api: Api) -> None:
    case_id = await to_elimination_notice(api)
    resolved = await object_and_resolve(api, case_id, "upheld", "债务未清, 收入不稳")
    assert resolved["state"] == "assisted"
    elimination = resolved["facts"]["procedures"]["elimination"]
    assert (elimination["review"], elimination["notice"], elimination["verification"]) == (
        None,
        None,
        None,
    )
    events = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/events")).json()
    back = events[-1]
    assert (back["name"], back["from_state"], back["to_state"]) == (
        "continue_assistance",
        "elimination_notice",
        "assisted",
    )
    assert back["payload"]["reason"].startswith("objection upheld")
    # the notice's timer finds nothing left to do: the case stays in assistance
    api.clock.advance(timedelta(days=6))
    await fire(api)
    case = await api.case(case_id)
    assert case["state"] == "assisted"
    notice_timers = [t for t in await timers_of(api, case_id) if t.procedure == "elimination"]
    assert notice_timers
    assert all(t.outcome and t.outcome.startswith("skipped") for t in notice_timers)
    replayed = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/replay")).json()
    assert replayed["matches"]
    assert replayed["facts_match"]
    assert replayed["all_steps_legal"]


async def test_a_dismissed_objection_lets_the_elimination_go_on(api: Api) -> None:
    case_id = await to_elimination_notice(api)
    resolved = await object_and_resolve(api, case_id, "dismissed", "债务已结清")
    assert resolved["state"] == "elimination_notice"
    api.clock.advance(timedelta(days=6))
    await fire(api)
    assert (await api.case(case_id))["state"] == "elimination_township_verification"


# --- 2. dates of what happened ----------------------------------------------------------------


async def test_an_assessment_dated_ahead_is_refused_and_never_makes_income_stable(
    api: Api,
) -> None:
    await publish_lines(api)
    case_id = await monitored_and_helped(api)
    await set_head_labour(api, case_id, "ordinary")
    await assess(api, case_id, api.today())
    before = await api.event_count(case_id)
    ahead = {**STABLE, "verified_on": "2026-09-20"}
    response = await api.fact("cadre.pinggang", case_id, "income-assessments", ahead)
    await unchanged(api, case_id, response, {"verified_on"})
    assert response.json()["errors"][0]["type"] == "date_in_future"
    assert await api.event_count(case_id) == before
    codes = await action(api, "cadre.pinggang", case_id, "propose_elimination")
    assert "income_not_stable" in {u["code"] for u in codes["unmet"]}
    # dated today it is taken
    await assess(api, case_id, api.today())


async def test_no_fact_is_dated_after_today_or_before_it_could_happen(api: Api) -> None:
    case_id = await api.to_village_nomination()  # opened today, 2026-03-02
    tomorrow, yesterday = "2026-03-03", "2026-03-01"
    form = {**COMMITMENT_FORM, "covered_member_id_numbers": [api.heads[case_id]]}
    for path, field, body in (
        ("commitment-forms", "signed_on", form),
        ("reviews", "held_on", PASSING_REVIEW),
        ("household-verifications", "verified_on", STABLE),
    ):
        before = await api.event_count(case_id)
        for day, kind in ((tomorrow, "date_in_future"), (yesterday, "date_too_early")):
            response = await api.fact(
                "committee.pinggang" if path == "reviews" else "cadre.pinggang",
                case_id,
                path,
                {**body, field: day},
            )
            await unchanged(api, case_id, response, {field})
            assert response.json()["errors"][0]["type"] == kind
        assert await api.event_count(case_id) == before
    await api.nominate(case_id)
    api.clock.advance(timedelta(days=6))  # 2026-03-08
    await api.must("committee.pinggang", case_id, "submit_to_township")
    visit = {"visited_by": ["李乡长"], "findings": "属实", "opinion": "建议纳入"}
    late = await api.fact(
        "township.baishishan", case_id, "home-visits", {**visit, "visited_on": "2026-03-09"}
    )
    await unchanged(api, case_id, late, {"visited_on"})
    await api.must_fact(
        "township.baishishan", case_id, "home-visits", {**visit, "visited_on": "2026-03-08"}
    )


async def test_procedure_facts_are_not_dated_before_their_procedure_began(api: Api) -> None:
    await publish_lines(api)
    case_id = await monitored_and_helped(api)
    await set_head_labour(api, case_id, "ordinary")
    await assess(api, case_id, "2026-03-14")
    api.clock.advance(timedelta(days=200))  # 2026-09-30
    await assess(api, case_id, "2026-09-30")
    api.clock.advance(timedelta(days=2))
    await api.must("cadre.pinggang", case_id, "propose_elimination")  # 2026-10-02
    early = await api.fact(
        "committee.pinggang", case_id, "reviews", {**PASSING_REVIEW, "held_on": "2026-10-01"}
    )
    await unchanged(api, case_id, early, {"held_on"})
    assert "elimination procedure began" in early.json()["errors"][0]["message"]
    await api.must_fact(
        "committee.pinggang", case_id, "reviews", {**PASSING_REVIEW, "held_on": "2026-10-02"}
    )


async def test_a_measure_is_planned_ahead_but_done_only_by_today(api: Api) -> None:
    case_id = await api.to_assisted()
    ahead = {"starts_on": "2026-06-01", "ends_on": "2026-12-31"}
    measure_id = await plan(api, case_id, {**_measure(), **ahead})  # planned dates may lie ahead
    await api.must_fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
    await api.must_fact("committee.pinggang", case_id, "plan-notices", {})
    api.clock.advance(timedelta(days=6))
    started = await progress(
        api,
        "township.baishishan",
        case_id,
        measure_id,
        status="in_progress",
        happened_on="2026-03-15",
    )
    assert started.status_code == 422
    assert started.json()["errors"][0]["field"] == "happened_on"
    started = await progress(
        api,
        "township.baishishan",
        case_id,
        measure_id,
        status="in_progress",
        happened_on=api.today(),
    )
    assert started.status_code == 201, started.text


def _measure() -> dict[str, Any]:
    return dict(MEASURE)


# --- 3. the commitment and authorization form -------------------------------------------------


async def household_of_three(api: Api) -> tuple[str, str, str, str]:
    """A case whose household is the head, his adult spouse and a minor son."""
    case_id = await api.to_village_nomination()
    head = api.heads[case_id]
    spouse = new_id_number("19720304", "female" if idnumber.sex(head) == "male" else "male")
    son = new_id_number("20150607", "male")
    await api.add_member(case_id, spouse, "李秀兰", "spouse")
    await api.add_member(case_id, son, "王小明", "son")
    return case_id, head, spouse, son


async def test_a_form_covers_registered_members_and_every_adult(api: Api) -> None:
    case_id, head, spouse, son = await household_of_three(api)
    stranger = new_id_number()
    wrong_check = head[:17] + ("0" if head[17] != "0" else "1")
    before = await api.event_count(case_id)
    cases = (
        ([head, spouse, wrong_check], {"covered_member_id_numbers.2"}),
        ([head, spouse, stranger], {"covered_member_id_numbers.2"}),
        ([head, spouse, "abc"], {"covered_member_id_numbers.2"}),
        ([head, "1" * 100_000], {"covered_member_id_numbers.1"}),
        ([head, son], {"covered_member_id_numbers"}),  # the spouse, an adult, is left out
        ([spouse, son], {"covered_member_id_numbers", "signatory_name"}),  # the signer too
        ([head, head, spouse], {"covered_member_id_numbers.1"}),
    )
    for numbers, fields in cases:
        body = {**COMMITMENT_FORM, "covered_member_id_numbers": numbers}
        response = await api.fact("cadre.pinggang", case_id, "commitment-forms", body)
        await unchanged(api, case_id, response, fields)
    stranger_signs = await api.fact(
        "cadre.pinggang",
        case_id,
        "commitment-forms",
        {
            **COMMITMENT_FORM,
            "signatory_name": "路人甲",
            "covered_member_id_numbers": [head, spouse],
        },
    )
    await unchanged(api, case_id, stranger_signs, {"signatory_name"})
    proxy_for_minor = await api.fact(
        "cadre.pinggang",
        case_id,
        "commitment-forms",
        {
            **COMMITMENT_FORM,
            "signatory_name": "代签人",
            "signatory_is_proxy": True,
            "proxy_for_name": "王小明",
            "covered_member_id_numbers": [head, spouse, son],
        },
    )
    await unchanged(api, case_id, proxy_for_minor, {"proxy_for_name"})
    assert await api.event_count(case_id) == before
    assert (await api.case(case_id))["facts"]["commitment_form"] is None
    # every adult covered (the minor through the signing guardian), signed by the spouse
    signed = await api.must_fact(
        "cadre.pinggang",
        case_id,
        "commitment-forms",
        {
            **COMMITMENT_FORM,
            "signatory_name": "李秀兰",
            "covered_member_id_numbers": [head, spouse],
        },
    )
    assert len(signed["facts"]["commitment_form"]["covered_members"]) == 2


async def test_a_proxy_signs_for_a_covered_adult(api: Api) -> None:
    case_id, head, spouse, son = await household_of_three(api)
    signed = await api.must_fact(
        "cadre.pinggang",
        case_id,
        "commitment-forms",
        {
            **COMMITMENT_FORM,
            "signatory_name": "王德贵",
            "signatory_is_proxy": True,
            "proxy_for_name": "王德福",
            "covered_member_id_numbers": [head, spouse, son],
        },
    )
    assert signed["facts"]["commitment_form"]["proxy_for_name"] == "王德福"


# --- 5, 8. re-votes and the two committees' study -------------------------------------------


async def test_a_warning_is_studied_by_the_two_committees_before_its_review(api: Api) -> None:
    case_id = await api.to_village_nomination("cadre_found")
    form = {**COMMITMENT_FORM, "covered_member_id_numbers": [api.heads[case_id]]}
    await api.must_fact("cadre.pinggang", case_id, "commitment-forms", form)
    await api.must_fact("cadre.pinggang", case_id, "household-verifications", STABLE)
    early = await api.fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
    assert early.status_code == 409
    assert rule_refusal(early) == "committee_study_missing"
    listed = await action(api, "committee.pinggang", case_id, "publish_notice")
    assert {"committee_study_missing", "review_missing"} <= {u["code"] for u in listed["unmet"]}
    cadre = await api.fact("cadre.pinggang", case_id, "committee-studies", COMMITTEE_STUDY)
    assert cadre.status_code == 403
    studied = await api.must_fact(
        "committee.pinggang", case_id, "committee-studies", COMMITTEE_STUDY
    )
    assert studied["facts"]["committee_study"]["conclusion"] == COMMITTEE_STUDY["conclusion"]
    await api.must_fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
    assert (await api.must("committee.pinggang", case_id, "publish_notice"))["state"] == (
        "public_notice"
    )


async def test_a_self_declaration_needs_no_study(api: Api) -> None:
    case_id = await api.to_village_nomination("self_declared")
    await api.nominate(case_id)
    assert (await api.case(case_id))["state"] == "public_notice"


async def test_a_case_opened_under_case_v1_keeps_its_rules(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(opening, "CURRENT_WORKFLOW", CASE_V1)
    case_id = await api.to_village_nomination("cadre_found")
    assert (await api.case(case_id))["workflow_version"] == "case-v1"
    failing = {
        **PASSING_REVIEW,
        "present": 19,
        "votes_for": 9,
        "votes_against": 8,
        "abstentions": 2,
    }
    form = {**COMMITMENT_FORM, "covered_member_id_numbers": [api.heads[case_id]]}
    await api.must_fact("cadre.pinggang", case_id, "commitment-forms", form)
    await api.must_fact("cadre.pinggang", case_id, "household-verifications", STABLE)
    await api.must_fact("committee.pinggang", case_id, "reviews", failing)  # no study in v1
    again = await api.fact("committee.pinggang", case_id, "reviews", PASSING_REVIEW)
    assert again.status_code == 409
    assert rule_refusal(again) == "review_already_recorded"
    study = await api.fact("committee.pinggang", case_id, "committee-studies", COMMITTEE_STUDY)
    assert study.status_code == 409
    assert study.json()["code"] == "not_recordable_in_workflow"
    replayed = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/replay")).json()
    assert replayed["matches"]
    assert replayed["facts_match"]
    assert replayed["all_steps_legal"]


# --- 7. the city checks income again ----------------------------------------------------------


async def test_income_is_assessed_through_the_procedure_and_checked_again_at_the_mark(
    api: Api,
) -> None:
    case_id = await proposable(api)
    await elimination_to_city(api, case_id)
    # the city's own check: income has fallen below the line since the proposal
    await assess(api, case_id, api.today(), wage_income="8000.00")
    assert await refused(
        api, "bureau.jiaohe", case_id, "mark_risk_eliminated", {"method": "assisted_out"}
    ) == {"income_not_stable"}
    weak = {"reason": "收入下降", "weak_stability": ["unstable_income"]}
    back = await api.must("bureau.jiaohe", case_id, "continue_assistance", weak)
    assert back["state"] == "assisted"


async def test_the_mark_reads_the_latest_assessment(api: Api) -> None:
    case_id = await proposable(api)
    await elimination_to_city(api, case_id)
    await assess(api, case_id, api.today(), wage_income="50000.00")
    done = await api.must(
        "bureau.jiaohe", case_id, "mark_risk_eliminated", {"method": "assisted_out"}
    )
    # (50000 + 8000.50 + 3000 - 2000.50) / 4
    assert done["facts"]["elimination"]["income_after"]["net_income_per_person"] == "14750.00"


# --- 8. the announcement, the village group, 失能失智 ----------------------------------------


async def test_the_announcement_shows_where_and_when_it_was_posted(api: Api) -> None:
    case_id = await api.to_assisted()
    text = (await api.get("bureau.jiaohe", f"/api/v1/cases/{case_id}/documents/announcement")).text
    assert "公告张贴" not in text
    ahead = await api.fact(
        "cadre.pinggang",
        case_id,
        "announcement-postings",
        {"posted_on": "2026-03-20", "location": "村务公开栏"},
    )
    await unchanged(api, case_id, ahead, {"posted_on"})
    await api.must_fact(
        "cadre.pinggang", case_id, "announcement-postings", {"location": "村务公开栏"}
    )
    text = (await api.get("bureau.jiaohe", f"/api/v1/cases/{case_id}/documents/announcement")).text
    assert "公告张贴：2026年3月8日，村务公开栏" in text


async def test_the_notice_names_the_village_group(api: Api) -> None:
    head = new_id_number()
    response = await api.post(
        "cadre.pinggang",
        "/api/v1/cases",
        {
            "channel": "cadre_found",
            "description": "因病",
            "risk_type": "illness",
            "household": {
                "head_name": "王德福",
                "head_id_number": head,
                "size": 3,
                "village_code": "220281102200",
                "village_group": "三社",
            },
        },
    )
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["household"]["village_group"] == "三社"
    api.heads[case["id"]] = head
    await api.must("cadre.pinggang", case["id"], "start_village_review")
    await api.nominate(case["id"])
    notice = await api.get("committee.pinggang", f"/api/v1/cases/{case['id']}/documents/notice")
    assert "所在村：白石山镇平岗村三社" in notice.text


async def test_a_member_may_be_incapacitated(api: Api) -> None:
    case_id = await api.to_village_nomination()
    member = await api.add_member(case_id, new_id_number("19400101", "female"), "王老太", "mother")
    household = (await api.case(case_id))["household"]["id"]
    changed = await api.client.patch(
        f"/api/v1/households/{household}/members/{member['id']}",
        json={"health": "incapacitated"},
        headers=api.headers("cadre.pinggang"),
    )
    assert changed.status_code == 200
    assert changed.json()["health"] == "incapacitated"
    unknown = await api.client.patch(
        f"/api/v1/households/{household}/members/{member['id']}",
        json={"health": "tired"},
        headers=api.headers("cadre.pinggang"),
    )
    assert unknown.status_code == 422


async def test_a_fact_another_domain_records_meets_the_facts_own_rules(api: Api) -> None:
    # every path that appends a fact checks who, where, and the fact's rules: here a second
    # democratic review, which the review's rule refuses, through the other domains' door
    case_id = await api.to_village_nomination()
    await api.prepare_nomination(case_id)  # records a passing review
    events_before = await api.event_count(case_id)
    committee = Principal(sub="committee.pinggang", role=Role.village_committee, area=VILLAGE)
    engine = make_engine(api.settings.database_url)
    try:
        async with make_sessionmaker(engine, api.settings)() as session, session.begin():
            snap, _ = await service.lock_case(session, committee, case_id)
            with pytest.raises(GuardFailed) as refusal:
                await service.append_fact(
                    session, snap, committee, "review", PASSING_REVIEW, api.clock.now(), "x"
                )
            await session.rollback()
    finally:
        await engine.dispose()
    assert [u["code"] for u in refusal.value.extra["unmet"]] == ["review_already_recorded"]
    assert await api.event_count(case_id) == events_before
