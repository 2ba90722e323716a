"""Cadre screening: the household register, routine visits, April/October campaigns with exact
progress, regional risk alerts, and the screening ledger (排查走访台账)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import func, select

from app.auth.tokens import mint
from app.screening.models import ScreeningVisit
from tests.helpers import Api, new_id_number
from workflows.vocabulary import Role

APRIL_10 = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
PINGGANG, YOUHAO, LAODONG = "220281102200", "220281102201", "220281105200"
BAISHISHAN, TIANBEI = "220281102", "220281105"


def youhao_cadre(api: Api) -> dict[str, str]:
    """A cadre of 友好村 (白石山镇), a village without a demo user."""
    token = mint(
        api.settings,
        sub="cadre.youhao",
        role=Role.village_cadre,
        area=YOUHAO,
        now=api.clock.now(),
        ttl=timedelta(days=3650),
    )
    return {"Authorization": f"Bearer {token}"}


async def register(api: Api, village: str, name: str, user: str | None = None) -> str:
    body = {
        "head_name": name,
        "head_id_number": new_id_number(),
        "village_code": village,
        "size": 3,
    }
    if user is None:
        response = await api.client.post("/api/v1/households", json=body, headers=youhao_cadre(api))
    else:
        response = await api.post(user, "/api/v1/households", body)
    assert response.status_code == 201, response.text
    household_id: str = response.json()["id"]
    assert response.headers["Location"] == f"/api/v1/households/{household_id}"
    return household_id


async def register_all(api: Api) -> dict[str, str]:
    """Seven households: three in 平岗村, two in 友好村 (both 白石山镇), two in 劳动村 (天北镇)."""
    found = {}
    for key, village, name, user in (
        ("p1", PINGGANG, "赵一", "cadre.pinggang"),
        ("p2", PINGGANG, "赵二", "cadre.pinggang"),
        ("p3", PINGGANG, "赵三", "cadre.pinggang"),
        ("y1", YOUHAO, "钱一", None),
        ("y2", YOUHAO, "钱二", None),
        ("l1", LAODONG, "孙一", "cadre.laodong"),
        ("l2", LAODONG, "孙二", "cadre.laodong"),
    ):
        found[key] = await register(api, village, name, user)
    return found


async def visit(api: Api, user: str | None, household_id: str, **body: Any) -> Any:
    payload = {
        "household_id": household_id,
        "visited_on": "2026-04-10",
        "result": "no_risk",
        **body,
    }
    if user is None:
        return await api.client.post(
            "/api/v1/screening/visits", json=payload, headers=youhao_cadre(api)
        )
    return await api.post(user, "/api/v1/screening/visits", payload)


def counts(row: dict[str, Any]) -> tuple[int, int, int, int]:
    values = row.get("counts", row)
    return values["households"], values["screened"], values["risk_found"], values["cases"]


async def test_a_household_is_registered_once_in_its_village(api: Api) -> None:
    number = new_id_number()
    body = {"head_name": "李四", "head_id_number": number, "village_code": PINGGANG, "size": 2}
    first = await api.post("cadre.pinggang", "/api/v1/households", body)
    assert first.status_code == 201, first.text
    assert first.json()["members"][0]["relation"] == "head"
    assert first.json()["cases"] == []
    again = await api.post("cadre.pinggang", "/api/v1/households", body)
    assert again.status_code == 409
    assert again.json()["code"] == "household_exists"
    assert again.json()["household_id"] == first.json()["id"]
    outside = await api.post(
        "cadre.laodong",
        "/api/v1/households",
        {**body, "head_id_number": new_id_number(), "village_code": PINGGANG},
    )
    assert outside.status_code == 403
    assert outside.json()["code"] == "area_forbidden"
    elsewhere = await api.post(
        "cadre.pinggang",
        "/api/v1/households",
        {**body, "head_id_number": new_id_number(), "village_code": "220281102299"},
    )
    assert elsewhere.status_code == 403  # a village cadre's area is the village
    bad = await api.post(
        "cadre.pinggang", "/api/v1/households", {**body, "head_id_number": "220281197013010002"}
    )
    assert bad.status_code == 422
    for user in ("committee.pinggang", "township.baishishan", "bureau.jiaohe"):
        refused = await api.post(
            user, "/api/v1/households", {**body, "head_id_number": new_id_number()}
        )
        assert refused.status_code == 403
        assert refused.json()["code"] == "role_not_permitted"


async def test_campaign_progress_counts_are_exact(api: Api) -> None:
    hh = await register_all(api)
    # 孙二 already has an open case: a finding is reported to it, no second case
    existing = await api.open_case("cadre_found", user="cadre.laodong", village=LAODONG)
    hh["l3"] = existing["household"]["id"]
    opened = await api.post(
        "bureau.jiaohe",
        "/api/v1/screening/campaigns",
        {"period": "2026-04", "area_codes": [BAISHISHAN, TIANBEI]},
    )
    assert opened.status_code == 201, opened.text
    campaign = opened.json()
    assert campaign["title"] == "2026年4月集中排查"
    assert campaign["ends_on"] == "2026-04-30"
    assert counts(campaign) == (8, 0, 0, 0)
    progress_path = f"/api/v1/screening/rounds/{campaign['id']}/progress"
    assert opened.headers["Location"] == progress_path
    overlap = await api.post(
        "bureau.jiaohe",
        "/api/v1/screening/campaigns",
        {"period": "2026-04", "area_codes": [PINGGANG]},
    )
    assert overlap.status_code == 409
    assert overlap.json()["code"] == "campaign_exists"
    may = await api.post(
        "bureau.jiaohe",
        "/api/v1/screening/campaigns",
        {"period": "2026-05", "area_codes": [BAISHISHAN]},
    )
    assert may.status_code == 422
    late = await register(api, PINGGANG, "赵四", "cadre.pinggang")  # after the opening

    api.clock.set(APRIL_10)
    cid = campaign["id"]
    assert (await visit(api, "cadre.pinggang", hh["p1"], round_id=cid)).status_code == 201
    found = await visit(
        api,
        "cadre.pinggang",
        hh["p2"],
        round_id=cid,
        result="risk_found",
        risk_type="illness",
        note="户主突发脑梗, 住院两周",
    )
    assert found.status_code == 201, found.text
    case_id = found.json()["case_id"]
    assert case_id
    assert found.json()["attached"] is False
    case = await api.case(case_id)
    assert (case["channel"], case["state"]) == ("cadre_found", "cadre_found")
    events = (await api.get("bureau.jiaohe", f"/api/v1/cases/{case_id}/events")).json()
    assert events[0]["payload"]["source"] == f"screening:campaign:{cid}"
    assert (await visit(api, None, hh["y1"], round_id=cid)).status_code == 201
    attached = await visit(
        api,
        "cadre.laodong",
        hh["l3"],
        round_id=cid,
        result="risk_found",
        risk_type="illness",
        note="又因病住院",
    )
    assert attached.status_code == 201, attached.text
    assert attached.json()["attached"] is True
    assert attached.json()["case_id"] == existing["id"]
    assert await api.event_count(existing["id"]) == 2  # opening and the report

    # what the rules refuse changes nothing
    twice = await visit(api, "cadre.pinggang", hh["p1"], round_id=cid)
    assert twice.status_code == 409
    assert twice.json()["code"] == "already_screened"
    march = await visit(api, "cadre.pinggang", hh["p3"], round_id=cid, visited_on="2026-03-31")
    assert march.status_code == 422
    assert march.json()["code"] == "visit_outside_round"
    future = await visit(api, "cadre.pinggang", hh["p3"], round_id=cid, visited_on="2026-04-11")
    assert future.status_code == 422
    assert future.json()["code"] == "visit_in_future"
    silent = await visit(api, "cadre.pinggang", hh["p3"], round_id=cid, result="risk_found")
    assert silent.status_code == 422
    assert silent.json()["code"] == "note_missing"
    unnamed = await visit(
        api, "cadre.pinggang", hh["p3"], round_id=cid, result="risk_found", note="户主摔伤"
    )
    assert unnamed.status_code == 422
    assert unnamed.json()["code"] == "risk_type_missing"
    foreign = await visit(api, "cadre.laodong", hh["p3"], round_id=cid)
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "household_not_found"
    committee = await visit(api, "committee.pinggang", hh["p3"], round_id=cid)
    assert committee.status_code == 403
    nowhere = await visit(api, "cadre.pinggang", hh["p3"], round_id="no-such-round")
    assert nowhere.status_code == 404
    assert nowhere.json()["code"] == "round_not_found"

    # 赵四, registered after the opening, is a task of the running campaign (不留死角)
    city = (await api.get("bureau.jiaohe", progress_path)).json()
    assert counts(city["round"]) == (9, 4, 2, 2)
    assert {t["area_code"]: counts(t) for t in city["townships"]} == {
        BAISHISHAN: (6, 3, 1, 1),
        TIANBEI: (3, 1, 1, 1),
    }
    assert {v["area_code"]: counts(v) for v in city["villages"]} == {
        PINGGANG: (4, 2, 1, 1),
        YOUHAO: (2, 1, 0, 0),
        LAODONG: (3, 1, 1, 1),
    }
    assert [t["name"] for t in city["townships"]] == ["白石山镇", "天北镇"]
    township = (await api.get("township.baishishan", progress_path)).json()
    assert counts(township["round"]) == (6, 3, 1, 1)
    assert [v["area_code"] for v in township["villages"]] == [PINGGANG, YOUHAO]
    pending = (
        await api.get("cadre.pinggang", f"/api/v1/screening/rounds/{cid}/tasks", pending="true")
    ).json()
    assert sorted(t["household_id"] for t in pending) == sorted([hh["p3"], late])
    assert (await visit(api, "cadre.pinggang", late, round_id=cid)).status_code == 201
    done = (
        await api.get(
            "township.baishishan", f"/api/v1/screening/rounds/{cid}/tasks", pending="false"
        )
    ).json()
    assert {t["household_id"]: t["result"] for t in done} == {
        hh["p1"]: "no_risk",
        hh["p2"]: "risk_found",
        hh["y1"]: "no_risk",
        late: "no_risk",
    }
    listed = (await api.get("township.tianbei", "/api/v1/screening/campaigns")).json()
    assert [(c["id"], counts(c)) for c in listed] == [(cid, (3, 1, 1, 1))]
    assert (await api.get("dept.civil-affairs", progress_path)).status_code == 403

    api.clock.set(datetime(2026, 5, 1, tzinfo=UTC))
    # a household registered once the campaign is over is no task of it
    after = await register(api, PINGGANG, "钱五", "cadre.pinggang")
    outside = await visit(api, "cadre.pinggang", after, round_id=cid, visited_on="2026-04-30")
    assert outside.status_code == 422
    assert outside.json()["code"] == "household_not_in_scope"
    over = await api.post(
        "bureau.jiaohe",
        "/api/v1/screening/campaigns",
        {"period": "2026-04", "area_codes": ["220281190"]},
    )
    assert over.status_code == 422
    assert over.json()["code"] == "campaign_over"


async def test_an_alert_over_a_township_creates_work_for_exactly_its_households(api: Api) -> None:
    hh = await register_all(api)
    alert = {
        "cause": "flood",
        "area_codes": [BAISHISHAN],
        "starts_on": "2026-03-01",
        "description": "7月强降雨, 河道漫堤, 农田受淹",
    }
    for bad, code in (
        ({"area_codes": [BAISHISHAN, PINGGANG]}, "area_nested"),
        ({"area_codes": ["220281199"]}, "unknown_area"),
    ):
        refused = await api.post("bureau.jiaohe", "/api/v1/regional-alerts", {**alert, **bad})
        assert refused.status_code == 422
        assert refused.json()["code"] == code
    reversed_ = await api.post(
        "bureau.jiaohe", "/api/v1/regional-alerts", {**alert, "ends_on": "2026-02-01"}
    )
    assert reversed_.status_code == 422
    unknown_cause = await api.post(
        "bureau.jiaohe", "/api/v1/regional-alerts", {**alert, "cause": "meteor"}
    )
    assert unknown_cause.status_code == 422
    for user in ("township.baishishan", "dept.civil-affairs", "cadre.pinggang"):
        assert (await api.post(user, "/api/v1/regional-alerts", alert)).status_code == 403

    flood = await api.post("bureau.jiaohe", "/api/v1/regional-alerts", alert)
    assert flood.status_code == 201, flood.text
    fid = flood.json()["id"]
    assert flood.json()["title"] == "洪涝风险排查"
    tasks = (await api.get("bureau.jiaohe", f"/api/v1/screening/rounds/{fid}/tasks")).json()
    assert {t["household_id"] for t in tasks} == {hh[k] for k in ("p1", "p2", "p3", "y1", "y2")}
    # a household registered there while the alert runs is its work too (不留死角)
    newcomer = await register(api, PINGGANG, "周六", "cadre.pinggang")
    tasks = (await api.get("bureau.jiaohe", f"/api/v1/screening/rounds/{fid}/tasks")).json()
    assert newcomer in {t["household_id"] for t in tasks}
    elsewhere = await register(api, LAODONG, "吴七", "cadre.laodong")
    assert elsewhere not in {t["household_id"] for t in tasks}
    prices = await api.post(
        "bureau.jiaohe",
        "/api/v1/regional-alerts",
        {
            **alert,
            "cause": "price_fall",
            "area_codes": [LAODONG],
            "description": "人参价格下跌四成",
        },
    )
    assert prices.status_code == 201
    pid = prices.json()["id"]

    found = await visit(
        api,
        "cadre.pinggang",
        hh["p1"],
        round_id=fid,
        result="risk_found",
        risk_type="natural_disaster",
        note="房屋进水, 玉米绝收",
        visited_on="2026-03-02",
    )
    assert found.status_code == 201, found.text
    assert (
        await visit(api, None, hh["y2"], round_id=fid, visited_on="2026-03-02")
    ).status_code == 201
    # a household outside the alert's areas is no work of it
    outside = await visit(api, "cadre.laodong", hh["l1"], round_id=fid, visited_on="2026-03-02")
    assert outside.status_code == 404  # the alert does not touch 劳动村's area
    sold = await visit(
        api,
        "cadre.laodong",
        hh["l1"],
        round_id=pid,
        result="risk_found",
        risk_type="industry_failure",
        note="人参滞销",
        visited_on="2026-03-02",
    )
    assert sold.status_code == 201

    report = (await api.get("bureau.jiaohe", "/api/v1/regional-alerts")).json()
    # 周六 joined the flood alert; 吴七 was registered before the price alert opened
    assert {a["id"]: counts(a) for a in report["alerts"]} == {fid: (6, 2, 1, 1), pid: (3, 1, 1, 1)}
    assert {c["cause"]: (c["alerts"], *counts(c)) for c in report["by_cause"]} == {
        "flood": (1, 6, 2, 1, 1),
        "price_fall": (1, 3, 1, 1, 1),
    }
    assert {a["area_code"]: counts(a) for a in report["by_area"]} == {
        BAISHISHAN: (6, 2, 1, 1),
        TIANBEI: (3, 1, 1, 1),
    }
    case = await api.case(found.json()["case_id"])
    assert case["channel"] == "cadre_found"
    events = (await api.get("bureau.jiaohe", f"/api/v1/cases/{case['id']}/events")).json()
    assert events[0]["payload"]["source"] == f"screening:regional_alert:{fid}"
    own = (await api.get("township.tianbei", "/api/v1/regional-alerts")).json()
    assert [a["id"] for a in own["alerts"]] == [pid]
    later = await api.get("bureau.jiaohe", "/api/v1/regional-alerts", **{"from": "2026-03-02"})
    assert later.json()["alerts"] == []
    assert (await api.get("dept.civil-affairs", "/api/v1/regional-alerts")).status_code == 403


async def test_routine_visits_fill_the_screening_ledger(api: Api) -> None:
    hh = await register_all(api)
    routine = await visit(api, "cadre.pinggang", hh["p1"], visited_on="2026-03-01")
    assert routine.status_code == 201
    assert routine.json()["round_id"] is None
    again = await visit(
        api,
        "cadre.pinggang",
        hh["p1"],
        visited_on="2026-03-02",
        result="risk_found",
        risk_type="schooling",
        note="孩子考上大学, 学费难",
    )
    assert again.status_code == 201, again.text  # routine visits repeat
    assert (await visit(api, "cadre.laodong", hh["l1"], visited_on="2026-03-02")).status_code == 201
    async with api.app.state.sessionmaker() as session:
        stored = await session.execute(select(func.count()).select_from(ScreeningVisit))
        assert stored.scalar_one() == 3

    ledger = (await api.get("township.baishishan", "/api/v1/ledgers/screening")).json()
    assert ledger["from"] == "2026-01-01"
    assert ledger["to"] == "2026-03-02"
    assert [row[:5] + row[6:10] for row in ledger["rows"]] == [
        [
            BAISHISHAN,
            "白石山镇",
            PINGGANG,
            "平岗村",
            "赵一",
            "2026-03-01",
            "日常排查",
            "",
            "未发现风险",
        ],
        [
            BAISHISHAN,
            "白石山镇",
            PINGGANG,
            "平岗村",
            "赵一",
            "2026-03-02",
            "日常排查",
            "",
            "发现风险",
        ],
    ]
    assert "*" in ledger["rows"][0][5]  # the ID number is masked
    assert ledger["rows"][1][10:12] == ["因学", "孩子考上大学, 学费难"]
    assert ledger["rows"][1][12] == "张建国"  # the visitor by name, not by token subject
    assert ledger["rows"][1][13] == again.json()["case_id"]
    city = (await api.get("bureau.jiaohe", "/api/v1/ledgers/screening")).json()
    assert len(city["rows"]) == 3
    narrow = (
        await api.get(
            "bureau.jiaohe",
            "/api/v1/ledgers/screening",
            **{"from": "2026-03-02", "to": "2026-03-02"},
        )
    ).json()
    assert len(narrow["rows"]) == 2
    reversed_ = await api.get(
        "bureau.jiaohe", "/api/v1/ledgers/screening", **{"from": "2026-03-02", "to": "2026-03-01"}
    )
    assert reversed_.status_code == 422
    xlsx = await api.get("cadre.laodong", "/api/v1/ledgers/screening", format="xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == [
        "乡镇代码",
        "乡镇",
        "村代码",
        "村",
        "户主姓名",
        "户主证件号码",
        "走访日期",
        "排查类型",
        "排查批次",
        "排查结果",
        "风险类型",
        "情况说明",
        "走访人",
        "案件编号",
    ]
    assert [r[4] for r in rows[1:]] == ["孙一"]
    assert isinstance(rows[1][6], datetime)
    assert rows[1][6].date() == date(2026, 3, 2)
    assert (await api.get("dept.civil-affairs", "/api/v1/ledgers/screening")).status_code == 403
