"""A confirmed case as the national monitoring forms describe it, computed from its facts.

The write path stores this projection on the case (``monitoring_case.national``) with every
event of a case that has been confirmed, so exports and ledgers read flat fields instead of
folding facts per row. Keys are the national forms' field names; values are what the forms
take (Chinese labels, YYYYMM months, yuan as decimal strings).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.exports import labels
from workflows.calendar import SHANGHAI
from workflows.income import income_figures

INCOME_FIELDS = {
    "wage_income": "工资性收入",
    "business_income": "生产经营性收入",
    "property_income": "财产性收入",
    "transfer_income": "转移性收入",
    "business_expense": "生产经营性支出",
    "compliant_out_of_pocket": "合规自付支出",
}
RISK_FIELDS = tuple(f"致贫返贫风险{n}" for n in range(1, 6))
MEASURE_FIELDS = {category: f"{label}措施" for category, label in labels.MEASURE_CATEGORY.items()}
FIELDS = (
    "户类型",
    "监测对象类别",
    *RISK_FIELDS,
    "识别监测时间",
    *INCOME_FIELDS.values(),
    "家庭纯收入",
    "人均纯收入",
    "收入核查日期",
    "帮扶责任人",
    "帮扶责任人单位",
    *MEASURE_FIELDS.values(),
    "风险是否已消除",
    "消除监测时间",
    "风险消除方式",
    "风险消除后家庭纯收入",
    "风险消除后人均纯收入",
)
"""The case-level fields, in the order exports and ledgers show them."""


def month(instant: str | None) -> str:
    """YYYYMM in Asia/Shanghai, as the forms record months."""
    if not instant:
        return ""
    return datetime.fromisoformat(instant).astimezone(SHANGHAI).strftime("%Y%m")


def project(facts: dict[str, Any]) -> dict[str, str] | None:
    """The national record of a case, or None before the city confirmed it."""
    if not facts.get("confirmed_at"):
        return None
    classification = facts.get("classification") or {}
    risks = [labels.RISK_TYPE.get(r, r) for r in classification.get("risk_types") or []]
    person = classification.get("responsible_person") or {}
    record: dict[str, str] = {
        "户类型": labels.HOUSEHOLD_TYPE.get(facts.get("household_type") or "", ""),
        "监测对象类别": labels.MONITORING_TYPE.get(classification.get("monitoring_type") or "", ""),
        **{field: (risks[n] if n < len(risks) else "") for n, field in enumerate(RISK_FIELDS)},
        "识别监测时间": month(facts["confirmed_at"]),
        "帮扶责任人": person.get("name") or "",
        "帮扶责任人单位": person.get("unit") or "",
    }
    latest = facts["assessments"][-1] if facts.get("assessments") else None
    record.update(
        {label: str(latest[key]) if latest else "" for key, label in INCOME_FIELDS.items()}
    )
    figures = income_figures(latest) if latest else {}
    record["家庭纯收入"] = figures.get("net_income", "")
    record["人均纯收入"] = figures.get("net_income_per_person", "")
    record["收入核查日期"] = str(latest.get("verified_on") or "") if latest else ""
    by_category: dict[str, list[str]] = {}
    for measure in (facts.get("measures") or {}).values():
        by_category.setdefault(measure["category"], []).append(measure["content"])
    record.update({field: "；".join(by_category.get(category, []))
                   for category, field in MEASURE_FIELDS.items()})  # fmt: skip
    elimination = facts.get("elimination")
    after = (elimination or {}).get("income_after") or {}
    record.update({
        "风险是否已消除": "是" if elimination else "否",
        "消除监测时间": month(elimination["eliminated_at"]) if elimination else "",
        "风险消除方式": labels.ELIMINATION_METHOD.get((elimination or {}).get("method") or "", ""),
        "风险消除后家庭纯收入": str(after.get("net_income") or ""),
        "风险消除后人均纯收入": str(after.get("net_income_per_person") or ""),
    })  # fmt: skip
    return record
