"""The one registry of problem codes: each code's HTTP status and its title in Chinese and
English.

Every refusal the service gives (``app.core.errors.ProblemError`` and its status families) is
built from this table: the status comes from here, and so does the title a client reads, in
Chinese by default and in English on ``Accept-Language: en``. The OpenAPI document's ``code``
enum and each status's list of codes are generated from it too, so a client can switch over
codes that the server really uses. ``tests/test_problem_registry.py`` fails when a raise site
names a code missing here or gives it another status.

A code is stable once published: a new meaning is a new code. The table is grouped by the
domain that raises the code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProblemType:
    code: str
    status: int
    zh: str
    en: str

    def title(self, language: str) -> str:
        return self.en if language == "en" else self.zh


PROBLEMS: dict[str, ProblemType] = {}


def register(status: int, table: dict[str, tuple[str, str]]) -> None:
    for code, (zh, en) in table.items():
        if code in PROBLEMS:
            raise ValueError(f"problem code {code} is registered twice")
        PROBLEMS[code] = ProblemType(code, status, zh, en)


# -- the request itself: authentication, input, limits, idempotency, the server -------------
register(
    400,
    {
        "bad_request": ("请求无效", "Bad request"),
    },
)
register(
    401,
    {
        "missing_token": ("缺少访问令牌", "Missing bearer token"),
        "invalid_token": ("访问令牌无效", "Invalid token"),
        "token_expired": ("访问令牌已过期", "Token expired"),
        "token_not_yet_valid": ("访问令牌尚未生效", "Token not yet valid"),
        "keys_unavailable": ("无法获取签名公钥", "Signing keys unavailable"),
        "area_outside_deployment": (
            "令牌的区域不属于本系统部署范围",
            "Area outside this deployment",
        ),
        "unauthorized": ("未认证", "Unauthorized"),
    },
)
register(
    403,
    {
        "role_not_permitted": ("当前角色无权执行此操作", "Role not permitted"),
        "area_forbidden": ("不在本人负责的区域内", "Outside the caller's area"),
        "area_not_city_wide": ("此操作需要全市范围的权限", "Needs a city-wide area"),
        "not_the_responsible_person": (
            "仅该措施的帮扶责任人可报告进展",
            "Only the measure's responsible person may report",
        ),
    },
)
register(
    404,
    {
        "not_found": ("资源不存在", "Not found"),
        "case_not_found": ("案件不存在", "Case not found"),
        "action_not_found": ("工作流没有此操作", "No such action"),
        "household_not_found": ("农户不存在", "Household not found"),
        "member_not_found": ("家庭成员不存在", "Member not found"),
        "area_not_found": ("区域不存在", "Area not found"),
        "batch_not_found": ("批次不存在", "Batch not found"),
        "round_not_found": ("轮次不存在", "Round not found"),
        "checkpoint_not_found": ("检查点不存在", "Checkpoint not found"),
        "log_entry_not_found": ("日志条目不存在", "Log entry not found"),
        "dataset_not_found": ("数据集不存在", "Dataset not found"),
        "declaration_not_found": ("申报不存在", "Declaration not found"),
        "demo_user_not_found": ("演示用户不存在", "Demo user not found"),
        "disbursement_not_found": ("资金拨付申请不存在", "Disbursement not found"),
        "document_not_found": ("文书不存在", "Document not found"),
        "entry_not_found": ("名单条目不存在", "Entry not found"),
        "indicator_not_found": ("预警指标不存在", "Indicator not found"),
        "policy_not_found": ("政策版本不存在", "Policy not found"),
        "proposal_not_found": ("预警建议不存在", "Proposal not found"),
        "workflow_not_found": ("工作流不存在", "Workflow not found"),
    },
)
register(
    405,
    {
        "method_not_allowed": ("不支持此请求方法", "Method not allowed"),
    },
)
register(
    413,
    {
        "payload_too_large": ("请求体过大", "Content too large"),
    },
)
register(
    415,
    {
        "media_type_unsupported": ("不支持的内容类型", "Unsupported media type"),
    },
)
register(
    422,
    {
        "validation_failed": ("输入无效", "Invalid input"),
        "value_not_storable": ("取值超出范围或无法保存", "Value not storable"),
        "text_not_storable": ("文本含有无法保存的字符", "Text not storable"),
        "idempotency_key_invalid": ("幂等键格式无效", "Invalid idempotency key"),
        "idempotency_key_reused": ("幂等键已用于另一个请求", "Idempotency key reused"),
        "invalid_filter": ("筛选条件无效", "Invalid filter"),
        "invalid_cursor": ("分页游标无效", "Invalid cursor"),
        "cursor_ahead": ("游标超出已有数据", "Cursor ahead of the data"),
        "unknown_area": ("区域代码不存在", "Unknown area"),
        "unknown_village": ("行政村代码不存在", "Unknown village"),
        "unknown_case": ("案件不存在", "Unknown case"),
        "unknown_batch": ("批次不存在", "Unknown batch"),
        "township_mismatch": ("乡镇与农户所在村不符", "Township does not match"),
        "household_village_mismatch": (
            "此人已在其他村登记",
            "Person registered in another village",
        ),
        "application_form_missing": ("缺少申请书", "Application form missing"),
        "member_inconsistent": ("家庭成员信息前后矛盾", "Member inconsistent"),
        "code_list_invalid": ("代码表更正不成立", "Code list correction invalid"),
        "member_not_in_household": ("该成员不属于此户", "Member not in household"),
        "case_not_in_batch": ("该案件不在此批次中", "Case not in batch"),
        "duplicate_case": ("案件重复", "Case listed twice"),
        "encoding_not_applicable": ("此格式不适用编码参数", "Encoding not applicable"),
        "encoding_invalid": ("文件编码无效", "Invalid encoding"),
        "encoding_unsupported": ("不支持此编码", "Unsupported encoding"),
        "header_unknown": ("表头缺少必需的列", "Unknown header"),
        "csv_invalid": ("不是可读的 CSV 文件", "Invalid CSV"),
        "json_invalid": ("不是可读的 JSON 批次", "Invalid JSON"),
        "xlsx_invalid": ("不是可读的 XLSX 工作簿", "Invalid XLSX"),
        "file_empty": ("文件没有数据行", "Empty file"),
        "too_many_rows": ("行数超过上限", "Too many rows"),
        "line_repeated": ("行重复", "Line repeated"),
        "source_not_yours": ("数据来源不是本部门", "Source not yours"),
        "warning_not_accepted": ("预警未被接收", "Warning not accepted"),
        "effective_date_in_past": ("生效日期已过", "Effective date in the past"),
        "index_beyond_tree": ("索引超出日志大小", "Index beyond the tree"),
        "sizes_out_of_order": ("日志大小顺序颠倒", "Sizes out of order"),
        "period_reversed": ("起止日期颠倒", "Period reversed"),
        "period_unknown": ("期间不存在", "Unknown period"),
        "period_not_begun": ("期间尚未开始", "Period not begun"),
        "quarter_in_future": ("季度尚未开始", "Quarter in the future"),
        "campaign_over": ("集中排查已结束", "Campaign over"),
        "completed_by_records": ("此事项由记录自动完成", "Completed by records"),
        "area_nested": ("区域相互包含", "Areas nested"),
        "household_not_in_scope": ("农户不在排查范围内", "Household not in scope"),
        "risk_type_missing": ("请说明发现的风险类型", "Risk type missing"),
        "note_missing": ("缺少说明", "Note missing"),
        "visit_in_future": ("走访日期晚于今天", "Visit in the future"),
        "visit_outside_round": ("走访日期不在排查轮次内", "Visit outside the round"),
        "reason_missing": ("必须说明理由", "Reason missing"),
    },
)
register(
    409,
    {
        "transition_not_allowed": ("当前状态下不能执行此操作", "Transition not allowed"),
        "guard_failed": ("办理条件未满足", "Rules not met"),
        "not_recordable_in_state": ("当前状态下不能记录此事项", "Not recordable in this state"),
        "not_recordable_in_workflow": ("此工作流版本没有此事项", "Not recordable in this workflow"),
        "case_not_assisted": ("案件不在帮扶中", "Case not assisted"),
        "state_corrupt": ("案件状态与事件记录不一致", "State corrupt"),
        "idempotency_key_in_flight": ("使用此幂等键的请求仍在处理", "Idempotency key in flight"),
        "concurrent_change": ("数据已被同时修改，请重试", "Concurrent change"),
        "household_exists": ("农户已登记", "Household exists"),
        "member_already_registered": ("此人已登记", "Member already registered"),
        "no_policy_in_effect": ("没有生效的政策版本", "No policy in effect"),
        "policy_version_exists": ("政策版本已存在", "Policy version exists"),
        "code_list_correction_concurrent": (
            "另一更正同时写入",
            "Another code list correction at the same moment",
        ),
        "no_budget": ("没有可用的资金计划", "No budget"),
        "budget_exceeded": ("超出资金计划", "Budget exceeded"),
        "disbursement_decided": ("拨付申请已审批", "Disbursement decided"),
        "disbursement_not_paid": ("拨付尚未支付", "Disbursement not paid"),
        "document_not_available": ("文书尚不可用", "Document not available"),
        "entry_not_linked": ("名单条目未关联案件", "Entry not linked"),
        "warning_already_decided": ("预警已处理", "Warning already decided"),
        "batch_reference_reused": ("批次编号已使用", "Batch reference reused"),
        "proposal_decided": ("预警建议已处理", "Proposal decided"),
        "campaign_exists": ("集中排查已存在", "Campaign exists"),
        "already_screened": ("本轮已排查", "Already screened"),
        "already_completed": ("已完成", "Already completed"),
    },
)
register(
    412,
    {
        "version_mismatch": ("案件已被修改，请刷新后重试", "Version mismatch"),
    },
)
register(
    428,
    {
        "if_match_required": ("需要 If-Match 请求头", "If-Match required"),
    },
)
register(
    429,
    {
        "rate_limited": ("请求过于频繁", "Too many requests"),
    },
)
register(
    500,
    {
        "internal_error": ("服务器内部错误", "Internal server error"),
    },
)
register(
    503,
    {
        "database_unavailable": ("数据库暂时无法连接，请稍后重试", "Database unavailable"),
    },
)


def problem_type(code: str) -> ProblemType:
    """The registered problem ``code`` (a KeyError names a raise site the registry lacks)."""
    return PROBLEMS[code]


def codes_for(status: int) -> list[str]:
    return sorted(code for code, kind in PROBLEMS.items() if kind.status == status)
