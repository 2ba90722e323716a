"""What a report says of the household (its minimal data)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from app.core import clock
from app.households import idnumber


def _valid_id_number(value: str) -> str:
    value = idnumber.normalize(value)
    reason = idnumber.problem(value, clock.today())
    if reason:
        raise ValueError(f"not a valid ID number: {reason}")
    return value


IdNumber = Annotated[str, AfterValidator(_valid_id_number)]
VillageCode = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
VillageGroup = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
"""村民小组 (社/组), e.g. 三社 or 第二组."""
Phone = Annotated[str, StringConstraints(pattern=r"^\+?\d[\d-]{6,18}$")]


class HouseholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    head_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]
    head_id_number: IdNumber
    village_code: VillageCode
    village_group: VillageGroup | None = None
    size: int = Field(ge=1, le=30)
    phone: Phone | None = None
    household_type: Literal["lifted_out", "ordinary"] = "ordinary"
    """户类型: a registered poor household lifted out of poverty (脱贫户), or an ordinary one."""


class HouseholdSummary(BaseModel):
    id: str
    head_name: str
    head_id_number_masked: str
    village_code: str
    village_group: str | None = None
    size: int


Relation = Literal[
    "head",
    "spouse",
    "son",
    "daughter",
    "son_in_law",
    "daughter_in_law",
    "grandson",
    "granddaughter",
    "father",
    "mother",
    "father_in_law",
    "mother_in_law",
    "grandfather",
    "grandmother",
    "sibling",
    "other",
]
"""与户主关系: one identifier per GB/T 4761 item, never a combined one (之父母 is two). An
in-law is 之岳父/之岳母 to a male head and 之公公/之婆婆 to a female one (the code list)."""
LabourSkill = Literal["skilled", "ordinary", "weak", "lost", "none"]
"""劳动技能: 技能劳动力 · 普通劳动力 · 弱劳动力或半劳动力 · 丧失劳动力 · 无劳动力."""
Health = Literal["healthy", "chronic_illness", "serious_illness", "disabled", "incapacitated"]
"""健康状况: 健康 · 长期慢性病 · 患大病 · 残疾 · 失能失智."""
Education = Literal["illiterate", "primary", "junior_high", "senior_high", "vocational", "college"]
"""文化程度: 文盲或半文盲 · 小学 · 初中 · 高中 · 中专/高职 · 大专及以上."""
SchoolStatus = Literal[
    "preschool",
    "primary_1",
    "primary_2",
    "primary_3",
    "primary_4",
    "primary_5",
    "primary_6",
    "grade_7",
    "grade_8",
    "grade_9",
    "senior_high_1",
    "senior_high_2",
    "senior_high_3",
    "vocational_1",
    "vocational_2",
    "vocational_3",
    "higher_vocational_1",
    "higher_vocational_2",
    "higher_vocational_3",
    "undergraduate",
    "postgraduate",
    "not_in_school",
]
"""在校生状况, by grade as the national sheet records it: 学龄前儿童 · 小学一年级 … 小学六年级 ·
七年级 … 九年级 · 普通高中/中职/高职高专 一至三年级 · 本科 · 硕士生及以上 · 非在校生. The stages
recorded before (``compulsory`` …) stay on the members who have them until corrected."""
SocialAssistance = Literal["none", "dibao", "tekun"]
"""低保/特困: 无 · 农村低保 · 特困供养."""


Place = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Channel = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class MemberAttributes(BaseModel):
    """What the village records of a member; every field may be corrected later."""

    model_config = ConfigDict(extra="forbid")

    labour_skill: LabourSkill | None = None
    health: Health | None = None
    education: Education | None = None
    school_status: SchoolStatus | None = None
    medical_insurance: StrictBool | None = None
    """参加城乡居民基本医疗保险."""
    social_assistance: SocialAssistance | None = None
    social_assistance_monthly: (
        Annotated[Decimal, Field(ge=0, le=100000, decimal_places=2)] | None
    ) = None
    """低保金 or 特困供养金 received, yuan a month (with ``social_assistance`` dibao or tekun)."""
    member_number: Annotated[str, StringConstraints(max_length=32)] | None = None
    ethnicity: Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)] | None = None
    """民族, as the national forms name it (e.g. 汉族, 朝鲜族)."""
    employee_medical_insurance: StrictBool | None = None
    """参加城镇职工基本医疗保险."""
    critical_illness_insurance: StrictBool | None = None
    """参加大病保险."""
    resident_pension: StrictBool | None = None
    """参加城乡居民基本养老保险."""
    employee_pension: StrictBool | None = None
    """参加城镇职工基本养老保险."""
    medical_assistance: StrictBool | None = None
    """接受医疗救助."""
    work_place: Place | None = None
    """务工所在地 (e.g. 吉林省长春市)."""
    employment_channel: Channel | None = None
    """就业渠道 (易地搬迁后扶使用)."""
    public_welfare_post: Place | None = None
    """公益性岗位: the post held (e.g. 护林员)."""
    public_welfare_months: Annotated[int, Field(strict=True, ge=0, le=12)] | None = None
    """公益性岗位(月数): months in the post this year."""
    out_of_school_reason: Place | None = None
    """义务教育阶段未上学原因."""


class MemberIn(MemberAttributes):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    id_number: IdNumber
    relation: Relation
    phone: Phone | None = None
    """家庭成员联系电话: sealed at rest; read in full only as personal data, and exported."""
    sex: Literal["male", "female"] | None = None
    """Taken from the ID number; when given it must agree with it."""
    birth_date: date | None = None
    """Taken from the ID number; when given it must agree with it."""

    @model_validator(mode="after")
    def _agrees_with_id_number(self) -> MemberIn:
        if self.sex is not None and self.sex != idnumber.sex(self.id_number):
            raise ValueError("sex contradicts the ID number")
        if self.birth_date is not None and self.birth_date != idnumber.birth_date(self.id_number):
            raise ValueError("birth_date contradicts the ID number")
        return self


class MemberChange(MemberAttributes):
    """Only the fields given change; an explicit null clears one."""

    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
        | None
    ) = None
    relation: Relation | None = None
    phone: Phone | None = None
    """Sealed at rest; the trail keeps its last four digits. An explicit null clears it."""


class MemberOut(BaseModel):
    id: str
    name: str
    id_number_masked: str
    """The last 4 characters only."""
    relation: str
    sex: str
    birth_date: date | None
    """Only for roles that may read the ID number itself (village, township, city)."""
    birth_year: int
    labour_skill: str | None
    health: str | None
    education: str | None
    school_status: str | None
    medical_insurance: bool | None
    social_assistance: str | None
    social_assistance_monthly: Decimal | None
    member_number: str | None
    ethnicity: str | None
    employee_medical_insurance: bool | None
    critical_illness_insurance: bool | None
    resident_pension: bool | None
    employee_pension: bool | None
    medical_assistance: bool | None
    work_place: str | None
    employment_channel: str | None
    public_welfare_post: str | None
    public_welfare_months: int | None
    out_of_school_reason: str | None


Area = Annotated[Decimal, Field(ge=0, le=100000, decimal_places=2)]
"""Mu (亩) or square metres, at most two decimals."""


class HouseholdConditions(BaseModel):
    """The household's living conditions as the national sheet records them."""

    house_area: Area | None = None
    """住房面积, square metres."""
    has_power: StrictBool | None = None
    """通生活用电."""
    road_hardened: StrictBool | None = None
    """入户道路硬化."""
    main_road_distance: Annotated[Decimal, Field(ge=0, le=1000, decimal_places=2)] | None = None
    """与村主干路距离, kilometres."""
    sanitary_toilet: StrictBool | None = None
    """有卫生厕所."""
    farmland_area: Area | None = None
    """耕地面积 (亩)."""
    forest_area: Area | None = None
    """林地面积 (亩)."""
    returned_forest_area: Area | None = None
    """退耕还林面积 (亩)."""
    orchard_area: Area | None = None
    """林果面积 (亩)."""
    pasture_area: Area | None = None
    """牧草地面积 (亩)."""
    water_area: Area | None = None
    """水面面积 (亩)."""


CONDITIONS = tuple(HouseholdConditions.model_fields)


class HouseholdChange(HouseholdConditions):
    """Registry facts of the household itself; only the fields given change (an explicit null
    clears a condition)."""

    model_config = ConfigDict(extra="forbid")

    household_number: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z-]{1,32}$")] | None = (
        None
    )
    """户编号 in the national system, once it has given one."""
    village_group: VillageGroup | None = None
    bank_account: Annotated[str, StringConstraints(pattern=r"^\d{12,30}$")] | None = None
    """The account assistance is paid into; stored encrypted, shown masked."""


class HouseholdCase(BaseModel):
    id: str
    state: str
    is_open: bool
    opened_at: datetime


class HouseholdOut(HouseholdSummary, HouseholdConditions):
    household_number: str | None
    bank_account_masked: str | None
    members: list[MemberOut]
    cases: list[HouseholdCase]
    """Every case of the household, oldest first: its history, re-entries included."""


class OpenCaseRef(BaseModel):
    id: str
    state: str


class HouseholdFound(HouseholdSummary):
    """A registered household as a search finds it, with the case it is in, if any."""

    open_case: OpenCaseRef | None
    """The household's open case: it is already in a procedure."""
