"""Examples the OpenAPI document shows: one for every JSON request body (by its schema's name)
and every action's payload, and the main problem answers. ``tests/test_contract.py`` validates
each body example against its model, so none can drift from what the server accepts at the
door. The people, numbers and areas are fictitious (the demo's Jiaohe villages); ID numbers
carry valid check characters.
"""

from __future__ import annotations

from typing import Any

HEAD_ID = "220281196803120012"
SPOUSE_ID = "220281197006210028"
SON_ID = "220281199211050130"
VILLAGE = "220281102200"  # 平岗村, 白石山镇
TOWNSHIP = "220281102"
DOC = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
DAY = "2026-03-02"

HOUSEHOLD = {
    "head_name": "王德福",
    "head_id_number": HEAD_ID,
    "village_code": VILLAGE,
    "village_group": "三组",
    "size": 3,
    "phone": "13804321234",
    "household_type": "lifted_out",
}
VERIFICATION = {
    "verified_on": DAY,
    "verified_by": ["李村干", "张驻村"],
    "household_size": 3,
    "wage_income": "9000.00",
    "business_income": "3200.00",
    "property_income": "0",
    "transfer_income": "2400.00",
    "business_expense": "1500.00",
    "compliant_out_of_pocket": "8600.00",
    "large_rigid_spending": True,
    "guarantees": {
        "food_and_clothing": True,
        "compulsory_education": True,
        "basic_medical_care": True,
        "housing_safety": True,
        "drinking_water": True,
        "notes": None,
    },
}

