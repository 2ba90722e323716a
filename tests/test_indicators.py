"""Warning indicators (科学制定预警指标): the city defines them, their evaluation proposes
regional alerts, and the city confirms (an alert and its screening work) or dismisses."""

from __future__ import annotations

from typing import Any

from tests.helpers import Api, new_id_number
from tests.test_comparison import upload

PINGGANG, YOUHAO, LAODONG = "220281102200", "220281102201", "220281105200"
MEDICAL: dict[str, Any] = {
    "name": "大额医疗支出",
    "cause": "epidemic",
    "rule": {
        "kind": "department_threshold",
        "dataset": "medical_spending",
        "attribute": "out_of_pocket",
        "operator": ">",
        "value": "20000",
        "level": "village",
        "min_households": 2,
    },
}


async def household(api: Api, village: str, user: str) -> str:
    head = new_id_number()
    body = {"head_name": "某", "head_id_number": head, "village_code": village, "size": 2}
    response = await api.post(user, "/api/v1/households", body)
    assert response.status_code == 201, response.text
    return head


async def define(api: Api, body: dict[str, Any]) -> str:
    response = await api.post("bureau.jiaohe", "/api/v1/warning-indicators", body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def evaluate(api: Api, indicator: str) -> Any:
    return await api.post("bureau.jiaohe", f"/api/v1/warning-indicators/{indicator}/evaluations")


async def decide(api: Api, proposal: str, body: dict[str, Any]) -> Any:
    return await api.post("bureau.jiaohe", f"/api/v1/alert-proposals/{proposal}/decision", body)


async def test_a_threshold_proposes_the_villages_with_enough_households(api: Api) -> None:
    pinggang = [await household(api, PINGGANG, "cadre.pinggang") for _ in range(3)]
    laodong = await household(api, LAODONG, "cadre.laodong")
    spending = [
        {"id_number": n, "attributes": {"out_of_pocket": "30000.00"}}
        for n in (*pinggang[:2], laodong)
    ]
    spending.append({"id_number": pinggang[2], "attributes": {"out_of_pocket": "500.00"}})
    spending.append({"id_number": new_id_number(), "attributes": {"out_of_pocket": "90000.00"}})
    assert (await upload(api, "bureau.jiaohe", "medical_spending", spending)).status_code == 201
    indicator = await define(api, MEDICAL)
    evaluated = await api.post(
        "bureau.jiaohe", f"/api/v1/warning-indicators/{indicator}/evaluations"
    )
    assert evaluated.status_code == 201, evaluated.text
    # 平岗村 has two households past 20,000; 劳动村 one, short of the two asked
    (proposal,) = evaluated.json()
    assert (proposal["area_code"], proposal["status"], proposal["cause"]) == (
        PINGGANG,
        "proposed",
        "epidemic",
    )
    assert proposal["evidence"]["households"] == 2
    again = await evaluate(api, indicator)
    assert again.json() == []  # one pending proposal per area
    confirmed = await decide(api, proposal["id"], {"decision": "confirm"})
    assert confirmed.status_code == 200, confirmed.text
    alert_id = confirmed.json()["alert_id"]
    assert confirmed.json()["status"] == "confirmed"
    assert alert_id
    tasks = (await api.get("bureau.jiaohe", f"/api/v1/screening/rounds/{alert_id}/tasks")).json()
    assert len(tasks) == 3  # every registered household of 平岗村 is screening work
    alerts = (await api.get("bureau.jiaohe", "/api/v1/regional-alerts")).json()["alerts"]
    assert [(a["id"], a["cause"]) for a in alerts] == [(alert_id, "epidemic")]
    twice = await decide(api, proposal["id"], {"decision": "dismiss", "reason": "x"})
    assert twice.status_code == 409
    assert twice.json()["code"] == "proposal_decided"


async def test_a_disaster_area_is_proposed_and_may_be_dismissed(api: Api) -> None:
    flood = {
        "name": "7月洪涝受灾区域",
        "cause": "flood",
        "rule": {"kind": "disaster_area", "area_codes": ["220281102", LAODONG]},
    }
    indicator = await define(api, flood)
    proposals = (await evaluate(api, indicator)).json()
    assert sorted(p["area_code"] for p in proposals) == ["220281102", LAODONG]
    laodong = next(p for p in proposals if p["area_code"] == LAODONG)
    bare = await decide(api, laodong["id"], {"decision": "dismiss"})
    assert bare.status_code == 422
    dismissed = await decide(api, laodong["id"], {"decision": "dismiss", "reason": "经核实未受灾"})
    assert dismissed.json()["status"] == "dismissed"
    assert dismissed.json()["alert_id"] is None
    listed = (await api.get("bureau.jiaohe", "/api/v1/alert-proposals", status="proposed")).json()
    assert [p["area_code"] for p in listed] == ["220281102"]
    assert (await api.get("bureau.jiaohe", "/api/v1/regional-alerts")).json()["alerts"] == []


async def test_indicators_are_checked_and_the_citys_alone(api: Api) -> None:
    for rule, message in (
        ({**MEDICAL["rule"], "dataset": "weather"}, "unknown dataset"),
        ({**MEDICAL["rule"], "attribute": "colour"}, "has the attributes out_of_pocket"),
        ({**MEDICAL["rule"], "value": "many"}, "give a number"),
        ({"kind": "disaster_area", "area_codes": []}, "at least 1 item"),
    ):
        refused = await api.post(
            "bureau.jiaohe", "/api/v1/warning-indicators", {**MEDICAL, "rule": rule}
        )
        assert refused.status_code == 422, (rule, refused.text)
        (error,) = refused.json()["errors"]
        assert error["field"].startswith("rule."), error
        assert message in error["message"], error
    unknown_area = await api.post(
        "bureau.jiaohe",
        "/api/v1/warning-indicators",
        {
            "name": "x",
            "cause": "flood",
            "rule": {"kind": "disaster_area", "area_codes": ["220281199"]},
        },
    )
    assert unknown_area.status_code == 422
    assert unknown_area.json()["code"] == "unknown_area"
    for user in ("township.baishishan", "dept.civil-affairs", "cadre.pinggang"):
        assert (await api.post(user, "/api/v1/warning-indicators", MEDICAL)).status_code == 403
    assert (await api.get("auditor.jiaohe", "/api/v1/warning-indicators")).json() == []
    assert (await api.get("township.baishishan", "/api/v1/alert-proposals")).status_code == 403
    missing = await api.post("bureau.jiaohe", "/api/v1/warning-indicators/nope/evaluations")
    assert missing.status_code == 404
