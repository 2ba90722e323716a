"""Self-declaration through 12317, written applications, and the village's acceptance time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from app.households import idnumber
from tests.helpers import Api, new_id_number, sha, statements_sent

DECLARATION = {
    "name": "刘桂芝",
    "phone": "13912345678",
    "village_code": "220281102200",
    "household_size": 3,
    "hardship": "丈夫务工受伤, 收入骤减",
    "risk_type": "accident",
}


async def declare(api: Api, **changes: Any) -> Any:
    body = {**DECLARATION, "id_number": new_id_number(), **changes}
    return await api.post("platform.12317", "/api/v1/intake/self-declarations", body)


async def test_a_declaration_answers_a_number_and_its_status(api: Api) -> None:
    response = await declare(api)
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert len(receipt["tracking_number"]) == 18
    assert receipt["attached"] is False
    path = f"/api/v1/intake/self-declarations/{receipt['tracking_number']}"
    status = (await api.get("platform.12317", path)).json()
    assert status == {
        "tracking_number": receipt["tracking_number"],
        "received_at": status["received_at"],
        "stage": "received",
        "accepted": False,
    }
    # the village sees it as a self-declared case from 12317
    listed = (await api.get("cadre.pinggang", "/api/v1/cases")).json()["items"]
    (case,) = listed
    assert case["channel"] == "self_declared"
    assert case["facts"]["reports"][0]["source"] == f"12317:{receipt['tracking_number']}"
    await api.must("cadre.pinggang", case["id"], "start_village_review")
    status = (await api.get("platform.12317", path)).json()
    assert (status["stage"], status["accepted"]) == ("under_review", True)
    assert "13912345678" not in str(status)
    assert "刘桂芝" not in str(status)


async def test_only_the_platform_uses_the_door(api: Api) -> None:
    body = {**DECLARATION, "id_number": new_id_number()}
    for user in ("cadre.pinggang", "bureau.jiaohe", "auditor.jiaohe"):
        response = await api.post(user, "/api/v1/intake/self-declarations", body)
        assert response.status_code == 403, user
    unknown = await api.get("platform.12317", "/api/v1/intake/self-declarations/202603020000000000")
    assert unknown.status_code == 404
    bad = await declare(api, id_number="220281197001010010", phone="call me")
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"id_number", "phone"}
    assert (await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"] == []


async def test_a_second_declaration_joins_the_open_case(api: Api) -> None:
    id_number = new_id_number()
    first = (await declare(api, id_number=id_number)).json()
    second = (await declare(api, id_number=id_number)).json()
    assert second["attached"] is True
    assert second["tracking_number"] != first["tracking_number"]
    assert len((await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"]) == 1


async def test_late_acceptance_is_listed_and_flagged_never_refused(api: Api) -> None:
    await declare(api)  # 2026-03-02 09:30 Shanghai: accept by the end of 03-04
    (case,) = (await api.get("cadre.pinggang", "/api/v1/cases")).json()["items"]
    assert case["deadlines"]["acceptance_due_at"] == "2026-03-04T16:00:00Z"
    api.clock.advance(timedelta(days=2, hours=14, minutes=29))  # 03-04 23:59 Shanghai
    assert (await api.get("cadre.pinggang", "/api/v1/cases", acceptance_overdue="true")).json()[
        "items"
    ] == []
    api.clock.advance(timedelta(minutes=1))  # 03-05 00:00 Shanghai: late
    late = (await api.get("cadre.pinggang", "/api/v1/cases", acceptance_overdue="true")).json()
    assert [c["id"] for c in late["items"]] == [case["id"]]
    accepted = await api.must("cadre.pinggang", case["id"], "start_village_review")
    assert accepted["facts"]["acceptance"]["late"] is True
    assert accepted["deadlines"]["acceptance_due_at"] is None
    assert (await api.get("cadre.pinggang", "/api/v1/cases", acceptance_overdue="true")).json()[
        "items"
    ] == []


async def test_accepted_in_time_is_not_late(api: Api) -> None:
    await declare(api)
    (case,) = (await api.get("cadre.pinggang", "/api/v1/cases")).json()["items"]
    api.clock.advance(timedelta(days=1))
    accepted = await api.must("cadre.pinggang", case["id"], "start_village_review")
    assert accepted["facts"]["acceptance"]["late"] is False


async def test_written_applications_carry_their_scanned_form(api: Api) -> None:
    household = {
        "head_name": "王",
        "head_id_number": new_id_number(),
        "village_code": "220281102200",
        "size": 2,
    }
    missing = await api.post(
        "cadre.pinggang", "/api/v1/cases", {"channel": "self_declared", "household": household}
    )
    assert missing.status_code == 422
    assert missing.json()["code"] == "application_form_missing"
    cadre_found = await api.post(
        "cadre.pinggang", "/api/v1/cases", {"channel": "cadre_found", "household": household}
    )
    assert cadre_found.status_code == 201  # only a written declaration needs it
    events = (
        await api.get("auditor.jiaohe", f"/api/v1/cases/{cadre_found.json()['id']}/events")
    ).json()
    assert "application_sha256" not in events[0]["payload"]


async def test_the_scanned_forms_hash_is_kept_in_the_trail(api: Api) -> None:
    from tests.helpers import APPLICATION

    case = await api.open_case("self_declared")
    events = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case['id']}/events")).json()
    assert events[0]["payload"]["application_sha256"] == APPLICATION


async def test_a_member_who_is_not_the_head_declares_for_her_household(api: Api) -> None:
    case = await api.open_case("cadre_found")  # 王德福's household, case open
    spouse = new_id_number(
        "19720304", "female" if idnumber.sex(api.heads[case["id"]]) == "male" else "male"
    )
    await api.add_member(case["id"], spouse, "李秀兰", "spouse")
    declared = await declare(api, id_number=spouse, name="李秀兰")
    assert declared.status_code == 201, declared.text
    assert declared.json()["attached"] is True
    reports = (await api.case(case["id"]))["facts"]["reports"]
    assert [r["channel"] for r in reports] == ["cadre_found", "self_declared"]
    # the written form, entered by the cadre with her ID as the declarant's, joins it too
    written = await api.post(
        "cadre.pinggang",
        "/api/v1/cases",
        {
            "channel": "self_declared",
            "application_sha256": sha("李秀兰的书面申请"),
            "risk_type": "illness",
            "description": "丈夫病重",
            "household": {
                "head_name": "李秀兰",
                "head_id_number": spouse,
                "village_code": "220281102200",
                "size": 2,
            },
        },
    )
    assert written.status_code == 200, written.text
    assert written.json()["id"] == case["id"]
    assert written.json()["attached"] is True
    cases = (await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"]
    assert [c["id"] for c in cases] == [case["id"]]


async def test_a_member_declares_and_opens_a_case_for_her_household(api: Api) -> None:
    head = new_id_number()
    registered = await api.post(
        "cadre.pinggang",
        "/api/v1/households",
        {"head_name": "王德福", "head_id_number": head, "village_code": "220281102200", "size": 3},
    )
    household = registered.json()["id"]
    son = new_id_number("19990101", "male")
    added = await api.post(
        "cadre.pinggang",
        f"/api/v1/households/{household}/members",
        {"name": "王大明", "id_number": son, "relation": "son"},
    )
    assert added.status_code == 201, added.text
    declared = await declare(api, id_number=son, name="王大明")
    assert declared.status_code == 201
    assert declared.json()["attached"] is False
    (case,) = (await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"]
    assert case["household"]["id"] == household
    assert case["household"]["head_name"] == "王德福"
    # an unregistered declarant opens a household of their own, as ever
    stranger = await declare(api)
    assert stranger.status_code == 201
    assert stranger.json()["attached"] is False
    assert len((await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"]) == 2


async def test_no_door_takes_an_id_number_born_after_today(api: Api) -> None:
    unborn = new_id_number("20260303")  # the service's today is 2026-03-02
    refused = await declare(api, id_number=unborn)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["id_number"]
    assert "after today" in refused.json()["errors"][0]["message"]
    case = await api.open_case("cadre_found")
    household = case["household"]["id"]
    member = await api.post(
        "cadre.pinggang",
        f"/api/v1/households/{household}/members",
        {"name": "王宝宝", "id_number": unborn, "relation": "son"},
    )
    assert member.status_code == 422
    assert member.json()["errors"][0]["field"] == "id_number"
    opened = await api.post(
        "cadre.pinggang",
        "/api/v1/cases",
        {
            "channel": "cadre_found",
            "risk_type": "illness",
            "household": {
                "head_name": "王",
                "head_id_number": unborn,
                "village_code": "220281102200",
                "size": 1,
            },
        },
    )
    assert opened.status_code == 422
    assert opened.json()["errors"][0]["field"] == "household.head_id_number"
    # born today is a valid number
    today = await api.post(
        "cadre.pinggang",
        f"/api/v1/households/{household}/members",
        {"name": "王宝宝", "id_number": new_id_number("20260302", "male"), "relation": "son"},
    )
    assert today.status_code == 201, today.text
    assert len((await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"]) == 1


async def test_a_declaration_names_its_risk_type(api: Api) -> None:
    body = {k: v for k, v in DECLARATION.items() if k != "risk_type"}
    refused = await api.post(
        "platform.12317", "/api/v1/intake/self-declarations", {**body, "id_number": new_id_number()}
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["risk_type"]
    assert (await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"] == []


async def test_a_declaration_rejected_before_acceptance_was_never_accepted(api: Api) -> None:
    receipt = (await declare(api)).json()
    (case,) = (await api.get("cadre.pinggang", "/api/v1/cases")).json()["items"]
    await api.must("committee.pinggang", case["id"], "reject", {"reason": "不符合条件"})
    path = f"/api/v1/intake/self-declarations/{receipt['tracking_number']}"
    status = (await api.get("platform.12317", path)).json()
    assert (status["stage"], status["accepted"]) == ("not_included", False)
    # rejected after the village took it up, it was accepted
    second = (await declare(api)).json()
    (other,) = [
        c
        for c in (await api.get("cadre.pinggang", "/api/v1/cases")).json()["items"]
        if c["id"] != case["id"]
    ]
    await api.must("cadre.pinggang", other["id"], "start_village_review")
    await api.must("committee.pinggang", other["id"], "reject", {"reason": "收入达标"})
    path = f"/api/v1/intake/self-declarations/{second['tracking_number']}"
    status = (await api.get("platform.12317", path)).json()
    assert (status["stage"], status["accepted"]) == ("not_included", True)


async def test_a_declaration_and_its_receipt_commit_together(api: Api) -> None:
    """The receipt is written after the opening, in the same transaction: a receipt that
    cannot be written (its number taken) leaves no case and no household behind, as the
    opening of a new household may otherwise be written alone (POST /cases)."""
    from sqlalchemy import func, select

    from app.cases.models import Case
    from app.households.models import Household

    async def counts() -> tuple[int, int]:
        async with api.app.state.sessionmaker() as session:
            cases = await session.scalar(select(func.count()).select_from(Case))
            households = await session.scalar(select(func.count()).select_from(Household))
        return cases or 0, households or 0

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("app.intake.router.secrets.randbelow", lambda _: 42)  # one number
        first = await declare(api)
        assert first.status_code == 201, first.text
        before = await counts()
        try:
            second = await declare(api)
        except IntegrityError:
            pass  # raised through the test client after the app's 500
        else:
            assert second.status_code >= 500, second.text
    assert await counts() == before


async def test_a_declaration_of_a_new_household_is_one_statement(api: Api) -> None:
    """A declaration that registers its household writes the household, its head, the case,
    its event, its timer and the receipt together: on PostgreSQL one statement, its own
    transaction (no ``BEGIN``, no ``COMMIT``); one that attaches writes its receipt with the
    report's event, in one transaction."""
    from sqlalchemy import select

    from app.core.db import is_sqlite
    from app.intake.models import IntakeReceipt

    first = await declare(api)  # the process reads the policy's parameters once
    assert first.status_code == 201, first.text
    id_number = new_id_number()
    with statements_sent() as sent:
        new = await declare(api, id_number=id_number)
    again = await declare(api, id_number=id_number)
    assert (new.status_code, again.status_code) == (201, 201), (new.text, again.text)
    assert (new.json()["attached"], again.json()["attached"]) == (False, True)
    async with api.app.state.sessionmaker() as session:
        receipts = {
            r.tracking_number: r.case_id
            for r in (await session.execute(select(IntakeReceipt))).scalars()
        }
    ours = receipts[new.json()["tracking_number"]]
    assert receipts[again.json()["tracking_number"]] == ours  # the same case
    if not is_sqlite(api.settings.database_url):
        written = [s for s in sent if s.startswith(("INSERT", "WITH", "UPDATE"))]
        assert len(written) == 1, sent
        for table in ("household", "member", "monitoring_case", "case_event", "intake_receipt"):
            assert f"INSERT INTO {table} " in written[0], table
        assert not [s for s in sent if s.rstrip(";").upper() in ("BEGIN", "COMMIT")], sent
