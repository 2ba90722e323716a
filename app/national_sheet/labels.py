"""The Chinese values the national forms and the ledgers use, for the service's identifiers
(GLOSSARY.md).

The national sheet's code lists are data: ``code_lists/<version>.json`` holds each list as the
national system spells it and the mapping from the service's identifiers. The lists the
national sheet does not have (regional risks, screening, measure categories) are the
service's own and stay here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

CODE_LISTS_VERSION = "2022.1"
RELEASED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "code_lists" / f"{CODE_LISTS_VERSION}.json").read_text("utf-8")
)["lists"]
"""The code lists as this release ships them; the city's corrections
(app.national_sheet.corrections) are applied over them at run time, without a release."""
CODE_LISTS: dict[str, Any] = {}
NATIONAL: dict[str, frozenset[str]] = {}
"""Each coded column of the national sheet, with every value it may take."""
ACTIVE = CODE_LISTS_VERSION
"""Which lists this process uses: the release's, or ``<version>/c<n>`` after the city's n-th
correction."""
MONITORING_TYPE: dict[str, str] = {}
RISK_TYPE: dict[str, str] = {}
RISK_BY_NAME: dict[str, str] = {}
"""A risk's national name (or an older spelling departments still send) to its identifier."""
HOUSEHOLD_TYPE: dict[str, str] = {}
ELIMINATION_METHOD: dict[str, str] = {}
NATURAL_DISASTER_KIND: dict[str, str] = {}
SEX: dict[str, str] = {}
EDUCATION: dict[str, str] = {}
SCHOOL_STATUS: dict[str, str] = {}
"""Grades, and the stages members carried before grades (exported, no longer accepted)."""
HEALTH: dict[str, str] = {}
LABOUR_SKILL: dict[str, str] = {}
MEASURE_ITEMS: dict[str, frozenset[str]] = {}
"""Each measure category with a column of its own, to the national items a measure of it may
name (the list ``measure_item``: identifiers ``<category>.<n>``)."""
YES_NO = {True: "是", False: "否"}
ON_APPLY: list[Callable[[], None]] = []
"""What other modules derive from the lists, rebuilt when they change."""


def _items(name: str) -> dict[str, str]:
    items: dict[str, Any] = CODE_LISTS[name]["items"]
    return {key: value for key, value in items.items() if isinstance(value, str)}


def _refill(target: dict[Any, Any], values: dict[Any, Any]) -> None:
    """In place: modules that imported a mapping by name see the new one."""
    target.clear()
    target.update(values)


def apply(lists: dict[str, Any], active: str) -> None:
    """Use these lists from now on in this process (the release's, or a correction's)."""
    global ACTIVE
    _refill(CODE_LISTS, lists)
    _refill(NATIONAL, {spec["column"]: frozenset(spec["national"]) for spec in lists.values()})
    for target, name in (
        (MONITORING_TYPE, "monitoring_type"),
        (RISK_TYPE, "risk_type"),
        (HOUSEHOLD_TYPE, "household_type"),
        (ELIMINATION_METHOD, "elimination_method"),
        (NATURAL_DISASTER_KIND, "natural_disaster_kind"),
        (SEX, "sex"),
        (EDUCATION, "education"),
        (HEALTH, "health"),
        (LABOUR_SKILL, "labour_skill"),
    ):
        _refill(target, _items(name))
    _refill(
        RISK_BY_NAME, {**{v: k for k, v in RISK_TYPE.items()}, **lists["risk_type"].get("also", {})}
    )
    _refill(SCHOOL_STATUS, {**lists["school_status"]["retired"], **_items("school_status")})
    by_category: dict[str, set[str]] = {}
    for key, item in _items("measure_item").items():
        by_category.setdefault(key.split(".")[0], set()).add(item)
    _refill(MEASURE_ITEMS, {category: frozenset(items) for category, items in by_category.items()})
    ACTIVE = active
    for rebuild in ON_APPLY:
        rebuild()


apply(RELEASED, CODE_LISTS_VERSION)


def relation(identifier: str | None, head_sex: str | None) -> str:
    """与户主关系 as the national list has it; an in-law's item follows the head's sex
    (之岳父 for a husband's wife's father, 之公公 for a wife's husband's father)."""
    if identifier is None:
        return ""
    item = CODE_LISTS["relation"]["items"].get(identifier, identifier)
    if isinstance(item, dict):
        return str(item.get(head_sex or "male", ""))
    return str(item)


REGIONAL_RISK = {
    "flood": "洪涝",
    "drought": "干旱",
    "hail": "冰雹",
    "earthquake": "地震",
    "biological": "生物灾害",
    "wind": "风灾",
    "traffic_accident": "交通事故",
    "farm_machinery_injury": "农机伤害",
    "fire": "火灾",
    "epidemic": "疫情",
    "price_fall": "主要农产品价格大幅下跌",
    "unemployment_rise": "农村劳动力失业明显增多",
    "industry_project_failure": "产业项目失败",
    "contract_ended": "合作社、订单农业合同终止",
    "endemic_disease_village": "地方病村",
    "empty_nest_village": "空巢老人村",
}
SCREENING_RESULT = {"no_risk": "未发现风险", "risk_found": "发现风险"}
SCREENING_KIND = {"routine": "日常排查", "campaign": "集中排查", "regional_alert": "区域性风险排查"}
MEASURE_CATEGORY = {
    "industry": "产业帮扶",
    "employment": "就业帮扶",
    "public_welfare_post": "公益性岗位",
    "finance": "金融帮扶",
    "health": "健康帮扶",
    "education": "教育帮扶",
    "housing_safety": "住房安全保障",
    "drinking_water": "饮水安全保障",
    "social_security": "综合保障",
    "aspiration_skills": "扶志扶智",
    "pairing": "包保帮扶",
    "social_assistance": "社会帮扶",
    "fund": "资金支持",
    "compulsory_education": "义务教育保障",
    "relocation": "搬迁",
    "living_conditions": "生产生活条件改善",
    "infrastructure": "基础设施建设",
}
