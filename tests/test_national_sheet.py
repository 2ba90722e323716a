"""The national sheet (监测对象信息) as county tools read it.

County data-quality tools load the national system's workbook with
``pandas.read_excel(path, header=2, dtype=str, keep_default_na=False)`` and look columns up by
their national names; the export is loaded exactly that way here.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas
from openpyxl import load_workbook
from sqlalchemy import select, text

from app import migrations
from app.areas.demo import load as load_demo_areas
from app.core.clock import FrozenClock
from app.core.db import make_engine, make_sessionmaker
from app.exports import document, national, projection
from app.households.models import Member
from app.national_sheet import labels, sheet
from tests.conftest import settings_for
from tests.helpers import VERIFICATION, Api, new_id_number
from tests.test_elimination import (
    assess,
    elimination_to_city,
    monitored_and_helped,
    publish_lines,
    set_head_labour,
)
from tests.test_measures import MEASURE, plan, progress

EXPORTER, PATH = "exporter.national", "/api/v1/exports/national"
COLUMNS_FILE = Path(__file__).parent / "data" / "national-sheet-columns.txt"
LISTED = [
    line
    for line in COLUMNS_FILE.read_text(encoding="utf-8").splitlines()
    if line and not line.startswith("#")
]
"""The national names the sheet must carry, spelled as the national sheet spells them."""
CODED = {
    "与户主关系": "与户主关系",
    "性别": "性别",
    "文化程度": "文化程度",
    "健康状况": "健康状况",
    "劳动技能": "劳动技能",
    "户类型": "户类型",
    "监测对象类别": "监测对象类别",
    "风险消除方式": "风险消除方式",
    **{f"致贫/返贫风险{n}": "致贫/返贫风险" for n in range(1, 6)},
}
FLAGS = [c.name for c in sheet.COLUMNS if c.format == "flag"]


def county_read(content: bytes) -> pandas.DataFrame:
    """The sheet as a county tool reads it."""
    return pandas.read_excel(io.BytesIO(content), header=2, dtype=str, keep_default_na=False)


async def a_household(api: Api) -> tuple[str, str, str]:
    """An assisted case whose household has a spouse, a mother and a student son; answers
    the case id, the head's and the mother's ID numbers."""
    head = new_id_number("19700101", "male")
    case_id = await api.to_assisted(id_number=head)
    await api.add_member(case_id, new_id_number("19720202", "female"), "李秀兰", "spouse")
    mother = new_id_number("19450303", "female")
    await api.add_member(case_id, mother, "王老太", "mother")
    household = (await api.case(case_id))["household"]["id"]
    son = await api.post(
        "cadre.pinggang",
        f"/api/v1/households/{household}/members",
        {
            "name": "王小明",
            "id_number": new_id_number("20150505", "male"),
            "relation": "son",
            "school_status": "primary_5",
            "labour_skill": "none",
            "medical_insurance": False,
            "phone": "13912345678",
        },
    )
    assert son.status_code == 201, son.text
    await api.must_fact("bureau.jiaohe", case_id, "measures", MEASURE)
    return case_id, head, mother


async def test_the_column_list_is_the_national_sheets() -> None:
    """Every name the national sheet uses, verbatim, in the versioned table; no name twice."""
    missing = [name for name in LISTED if name not in sheet.NAMES]
    assert missing == []
    assert len(sheet.NAMES) == len(set(sheet.NAMES)) == 100
    assert sheet.NAMES[:3] == ("县", "乡", "村")
    assert national.headers()[: len(sheet.NAMES)] == list(sheet.NAMES)


async def test_every_code_list_maps_into_its_national_list() -> None:
    """No identifier maps outside its national list (之父母, a combined item, is gone)."""
    for name, spec in labels.CODE_LISTS.items():
        national_items = set(spec["national"])
        for identifier, item in spec["items"].items():
            items = item.values() if isinstance(item, dict) else [item]
            assert set(items) <= national_items, (name, identifier, item)
    assert "之父母" not in labels.NATIONAL["与户主关系"]
    # the lists not yet confirmed as the national ones say so
    assert {name for name, spec in labels.CODE_LISTS.items() if spec.get("provisional")} == {
        "education",
        "school_status",
        "natural_disaster_kind",
        "measure_item",
    }
    assert labels.relation("father_in_law", "male") == "之岳父"
    assert labels.relation("father_in_law", "female") == "之公公"


async def test_the_xlsx_loads_as_county_tools_load_the_national_sheet(api: Api) -> None:
    case_id, head, mother = await a_household(api)
    content = (await api.get(EXPORTER, PATH, format="xlsx")).content
    frame = county_read(content)
    assert [name for name in LISTED if name not in frame.columns] == []
    assert len(frame) == 4  # one row per member
    rows = {row["证件号码"]: row for row in frame.to_dict("records")}
    head_row, mother_row = rows[head], rows[mother]
    assert (head_row["县"], head_row["乡"], head_row["村"]) == ("蛟河市", "白石山镇", "平岗村")
    assert head_row["出生日期"] == "19700101"
    assert mother_row["出生日期"] == "19450303"
    assert head_row["与户主关系"] == "户主"
    assert mother_row["与户主关系"] == "之母"
    assert head_row["证件类型"] == "居民身份证"
    assert head_row["性别"] == "男"
    assert head_row["识别监测时间"].isdigit()
    assert len(head_row["识别监测时间"]) == 6
    assert head_row["致贫/返贫风险1"] == "因病"
    assert head_row["就业帮扶"] == MEASURE["content"]
    assert head_row["实施开发式帮扶措施情况"] == "是"
    assert head_row["整户无劳动能力兜底保障户"] == "否"
    assert head_row["是否有家庭成员未参加城乡居民（职工）基本医疗保险"] == "是"  # the son
    assert float(head_row["人均纯收入（元）"]) > 0
    assert head_row["信息采集人"] == "张建国"  # who recorded the verification
    # household fields repeat on every member row
    assert {r["监测对象类别"] for r in rows.values()} == {"突发严重困难户"}
    assert {r["case_id"] for r in rows.values()} == {case_id}
    # every coded value belongs to its national list; every flag is 是, 否 or empty
    for column, listed in CODED.items():
        values = set(frame[column]) - {""}
        assert values <= labels.NATIONAL[listed], (column, values)
    for column in FLAGS:
        assert set(frame[column]) <= {"是", "否", ""}, column
    # amounts are numeric cells and identifiers text cells, as Excel holds them
    book = load_workbook(io.BytesIO(content))
    cells = list(book.active.iter_rows(min_row=3, values_only=True))
    header, first = list(cells[0]), cells[1]
    assert isinstance(first[header.index("人均纯收入（元）")], int | float)
    assert isinstance(first[header.index("证件号码")], str)
    assert isinstance(first[header.index("出生日期")], str)
    # phones in full, as text: the household's on every row, a member's on theirs
    assert {r["户联系电话"] for r in rows.values()} == {"13800000000"}
    assert sorted(r["家庭成员联系电话"] for r in rows.values()) == ["", "", "", "13912345678"]
    assert isinstance(first[header.index("户联系电话")], str)


async def test_csv_and_json_lines_carry_the_same_names(api: Api) -> None:
    case_id, head, _ = await a_household(api)
    utf8 = (await api.get(EXPORTER, PATH, format="csv", after=-1)).content.decode("utf-8-sig")
    gb = (await api.get(EXPORTER, PATH, format="csv", encoding="gb18030", after=-1)).content
    rows = list(csv.DictReader(io.StringIO(utf8)))
    assert rows == list(csv.DictReader(io.StringIO(gb.decode("gb18030"))))
    assert set(LISTED) <= set(rows[0])
    assert len(rows) == 4
    [record] = [
        json.loads(line) for line in (await api.get(EXPORTER, PATH, after=-1)).text.splitlines()
    ]
    # JSON Lines leave an empty field out; every name they carry is the sheet's or the
    # service's, and every value agrees with the CSV's (an absent name is an empty cell)
    household_names = {c.name for c in sheet.HOUSEHOLD}
    service = set(national.SERVICE_COLUMNS) | {"成员"}
    assert set(record) <= household_names | service
    assert record["case_id"] == case_id
    member_names = {c.name for c in sheet.MEMBER}
    assert all(set(m) <= member_names | service for m in record["成员"])
    by_number = {m["证件号码"]: m for m in record["成员"]}
    csv_head = next(r for r in rows if r["证件号码"] == head)
    assert all(csv_head[name] == str(by_number[head].get(name, "")) for name in member_names)
    assert all(csv_head[name] == str(record.get(name, "")) for name in household_names)
    assert {"县", "乡", "村", "户类型", "监测对象类别"} <= set(record)  # what it holds, it carries


async def test_a_watched_household_is_one_without_labour_under_guarantee(api: Api) -> None:
    """A household kept under watch shows as 整户无劳动能力兜底保障户, its guarantee in 综合保障."""
    case_id = await monitored_and_helped(api)
    await set_head_labour(api, case_id, "lost")
    social = await plan(
        api, case_id, {**MEASURE, "category": "social_security", "content": "纳入农村低保"}
    )
    started = await progress(api, "township.baishishan", case_id, social, status="in_progress")
    assert started.status_code == 201, started.text
    await api.must("bureau.jiaohe", case_id, "keep_under_watch")
    [watched] = [json.loads(line) for line in (await api.get(EXPORTER, PATH)).text.splitlines()]
    assert watched["综合保障"] == "纳入农村低保"
    assert watched["case_id"] == case_id
    assert watched["整户无劳动能力兜底保障户"] == "是"
    assert watched["风险是否已消除"] == "否"
    assert watched.get("风险消除后家庭人均纯收入", "") == ""


async def test_an_eliminated_household_keeps_the_income_it_was_assisted_on(api: Api) -> None:
    """人均纯收入（元） is the newest assessment before the elimination procedure; the one the
    elimination rested on goes to the 风险消除后 columns only."""
    await publish_lines(api)
    gone = await monitored_and_helped(api)
    await set_head_labour(api, gone, "ordinary")
    household = (await api.case(gone))["household"]["id"]
    (head,) = (await api.get("cadre.pinggang", f"/api/v1/households/{household}")).json()["members"]
    insured = await api.client.patch(
        f"/api/v1/households/{household}/members/{head['id']}",
        json={"medical_insurance": True},
        headers=api.headers("cadre.pinggang"),
    )
    assert insured.status_code == 200, insured.text
    await assess(api, gone, "2026-03-14", wage_income="41000.00")
    api.clock.advance(timedelta(days=400))
    await assess(api, gone, "2027-04-18", wage_income="42000.00", insurance_claims="3000.00")
    await elimination_to_city(api, gone, insurance_claims="500.00")  # STABLE: 40000.00 wages
    await api.must("bureau.jiaohe", gone, "mark_risk_eliminated", {"method": "assisted_out"})
    [record] = [json.loads(line) for line in (await api.get(EXPORTER, PATH)).text.splitlines()]
    facts = (await api.case(gone))["facts"]
    assert record["风险是否已消除"] == "是"
    assert len(record["消除监测时间"]) == 6
    assert record["工资性收入"] == "42000.00"  # the last assessment before the procedure
    assert record["风险消除后工资性收入"] == "40000.00"  # the elimination's verification
    assert (
        record["风险消除后家庭人均纯收入"]
        == facts["elimination"]["income_after"]["net_income_per_person"]
    )
    assert record["风险消除方式"] == "帮扶消除"
    # 理赔收入 beside the incomes, before and after; not counted in the net income
    assert (record["理赔收入"], record["风险消除后理赔收入"]) == ("3000.00", "500.00")
    # the elimination's verification found housing and water secure; the head is insured
    assert record["风险消除后是否住房损毁"] == record["风险消除后是否饮水设施损毁"] == "否"
    assert record["风险消除后是否有家庭成员未参加城乡居民（职工）基本医疗保险"] == "否"


async def test_the_disaster_sub_item_the_new_measure_columns_and_the_collector(api: Api) -> None:
    case_id = await api.to_village_nomination()
    await api.to_city(case_id)
    classification = {
        "monitoring_type": "sudden_hardship",
        "risk_types": ["illness"],
        "responsible_person": {"name": "李乡长"},
        "natural_disaster_kind": "flood",
    }
    # a disaster's sub-item belongs to the risk type natural_disaster only
    wrong = await api.fact("bureau.jiaohe", case_id, "classification", classification)
    assert wrong.status_code == 422
    assert "natural_disaster_kind" in wrong.text
    classification["risk_types"] = ["natural_disaster", "housing_safety"]
    await api.must_fact("bureau.jiaohe", case_id, "classification", classification)
    await api.must("bureau.jiaohe", case_id, "confirm")
    columns = {
        "compulsory_education": "义务教育保障",
        "relocation": "搬迁",
        "living_conditions": "生产生活条件改善",
        "infrastructure": "基础设施建设",
    }
    for category, column in columns.items():
        await plan(api, case_id, {**MEASURE, "category": category, "content": f"{column}措施"})
    await plan(
        api,
        case_id,
        {
            **MEASURE,
            "category": "public_welfare_post",
            "content": "护林员, 每月 500 元",
            "national_item": "乡村公益性岗位",
        },
    )
    await api.must_fact(
        "cadre.pinggang",
        case_id,
        "income-assessments",
        {**VERIFICATION, "verified_on": api.today(), "collector_phone": "0432-65551234"},
    )
    [record] = [json.loads(line) for line in (await api.get(EXPORTER, PATH)).text.splitlines()]
    assert record["致贫/返贫风险1"] == "因灾"
    assert record["因自然灾害子项"] == "洪涝"
    assert record["因自然灾害子项"] in labels.NATIONAL["因自然灾害子项"]
    for column in columns.values():
        assert record[column] == f"{column}措施", column
    assert "其他备注" not in record  # none of them is an 'other' any more
    # 信息采集人: the user who recorded the verification (the demo's 张建国), not its verifiers
    assert record["信息采集人"] == "张建国"
    assert record["信息采集人联系电话"] == "0432-65551234"
    assert record["公益岗位帮扶"] == "乡村公益性岗位"
    assert record["公益性岗位帮扶其他备注"] == "护林员, 每月 500 元"
    # not eliminated, no claims recorded: those columns are empty, not 否
    assert "风险消除后是否住房损毁" not in record
    assert "理赔收入" not in record


STALE = """UPDATE national_document SET sheet_version = NULL,
    document = '{"case_id":"' || case_id || '","成员":[]}'"""
"""A document as an older release wrote it: other names, no version."""


async def test_a_document_of_an_older_sheet_is_rewritten_before_an_export(api: Api) -> None:
    case_id = await api.to_assisted()
    written = (await api.get(EXPORTER, PATH)).text
    engine = make_engine(api.settings.database_url)
    async with make_sessionmaker(engine)() as session, session.begin():
        await session.execute(text(STALE))
    again = (await api.get(EXPORTER, PATH, after=-1)).text
    await engine.dispose()
    assert again == written
    assert case_id in again


async def test_revision_0028_splits_the_combined_relations_by_sex(
    tmp_path: Path, clock: FrozenClock
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'relations.sqlite3'}"
    await asyncio.to_thread(migrations.upgrade, url)
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session, session.begin():
        await load_demo_areas(session)
    async with Api.start(settings_for(url), clock) as api:
        case_id = await api.to_assisted()
        for born, sex, relation in (
            ("19400101", "female", "mother"),
            ("19380101", "male", "father"),
            ("19200101", "female", "grandmother"),
        ):
            await api.add_member(case_id, new_id_number(born, sex), "某", relation)

    async def relations() -> list[str]:
        async with make_sessionmaker(engine)() as session:
            found = await session.execute(select(Member.relation).order_by(Member.birth_date))
            return list(found.scalars())

    assert await relations() == ["grandmother", "father", "mother", "head"]
    await asyncio.to_thread(migrations.downgrade, url, "0027")
    assert await relations() == ["grandparent", "parent", "parent", "head"]
    await asyncio.to_thread(migrations.upgrade, url)
    assert await relations() == ["grandmother", "father", "mother", "head"]
    await engine.dispose()


def test_projection_reads_only_the_sheets_sources() -> None:
    """Every source the household columns name is one the projection computes (a typo in
    the table would leave a column silently empty)."""
    computed = set(projection.sources({"confirmed_at": "2026-03-01T00:00:00+00:00"}))
    named = {c.source for c in sheet.HOUSEHOLD if c.source}
    assert named - computed - set(document.COMPOSED) == set()
    assert set(document.COMPOSED) <= named
    member = {c.source for c in sheet.MEMBER if c.source}
    assert member - set(document.member_sources(_AnyMember())) == set()


class _AnyMember:
    """A member with every field the registry holds."""

    id, member_number, name, sex, ethnicity, relation = "m", "1", "某", "male", "汉族", "head"
    birth_date, education, school_status, health = None, "primary", "primary_3", "healthy"
    labour_skill, medical_insurance, social_assistance = "none", True, "dibao"


async def test_the_sheet_is_published_with_its_version(api: Api) -> None:
    published = (await api.get(EXPORTER, f"{PATH}/columns")).json()
    assert published["title"] == "监测对象信息"
    assert published["version"] == sheet.VERSION
    assert [c["name"] for c in published["columns"]] == list(sheet.NAMES)
    by_name = {c["name"]: c for c in published["columns"]}
    assert by_name["出生日期"] == {
        "name": "出生日期",
        "level": "人",
        "format": "date",
        "collected": True,
    }
    assert by_name["耕地面积（亩）"]["collected"] is True
    assert by_name["理赔收入"]["collected"] is True
    assert by_name["户联系电话"]["collected"] is True
    assert all(c["collected"] for c in published["columns"])  # every column has its source
    assert published["service_columns"][:2] == ["case_id", "member_id"]


def test_the_readme_shows_the_sheet_as_it_is() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    shown = readme.split("<!-- national-sheet -->")[1].split("<!-- /national-sheet -->")[0]
    assert [name.strip() for name in shown.split(" · ")] == list(sheet.NAMES)


async def test_the_registry_records_what_the_sheet_asks(api: Api) -> None:
    """Living conditions on the household and insurance, work and schooling on each member
    are recorded through the registry (events of the open case) and reach the sheet."""
    head = new_id_number("19700101", "male")
    case_id = await api.to_assisted(id_number=head)
    household = (await api.case(case_id))["household"]["id"]
    path = f"/api/v1/households/{household}"
    conditions = {
        "house_area": "85.50",
        "has_power": True,
        "road_hardened": False,
        "main_road_distance": "1.20",
        "sanitary_toilet": True,
        "farmland_area": "6.5",
        "forest_area": "0",
        "water_area": "0.75",
    }
    refused = [
        {"has_power": "yes"},
        {"house_area": "-1"},
        {"farmland_area": "1.234"},
        {"roof": "tiles"},
    ]
    for body in refused:
        answer = await api.client.patch(path, json=body, headers=api.headers("cadre.pinggang"))
        assert answer.status_code == 422, (body, answer.text)
    events_before = await api.event_count(case_id)
    changed = await api.client.patch(path, json=conditions, headers=api.headers("cadre.pinggang"))
    assert changed.status_code == 200, changed.text
    assert changed.json()["house_area"] == "85.50"
    assert changed.json()["has_power"] is True
    assert await api.event_count(case_id) == events_before + 1  # an event of the open case
    member = changed.json()["members"][0]["id"]
    worker: dict[str, Any] = {
        "resident_pension": True,
        "employee_medical_insurance": False,
        "critical_illness_insurance": True,
        "medical_assistance": False,
        "work_place": "吉林省长春市",
        "public_welfare_post": "护林员",
        "public_welfare_months": 6,
    }
    bodies: tuple[dict[str, Any], ...] = (
        {"public_welfare_months": 13},
        {"resident_pension": "是"},
        {"work_place": ""},
    )
    for body in bodies:
        answer = await api.client.patch(
            f"{path}/members/{member}", json=body, headers=api.headers("cadre.pinggang")
        )
        assert answer.status_code == 422, (body, answer.text)
    answer = await api.client.patch(
        f"{path}/members/{member}", json=worker, headers=api.headers("cadre.pinggang")
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["work_place"] == "吉林省长春市"
    frame = county_read((await api.get(EXPORTER, PATH, format="xlsx")).content)
    [row] = frame.to_dict("records")
    assert row["证件号码"] == head
    assert (row["住房面积"], row["耕地面积（亩）"], row["水面面积"]) == ("85.5", "6.5", "0.75")
    assert (row["是否通生活用电"], row["入户道路是否硬化"], row["是否有卫生厕所"]) == (
        "是",
        "否",
        "是",
    )
    assert row["与村主干路距离"] == "1.2"
    assert row["林地面积（亩）"] == "0"
    assert (row["是否参加城乡居民基本养老保险"], row["是否参加城镇职工基本医疗保险"]) == (
        "是",
        "否",
    )
    assert (row["是否参加大病保险"], row["是否接受医疗救助"]) == ("是", "否")
    assert (row["务工所在地"], row["公益性岗位"], row["公益性岗位(月数)"]) == (
        "吉林省长春市",
        "护林员",
        "6",
    )
    assert row["退耕还林面积（亩）"] == ""
    assert row["是否参加城镇职工基本养老保险"] == ""


async def test_schooling_goes_out_by_grade_and_older_stages_wait_for_theirs(api: Api) -> None:
    """在校生状况 takes grades; a stage recorded before grades is no longer accepted, and goes
    out empty (a stage names no grade) until the village records the grade."""
    case_id, _, mother = await a_household(api)
    household = (await api.case(case_id))["household"]["id"]
    path = f"/api/v1/households/{household}/members"
    stage = await api.post(
        "cadre.pinggang",
        path,
        {
            "name": "王小丽",
            "id_number": new_id_number("20120909", "female"),
            "relation": "daughter",
            "school_status": "compulsory",
        },
    )
    assert stage.status_code == 422
    assert "school_status" in stage.text
    pupil = new_id_number("20120909", "female")
    graded = await api.post(
        "cadre.pinggang",
        path,
        {
            "name": "王小丽",
            "id_number": pupil,
            "relation": "daughter",
            "school_status": "grade_8",
            "labour_skill": "none",
        },
    )
    assert graded.status_code == 201, graded.text
    frame = county_read((await api.get(EXPORTER, PATH, format="xlsx")).content)
    by_number = {row["证件号码"]: row for row in frame.to_dict("records")}
    assert by_number[pupil]["在校生状况"] == "八年级"
    assert {r["在校生状况"] for r in by_number.values()} <= labels.NATIONAL["在校生状况"] | {""}
    assert "小学五年级" in {r["在校生状况"] for r in by_number.values()}  # the son
    # members a release before grades recorded: their stage, forced back in the registry
    engine = make_engine(api.settings.database_url)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE member SET school_status = 'compulsory' WHERE school_status = 'grade_8'")
        )
        await connection.execute(
            text("UPDATE member SET school_status = 'not_applicable' WHERE relation = 'mother'")
        )
        await connection.execute(text("UPDATE national_document SET sheet_version = NULL"))
    await engine.dispose()
    frame = county_read((await api.get(EXPORTER, PATH, format="xlsx", after=-1)).content)
    by_number = {row["证件号码"]: row for row in frame.to_dict("records")}
    assert by_number[pupil]["在校生状况"] == ""  # a stage, not a grade
    assert by_number[mother]["在校生状况"] == "非在校生"


async def test_what_a_member_receives_of_dibao_is_kept_and_exported(api: Api) -> None:
    case_id, _, _ = await a_household(api)
    household = (await api.case(case_id))["household"]["id"]
    path = f"/api/v1/households/{household}/members"
    base = {"name": "王老汉", "relation": "father", "social_assistance": "dibao"}
    for wrong in ({"social_assistance_monthly": "560.005"}, {"social_assistance_monthly": -1}):
        answer = await api.post(
            "cadre.pinggang",
            path,
            {**base, "id_number": new_id_number("19400101", "male"), **wrong},
        )
        assert answer.status_code == 422, answer.text
    none = await api.post(
        "cadre.pinggang",
        path,
        {
            **base,
            "id_number": new_id_number("19400101", "male"),
            "social_assistance": "none",
            "social_assistance_monthly": "560.00",
        },
    )
    assert none.status_code == 422
    assert none.json()["errors"][0]["type"] == ("assistance_amount_without_assistance")
    father = new_id_number("19400101", "male")
    added = await api.post(
        "cadre.pinggang", path, {**base, "id_number": father, "social_assistance_monthly": "560.00"}
    )
    assert added.status_code == 201, added.text
    assert added.json()["social_assistance_monthly"] == "560.00"
    content = (await api.get(EXPORTER, PATH, format="xlsx")).content
    rows = {r["证件号码"]: r for r in county_read(content).to_dict("records")}
    assert rows[father]["低保特困月保障金额（元）"] == "560"
    assert rows[father]["享受低保政策情况"] == "是"
    book = load_workbook(io.BytesIO(content))
    cells = list(book.active.iter_rows(min_row=3, values_only=True))
    header = list(cells[0])
    amounts = [row[header.index("低保特困月保障金额（元）")] for row in cells[1:]]
    assert sorted(a for a in amounts if a is not None) == [560]  # a numeric cell


async def test_a_measure_names_its_national_item_and_the_sheet_carries_it(api: Api) -> None:
    case_id = await api.to_assisted()
    planted = {
        **MEASURE,
        "category": "industry",
        "content": "发展黑木耳种植 2 亩",
        "national_item": "种植业",
    }
    await plan(api, case_id, planted)
    api.clock.advance(timedelta(minutes=1))  # the columns list the measures in the order planned
    await plan(
        api,
        case_id,
        {**MEASURE, "category": "industry", "content": "养牛 2 头", "national_item": "养殖业"},
    )
    await plan(api, case_id, {**MEASURE, "category": "health", "content": "家庭医生签约"})
    before = await api.event_count(case_id)
    for item, category in (
        ("种植业帮扶", "industry"),
        ("种植业", "employment"),
        ("种植业", "pairing"),
    ):
        body = {**planted, "category": category, "national_item": item}
        wrong = await api.fact("bureau.jiaohe", case_id, "measures", body)
        assert wrong.status_code == 422, wrong.text
        assert wrong.json()["errors"][0]["type"] == "measure_item_unknown", wrong.text
    assert await api.event_count(case_id) == before
    [record] = [json.loads(line) for line in (await api.get(EXPORTER, PATH)).text.splitlines()]
    assert record["产业帮扶"] == "种植业；养殖业"  # the national items, joined the national way
    assert record["健康帮扶"] == "家庭医生签约"  # no item named: the measure's own words
    for name in record["产业帮扶"].split("；"):
        assert name in labels.NATIONAL["帮扶措施"]
