"""Township warning lists: due by each quarter's last day (Asia/Shanghai), late ones listed."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from openpyxl import load_workbook

from app.warning_lists import quarters
from tests.helpers import Api

PATH = "/api/v1/warning-lists"
ENTRY = {"village_code": "220281102200", "head_name": "赵大", "risk_type": "illness",
         "description": "户主住院, 自付医疗费用约三万元"}  # fmt: skip
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
        ("220281102", "赵大")]  # fmt: skip
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
    assert [t["name"] for t in status["pending"]] == others and status["late"] == []
    api.clock.set(Q1_LATE_FROM)
    status = (await api.get("bureau.jiaohe", f"{PATH}/status", quarter="2026-Q1")).json()
    assert [t["name"] for t in status["late"]] == others and status["pending"] == []
    # a late list is still taken, and its date shows it came late
    late = await submit(api, "township.tianbei", quarter="2026-Q1", entries=[
        {**ENTRY, "village_code": "220281105200"}])  # fmt: skip
    assert late.status_code == 201, late.text
    status = (await api.get("bureau.jiaohe", f"{PATH}/status", quarter="2026-Q1")).json()
    assert [t["name"] for t in status["late"]] == ["示例镇 (illustrative)"]
    tianbei = next(t for t in status["submitted"] if t["name"] == "天北镇")
    assert datetime.fromisoformat(tianbei["submitted_at"]) >= Q1_LATE_FROM
    own = (await api.get("township.tianbei", f"{PATH}/status", quarter="2026-Q1")).json()
    assert [t["name"] for t in own["submitted"]] == ["天北镇"]  # its own area only


async def test_what_a_list_may_not_hold_or_who_may_not_submit(api: Api) -> None:
    unknown = await submit(api, entries=[{**ENTRY, "village_code": "220281102999"}])
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_village"
    other = await submit(api, entries=[{**ENTRY, "village_code": "220281105200"}])
    assert other.status_code == 403 and other.json()["code"] == "area_forbidden"
    future = await submit(api, quarter="2026-Q3")
    assert future.status_code == 422 and future.json()["code"] == "quarter_in_future"
    for user in ("cadre.pinggang", "bureau.jiaohe", "auditor.jiaohe", "dept.civil-affairs"):
        assert (await submit(api, user)).status_code == 403, user
    assert (await api.get("bureau.jiaohe", PATH)).json() == []


async def test_the_quarterly_ledger_in_json_and_excel(api: Api) -> None:
    assert (await submit(api)).status_code == 201
    ledger = (await api.get("township.baishishan", "/api/v1/ledgers/warning-list")).json()
    assert ledger["columns"] == ["乡镇代码", "乡镇", "村代码", "村", "户主姓名", "风险类型",
                                 "风险情况", "报送时间"]  # fmt: skip
    assert ledger["rows"][0] == ["220281102", "白石山镇", "220281102200", "平岗村", "赵大",
                                 "因病", ENTRY["description"],
                                 "2026-03-02T09:30:00+08:00"]  # fmt: skip
    village = (await api.get("cadre.laodong", "/api/v1/ledgers/warning-list")).json()
    assert village["rows"] == []  # another village's cadre sees none of it
    book = await api.get("bureau.jiaohe", "/api/v1/ledgers/warning-list", format="xlsx")
    sheet = load_workbook(io.BytesIO(book.content)).active
    assert sheet is not None and sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == ledger["columns"] and rows[1][4] == "赵大"
    assert rows[1][7] == datetime(2026, 3, 2, 9, 30)  # Asia/Shanghai, an Excel time
