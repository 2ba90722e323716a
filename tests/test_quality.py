"""数据质量: the national audits' softer checks, each tripped and passed, and the report."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pandas
import pytest

from app.exports import quality
from tests.helpers import Api, new_id_number

DAY = date(2026, 6, 1)
SOUND: dict[str, Any] = {
    "致贫/返贫风险1": "因病",
    "致贫/返贫风险2": "",
    "综合保障": "",
    "风险是否已消除": "否",
    "识别监测时间": "202603",
    "消除监测时间": "",
    "风险消除后家庭人均纯收入": "",
    "成员": [
        {
            "出生日期": "19700101",
            "劳动技能": "普通劳动力",
            "健康状况": "患大病",
            "在校生状况": "",
            "享受低保政策情况": "否",
        },
        {
            "出生日期": "20150101",
            "劳动技能": "无劳动力",
            "健康状况": "健康",
            "在校生状况": "小学五年级",
            "享受低保政策情况": "否",
        },
    ],
}
"""A household no rule flags."""


def member(n: int, **changes: str) -> dict[str, Any]:
    members = [dict(m) for m in SOUND["成员"]]
    members[n].update(changes)
    return {**SOUND, "成员": members}


BROKEN = {
    "risk_type_missing": ({**SOUND, "致贫/返贫风险1": ""}, SOUND),
    "lack_of_labour_with_able_members": (
        {**SOUND, "致贫/返贫风险2": "缺劳动力"},
        {**member(0, 劳动技能="丧失劳动力"), "致贫/返贫风险2": "缺劳动力"},
    ),
    "illness_without_ill_member": (member(0, 健康状况="健康"), SOUND),
    "disability_without_disabled_member": (
        {**SOUND, "致贫/返贫风险2": "因残"},
        {**member(1, 健康状况="残疾"), "致贫/返贫风险2": "因残"},
    ),
    "schooling_without_student": (
        {**member(1, 在校生状况=""), "致贫/返贫风险2": "因学"},
        {**SOUND, "致贫/返贫风险2": "因学"},
    ),
    "dibao_without_recipient": (
        {**SOUND, "综合保障": "纳入农村低保"},
        {**member(0, 享受低保政策情况="是"), "综合保障": "纳入农村低保"},
    ),
    "eliminated_without_after_fields": (
        {**SOUND, "风险是否已消除": "是", "消除监测时间": "202612"},
        {
            **SOUND,
            "风险是否已消除": "是",
            "消除监测时间": "202612",
            "风险消除后家庭人均纯收入": "9000.00",
        },
    ),
    "eliminated_too_soon": (
        {
            **SOUND,
            "风险是否已消除": "是",
            "消除监测时间": "202608",
            "风险消除后家庭人均纯收入": "9000.00",
        },
        {
            **SOUND,
            "风险是否已消除": "是",
            "消除监测时间": "202609",
            "风险消除后家庭人均纯收入": "9000.00",
        },
    ),
    "member_age_against_labour": (member(1, 劳动技能="普通劳动力"), SOUND),
    "member_age_against_schooling": (member(1, 出生日期="19900101"), SOUND),
}


def test_every_rule_is_tripped_and_passed_here() -> None:
    assert set(BROKEN) == set(quality.BY_CODE)
    assert quality.flags(SOUND, DAY) == []


@pytest.mark.parametrize("code", sorted(BROKEN))
def test_a_rule_trips_on_what_it_checks_and_passes_otherwise(code: str) -> None:
    broken, sound = BROKEN[code]
    assert quality.flags(broken, DAY) == [code]
    assert code not in quality.flags(sound, DAY)


def test_ages_are_counted_on_the_reports_day() -> None:
    """A pupil of 18 is in 九年级's range (13-19); the same record two years on is not."""
    pupil = member(1, 出生日期="20080301", 劳动技能="无劳动力", 在校生状况="九年级")
    assert quality.flags(pupil, date(2026, 6, 1)) == []
    assert quality.flags(pupil, date(2028, 6, 1)) == ["member_age_against_schooling"]


async def test_the_report_lists_each_rule_and_the_households_breaking_it(api: Api) -> None:
    flagged = await api.to_assisted()  # 因病, yet nobody in the household is recorded as ill
    sound = await api.to_assisted()
    household = (await api.case(sound))["household"]["id"]
    members = (await api.get("cadre.pinggang", f"/api/v1/households/{household}")).json()
    head = members["members"][0]["id"]
    patched = await api.client.patch(
        f"/api/v1/households/{household}/members/{head}",
        json={"health": "serious_illness"},
        headers=api.headers("cadre.pinggang"),
    )
    assert patched.status_code == 200, patched.text
    report = (await api.get("township.baishishan", "/api/v1/quality")).json()
    assert report["area"] == "220281102"
    assert report["households"] == 2
    by_rule = {r["code"]: r for r in report["rules"]}
    assert set(by_rule) == set(quality.BY_CODE)
    assert by_rule["illness_without_ill_member"]["households"] == 1
    assert by_rule["illness_without_ill_member"]["message"] == "标注“因病”但无患病成员"
    assert [(h["case_id"], h["codes"]) for h in report["flagged"]] == [
        (flagged, ["illness_without_ill_member"])
    ]
    # the same as Excel, read as county tools read the national sheet
    book = await api.get("township.baishishan", "/api/v1/quality", format="xlsx")
    frame = pandas.read_excel(io.BytesIO(book.content), header=2, dtype=str, keep_default_na=False)
    assert frame.to_dict("records") == [
        {
            "案件编号": flagged,
            "村代码": "220281102200",
            "村": "平岗村",
            "户主姓名": "王德福",
            "规则代码": "illness_without_ill_member",
            "问题": "标注“因病”但无患病成员",
        }
    ]
    # another township sees its own households only; outside the caller's area: 404
    other = (await api.get("township.tianbei", "/api/v1/quality")).json()
    assert other["households"] == 0
    assert other["flagged"] == []
    outside = await api.get("township.tianbei", "/api/v1/quality", area="220281102")
    assert outside.status_code == 404
    assert (await api.get("dept.civil-affairs", "/api/v1/quality")).status_code == 403


async def test_each_export_counts_the_flags_of_the_cases_it_carries(api: Api) -> None:
    await api.to_assisted()
    await api.to_assisted()
    response = await api.get("exporter.national", "/api/v1/exports/national")
    batch = response.headers["X-Export-Batch"]
    recorded = await api.get("exporter.national", f"/api/v1/exports/national/batches/{batch}")
    assert recorded.json()["quality"] == {"illness_without_ill_member": 2}


async def test_a_member_who_grows_out_of_school_is_flagged_later(api: Api) -> None:
    case_id = await api.to_assisted()
    household = (await api.case(case_id))["household"]["id"]
    pupil = await api.post(
        "cadre.pinggang",
        f"/api/v1/households/{household}/members",
        {
            "name": "王小明",
            "id_number": new_id_number("20080301", "male"),
            "relation": "son",
            "school_status": "grade_9",
            "labour_skill": "none",
        },
    )
    assert pupil.status_code == 201, pupil.text  # 18 today: accepted at the door (13-19)
    codes = {
        h["case_id"]: h["codes"]
        for h in (await api.get("bureau.jiaohe", "/api/v1/quality")).json()["flagged"]
    }
    assert "member_age_against_schooling" not in codes.get(case_id, [])
    api.clock.advance(timedelta(days=730))
    later = {
        h["case_id"]: h["codes"]
        for h in (await api.get("bureau.jiaohe", "/api/v1/quality")).json()["flagged"]
    }
    assert "member_age_against_schooling" in later[case_id]
