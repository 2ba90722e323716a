"""A confirmed case as the national sheet describes it, computed from its facts.

The write path stores this projection in the case's national document with every event of a
case that has been confirmed, so exports and ledgers read flat fields instead of folding facts
per row. :func:`sources` computes the service fields the sheet's household columns are read
from (:mod:`app.national_sheet.sheet`); :func:`project` lays them out under the sheet's names,
as the sheet writes them (Chinese labels, YYYYMM months, 是/否, yuan as decimal strings).

Two incomes are kept apart: 人均纯收入（元） and its parts are the newest assessment before the
elimination procedure (the income the household was identified and assisted on); the
assessment an elimination rested on goes only to the 风险消除后 columns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.national_sheet import labels, sheet
from workflows.calendar import SHANGHAI
from workflows.income import income_figures

INCOMES = (
    "wage_income",
    "business_income",
    "property_income",
    "transfer_income",
    "business_expense",
    "insurance_claims",
    "compliant_out_of_pocket",
)
DEVELOPMENT = ("industry", "employment", "finance", "public_welfare_post")
"""开发式帮扶: the measure categories that build the household's own income."""
OWN_COLUMN = (
    "industry",
    "employment",
    "finance",
    "public_welfare_post",
    "health",
    "education",
    "compulsory_education",
    "housing_safety",
    "drinking_water",
    "social_security",
    "social_assistance",
    "relocation",
    "living_conditions",
    "infrastructure",
)
"""Measure categories with a column of their own; the others go to 其他备注."""
SEPARATOR = "；"
"""How the sheet joins several items in one cell."""


def month(instant: str | None) -> str:
    """YYYYMM in Asia/Shanghai, as the forms record months."""
    if not instant:
        return ""
    return datetime.fromisoformat(instant).astimezone(SHANGHAI).strftime("%Y%m")


def _assessments(facts: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The newest assessment before the elimination procedure, and the one an elimination
    rested on (the newest when the case was marked eliminated; a closed case takes no more)."""
    found = list(facts.get("assessments") or [])
    used = found.pop() if facts.get("elimination") and found else None
    before = [a for a in found if a.get("procedure") != "elimination"]
    return (before[-1] if before else None), used


def _lacking(assessment: dict[str, Any] | None, guarantee: str) -> bool | None:
    """Whether the assessment found a guarantee not secured (None: not recorded)."""
    secured = ((assessment or {}).get("guarantees") or {}).get(guarantee)
    return None if secured is None else not secured


def _amount(assessment: dict[str, Any] | None, key: str) -> str:
    value = (assessment or {}).get(key)
    return "" if value is None else str(value)


def sources(facts: dict[str, Any], state: str | None = None) -> dict[str, Any]:
    """The household-level service fields the sheet reads, as the sheet writes them."""
    classification = facts.get("classification") or {}
    risks = [labels.RISK_TYPE.get(r, r) for r in classification.get("risk_types") or []]
    person = classification.get("responsible_person") or {}
    latest, used = _assessments(facts)
    figures = income_figures(latest) if latest else {}
    guarantees = (latest or {}).get("guarantees") or {}
    housing = guarantees.get("housing_safety")
    kind = classification.get("monitoring_type") or ""
    by_category: dict[str, list[str]] = {}
    post_notes = []
    # in the order planned: PostgreSQL keeps the facts as JSONB, whose keys have their own order
    measures = (facts.get("measures") or {}).values()
    planned = sorted(measures, key=lambda m: m.get("planned_at") or "")
    for measure in planned:
        named = measure.get("national_item") or measure["content"]  # the national item, if named
        by_category.setdefault(measure["category"], []).append(named)
        if measure["category"] == "public_welfare_post" and measure.get("national_item"):
            post_notes.append(measure["content"])  # the post in the measure's own words
    others = [
        f"{labels.MEASURE_CATEGORY.get(c, c)}：{SEPARATOR.join(items)}"
        for c, items in by_category.items()
        if c not in OWN_COLUMN
    ]
    elimination = facts.get("elimination") or {}
    after = elimination.get("income_after") or {}
    out: dict[str, Any] = {
        "household_type": labels.HOUSEHOLD_TYPE.get(facts.get("household_type") or "", ""),
        "monitoring_type": labels.MONITORING_TYPE.get(kind, ""),
        "confirmed_at": month(facts.get("confirmed_at")),
        **{f"risk_{n + 1}": (risks[n] if n < len(risks) else "") for n in range(5)},
        "natural_disaster_kind": labels.NATURAL_DISASTER_KIND.get(
            classification.get("natural_disaster_kind") or "", ""
        ),
        "other_notes": SEPARATOR.join(others),
        "net_income_per_person": figures.get("net_income_per_person", ""),
        **{key: _amount(latest, key) for key in INCOMES},
        "unsafe_housing": sheet.flag(None if housing is None else not housing),
        "safe_drinking_water": sheet.flag(guarantees.get("drinking_water")),
        "child_out_of_school": sheet.flag(_lacking(latest, "compulsory_education")),
        "kept_under_watch": sheet.flag(state == "kept_under_watch"),
        "development_measures": sheet.flag(any(c in by_category for c in DEVELOPMENT)),
        **{f"measures_{c}": SEPARATOR.join(by_category.get(c, [])) for c in OWN_COLUMN},
        "public_welfare_post_notes": SEPARATOR.join(post_notes),
        "eliminated": sheet.flag(bool(elimination)),
        "elimination_method": labels.ELIMINATION_METHOD.get(elimination.get("method") or "", ""),
        "eliminated_at": month(elimination.get("eliminated_at")),
        "after_net_income": str(after.get("net_income") or ""),
        "after_net_income_per_person": str(after.get("net_income_per_person") or ""),
        **{f"after_{key}": _amount(used, key) for key in INCOMES},
        "after_child_out_of_school": sheet.flag(_lacking(used, "compulsory_education")),
        "after_housing_damaged": sheet.flag(_lacking(used, "housing_safety")),
        "after_water_damaged": sheet.flag(_lacking(used, "drinking_water")),
        "responsible_person": person.get("name") or "",
        # 信息采集人: who recorded the assessment (assessments before 0.4 name their verifiers)
        "collected_by": (latest or {}).get("recorded_by")
        or "、".join((latest or {}).get("verified_by") or []),
        "collector_phone": (latest or {}).get("collector_phone") or "",
    }
    out["extra"] = {
        "家庭纯收入": figures.get("net_income", ""),
        "收入核查日期": str((latest or {}).get("verified_on") or ""),
        "帮扶责任人单位": person.get("unit") or "",
    }
    return out


def project(facts: dict[str, Any], state: str | None = None) -> dict[str, Any] | None:
    """The household-level fields of a case's national record under the sheet's names (area
    and registry columns empty: :func:`app.exports.document.compose` fills them), then the
    service's own extras; None before the city confirmed the case."""
    if not facts.get("confirmed_at"):
        return None
    found = sources(facts, state)
    extra = found.pop("extra")
    return {**sheet.values(found, sheet.HOUSEHOLD), **extra}