BODY_EXAMPLES: dict[str, Any] = {
    "OpenCaseIn": {
        "channel": "cadre_found",
        "household": HOUSEHOLD,
        "description": "户主突发脑梗住院，自付医疗费用较大",
        "risk_type": "illness",
        "source": "2026年春季集中排查",
    },
    "CommitmentForm": {
        "signatory_name": "王德福",
        "signed_on": DAY,
        "document_sha256": DOC,
        "covered_member_id_numbers": [HEAD_ID, SPOUSE_ID, SON_ID],
    },
    "HouseholdVerification": VERIFICATION,
    "Review": {
        "held_on": DAY,
        "eligible_members": 45,
        "present": 38,
        "votes_for": 35,
        "votes_against": 1,
        "abstentions": 2,
        "minutes_sha256": DOC,
    },
    "Objection": {"lodged_by_name": "赵某", "statement": "该户有子女在城里购房，收入情况不实"},
    "HomeVisit": {
        "visited_by": ["刘乡干", "陈驻村"],
        "visited_on": DAY,
        "findings": "户主住院属实，家庭收入主要靠务工",
        "opinion": "同意纳入监测",
    },
    "Classification": {
        "monitoring_type": "unstable_lifted",
        "risk_types": ["illness"],
        "responsible_person": {"name": "孙帮扶", "unit": "蛟河市农业农村局"},
    },
    "ComparisonResolution": {
        "finding_id": "f-1",
        "reason": "比对的车辆为已报废农用车，核实无误",
    },
    "MeasurePlan": {
        "category": "health",
        "content": "落实大病保险和医疗救助，协助办理慢病卡",
        "responsible_unit": "蛟河市医疗保障局",
        "responsible_person": {"name": "孙帮扶"},
        "starts_on": DAY,
        "ends_on": "2026-12-31",
    },
    "PlanNotice": {"location": "平岗村村务公开栏"},
    "ReturnResponse": {"response": "已补充民主评议会议记录", "documents_sha256": [DOC]},
    "CommitteeStudy": {
        "studied_on": DAY,
        "participants": ["村党支部书记", "村委会主任"],
        "conclusion": "同意提交民主评议",
        "minutes_sha256": DOC,
    },
    "AnnouncementPosting": {"posted_on": DAY, "location": "平岗村村务公开栏"},
    "ObjectionResolutionIn": {"outcome": "dismissed", "reason": "经核实，购房者为已分户的子女"},
    "MeasureProgressIn": {"status": "done", "happened_on": DAY, "note": "报销比例提高至90%"},
    "SnapshotIn": {
        "records": [{"id_number": HEAD_ID, "attributes": {"out_of_pocket": "18600.00"}}]
    },
    "PolicyChange": {
        "effective_from": "2027-01-01",
        "reason": "市乡村振兴局通知调整公示期",
        "notice_days": 5,
    },
    "CorrectionIn": {
        "reason": "省防返贫监测信息系统文化程度选项为“中专”",
        "lists": {
            "education": {
                "national": ["文盲或半文盲", "小学", "初中", "高中", "中专", "大专及以上"],
                "items": {
                    "illiterate": "文盲或半文盲",
                    "primary": "小学",
                    "junior_high": "初中",
                    "senior_high": "高中",
                    "vocational": "中专",
                    "college": "大专及以上",
                },
            }
        },
    },
    "HouseholdIn": HOUSEHOLD,
    "HouseholdChange": {"village_group": "四组"},
    "MemberIn": {
        "name": "王小明",
        "id_number": SON_ID,
        "relation": "son",
        "labour_skill": "ordinary",
        "health": "healthy",
        "education": "junior_high",
        "school_status": "not_in_school",
        "medical_insurance": True,
        "phone": "13904321235",
    },
    "MemberChange": {"health": "chronic_illness"},
    "DisbursementIn": {
        "case_id": "3f2b6c1e9a5d4e7f8a0b1c2d3e4f5a6b",
        "amount": "3000.00",
        "purpose": "产业帮扶：购买肉牛",
    },
    "Decision": {"approve": True},
    "Reversal": {"reason": "重复拨付，已追回"},
    "IndicatorIn": {
        "name": "医疗自付超过2万元",
        "cause": "epidemic",
        "rule": {
            "kind": "department_threshold",
            "dataset": "medical_spending",
            "attribute": "out_of_pocket",
            "operator": ">",
            "value": "20000",
        },
    },
    "DecisionIn": {
        "decision": "confirm",
        "starts_on": DAY,
        "description": "卫健部门预警：医疗自付较高的农户",
    },
    "RoundIn": {"area": TOWNSHIP, "reason": "2026年第一季度风险消除"},
    "SelfDeclarationIn": {
        "name": "王德福",
        "phone": "13804321234",
        "id_number": HEAD_ID,
        "village_code": VILLAGE,
        "household_size": 3,
        "hardship": "我因病住院，医药费负担重",
        "risk_type": "illness",
    },
    "AcknowledgmentsIn": {
        "batch_id": "0b6f7c1e9a5d4e7f8a0b1c2d3e4f5a6b",
        "items": [
            {
                "case_id": "3f2b6c1e9a5d4e7f8a0b1c2d3e4f5a6b",
                "status": "accepted",
                "household_number": "2202811022000031",
            }
        ],
    },
    "WarningListIn": {
        "quarter": "2026-Q1",
        "entries": [
            {
                "village_code": VILLAGE,
                "head_name": "王德福",
                "risk_type": "illness",
                "description": "医疗自付较高",
            }
        ],
    },
    "CompletionIn": {"kind": "township_study", "period": "2026-Q1", "evidence_sha256": DOC},
    "CampaignIn": {"period": "2026-04", "area_codes": ["220281"], "title": "2026年4月集中排查"},
    "AlertIn": {
        "cause": "flood",
        "area_codes": [TOWNSHIP],
        "starts_on": DAY,
        "description": "7月持续强降雨，部分农田受淹",
        "title": "洪涝风险排查",
    },
    "VisitIn": {
        "household_id": "7c9e6679f4254e0f8b2a1d3c5e7f9a0b",
        "visited_on": DAY,
        "result": "risk_found",
        "risk_type": "illness",
        "note": "户主住院",
    },
    "Advance": {"days": 6, "hours": 0},
    "DemoTokenIn": {"user": "cadre.pinggang"},
    "DispositionsIn": {"items": [{"line": 2, "decision": "distribute", "risk_type": "illness"}]},
}

CASE = {
    "id": "3f2b6c1e9a5d4e7f8a0b1c2d3e4f5a6b",
    "state": "public_notice",
    "version": 7,
    "channel": "cadre_found",
    "area_code": VILLAGE,
    "is_open": True,
    "monitoring_type": None,
    "workflow_version": "case-v2",
    "policy_version": "jiaohe-2022.1",
    "opened_at": "2026-03-02T01:30:00Z",
    "updated_at": "2026-03-04T02:10:00Z",
    "household": {
        "id": "7c9e6679f4254e0f8b2a1d3c5e7f9a0b",
        "head_name": "王德福",
        "head_id_number_masked": "**************0012",
        "village_code": VILLAGE,
        "village_group": "三组",
        "size": 3,
    },
    "deadlines": {
        "identification_due_at": "2026-03-16T16:00:00Z",
        "identification_overdue": False,
        "notice_ends_at": "2026-03-09T16:00:00Z",
        "elimination_due_at": None,
        "measures_due_at": None,
        "measures_overdue": False,
        "acceptance_due_at": None,
        "acceptance_overdue": False,
    },
    "suggested_classification": None,
    "facts": {},
}
ACTIONS = [
    {
        "name": "submit_to_township",
        "title": "提交乡镇",
        "to_state": "township_verification",
        "allowed": False,
        "unmet": [
            {
                "code": "notice_period_running",
                "message": "公示期未满",
                "met_at": "2026-03-09T16:00:00Z",
            }
        ],
        "requires": [],
        "payload_schema": {"type": "object", "properties": {}},
    },
    {
        "name": "return_to_village",
        "title": "异议成立·退回村级",
        "to_state": "village_nomination",
        "allowed": False,
        "unmet": [
            {
                "code": "objection_not_upheld",
                "message": "只有异议成立时才能退回村级",
                "met_at": None,
            }
        ],
        "requires": ["reason"],
        "payload_schema": {"type": "object", "properties": {"reason": {"type": "string"}}},
    },
]
SUCCESS_EXAMPLES: dict[str, Any] = {
    "cases-get_case": CASE,
    "cases-fire_publish_notice": CASE,
    "cases-list_actions": ACTIONS,
    "cases-list_cases": {"items": [CASE], "next_cursor": None, "total": 1},
}
"""Examples of the main answers, by operation id."""

