"""The domain's identifiers, one per term (see GLOSSARY.md)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    village_cadre = "village_cadre"
    """乡村干部、驻村干部、网格员."""
    village_committee = "village_committee"
    """村"两委"."""
    township_official = "township_official"
    """乡镇人民政府."""
    city_bureau = "city_bureau"
    """市乡村振兴局."""
    department = "department"
    """行业部门."""
    auditor = "auditor"
    admin = "admin"
    platform_12317 = "platform_12317"
    national_exporter = "national_exporter"
    system = "system"
    """The service itself (actor ``system:timer``); never issued in a token."""


class Channel(StrEnum):
    """监测方式: how a household's risk was first reported."""

    self_declared = "self_declared"
    cadre_found = "cadre_found"
    department_flagged = "department_flagged"


class Procedure(StrEnum):
    """The two runs of the village → township → city procedure."""

    identification = "identification"
    """识别: nomination to confirmation."""
    elimination = "elimination"
    """风险消除."""
    plan = "plan"
    """帮扶计划: the assistance plan's village review and notice, before its measures start."""


class MonitoringType(StrEnum):
    """监测对象类别."""

    unstable_lifted = "unstable_lifted"
    marginal = "marginal"
    sudden_hardship = "sudden_hardship"


class RiskType(StrEnum):
    """致贫/返贫风险."""

    illness = "illness"
    disability = "disability"
    schooling = "schooling"
    natural_disaster = "natural_disaster"
    accident = "accident"
    industry_failure = "industry_failure"
    unstable_employment = "unstable_employment"
    lack_of_labour = "lack_of_labour"
    housing_safety = "housing_safety"
    drinking_water = "drinking_water"
    other = "other"


class NaturalDisasterKind(StrEnum):
    """因自然灾害子项: which disaster, when the risk is ``natural_disaster`` (GB/T 28921's
    groups as the monitoring forms name them; the national list is data, see the code lists)."""

    flood = "flood"
    drought = "drought"
    wind_hail = "wind_hail"
    frost_snow = "frost_snow"
    typhoon = "typhoon"
    earthquake = "earthquake"
    geological = "geological"
    fire = "fire"
    biological = "biological"
    other = "other"


class RegionalRisk(StrEnum):
    """区域性、规模性返贫风险: what an area-wide risk alert names (SPEC §3)."""

    flood = "flood"  # 洪涝
    drought = "drought"  # 干旱
    hail = "hail"  # 冰雹
    earthquake = "earthquake"  # 地震
    biological = "biological"  # 生物灾害
    wind = "wind"  # 风灾
    traffic_accident = "traffic_accident"  # 交通事故
    farm_machinery_injury = "farm_machinery_injury"  # 农机伤害
    fire = "fire"  # 火灾
    epidemic = "epidemic"  # 疫情
    price_fall = "price_fall"  # 主要农产品价格大幅下跌
    unemployment_rise = "unemployment_rise"  # 农村劳动力失业明显增多
    industry_project_failure = "industry_project_failure"  # 产业项目失败
    contract_ended = "contract_ended"  # 合作社、订单农业合同终止
    endemic_disease_village = "endemic_disease_village"  # 地方病村
    empty_nest_village = "empty_nest_village"  # 空巢老人村


class ScreeningResult(StrEnum):
    """排查结果 of one visit."""

    no_risk = "no_risk"  # 未发现风险
    risk_found = "risk_found"  # 发现风险


class MeasureCategory(StrEnum):
    """帮扶措施 categories (GLOSSARY.md)."""

    industry = "industry"
    employment = "employment"
    public_welfare_post = "public_welfare_post"
    finance = "finance"
    health = "health"
    education = "education"
    housing_safety = "housing_safety"
    drinking_water = "drinking_water"
    social_security = "social_security"
    aspiration_skills = "aspiration_skills"
    pairing = "pairing"
    social_assistance = "social_assistance"
    fund = "fund"
    compulsory_education = "compulsory_education"
    """义务教育保障 (控辍保学, 送教上门): the national sheet's column beside 教育帮扶."""
    relocation = "relocation"
    """搬迁 (易地搬迁, 避险搬迁)."""
    living_conditions = "living_conditions"
    """生产生活条件改善."""
    infrastructure = "infrastructure"
    """基础设施建设."""


class MeasureStatus(StrEnum):
    planned = "planned"
    in_progress = "in_progress"
    done = "done"
    stopped = "stopped"


class ObjectionOutcome(StrEnum):
    upheld = "upheld"
    dismissed = "dismissed"


class FactKind(StrEnum):
    """Facts recorded on a case; each recording is an event in the trail."""

    commitment_form = "commitment_form"
    review = "review"
    objection = "objection"
    objection_resolution = "objection_resolution"
    home_visit = "home_visit"
    classification = "classification"
    household_verification = "household_verification"
    """村级核实 of income, spending, 两不愁三保障 and water."""
    report = "report"
    """A further report of the same household, attached to its open case."""
    data_comparison = "data_comparison"
    """数据比对: department records set against the declared facts."""
    comparison_resolution = "comparison_resolution"
    """The city's reasoned answer to one finding of the comparison."""
    income_assessment = "income_assessment"
    """收入核查 while monitored: the same facts as the village's verification."""
    plan_notice = "plan_notice"
    """帮扶计划公示: the plan's notice in the village."""
    measure_planned = "measure_planned"
    measure_progress = "measure_progress"
    fund_disbursement = "fund_disbursement"
    """资金支持: money from the monitoring assistance fund paid to the household."""
    fund_reversal = "fund_reversal"
    household_change = "household_change"
    """A member added to or changed in the household registry while the case is open."""
    return_response = "return_response"
    """退回整改: how a return's reason was addressed."""
    deadline_escalation = "deadline_escalation"
    """识别超时: the identification limit passed before city determination (system only)."""
    committee_study = "committee_study"
    """村"两委"研究: the village two committees study a warning before the democratic review."""
    announcement_posting = "announcement_posting"
    """Where and when the city's announcement (公告) was posted."""
