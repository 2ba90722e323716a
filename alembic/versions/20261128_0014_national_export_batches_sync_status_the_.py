"""National export batches (append-only) and sync status, the national projection, ethnicity

Cases already confirmed get their national document composed here from their facts.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28 15:34:52.684057
"""

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = '0014'
down_revision: str | Sequence[str] | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# --- the document as this revision composes it, frozen here -----------------------------------
# The service's exports code has moved on (the national sheet's columns, revision 0027); this is
# the form revisions 0020 and 0021 take the documents in. Revision 0027 marks every document
# written before it stale, and `fangfanpin migrate` rewrites them from their cases.

_MONITORING_TYPE = {"unstable_lifted": "脱贫不稳定户", "marginal": "边缘易致贫户",
                    "sudden_hardship": "突发严重困难户"}
_RISK_TYPE = {
    "illness": "因病", "disability": "因残", "schooling": "因学", "natural_disaster": "因自然灾害",
    "accident": "因意外事故", "industry_failure": "因产业项目失败",
    "unstable_employment": "因务工就业不稳", "lack_of_labour": "缺劳动力",
    "housing_safety": "住房安全", "drinking_water": "饮水安全", "other": "其他",
}
_HOUSEHOLD_TYPE = {"lifted_out": "脱贫户", "ordinary": "一般农户"}
_MEASURE_CATEGORY = {
    "industry": "产业帮扶", "employment": "就业帮扶", "public_welfare_post": "公益性岗位",
    "finance": "金融帮扶", "health": "健康帮扶", "education": "教育帮扶",
    "housing_safety": "住房安全保障", "drinking_water": "饮水安全保障",
    "social_security": "综合保障", "aspiration_skills": "扶志扶智", "pairing": "包保帮扶",
    "social_assistance": "社会帮扶", "fund": "资金支持",
}
_ELIMINATION_METHOD = {"assisted_out": "帮扶消除", "natural": "自然消除"}
_RELATION = {
    "head": "户主", "spouse": "配偶", "son": "之子", "daughter": "之女", "son_in_law": "之女婿",
    "daughter_in_law": "之儿媳", "grandson": "之孙子", "granddaughter": "之孙女",
    "parent": "之父母", "parent_in_law": "之岳父母或公婆", "grandparent": "之祖父母",
    "sibling": "之兄弟姐妹", "other": "其他",
}
_SEX = {"male": "男", "female": "女"}
_EDUCATION = {"illiterate": "文盲或半文盲", "primary": "小学", "junior_high": "初中",
              "senior_high": "高中", "vocational": "中专（中技）", "college": "大专及以上"}
_SCHOOL_STATUS = {"not_applicable": "", "preschool": "学前教育", "compulsory": "义务教育",
                  "senior_high": "普通高中", "vocational": "中职", "college": "高职高专及以上",
                  "dropped_out": "辍学"}
_HEALTH = {"healthy": "健康", "chronic_illness": "长期慢性病", "serious_illness": "患大病",
           "disabled": "残疾", "incapacitated": "失能失智"}
_LABOUR_SKILL = {"skilled": "技能劳动力", "ordinary": "普通劳动力", "weak": "弱劳动力或半劳动力",
                 "lost": "丧失劳动力", "none": "无劳动力"}
_YES_NO = {True: "是", False: "否"}
_INCOME_FIELDS = {
    "wage_income": "工资性收入", "business_income": "生产经营性收入",
    "property_income": "财产性收入", "transfer_income": "转移性收入",
    "business_expense": "生产经营性支出", "compliant_out_of_pocket": "合规自付支出",
}
_RISK_FIELDS = tuple(f"致贫返贫风险{n}" for n in range(1, 6))
_CENT = Decimal("0.01")
_SHANGHAI = ZoneInfo("Asia/Shanghai")


def _month(instant: str | None) -> str:
    if not instant:
        return ""
    return datetime.fromisoformat(instant).astimezone(_SHANGHAI).strftime("%Y%m")


def _figures(assessment: dict[str, Any]) -> dict[str, str]:
    size = int(assessment["household_size"])
    net = sum((Decimal(str(assessment[c])) for c in ("wage_income", "business_income",
                                                     "property_income", "transfer_income")),
              Decimal(0)) - Decimal(str(assessment["business_expense"]))
    return {"net_income": str(net.quantize(_CENT)),
            "net_income_per_person": str((net / size).quantize(_CENT, rounding=ROUND_HALF_UP))}


def project(facts: dict[str, Any]) -> dict[str, str] | None:
    if not facts.get("confirmed_at"):
        return None
    classification = facts.get("classification") or {}
    risks = [_RISK_TYPE.get(r, r) for r in classification.get("risk_types") or []]
    person = classification.get("responsible_person") or {}
    record: dict[str, str] = {
        "户类型": _HOUSEHOLD_TYPE.get(facts.get("household_type") or "", ""),
        "监测对象类别": _MONITORING_TYPE.get(classification.get("monitoring_type") or "", ""),
        **{field: (risks[n] if n < len(risks) else "") for n, field in enumerate(_RISK_FIELDS)},
        "识别监测时间": _month(facts["confirmed_at"]),
        "帮扶责任人": person.get("name") or "",
        "帮扶责任人单位": person.get("unit") or "",
    }
    latest = facts["assessments"][-1] if facts.get("assessments") else None
    record.update({label: str(latest[key]) if latest else ""
                   for key, label in _INCOME_FIELDS.items()})
    figures = _figures(latest) if latest else {}
    record["家庭纯收入"] = figures.get("net_income", "")
    record["人均纯收入"] = figures.get("net_income_per_person", "")
    record["收入核查日期"] = str(latest.get("verified_on") or "") if latest else ""
    by_category: dict[str, list[str]] = {}
    for measure in (facts.get("measures") or {}).values():
        by_category.setdefault(measure["category"], []).append(measure["content"])
    record.update({f"{label}措施": "；".join(by_category.get(category, []))
                   for category, label in _MEASURE_CATEGORY.items()})
    elimination = facts.get("elimination")
    after = (elimination or {}).get("income_after") or {}
    record.update({
        "风险是否已消除": "是" if elimination else "否",
        "消除监测时间": _month(elimination["eliminated_at"]) if elimination else "",
        "风险消除方式": _ELIMINATION_METHOD.get((elimination or {}).get("method") or "", ""),
        "风险消除后家庭纯收入": str(after.get("net_income") or ""),
        "风险消除后人均纯收入": str(after.get("net_income_per_person") or ""),
    })
    return record


