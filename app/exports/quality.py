"""Data quality as the national audits check it: rules over a household's national document.

The registry refuses impossible members at the door (:mod:`app.households.consistency`). What
is possible yet doubtful — a monitored household without a risk type, 缺劳动力 with able
members, 因病 with no ill member — is flagged here, on the national document exactly as it is
exported, so the report says what the national system will see. Each rule has a code, a
Chinese message (the report's) and an English one. A document's flags are computed when it is
written (:func:`flags`, at the day it is written) and kept beside it, so every export counts
what it carries without reading its documents again; the report recomputes them at its own
date, since members age (a 15-year-old 普通劳动力 in January is a sound 16-year-old in June).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.households.consistency import SCHOOL_AGES, WORKING_AGE, age_on
from app.national_sheet import labels

RISKS = tuple(f"致贫/返贫风险{n}" for n in range(1, 6))
ABLE = ("技能劳动力", "普通劳动力")
ILL = ("长期慢性病", "患大病", "失能失智")
STUDYING: dict[str, str] = {}
"""在校生状况 as exported, back to the grade whose ages it allows."""


def _studying() -> None:
    STUDYING.clear()
    STUDYING.update(
        {
            item: grade
            for grade, item in labels.SCHOOL_STATUS.items()
            if item and grade in SCHOOL_AGES
        }
    )


_studying()
labels.ON_APPLY.append(_studying)
MIN_MONTHS_TO_ELIMINATION = 6


@dataclass(frozen=True)
class Rule:
    code: str
    zh: str
    en: str
    check: Callable[[dict[str, Any], date], bool]
    """True when the document breaks the rule (on the given day)."""


def _risks(document: dict[str, Any]) -> set[str]:
    return {document.get(name) or "" for name in RISKS} - {""}


def _members(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document.get("成员") or [])


def _age(member: dict[str, Any], day: date) -> int | None:
    born = member.get("出生日期") or ""
    if len(born) != 8 or not born.isdigit():
        return None
    return age_on(date(int(born[:4]), int(born[4:6]), int(born[6:])), day)


def _months(yyyymm: str) -> int | None:
    if len(yyyymm or "") != 6 or not yyyymm.isdigit():
        return None
    return int(yyyymm[:4]) * 12 + int(yyyymm[4:]) - 1


def _too_soon(document: dict[str, Any], _: date) -> bool:
    start = _months(document.get("识别监测时间", ""))
    end = _months(document.get("消除监测时间", ""))
    return start is not None and end is not None and end - start < MIN_MONTHS_TO_ELIMINATION


def _under_age_labour(document: dict[str, Any], day: date) -> bool:
    for member in _members(document):
        age = _age(member, day)
        if age is not None and age < WORKING_AGE and member.get("劳动技能") not in ("", "无劳动力"):
            return True
    return False


def _schooling_age(document: dict[str, Any], day: date) -> bool:
    for member in _members(document):
        stage, age = STUDYING.get(member.get("在校生状况") or ""), _age(member, day)
        if stage is not None and age is not None:
            low, high = SCHOOL_AGES[stage]
            if not low <= age <= high:
                return True
    return False


RULES: tuple[Rule, ...] = (
    Rule(
        "risk_type_missing",
        "监测对象未标注致贫/返贫风险",
        "A monitored household names no risk type.",
        lambda d, _: not _risks(d),
    ),
    Rule(
        "lack_of_labour_with_able_members",
        "标注“缺劳动力”但家庭有劳动力",
        "缺劳动力 is named while a member is skilled or ordinary labour.",
        lambda d, _: (
            "缺劳动力" in _risks(d) and any(m.get("劳动技能") in ABLE for m in _members(d))
        ),
    ),
    Rule(
        "illness_without_ill_member",
        "标注“因病”但无患病成员",
        "因病 is named while no member has a chronic or serious illness.",
        lambda d, _: "因病" in _risks(d) and not any(m.get("健康状况") in ILL for m in _members(d)),
    ),
    Rule(
        "disability_without_disabled_member",
        "标注“因残”但无残疾成员",
        "因残 is named while no member is disabled.",
        lambda d, _: (
            "因残" in _risks(d) and not any(m.get("健康状况") == "残疾" for m in _members(d))
        ),
    ),
    Rule(
        "schooling_without_student",
        "标注“因学”但无在校生",
        "因学 is named while no member is at school.",
        lambda d, _: (
            "因学" in _risks(d) and not any(m.get("在校生状况") in STUDYING for m in _members(d))
        ),
    ),
    Rule(
        "dibao_without_recipient",
        "综合保障含低保但无成员享受低保",
        "综合保障 names 低保 while no member receives it.",
        lambda d, _: (
            "低保" in (d.get("综合保障") or "")
            and not any(m.get("享受低保政策情况") == "是" for m in _members(d))
        ),
    ),
    Rule(
        "eliminated_without_after_fields",
        "已消除风险但缺风险消除后收入",
        "Eliminated without the 风险消除后 income.",
        lambda d, _: d.get("风险是否已消除") == "是" and not d.get("风险消除后家庭人均纯收入"),
    ),
    Rule(
        "eliminated_too_soon",
        "识别不满6个月即消除风险",
        "Eliminated less than 6 months after identification.",
        _too_soon,
    ),
    Rule(
        "member_age_against_labour",
        "未满16周岁成员登记为有劳动能力",
        "A member under 16 is registered with labour (checked at the report's date).",
        _under_age_labour,
    ),
    Rule(
        "member_age_against_schooling",
        "成员年龄与在校生状况不符",
        "A member's age is outside their stage of schooling (checked at the report's date).",
        _schooling_age,
    ),
)
BY_CODE = {rule.code: rule for rule in RULES}


def flags(document: dict[str, Any], day: date) -> list[str]:
    """The codes of every rule the document breaks on ``day``, in the rules' order."""
    return [rule.code for rule in RULES if rule.check(document, day)]


def joined(codes: list[str]) -> str:
    """Codes as kept beside a document: between commas, so SQL can count each."""
    return "," + ",".join(codes) + "," if codes else ""


def split(kept: str | None) -> Iterator[str]:
    return (code for code in (kept or "").split(",") if code)
