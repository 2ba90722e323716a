"""The Chinese values the national forms and the ledgers use, for the service's identifiers
(GLOSSARY.md)."""

from __future__ import annotations

MONITORING_TYPE = {"unstable_lifted": "脱贫不稳定户", "marginal": "边缘易致贫户",
                   "sudden_hardship": "突发严重困难户"}  # fmt: skip
RISK_TYPE = {
    "illness": "因病", "disability": "因残", "schooling": "因学", "natural_disaster": "因自然灾害",
    "accident": "因意外事故", "industry_failure": "因产业项目失败",
    "unstable_employment": "因务工就业不稳", "lack_of_labour": "缺劳动力",
    "housing_safety": "住房安全", "drinking_water": "饮水安全", "other": "其他",
}  # fmt: skip
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
HOUSEHOLD_TYPE = {"lifted_out": "脱贫户", "ordinary": "一般农户"}
MEASURE_CATEGORY = {
    "industry": "产业帮扶", "employment": "就业帮扶", "public_welfare_post": "公益性岗位",
    "finance": "金融帮扶", "health": "健康帮扶", "education": "教育帮扶",
    "housing_safety": "住房安全保障", "drinking_water": "饮水安全保障",
    "social_security": "综合保障", "aspiration_skills": "扶志扶智", "pairing": "包保帮扶",
    "social_assistance": "社会帮扶", "fund": "资金支持",
}  # fmt: skip
ELIMINATION_METHOD = {"assisted_out": "帮扶消除", "natural": "自然消除"}
RELATION = {
    "head": "户主", "spouse": "配偶", "son": "之子", "daughter": "之女", "son_in_law": "之女婿",
    "daughter_in_law": "之儿媳", "grandson": "之孙子", "granddaughter": "之孙女",
    "parent": "之父母", "parent_in_law": "之岳父母或公婆", "grandparent": "之祖父母",
    "sibling": "之兄弟姐妹", "other": "其他",
}  # fmt: skip
SEX = {"male": "男", "female": "女"}
EDUCATION = {"illiterate": "文盲或半文盲", "primary": "小学", "junior_high": "初中",
             "senior_high": "高中", "vocational": "中专（中技）",
             "college": "大专及以上"}  # fmt: skip
SCHOOL_STATUS = {"not_applicable": "", "preschool": "学前教育", "compulsory": "义务教育",
                 "senior_high": "普通高中", "vocational": "中职", "college": "高职高专及以上",
                 "dropped_out": "辍学"}  # fmt: skip
HEALTH = {"healthy": "健康", "chronic_illness": "长期慢性病", "serious_illness": "患大病",
          "disabled": "残疾", "incapacitated": "失能失智"}  # fmt: skip
LABOUR_SKILL = {"skilled": "技能劳动力", "ordinary": "普通劳动力", "weak": "弱劳动力或半劳动力",
                "lost": "丧失劳动力", "none": "无劳动力"}  # fmt: skip
YES_NO = {True: "是", False: "否"}
