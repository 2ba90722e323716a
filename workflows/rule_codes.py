"""The registry of rule codes: every code a rule can answer in ``unmet``, with its message in
Chinese and in English.

A refusal's ``unmet`` item carries the code, a message and, for time rules, ``met_at``. The
message is the Chinese text below by default; on ``Accept-Language: en`` it is the rule's own
English message, which may name particulars (a count, a date). The OpenAPI document's rule-code
enum is generated from this table, and ``tests/test_problem_registry.py`` fails when a rule
answers a code missing here.
"""

from __future__ import annotations

ROLE_NOT_PERMITTED = "role_not_permitted"

RULE_CODES: dict[str, tuple[str, str]] = {
    ROLE_NOT_PERMITTED: ("当前角色不能在此办理此操作", "The caller's role may not do this here."),
    # identification: forms, review, notice, verification, confirmation
    "commitment_form_missing": (
        "未签署承诺书和授权书",
        "The commitment and authorization form is not signed.",
    ),
    "committee_study_missing": (
        "村两委尚未研究",
        "The village committees have not studied the case.",
    ),
    "review_missing": ("未召开民主评议", "No democratic review is recorded."),
    "review_quorum_not_met": (
        "民主评议参会人数不足法定人数",
        "The democratic review was not quorate.",
    ),
    "review_majority_not_met": ("民主评议未获过半数同意", "The democratic review has no majority."),
    "review_already_recorded": (
        "本轮民主评议已记录",
        "A review is already recorded for this round.",
    ),
    "notice_period_running": ("公示期未满", "The public notice period has not run."),
    "notice_period_over": ("公示期已结束", "The public notice period is over."),
    "objection_open": ("有未处理的异议", "Objections are not yet resolved."),
    "objection_not_found": ("没有此异议", "No such objection."),
    "objection_already_resolved": ("异议已处理", "The objection is already resolved."),
    "objection_not_upheld": (
        "只有异议成立时才能退回村级",
        "Only an upheld objection returns the case to the village.",
    ),
    "home_visit_missing": ("未入户核实", "No home visit is recorded."),
    "household_facts_missing": (
        "村级尚未核实收支、“两不愁三保障”及饮水情况",
        "The village has not verified the household's facts.",
    ),
    "comparison_not_run": ("未进行数据比对", "The data comparison has not run."),
    "comparison_unresolved": (
        "数据比对发现的问题未处理",
        "Findings of the data comparison are unresolved.",
    ),
    "finding_not_found": ("没有此比对发现", "No such finding."),
    "finding_already_resolved": ("此比对发现已处理", "The finding is already resolved."),
    "monitoring_type_missing": ("未确定监测对象类别", "No monitoring type is chosen."),
    "risk_types_invalid": ("致贫返贫风险类型无效", "The risk types are invalid."),
    "responsible_person_missing": ("未明确帮扶责任人", "No responsible person is named."),
    "return_not_addressed": ("退回的问题尚未答复", "The return is not yet answered."),
    "no_return_to_address": ("没有待答复的退回", "There is no open return to answer."),
    "reason_missing": ("必须说明理由", "A reason must be given."),
    "override_reason_missing": ("改变建议须说明理由", "Overriding the suggestion needs a reason."),
    "township_missing": ("须指定乡镇", "Name the township."),
    "household_has_open_case": ("该户另有在办案件", "The household has another open case."),
    # assistance
    "plan_not_approved": ("帮扶计划未经评议公示", "The assistance plan is not approved."),
    "plan_empty": ("帮扶计划没有措施", "The plan has no planned measure."),
    "plan_notice_published": ("帮扶计划已公示", "The plan's notice is already published."),
    "measure_not_found": ("没有此帮扶措施", "No such measure."),
    "measure_status_not_allowed": (
        "措施状态不能如此变更",
        "The measure's status may not change so.",
    ),
    "not_the_responsible_person": (
        "仅该措施的帮扶责任人可报告进展",
        "Only the measure's responsible person may report.",
    ),
    "no_labour_capacity": (
        "家庭无劳动能力，应持续监测，不能标注风险消除",
        "No member has labour capacity: kept under watch.",
    ),
    "social_security_missing": ("尚未落实综合保障措施", "No social security measure is in place."),
    # elimination
    "no_measure_done": ("尚无已落实的帮扶措施", "No assistance measure has been carried out."),
    "monitoring_too_short": ("监测期不足", "The monitoring period is too short."),
    "income_not_stable": ("收入未稳定超过监测标准", "The income is not stably above the line."),
    "rigid_spending_unresolved": ("刚性支出问题未解决", "Large rigid spending is unresolved."),
    "guarantees_not_secure": (
        "“两不愁三保障”及饮水安全未稳定",
        "The basic guarantees are not secure.",
    ),
    "labour_capacity_present": (
        "家庭有劳动能力或劳动技能未登记，应继续帮扶",
        "Members can work, or their labour skill is unrecorded.",
    ),
}


def message(code: str, english: str, language: str) -> str:
    """An unmet rule's message in the request's language (the rule's own English text)."""
    if language == "en":
        return english
    return RULE_CODES[code][0]
