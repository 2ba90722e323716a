"""Versioned policy parameters: cases pin a version; a change never alters a decision taken."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import Api


async def test_the_seeded_version_is_listed(api: Api) -> None:
    versions = (await api.get("cadre.pinggang", "/api/v1/policies")).json()
    assert [v["version"] for v in versions] == ["jiaohe-2022.1"]
    parameters = versions[0]["parameters"]
    assert parameters["notice_days"] == 5
    assert parameters["identification_days"] == 15
    assert parameters["income_lines"] == {"2021": "6000.00"}
    assert parameters["fund_budgets"] == {"2022": "500000.00"}
    assert parameters["review_quorum"] == "2/3"
    assert parameters["review_majority"] == "1/2"
    one = await api.get("cadre.pinggang", "/api/v1/policies/jiaohe-2022.1")
    assert one.status_code == 200
    assert (await api.get("cadre.pinggang", "/api/v1/policies/nope")).status_code == 404


async def test_only_the_city_or_an_administrator_changes_policy(api: Api) -> None:
    change = {"effective_from": "2026-04-01", "reason": "省级新标准", "notice_days": 7}
    for user in ("cadre.pinggang", "township.baishishan", "auditor.jiaohe", "dept.civil-affairs"):
        response = await api.post(user, "/api/v1/policies", change)
        assert response.status_code == 403, user
    past = await api.post(
        "bureau.jiaohe", "/api/v1/policies", {**change, "effective_from": "2026-03-01"}
    )
    assert past.status_code == 422
    assert past.json()["code"] == "effective_date_in_past"
    for bad in (
        {"notice_days": 0},
        {"review_quorum": "3/2"},
        {"income_lines": {"2027": "-1"}},
        {"unknown": 1},
        {"reason": ""},
    ):
        response = await api.post("bureau.jiaohe", "/api/v1/policies", {**change, **bad})
        assert response.status_code == 422, bad
    created = await api.post("admin.jiaohe", "/api/v1/policies", change)
    assert created.status_code == 201, created.text
    again = await api.post("bureau.jiaohe", "/api/v1/policies", change)
    assert again.status_code == 409
    assert again.json()["code"] == "policy_version_exists"
    assert len((await api.get("auditor.jiaohe", "/api/v1/policies")).json()) == 2


async def test_a_change_applies_to_new_cases_and_never_to_decisions_taken(api: Api) -> None:
    created = await api.post(
        "bureau.jiaohe",
        "/api/v1/policies",
        {
            "effective_from": "2026-03-10",
            "reason": "公示期延长至7天",
            "notice_days": 7,
            "income_lines": {"2026": "7000.00"},
        },
    )
    assert created.status_code == 201, created.text
    parameters = created.json()["parameters"]
    assert parameters["notice_days"] == 7
    assert parameters["identification_days"] == 15
    assert parameters["income_lines"] == {"2021": "6000.00", "2026": "7000.00"}
    # opened before the change: the 2022 version, a 5-day notice
    old_id = await api.to_village_nomination()
    await api.nominate(old_id)
    old = await api.case(old_id)
    assert old["policy_version"] == "jiaohe-2022.1"
    assert old["deadlines"]["notice_ends_at"] == "2026-03-07T16:00:00Z"
    # opened after it took effect: the new version, a 7-day notice
    api.clock.advance(timedelta(days=8))  # 2026-03-10 09:30 Shanghai
    new_id = await api.to_village_nomination()
    await api.nominate(new_id)
    new = await api.case(new_id)
    assert new["policy_version"] == "jiaohe-2026-03-10"
    assert new["deadlines"]["notice_ends_at"] == "2026-03-17T16:00:00Z"  # 03-11 … 03-17
    # the old case's decisions are untouched, and both replay under their own versions
    assert (await api.case(old_id))["deadlines"]["notice_ends_at"] == "2026-03-07T16:00:00Z"
    for case_id in (old_id, new_id):
        replay = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/replay")).json()
        assert replay["matches"]
        assert replay["facts_match"]
        assert replay["all_steps_legal"]


async def test_the_first_version_is_the_migrations_literal_on_every_backend(api: Api) -> None:
    """One source: the versions are the database's. Both backends start from revision 0004's
    literal (no acceptance_days: the parameter came later, with its default), and nothing is
    loaded in the process until a case needs it."""
    from workflows.policy import POLICIES

    assert POLICIES == {}
    seeded = (await api.get("bureau.jiaohe", "/api/v1/policies/jiaohe-2022.1")).json()
    assert seeded["created_by"] == "migration"
    assert seeded["reason"].startswith("蛟河市关于健全防止返贫动态监测和帮扶机制实施方案")
    assert seeded["parameters"] == {
        "notice_days": 5,
        "identification_days": 15,
        "measures_months": 1,
        "elimination_min_months": 6,
        "review_quorum": "2/3",
        "review_majority": "1/2",
        "income_lines": {"2021": "6000.00"},
        "fund_budgets": {"2022": "500000.00"},
    }
    case = await api.open_case("cadre_found")
    assert case["policy_version"] == "jiaohe-2022.1"
    assert POLICIES["jiaohe-2022.1"].acceptance_days == 2  # the default of versions before it
