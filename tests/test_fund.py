"""The monitoring assistance fund: requests, approvals within the budget, reversals."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import text

from app.core.db import make_engine
from tests.helpers import Api


async def set_budget(api: Api, amount: str) -> None:
    response = await api.post(
        "bureau.jiaohe",
        "/api/v1/policies",
        {
            "effective_from": "2026-03-02",
            "reason": "2026年度防返贫监测帮扶资金",
            "fund_budgets": {"2026": amount},
        },
    )
    assert response.status_code == 201, response.text


async def ask(api: Api, case_id: str, amount: str, user: str = "township.baishishan") -> Any:
    return await api.post(
        user,
        "/api/v1/fund/disbursements",
        {"case_id": case_id, "amount": amount, "purpose": "医疗救助"},
    )


async def decide(api: Api, disbursement_id: str, approve: bool, reason: str | None = None) -> Any:
    body: dict[str, Any] = {"approve": approve}
    if reason:
        body["reason"] = reason
    return await api.post(
        "bureau.jiaohe", f"/api/v1/fund/disbursements/{disbursement_id}/decision", body
    )


async def ledger(api: Api) -> tuple[int, int]:
    engine = make_engine(api.settings.database_url)
    async with engine.connect() as connection:
        total = (
            await connection.execute(
                text("SELECT COALESCE(SUM(amount_fen), 0) FROM fund_ledger_entry")
            )
        ).scalar_one()
        spent = (
            await connection.execute(text("SELECT COALESCE(SUM(spent_fen), 0) FROM fund_year"))
        ).scalar_one()
    await engine.dispose()
    return int(total), int(spent)


async def test_money_goes_only_to_households_under_assistance(api: Api) -> None:
    await set_budget(api, "3000.00")
    early = await api.open_case()
    refused = await ask(api, early["id"], "100.00")
    assert refused.status_code == 409
    assert refused.json()["code"] == "case_not_assisted"
    case_id = await api.to_assisted()
    for user in ("committee.pinggang", "auditor.jiaohe", "dept.civil-affairs"):
        assert (await ask(api, case_id, "100.00", user)).status_code == 403, user
    assert (await ask(api, case_id, "100.00", "township.tianbei")).status_code == 404
    assert (await ask(api, case_id, "-5")).status_code == 422
    assert (await ask(api, case_id, "1.005")).status_code == 422


async def test_approve_reject_reverse_and_balances(api: Api) -> None:
    await set_budget(api, "3000.00")
    case_id = await api.to_assisted()
    first = (await ask(api, case_id, "1000.00")).json()
    assert first["status"] == "requested"
    by_township = await api.post(
        "township.baishishan",
        f"/api/v1/fund/disbursements/{first['id']}/decision",
        {"approve": True},
    )
    assert by_township.status_code == 403
    approved = await decide(api, first["id"], True)
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    again = await decide(api, first["id"], True)
    assert again.status_code == 409
    assert again.json()["code"] == "disbursement_decided"
    second = (await ask(api, case_id, "2500.00")).json()
    over = await decide(api, second["id"], True)
    assert over.status_code == 409
    assert over.json()["code"] == "budget_exceeded"
    assert over.json()["balance"] == "2000.00"
    assert (await decide(api, second["id"], False)).status_code == 422  # no reason
    rejected = await decide(api, second["id"], False, "超出年度预算")
    assert rejected.json()["status"] == "rejected"
    balances = (await api.get("bureau.jiaohe", "/api/v1/fund/balances", year=2026)).json()
    assert balances == {
        "year": 2026,
        "budget": "3000.00",
        "spent": "1000.00",
        "balance": "2000.00",
        "spent_by_township": {"220281102": "1000.00"},
    }
    elsewhere = (await api.get("township.tianbei", "/api/v1/fund/balances", year=2026)).json()
    assert elsewhere["spent_by_township"] == {}
    reversed_ = await api.post(
        "bureau.jiaohe",
        f"/api/v1/fund/disbursements/{first['id']}/reversal",
        {"reason": "重复发放"},
    )
    assert reversed_.status_code == 200
    assert reversed_.json()["status"] == "reversed"
    twice = await api.post(
        "bureau.jiaohe", f"/api/v1/fund/disbursements/{first['id']}/reversal", {"reason": "x"}
    )
    assert twice.status_code == 409
    assert (await api.get("bureau.jiaohe", "/api/v1/fund/balances", year=2026)).json()[
        "balance"
    ] == "3000.00"
    assert await ledger(api) == (0, 0)  # +1000.00 and -1000.00: corrected, not edited
    events = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/events")).json()
    assert [e["name"] for e in events][-2:] == ["fund_disbursement", "fund_reversal"]
    replay = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/replay")).json()
    assert replay["matches"]
    assert replay["all_steps_legal"]


async def test_no_budget_no_money(api: Api) -> None:
    case_id = await api.to_assisted()  # the seeded policy budgets 2022 only
    asked = (await ask(api, case_id, "100.00")).json()
    response = await decide(api, asked["id"], True)
    assert response.status_code == 409
    assert response.json()["code"] == "no_budget"


async def test_fifty_concurrent_approvals_never_overdraw(api: Api) -> None:
    await set_budget(api, "12000.00")  # room for 12 of 50 disbursements of 1000
    case_ids = [await api.to_assisted() for _ in range(5)]
    requested = [(await ask(api, case_ids[i % 5], "1000.00")).json()["id"] for i in range(50)]
    responses = await asyncio.gather(*(decide(api, d, True) for d in requested))
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 12, codes
    assert codes.count(409) == 38, codes
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"budget_exceeded"}
    total, spent = await ledger(api)
    assert total == spent == 12 * 1000 * 100
    balances = (await api.get("bureau.jiaohe", "/api/v1/fund/balances", year=2026)).json()
    assert balances["balance"] == "0.00"


async def test_the_fund_ledger_adds_up_in_excel(api: Api) -> None:
    await set_budget(api, "10000.00")
    case_id = await api.to_assisted()
    paid = []
    for amount in ("1200.50", "800.00"):
        asked = (await ask(api, case_id, amount)).json()
        assert (await decide(api, asked["id"], True)).status_code == 200
        paid.append(asked["id"])
    reversed_ = await api.post(
        "bureau.jiaohe", f"/api/v1/fund/disbursements/{paid[1]}/reversal", {"reason": "重复支付"}
    )
    assert reversed_.status_code == 200, reversed_.text
    ledger = (await api.get("township.baishishan", "/api/v1/ledgers/fund", year=2026)).json()
    assert ledger["columns"] == [
        "记账时间",
        "年度",
        "乡镇代码",
        "乡镇",
        "村代码",
        "村",
        "户主姓名",
        "案件编号",
        "类型",
        "金额（元）",
        "说明",
        "经办人",
    ]
    assert [(r[8], r[9], r[11]) for r in ledger["rows"]] == [
        ("支付", "1200.50", "王海涛"),
        ("支付", "800.00", "王海涛"),
        ("冲正", "-800.00", "王海涛"),
    ]
    first = ledger["rows"][0]
    assert first[2:8] == ["220281102", "白石山镇", "220281102200", "平岗村", "王德福", case_id]
    assert first[0].endswith("+08:00")  # Asia/Shanghai, to the second
    book = await api.get("bureau.jiaohe", "/api/v1/ledgers/fund", year=2026, format="xlsx")
    assert book.status_code == 200
    sheet = load_workbook(io.BytesIO(book.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))[1:]
    assert sum(Decimal(str(r[9])) for r in rows) == Decimal("1200.50")  # the column sums
    assert all(isinstance(r[0], datetime) and isinstance(r[1], int) for r in rows)
    other = (await api.get("township.tianbei", "/api/v1/ledgers/fund", year=2026)).json()
    assert other["rows"] == []
    assert (await api.get("dept.civil-affairs", "/api/v1/ledgers/fund")).status_code == 403
    logged = (await api.get("auditor.jiaohe", "/api/v1/access-log")).json()
    assert {e["record_id"] for e in logged if e["record_type"] == "ledger"} == {"fund:2026"}
