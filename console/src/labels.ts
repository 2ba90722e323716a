// Chinese names of the service's identifiers (the project glossary).
import type { CaseState } from "@fangfanpin/client";

export const STATE: Record<CaseState, string> = {
  new: "新建",
  self_declared: "农户自主申报",
  cadre_found: "干部排查发现",
  department_flagged: "部门筛查预警",
  village_nomination: "村级评议",
  public_notice: "村级公示",
  township_verification: "乡镇审核",
  city_confirmation: "市级确定",
  assisted: "帮扶中",
  elimination_nomination: "风险消除·村级",
  elimination_notice: "风险消除·公示",
  elimination_township_verification: "风险消除·乡镇审核",
  elimination_city_confirmation: "风险消除·市级确定",
  kept_under_watch: "继续监测",
  rejected: "不纳入",
  withdrawn: "撤回",
  risk_eliminated: "风险已消除",
};

export const ROLE: Record<string, string> = {
  village_cadre: "村干部",
  village_committee: "村民委员会",
  township_official: "乡镇干部",
  city_bureau: "市乡村振兴局",
  department: "行业部门",
  auditor: "审计",
  admin: "管理员",
  platform_12317: "12317平台",
  national_exporter: "国家系统对接",
  system: "系统",
};

export const CHANNEL: Record<string, string> = {
  self_declared: "农户自主申报",
  cadre_found: "干部排查",
  department_flagged: "部门预警",
};

export const RISK_TYPE: Record<string, string> = {
  illness: "因病", disability: "因残", schooling: "因学", natural_disaster: "因灾",
  accident: "因意外事故", industry_failure: "因产业项目失败", unstable_employment: "因务工就业不稳",
  lack_of_labour: "缺劳动力", housing_safety: "因安全住房", drinking_water: "因安全饮水", other: "其他",
};

/** Which deadline an inbox row's date is. */
export const DUE_KIND: Record<string, string> = {
  notice_end: "公示期满", acceptance: "受理时限", identification: "识别时限",
  measures: "措施落实时限", elimination: "可评估消除",
};

export const SYNC_STATUS: Record<string, string> = {
  not_exportable: "未确定", pending: "待导出", exported: "已导出", accepted: "已接收",
  rejected: "被退回",
};

export const MONITORING_TYPE: Record<string, string> = {
  unstable_lifted: "脱贫不稳定户",
  marginal: "边缘易致贫户",
  sudden_hardship: "突发严重困难户",
};

/** Fact kinds the console records, with the path under /api/v1/cases/{id}/. */
export const FACT_PATHS: Record<string, string> = {
  commitment_form: "commitment-forms",
  household_verification: "household-verifications",
  committee_study: "committee-studies",
  review: "reviews",
  objection: "objections",
  home_visit: "home-visits",
  classification: "classification",
  comparison_resolution: "comparison-resolutions",
  income_assessment: "income-assessments",
  measure_planned: "measures",
  plan_notice: "plan-notices",
  return_response: "return-responses",
  announcement_posting: "announcement-postings",
};

/** Field names the forms show in Chinese (others show their identifier). */
export const FIELD: Record<string, string> = {
  channel: "渠道", household: "农户", head_name: "户主姓名", head_id_number: "户主身份证号",
  village_code: "村代码", village_group: "村民小组", size: "家庭人口", phone: "联系电话",
  household_type: "农户类型", description: "困难描述", risk_type: "风险类型", source: "来源",
  reason: "理由", location: "公示地点", signatory_name: "签字人", signed_on: "签署日期",
  document_sha256: "扫描件 SHA-256", covered_member_id_numbers: "承诺覆盖成员身份证号（每行一个）",
  verified_on: "核实日期", verified_by: "核实人（每行一个）", household_size: "家庭人口",
  wage_income: "工资性收入", business_income: "生产经营性收入", property_income: "财产性收入",
  transfer_income: "转移性收入", business_expense: "生产经营性支出",
  compliant_out_of_pocket: "合规自付支出", large_rigid_spending: "大额刚性支出",
  guarantees: "两不愁三保障及饮水安全", food_and_clothing: "不愁吃穿",
  compulsory_education: "义务教育", basic_medical_care: "基本医疗", housing_safety: "住房安全",
  drinking_water: "饮水安全", notes: "备注", held_on: "评议日期", eligible_members: "应到人数",
  present: "实到人数", votes_for: "赞成", votes_against: "反对", abstentions: "弃权",
  minutes_sha256: "会议记录 SHA-256", studied_on: "研究日期", participants: "参会人（每行一个）",
  conclusion: "结论", visited_by: "走访人（每行一个）", visited_on: "走访日期", findings: "核实情况",
  opinion: "意见", monitoring_type: "监测对象类别", risk_types: "致贫返贫风险",
  responsible_person: "帮扶责任人", name: "姓名", unit: "单位", override_reason: "改变建议的理由",
  lodged_by_name: "异议人", statement: "异议内容", method: "风险消除方式", posted_on: "张贴日期",
};