def _label(mapping: dict[Any, str], value: Any) -> Any:
    return None if value is None else mapping.get(value, value)


def compose(case_id: str, record: dict[str, str], household: Any,
            areas: tuple[Any, ...], members: Sequence[Any]) -> str:
    county, township, village = areas
    document: dict[str, Any] = {
        "case_id": case_id, "户编号": household.household_number, "县": county, "乡": township,
        "村": village, "行政区划代码": household.village_code, "户主姓名": household.head_name,
        "家庭人口数": household.size, **record,
        "成员": [{
            "member_id": m.id, "人编号": m.member_number, "姓名": m.name, "证件号码": "#",
            "与户主关系": _label(_RELATION, m.relation), "性别": _label(_SEX, m.sex),
            "民族": m.ethnicity,
            "出生日期": None if m.birth_date is None else str(m.birth_date),
            "文化程度": _label(_EDUCATION, m.education),
            "在校生状况": _label(_SCHOOL_STATUS, m.school_status),
            "健康状况": _label(_HEALTH, m.health),
            "劳动技能": _label(_LABOUR_SKILL, m.labour_skill),
            "参加城乡居民基本医疗保险": _label(_YES_NO, m.medical_insurance),
        } for m in members],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def upgrade() -> None:
    op.create_table('national_export_batch',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('after_index', sa.BigInteger(), nullable=False),
    sa.Column('to_index', sa.BigInteger(), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('encoding', sa.String(length=16), nullable=False),
    sa.Column('cases', sa.Integer(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('started_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_national_export_batch'))
    )
    with op.batch_alter_table('national_export_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_national_export_batch_completed_at'), ['completed_at'], unique=False)

    op.create_table('national_sync',
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('batch_id', sa.String(length=36), nullable=False),
    sa.Column('exported_version', sa.Integer(), nullable=False),
    sa.Column('exported_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=True),
    sa.Column('acknowledged_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['monitoring_case.id'], name=op.f('fk_national_sync_case_id_monitoring_case')),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_national_sync'))
    )
    with op.batch_alter_table('national_sync', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_national_sync_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_national_sync_status'), ['status'], unique=False)

    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ethnicity', sa.String(length=16), nullable=True))

    with op.batch_alter_table('monitoring_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('national', sa.Text(), nullable=True))

    bind = op.get_bind()
    if op.get_context().dialect.name == 'postgresql' and bind.execute(sa.text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings"
            " WHERE name = 'default_toast_compression'")).scalar():
        # documents are ~2 KB, so TOASTed: lz4 reads back an order of magnitude faster than
        # pglz, and the national export reads a million of them
        op.execute("ALTER TABLE monitoring_case ALTER COLUMN national SET COMPRESSION lz4")
    cases = bind.execute(sa.text("SELECT id, household_id, facts FROM monitoring_case")).all()
    for case_id, household_id, facts in cases:
        record = project(facts if isinstance(facts, dict) else json.loads(facts))
        if record is None:
            continue
        household = bind.execute(sa.text("SELECT household_number, village_code, head_name, size"
                                         " FROM household WHERE id = :h"), {"h": household_id}).first()
        areas = tuple(bind.execute(sa.text("SELECT name FROM area WHERE code = :c"),
                                   {"c": household.village_code[:n]}).scalar() for n in (6, 9, 12))
        members = bind.execute(sa.text(
            "SELECT id, member_number, name, relation, sex, ethnicity, birth_date, education,"
            " school_status, health, labour_skill, medical_insurance FROM member"
            " WHERE household_id = :h ORDER BY relation <> 'head', birth_date, id"),
            {"h": household_id}).all()
        bind.execute(sa.text("UPDATE monitoring_case SET national = :n WHERE id = :c"),
                     {"n": compose(case_id, record, household, areas, members), "c": case_id})

    if op.get_context().dialect.name == 'postgresql':
        op.execute("""CREATE TRIGGER national_export_batch_append_only BEFORE UPDATE OR DELETE
                      ON national_export_batch FOR EACH ROW EXECUTE FUNCTION refuse_change()""")
    else:
        for operation in ('UPDATE', 'DELETE'):
            op.execute(f"""CREATE TRIGGER national_export_batch_no_{operation.lower()}
                           BEFORE {operation} ON national_export_batch BEGIN
                           SELECT RAISE(ABORT, 'append-only: {operation} on national_export_batch is refused');
                           END""")



def downgrade() -> None:
    with op.batch_alter_table('monitoring_case', schema=None) as batch_op:
        batch_op.drop_column('national')

    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_column('ethnicity')

    with op.batch_alter_table('national_sync', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_national_sync_status'))
        batch_op.drop_index(batch_op.f('ix_national_sync_batch_id'))

    op.drop_table('national_sync')
    with op.batch_alter_table('national_export_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_national_export_batch_completed_at'))

    op.drop_table('national_export_batch')
