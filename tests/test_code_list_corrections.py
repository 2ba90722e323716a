"""The city corrects the national code lists without a release (app.national_sheet.corrections)."""

from __future__ import annotations

import json
import time
from typing import Any

from app.national_sheet import corrections, labels
from tests.helpers import Api, new_id_number

PATH = "/api/v1/code-lists"
EXPORTER, EXPORT = "exporter.national", "/api/v1/exports/national"
EDUCATION: dict[str, Any] = {
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
"""The city's word on 文化程度: the release's 中专（中技） is 中专 in the national system."""


async def exported(api: Api) -> dict[str, Any]:
    [record] = [
        json.loads(line) for line in (await api.get(EXPORTER, EXPORT, after=-1)).text.splitlines()
    ]
    return dict(record)


async def a_household_with_a_vocational_graduate(api: Api) -> str:
    case_id = await api.to_assisted()
    household = (await api.case(case_id))["household"]["id"]
    added = await api.post(
        "cadre.pinggang",
        f"/api/v1/households/{household}/members",
        {
            "name": "王小军",
            "id_number": new_id_number("20000101", "male"),
            "relation": "son",
            "education": "vocational",
        },
    )
    assert added.status_code == 201, added.text
    return case_id


def educations(record: dict[str, Any]) -> set[str]:
    return {m.get("文化程度", "") for m in record["成员"]} - {""}


async def test_a_correction_reaches_every_document_before_it_is_read(api: Api) -> None:
    await a_household_with_a_vocational_graduate(api)
    assert educations(await exported(api)) == {"中专（中技）"}
    lists = (await api.get("auditor.jiaohe", PATH)).json()
    assert lists["version"] == "2022.1"
    assert lists["lists"]["education"]["provisional"]

    body = {"reason": "省防返贫监测系统文化程度选项为“中专”", "lists": {"education": EDUCATION}}
    assert (await api.post("cadre.pinggang", f"{PATH}/corrections", body)).status_code == 403
    made = await api.post("bureau.jiaohe", f"{PATH}/corrections", body)
    assert made.status_code == 201, made.text
    assert made.json()["version"] == "2022.1/c1"
    assert "provisional" not in made.json()["lists"]["education"]  # the city has said
    assert educations(await exported(api)) == {"中专"}  # rewritten before the export
    history = (await api.get("auditor.jiaohe", f"{PATH}/corrections")).json()
    assert [(h["number"], h["changed"], h["created_by"]) for h in history] == [
        (1, ["education"], "bureau.jiaohe")
    ]
    ledger = (await api.get("bureau.jiaohe", "/api/v1/ledgers/monitored-households")).json()
    assert "户联系电话" not in ledger["columns"]
    assert ledger["rows"]


async def test_a_process_with_older_lists_writes_documents_the_export_rewrites(api: Api) -> None:
    case_id = await a_household_with_a_vocational_graduate(api)
    body = {"reason": "中专", "lists": {"education": EDUCATION}}
    assert (await api.post("bureau.jiaohe", f"{PATH}/corrections", body)).status_code == 201
    # another process, started before the correction and trusting its lists for a while
    corrections.forget()
    corrections._checked["at"] = time.monotonic()
    await api.must_fact(
        "bureau.jiaohe",
        case_id,
        "measures",
        {
            "category": "health",
            "content": "慢病签约服务",
            "responsible_unit": "卫健局",
            "responsible_person": {"name": "李医生"},
            "starts_on": "2026-04-01",
        },
    )
    assert labels.EDUCATION["vocational"] == "中专（中技）"  # it wrote with the release's lists
    assert educations(await exported(api)) == {"中专"}  # the export asked, and rewrote it
    assert labels.ACTIVE == "2022.1/c1"


async def test_a_correction_that_does_not_hold_is_refused_whole(api: Api) -> None:
    broken: list[tuple[dict[str, Any], str]] = [
        ({"schooling": EDUCATION}, "lists.schooling"),
        ({"education": {**EDUCATION, "items": {"primary": "小学"}}}, "lists.education.items"),
        (
            {"education": {**EDUCATION, "items": {**EDUCATION["items"], "phd": "博士"}}},
            "lists.education.items",
        ),
        (
            {"education": {**EDUCATION, "items": {**EDUCATION["items"], "college": "大学"}}},
            "lists.education.items.college",
        ),
        (
            {"education": {**EDUCATION, "national": [*EDUCATION["national"], "小学"]}},
            "lists.education.national",
        ),
        ({"relation": {"national": ["户主"], "items": {"head": "户主"}}}, "lists.relation.items"),
    ]
    for lists, field in broken:
        answer = await api.post(
            "bureau.jiaohe", f"{PATH}/corrections", {"reason": "x", "lists": lists}
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "code_list_invalid"
        assert field in {e["field"] for e in answer.json()["errors"]}, answer.text
    for body in (
        {"lists": {"education": EDUCATION}},
        {"reason": "x", "lists": {}},
        {"reason": "x", "lists": {"education": {**EDUCATION, "extra": 1}}},
    ):
        answer = await api.post("bureau.jiaohe", f"{PATH}/corrections", body)
        assert answer.status_code == 422, answer.text
    assert (await api.get("auditor.jiaohe", f"{PATH}/corrections")).json() == []
    assert (await api.get("auditor.jiaohe", PATH)).json()["version"] == "2022.1"
    # the in-laws keep their items by the head's sex through a correction
    relation = labels.RELEASED["relation"]
    kept = await api.post(
        "bureau.jiaohe",
        f"{PATH}/corrections",
        {
            "reason": "原样确认",
            "lists": {"relation": {"national": relation["national"], "items": relation["items"]}},
        },
    )
    assert kept.status_code == 201, kept.text
    assert labels.relation("father_in_law", "female") == "之公公"


async def test_a_renamed_measure_item_is_the_one_the_door_takes(api: Api) -> None:
    case_id = await api.to_assisted()
    released = labels.RELEASED["measure_item"]
    items = {**released["items"], "industry.1": "种植业帮扶"}
    national = [("种植业帮扶" if n == "种植业" else n) for n in released["national"]]
    made = await api.post(
        "bureau.jiaohe",
        f"{PATH}/corrections",
        {
            "reason": "省系统措施名称",
            "lists": {"measure_item": {"national": national, "items": items}},
        },
    )
    assert made.status_code == 201, made.text
    measure = {
        "category": "industry",
        "content": "黑木耳",
        "responsible_unit": "农业农村局",
        "responsible_person": {"name": "李站长"},
        "starts_on": "2026-04-01",
    }
    old = await api.fact(
        "bureau.jiaohe", case_id, "measures", {**measure, "national_item": "种植业"}
    )
    assert old.status_code == 422
    assert "种植业帮扶" in old.text
    new = await api.fact(
        "bureau.jiaohe", case_id, "measures", {**measure, "national_item": "种植业帮扶"}
    )
    assert new.status_code == 201, new.text
