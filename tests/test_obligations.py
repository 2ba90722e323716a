"""The obligations calendar: due dates per township and department, completions, overdue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.helpers import Api

PATH = "/api/v1/obligations"
SCREENING_LATE_FROM = datetime(2026, 4, 30, 16, 0, tzinfo=UTC)  # 2026-05-01 00:00 Shanghai


async def calendar(api: Api, user: str = "bureau.jiaohe", **params: Any) -> list[dict[str, Any]]:
    response = await api.get(user, PATH, year=2026, **params)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


async def complete(api: Api, user: str, kind: str, period: str) -> Any:
    return await api.post(user, f"{PATH}/completions", {"kind": kind, "period": period,
                                                         "note": "已完成"})  # fmt: skip


async def test_the_year_of_duties_with_their_due_times(api: Api) -> None:
    duties = await calendar(api)
    townships = {d["party"] for d in duties if d["kind"] == "township_study"}
    assert townships == {"220281102", "220281105", "220281190"}
    departments = {d["party"] for d in duties if d["kind"] == "department_study"}
    assert len(departments) == 10 and "civil_affairs" in departments
    periods = {(d["kind"], d["period"]) for d in duties if d["party"] == "220281102"}
    assert periods == {
        ("concentrated_screening", "2026-04"), ("concentrated_screening", "2026-10"),
        *(("township_warning_list", f"2026-Q{q}") for q in range(1, 5)),
        ("township_study", "2026-H1"), ("township_study", "2026-H2")}  # fmt: skip
    assert len(duties) == 3 * 8 + 10 * 3
    screening = next(d for d in duties if d["period"] == "2026-04" and d["party"] == "220281102")
    assert datetime.fromisoformat(screening["due_at"]) == SCREENING_LATE_FROM
    assert not any(d["overdue"] for d in duties)  # 2 March: nothing is due yet


async def test_overdue_from_the_day_after_and_done_when_recorded(api: Api) -> None:
    api.clock.set(SCREENING_LATE_FROM.replace(hour=15))  # 23:00 on 30 April in Shanghai
    assert {(d["kind"], d["period"]) for d in await calendar(api, overdue="true")} == {
        ("township_warning_list", "2026-Q1")}  # fmt: skip
    api.clock.set(SCREENING_LATE_FROM)
    overdue = await calendar(api, overdue="true")
    assert {(d["kind"], d["period"]) for d in overdue} == {
        ("concentrated_screening", "2026-04"), ("township_warning_list", "2026-Q1")}  # fmt: skip
    assert len(overdue) == 6  # three townships, two duties
    done = await complete(api, "township.baishishan", "concentrated_screening", "2026-04")
    assert done.status_code == 201, done.text
    submitted = await api.post("township.baishishan", "/api/v1/warning-lists",
                               {"quarter": "2026-Q1", "entries": []})  # fmt: skip
    assert submitted.status_code == 201, submitted.text
    overdue = await calendar(api, overdue="true")
    assert {d["party"] for d in overdue} == {"220281105", "220281190"}
    own = await calendar(api, "township.baishishan")
    assert {d["party"] for d in own} == {"220281102"}
    screening = next(d for d in own if d["period"] == "2026-04")
    assert screening["completed_at"] and not screening["overdue"]


async def test_departments_record_their_own_duties_only(api: Api) -> None:
    api.clock.set(datetime(2026, 6, 15, tzinfo=UTC))
    study = await complete(api, "dept.civil-affairs", "department_study", "2026-H1")
    assert study.status_code == 201 and study.json()["party"] == "civil_affairs"
    own = await calendar(api, "dept.civil-affairs")
    assert {d["party"] for d in own} == {"civil_affairs"}
    assert next(d for d in own if d["period"] == "2026-H1")["completed_at"]
    refusals = [
        ("dept.civil-affairs", "township_study", "2026-H1", 403, "role_not_permitted"),
        ("township.baishishan", "department_study", "2026-H1", 403, "role_not_permitted"),
        ("cadre.pinggang", "township_study", "2026-H1", 403, "role_not_permitted"),
        ("dept.civil-affairs", "department_study", "2026-H2", 422, "period_not_begun"),
        ("dept.civil-affairs", "department_study", "2026-Q2", 422, "period_unknown"),
        ("township.baishishan", "township_warning_list", "2026-Q1", 422, "submitted_as_a_list"),
    ]
    for user, kind, period, code, name in refusals:
        response = await complete(api, user, kind, period)
        assert (response.status_code, response.json()["code"]) == (code, name), (user, kind)
    assert (await api.get("cadre.pinggang", PATH)).status_code == 403