UPLOAD_EXAMPLES: dict[str, Any] = {
    "text/csv": "姓名,证件号码,村代码,风险类型,预警信息,预警日期\n"
    f"王德福,{HEAD_ID},{VILLAGE},因病,住院自付超过2万元,2026-03-01\n",
    "application/json": [
        {
            "姓名": "王德福",
            "证件号码": HEAD_ID,
            "村代码": VILLAGE,
            "风险类型": "illness",
            "预警信息": "住院自付超过2万元",
            "预警日期": "2026-03-01",
        }
    ],
}
"""A department's warning batch, as each media type carries it."""

ACTION_EXAMPLES: dict[str, Any] = {
    "publish_notice": {"location": "平岗村村务公开栏"},
    "publish_elimination_notice": {"location": "平岗村村务公开栏"},
    "distribute": {"township_code": TOWNSHIP, "note": "请核实"},
    "return_to_village": {"reason": "民主评议参会人数记录不全"},
    "return_to_township": {"reason": "入户核实意见不明确"},
    "reject": {"reason": "经核实家庭收入稳定，不符合纳入条件"},
    "withdraw": {"reason": "农户本人撤回申请"},
    "mark_risk_eliminated": {"method": "assisted_out"},
    "continue_assistance": {"reason": "收入不稳定", "weak_stability": ["unstable_income"]},
    "resume_assistance": {"reason": "家庭成员新患大病"},
    "roll_back_elimination": {"reason": "风险消除后返贫"},
}

_GUARD = {
    "type": "urn:fangfanpin:problem:guard_failed",
    "title": "办理条件未满足",
    "status": 409,
    "detail": "The rules refuse this step: notice_period_running.",
    "code": "guard_failed",
    "unmet": [
        {"code": "notice_period_running", "message": "公示期未满", "met_at": "2026-03-09T16:00:00Z"}
    ],
}
_INVALID = {
    "type": "urn:fangfanpin:problem:validation_failed",
    "title": "输入无效",
    "status": 422,
    "detail": "Invalid input: signed_on.",
    "code": "validation_failed",
    "errors": [
        {
            "field": "signed_on",
            "message": "2026-12-01 is after today (2026-11-30)",
            "type": "date_in_future",
        }
    ],
}


def _problem(code: str, status: int, title: str, detail: str) -> dict[str, Any]:
    return {
        "type": f"urn:fangfanpin:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }


RESPONSE_EXAMPLES: dict[int, dict[str, Any]] = {
    401: {
        "missing_token": {
            "value": _problem(
                "missing_token", 401, "缺少访问令牌", "Send Authorization: Bearer <token>."
            )
        }
    },
    403: {
        "role_not_permitted": {
            "value": _problem(
                "role_not_permitted",
                403,
                "当前角色无权执行此操作",
                "A township_official never fires confirm.",
            )
        }
    },
    404: {
        "case_not_found": {
            "value": _problem("case_not_found", 404, "案件不存在", "No case 3f2b6c1e in your area.")
        }
    },
    409: {"guard_failed": {"value": _GUARD}},
    412: {
        "version_mismatch": {
            "value": {
                **_problem(
                    "version_mismatch",
                    412,
                    "案件已被修改，请刷新后重试",
                    'If-Match "6" is stale: the case is at version 7.',
                ),
                "current_version": 7,
            }
        }
    },
    422: {"validation_failed": {"value": _INVALID}},
    428: {
        "if_match_required": {
            "value": _problem(
                "if_match_required", 428, "需要 If-Match 请求头", 'Send If-Match: "<version>".'
            )
        }
    },
}
