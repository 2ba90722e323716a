"""Township warning lists: due by each quarter's last day (Asia/Shanghai), late ones listed."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from openpyxl import load_workbook

from app.warning_lists import quarters
from tests.helpers import Api, new_id_number

PATH = "/api/v1/warning-lists"
ENTRY = {
    "village_code": "220281102200",
    "head_name": "赵大",
    "risk_type": "illness",
    "description": "户主住院, 自付医疗费用约三万元",
}
Q1_LATE_FROM = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)  # 2026-04-01 00:00 in Asia/Shanghai


async def submit(api: Api, user: str = "township.baishishan", **body: Any) -> Any:
    return await api.post(user, PATH, {"entries": [ENTRY], **body})


def test_quarters_and_their_due_times() -> None:
    assert quarters.of(datetime(2026, 3, 31, 15, 59, 59, tzinfo=UTC)) == "2026-Q1"
    assert quarters.of(Q1_LATE_FROM) == "2026-Q2"  # already April 1st in Shanghai
    assert quarters.late_from("2026-Q1") == Q1_LATE_FROM
    assert quarters.late_from("2026-Q4") == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


async def test_a_township_submits_and_the_city_sees_it(api: Api) -> None:
    response = await submit(api)
    assert response.status_code == 201, response.text
    assert response.json()["quarter"] == "2026-Q1"
    assert response.json()["township_code"] == "220281102"
    listed = (await api.get("bureau.jiaohe", PATH)).json()
    assert [(s["township_code"], s["entries"][0]["head_name"]) for s in listed] == [
        ("220281102", "赵大")
    ]
    assert (await api.get("township.tianbei", PATH)).json() == []
    api.clock.advance(timedelta(days=3))
    again = await submit(api, entries=[{**ENTRY, "head_name": "钱二"}])
    assert again.status_code == 201
    newest = (await api.get("bureau.jiaohe", PATH)).json()
    assert [s["entries"][0]["head_name"] for s in newest] == ["钱二"]  # the newest counts


async def test_late_townships_are_listed_once_the_quarter_is_over(api: Api) -> None:
    assert (await submit(api)).status_code == 201
    api.clock.set(Q1_LATE_FROM - timedelta(seconds=1))
    status = (await api.get("bureau.jiaohe", f"{PATH}/status", quarter="2026-Q1")).json()
    assert [t["name"] for t in status["submitted"]] == ["白石山镇"]
    others = ["天北镇", "示例镇 (illustrative)"]  # every township of the city's demo areas
    assert [t["name"] for t in status["pending"]] == others
    assert status["late"] == []
    api.clock.set(Q1_LATE_FROM)
    status = (await api.get("bureau.jiaohe", f"{PATH}/status", quarter="2026-Q1")).json()
    assert [t["name"] for t in status["late"]] == others
    assert status["pending"] == []
    # a late list is still taken, and its date shows it came late
    late = await submit(
        api,
        "township.tianbei",
        quarter="2026-Q1",
        entries=[{**ENTRY, "village_code": "220281105200"}],
    )
    assert late.status_code == 201, late.text
    status = (await api.get("bureau.jiaohe", f"{PATH}/status", quarter="2026-Q1")).json()
    assert [t["name"] for t in status["late"]] == ["示例镇 (illustrative)"]
    tianbei = next(t for t in status["submitted"] if t["name"] == "天北镇")
    assert datetime.fromisoformat(tianbei["submitted_at"]) >= Q1_LATE_FROM
    own = (await api.get("township.tianbei", f"{PATH}/status", quarter="2026-Q1")).json()
    assert [t["name"] for t in own["submitted"]] == ["天北镇"]  # its own area only


async def test_what_a_list_may_not_hold_or_who_may_not_submit(api: Api) -> None:
    unknown = await submit(api, entries=[{**ENTRY, "village_code": "220281102999"}])
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_village"
    other = await submit(api, entries=[{**ENTRY, "village_code": "220281105200"}])
    assert other.status_code == 403
    assert other.json()["code"] == "area_forbidden"
    future = await submit(api, quarter="2026-Q3")
    assert future.status_code == 422
    assert future.json()["code"] == "quarter_in_future"
    for user in ("cadre.pinggang", "bureau.jiaohe", "auditor.jiaohe", "dept.civil-affairs"):
        assert (await submit(api, user)).status_code == 403, user
    assert (await api.get("bureau.jiaohe", PATH)).json() == []


async def test_the_quarterly_ledger_in_json_and_excel(api: Api) -> None:
    assert (await submit(api)).status_code == 201
    ledger = (await api.get("township.baishishan", "/api/v1/ledgers/warning-list")).json()
    assert ledger["columns"] == [
        "乡镇代码",
        "乡镇",
        "村代码",
        "村",
        "户主姓名",
        "风险类型",
        "风险情况",
        "报送时间",
    ]
    assert ledger["rows"][0] == [
        "220281102",
        "白石山镇",
        "220281102200",
        "平岗村",
        "赵大",
        "因病",
        ENTRY["description"],
        "2026-03-02T09:30:00+08:00",
    ]
    village = (await api.get("cadre.laodong", "/api/v1/ledgers/warning-list")).json()
    assert village["rows"] == []  # another village's cadre sees none of it
    book = await api.get("bureau.jiaohe", "/api/v1/ledgers/warning-list", format="xlsx")
    sheet = load_workbook(io.BytesIO(book.content)).active
    assert sheet is not None
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == ledger["columns"]
    assert rows[1][4] == "赵大"
    assert rows[1][7] == datetime(2026, 3, 2, 9, 30)  # Asia/Shanghai, an Excel time


async def register(
    api: Api, name: str, village: str = "220281102200", user: str = "cadre.pinggang"
) -> tuple[str, str]:
    head = new_id_number()
    body = {"head_name": name, "head_id_number": head, "village_code": village, "size": 3}
    response = await api.post(user, "/api/v1/households", body)
    assert response.status_code == 201, response.text
    return response.json()["id"], head


async def test_households_are_found_by_name_or_full_id_number_in_your_area(api: Api) -> None:
    zhao, zhao_id = await register(api, "赵大")
    qian, _ = await register(api, "钱二")
    sun, _ = await register(api, "孙三", "220281105200", "cadre.laodong")
    case = await api.open_case("cadre_found", id_number=zhao_id)
    by_name = (await api.get("township.baishishan", "/api/v1/households", name="赵")).json()
    assert [(h["id"], h["open_case"]) for h in by_name] == [
        (zhao, {"id": case["id"], "state": "cadre_found"})
    ]
    assert "*" in by_name[0]["head_id_number_masked"]
    by_number = (await api.get("cadre.pinggang", "/api/v1/households", id_number=zhao_id)).json()
    assert [h["id"] for h in by_number] == [zhao]
    partial = await api.get("cadre.pinggang", "/api/v1/households", id_number=zhao_id[:10])
    assert partial.status_code == 422  # numbers are never searched in part
    mine = (await api.get("cadre.pinggang", "/api/v1/households")).json()
    assert {h["id"] for h in mine} == {zhao, qian}  # 孙三 lives in another township
    assert (await api.get("cadre.laodong", "/api/v1/households", name="赵")).json() == []
    assert {h["id"] for h in (await api.get("bureau.jiaohe", "/api/v1/households")).json()} == {
        zhao,
        qian,
        sun,
    }
    outside = await api.get("cadre.pinggang", "/api/v1/households", area="220281105")
    assert outside.status_code == 404
    assert (await api.get("dept.civil-affairs", "/api/v1/households")).status_code == 403


async def test_a_list_links_registered_households_and_the_village_opens_a_case(api: Api) -> None:
    zhao, _ = await register(api, "赵大")
    qian, qian_id = await register(api, "钱二")
    open_ = await api.open_case("cadre_found", id_number=qian_id)
    linked = [
        {**ENTRY, "household_id": zhao},
        {**ENTRY, "head_name": "钱二", "household_id": qian},
        {**ENTRY, "head_name": "李四"},
    ]
    # 赵大 is registered in 平岗村, not 友好村
    wrong = await submit(
        api, entries=[{**ENTRY, "household_id": zhao, "village_code": "220281102201"}]
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["type"] == "household_not_in_village"
    misnamed = await submit(api, entries=[{**ENTRY, "head_name": "赵小", "household_id": zhao}])
    assert misnamed.status_code == 422
    assert misnamed.json()["errors"][0]["field"] == "entries.0.head_name"
    unknown = await submit(api, entries=[{**ENTRY, "household_id": "no-such-household"}])
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "entries.0.household_id"
    submitted = await submit(api, entries=linked)
    assert submitted.status_code == 201, submitted.text
    list_id = submitted.json()["id"]
    # the city sees which entries are already in a procedure
    (listed,) = (await api.get("bureau.jiaohe", PATH)).json()
    assert [e["open_case"] for e in listed["entries"]] == [
        None,
        {"id": open_["id"], "state": "cadre_found"},
        None,
    ]
    # the village works its entries and opens a case from one in one step
    entries = (await api.get("cadre.pinggang", f"{PATH}/entries")).json()
    assert [(e["number"], e["head_name"]) for e in entries] == [
        (1, "赵大"),
        (2, "钱二"),
        (3, "李四"),
    ]
    assert (await api.get("cadre.laodong", f"{PATH}/entries")).json() == []
    opened = await api.post("cadre.pinggang", f"{PATH}/{list_id}/entries/1/case")
    assert opened.status_code == 201, opened.text
    assert opened.headers["Location"] == f"/api/v1/cases/{opened.json()['case_id']}"
    case = await api.case(opened.json()["case_id"])
    assert (case["channel"], case["state"], case["household"]["id"]) == (
        "cadre_found",
        "cadre_found",
        zhao,
    )
    assert case["facts"]["reports"][0]["source"] == f"warning_list:{list_id}:1"
    assert case["facts"]["reports"][0]["risk_type"] == "illness"
    again = await api.post("cadre.pinggang", f"{PATH}/{list_id}/entries/1/case")
    assert again.status_code == 200
    assert again.json() == {"case_id": case["id"], "attached": True}
    unlinked = await api.post("cadre.pinggang", f"{PATH}/{list_id}/entries/3/case")
    assert unlinked.status_code == 409
    assert unlinked.json()["code"] == "entry_not_linked"
    for user, status in (("cadre.laodong", 404), ("committee.pinggang", 403)):
        refused = await api.post(user, f"{PATH}/{list_id}/entries/1/case")
        assert refused.status_code == status, user
    beyond = await api.post("cadre.pinggang", f"{PATH}/{list_id}/entries/9/case")
    assert beyond.status_code == 404
    entries = (await api.get("township.baishishan", f"{PATH}/entries")).json()
    assert entries[0]["open_case"] == {"id": case["id"], "state": "cadre_found"}
