"""The Chinese values the national forms and the ledgers use, for the service's identifiers
(GLOSSARY.md).

The national sheet's code lists are data: ``code_lists/<version>.json`` holds each list as the
national system spells it and the mapping from the service's identifiers. The lists the
national sheet does not have (regional risks, screening, measure categories) are the
service's own and stay here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CODE_LISTS_VERSION = "2022.1"
CODE_LISTS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "code_lists" / f"{CODE_LISTS_VERSION}.json").read_text("utf-8")
)["lists"]
NATIONAL: dict[str, frozenset[str]] = {
    spec["column"]: frozenset(spec["national"]) for spec in CODE_LISTS.values()
}
"""Each coded column of the national sheet, with every value it may take."""


def _items(name: str) -> dict[str, str]:
    items: dict[str, Any] = CODE_LISTS[name]["items"]
    return {key: value for key, value in items.items() if isinstance(value, str)}


MONITORING_TYPE = _items("monitoring_type")
RISK_TYPE = _items("risk_type")
RISK_BY_NAME = {**{v: k for k, v in RISK_TYPE.items()}, **CODE_LISTS["risk_type"].get("also", {})}
"""A risk's national name (or an older spelling departments still send) to its identifier."""
HOUSEHOLD_TYPE = _items("household_type")
ELIMINATION_METHOD = _items("elimination_method")
NATURAL_DISASTER_KIND = _items("natural_disaster_kind")
SEX = _items("sex")
EDUCATION = _items("education")
SCHOOL_STATUS = {**CODE_LISTS["school_status"]["retired"], **_items("school_status")}
"""Grades, and the stages members carried before grades (exported, no longer accepted)."""
HEALTH = _items("health")
LABOUR_SKILL = _items("labour_skill")
YES_NO = {True: "是", False: "否"}


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
    "flood": "洪涝", "drought": "干旱", "hail": "冰雹", "earthquake": "地震",
    "biological": "生物灾害", "wind": "风灾", "traffic_accident": "交通事故",
    "farm_machinery_injury": "农机伤害", "fire": "火灾", "epidemic": "疫情",
    "price_fall": "主要农产品价格大幅下跌", "unemployment_rise": "农村劳动力失业明显增多",
    "industry_project_failure": "产业项目失败", "contract_ended": "合作社、订单农业合同终止",
    "endemic_disease_village": "地方病村", "empty_nest_village": "空巢老人村",
}  # fmt: skip
SCREENING_RESULT = {"no_risk": "未发现风险", "risk_found": "发现风险"}
SCREENING_KIND = {"routine": "日常排查", "campaign": "集中排查", "regional_alert": "区域性风险排查"}
MEASURE_CATEGORY = {
    "industry": "产业帮扶", "employment": "就业帮扶", "public_welfare_post": "公益性岗位",
    "finance": "金融帮扶", "health": "健康帮扶", "education": "教育帮扶",
    "housing_safety": "住房安全保障", "drinking_water": "饮水安全保障",
    "social_security": "综合保障", "aspiration_skills": "扶志扶智", "pairing": "包保帮扶",
    "social_assistance": "社会帮扶", "fund": "资金支持", "compulsory_education": "义务教育保障",
    "relocation": "搬迁", "living_conditions": "生产生活条件改善", "infrastructure": "基础设施建设",
}  # fmt: skip
