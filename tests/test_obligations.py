"""The obligations calendar: due dates per township and department, completions, overdue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.helpers import Api, new_id_number, sha

PATH = "/api/v1/obligations"
SCREENING_LATE_FROM = datetime(2026, 4, 30, 16, 0, tzinfo=UTC)  # 2026-05-01 00:00 Shanghai


async def calendar(api: Api, user: str = "bureau.jiaohe", **params: Any) -> list[dict[str, Any]]:
    response = await api.get(user, PATH, year=2026, **params)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


async def complete(api: Api, user: str, kind: str, period: str) -> Any:
    body = {"kind": kind, "period": period, "note": "已完成", "evidence_sha256": sha("会议纪要")}
    return await api.post(user, f"{PATH}/completions", body)


async def test_the_year_of_duties_with_their_due_times(api: Api) -> None:
    duties = await calendar(api)
    townships = {d["party"] for d in duties if d["kind"] == "township_study"}
    assert townships == {"220281102", "220281105", "220281190"}
    departments = {d["party"] for d in duties if d["kind"] == "department_study"}
    assert len(departments) == 10
    assert "civil_affairs" in departments
    periods = {(d["kind"], d["period"]) for d in duties if d["party"] == "220281102"}
    assert periods == {
        ("concentrated_screening", "2026-04"),
        ("concentrated_screening", "2026-10"),
        *(("township_warning_list", f"2026-Q{q}") for q in range(1, 5)),
        ("elimination_assessment", "2026-H1"),
        ("elimination_assessment", "2026-H2"),
        ("township_study", "2026-H1"),
        ("township_study", "2026-H2"),
    }
    assert len(duties) == 3 * 10 + 10 * 3
    screening = next(d for d in duties if d["period"] == "2026-04" and d["party"] == "220281102")
    assert datetime.fromisoformat(screening["due_at"]) == SCREENING_LATE_FROM
    assert not any(d["overdue"] for d in duties)  # 2 March: nothing is due yet


async def test_overdue_from_the_day_after_and_done_when_recorded(api: Api) -> None:
    api.clock.set(SCREENING_LATE_FROM.replace(hour=15))  # 23:00 on 30 April in Shanghai
    assert {(d["kind"], d["period"]) for d in await calendar(api, overdue="true")} == {
        ("township_warning_list", "2026-Q1")
    }
    api.clock.set(SCREENING_LATE_FROM)
    overdue = await calendar(api, overdue="true")
    assert {(d["kind"], d["period"]) for d in overdue} == {
        ("concentrated_screening", "2026-04"),
        ("township_warning_list", "2026-Q1"),
    }
    assert len(overdue) == 6  # three townships, two duties
    submitted = await api.post(
        "township.baishishan", "/api/v1/warning-lists", {"quarter": "2026-Q1", "entries": []}
    )
    assert submitted.status_code == 201, submitted.text
    overdue = await calendar(api, overdue="true")
    assert {(d["kind"], d["party"]) for d in overdue} == {
        ("township_warning_list", "220281105"),
        ("township_warning_list", "220281190"),
        *(("concentrated_screening", t) for t in ("220281102", "220281105", "220281190")),
    }
    own = await calendar(api, "township.baishishan")
    assert {d["party"] for d in own} == {"220281102"}


async def test_departments_record_their_own_duties_only(api: Api) -> None:
    api.clock.set(datetime(2026, 6, 15, tzinfo=UTC))
    study = await complete(api, "dept.civil-affairs", "department_study", "2026-H1")
    assert study.status_code == 201
    assert study.json()["party"] == "civil_affairs"
    own = await calendar(api, "dept.civil-affairs")
    assert {d["party"] for d in own} == {"civil_affairs"}
    assert next(d for d in own if d["period"] == "2026-H1")["completed_at"]
    refusals = [
        ("dept.civil-affairs", "township_study", "2026-H1", 403, "role_not_permitted"),
        ("township.baishishan", "department_study", "2026-H1", 403, "role_not_permitted"),
        ("cadre.pinggang", "township_study", "2026-H1", 403, "role_not_permitted"),
        ("dept.civil-affairs", "department_study", "2026-H2", 422, "period_not_begun"),
        ("dept.civil-affairs", "department_study", "2026-Q2", 422, "period_unknown"),
        ("township.baishishan", "township_warning_list", "2026-Q1", 422, "completed_by_records"),
        ("township.baishishan", "concentrated_screening", "2026-04", 422, "completed_by_records"),
        ("township.baishishan", "elimination_assessment", "2026-H1", 422, "completed_by_records"),
        ("dept.civil-affairs", "department_study", "2026-H1", 409, "already_completed"),
    ]
    for user, kind, period, code, name in refusals:
        response = await complete(api, user, kind, period)
        assert (response.status_code, response.json()["code"]) == (code, name), (user, kind)
    assert (await api.get("cadre.pinggang", PATH)).status_code == 403


async def test_evidence_is_required_and_a_study_is_recorded_once(api: Api) -> None:
    api.clock.set(datetime(2026, 6, 15, tzinfo=UTC))
    bare = await api.post(
        "township.baishishan",
        f"{PATH}/completions",
        {"kind": "township_study", "period": "2026-H1"},
    )
    assert bare.status_code == 422
    assert bare.json()["errors"][0]["field"] == "evidence_sha256"
    first = await complete(api, "township.baishishan", "township_study", "2026-H1")
    assert first.status_code == 201, first.text
    again = await complete(api, "township.baishishan", "township_study", "2026-H1")
    assert again.status_code == 409
    assert again.json()["code"] == "already_completed"


async def test_screening_completes_itself_when_the_campaign_has_every_result(api: Api) -> None:
    """A campaign over 白石山镇 in April: the township's duty is done once each of its
    households there has a result, at the last one; the others' stays overdue."""
    heads = []
    for name in ("赵一", "赵二"):
        body = {
            "head_name": name,
            "head_id_number": new_id_number(),
            "village_code": "220281102200",
            "size": 2,
        }
        registered = await api.post("cadre.pinggang", "/api/v1/households", body)
        assert registered.status_code == 201, registered.text
        heads.append(registered.json()["id"])
    opened = await api.post(
        "bureau.jiaohe",
        "/api/v1/screening/campaigns",
        {"period": "2026-04", "area_codes": ["220281102"]},
    )
    assert opened.status_code == 201, opened.text
    campaign = opened.json()["id"]
    api.clock.set(datetime(2026, 4, 10, 2, tzinfo=UTC))
    duty = await screening_duty(api, "220281102")
    assert duty["completed_at"] is None
    for household in heads:
        visit = await api.post(
            "cadre.pinggang",
            "/api/v1/screening/visits",
            {
                "household_id": household,
                "round_id": campaign,
                "visited_on": "2026-04-10",
                "result": "no_risk",
            },
        )
        assert visit.status_code == 201, visit.text
    duty = await screening_duty(api, "220281102")
    assert datetime.fromisoformat(duty["completed_at"]) == datetime(2026, 4, 10, 2, tzinfo=UTC)
    api.clock.set(SCREENING_LATE_FROM)
    late = {
        d["party"]
        for d in await calendar(api, overdue="true")
        if d["kind"] == "concentrated_screening"
    }
    assert late == {"220281105", "220281190"}


async def screening_duty(api: Api, township: str) -> dict[str, Any]:
    return next(
        d
        for d in await calendar(api)
        if (d["kind"], d["period"], d["party"]) == ("concentrated_screening", "2026-04", township)
    )


async def test_an_elimination_round_completes_the_half_years_assessment(api: Api) -> None:
    api.clock.set(datetime(2026, 6, 1, tzinfo=UTC))
    opened = await api.post(
        "bureau.jiaohe",
        "/api/v1/elimination-rounds",
        {"area": "220281102", "reason": "上半年风险消除评估"},
    )
    assert opened.status_code == 201, opened.text
    api.clock.set(datetime(2026, 7, 1, tzinfo=UTC))  # 08:00 on 1 July in Shanghai
    assessed = {
        d["party"]: d
        for d in await calendar(api)
        if (d["kind"], d["period"]) == ("elimination_assessment", "2026-H1")
    }
    assert assessed["220281102"]["completed_at"]
    assert not assessed["220281102"]["overdue"]
    assert assessed["220281105"]["overdue"]
    assert assessed["220281190"]["overdue"]
