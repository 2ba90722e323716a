"""Department warning batches: per-row reports, idempotent re-uploads, encodings refused whole,
the city's distribution, and the feedback each department gets for its own batches only."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timedelta
from typing import Any

from openpyxl import Workbook
from sqlalchemy import func, select

from app.auth.tokens import mint
from app.department_warnings.models import DepartmentWarning, WarningBatch
from tests.helpers import CLASSIFICATION, Api, new_id_number
from workflows.vocabulary import Role

PATH = "/api/v1/warning-batches"
CSV = "text/csv; charset=utf-8"
PINGGANG, LAODONG = "220281102200", "220281105200"
HEADER = "姓名,证件号码,村代码,风险类型,预警信息,预警日期\n"


def department(api: Api, name: str) -> dict[str, str]:
    token = mint(
        api.settings,
        sub=f"dept.{name}",
        role=Role.department,
        area="220281",
        department=name,
        now=api.clock.now(),
        ttl=timedelta(days=3650),
    )
    return {"Authorization": f"Bearer {token}"}


async def upload(
    api: Api,
    body: bytes,
    content_type: str = CSV,
    user: str = "dept.civil-affairs",
    headers: dict[str, str] | None = None,
    **params: str,
) -> Any:
    auth = headers or api.headers(user)
    return await api.client.post(
        PATH, content=body, params=params, headers={**auth, "Content-Type": content_type}
    )


async def stored(api: Api) -> tuple[int, int]:
    async with api.app.state.sessionmaker() as session:
        batches = await session.execute(select(func.count()).select_from(WarningBatch))
        rows = await session.execute(select(func.count()).select_from(DepartmentWarning))
        return batches.scalar_one(), rows.scalar_one()


async def report(api: Api, batch_id: str, user: str = "dept.civil-affairs") -> list[Any]:
    page = await api.get(user, f"{PATH}/{batch_id}/rows", limit=2)
    items: list[Any] = []
    while True:
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        after = page.json()["next_after"]
        if after is None:
            return items
        page = await api.get(user, f"{PATH}/{batch_id}/rows", limit=2, after=after)


async def test_a_mixed_batch_gets_an_exact_per_row_report(api: Api) -> None:
    person, registered = new_id_number("19800101"), new_id_number("19600101")
    monitored = new_id_number("19550101")
    miswritten = person[:17] + ("0" if person[17] == "X" else "X")  # never the right one
    await api.post(
        "cadre.laodong",
        "/api/v1/households",
        {"head_name": "钱五", "size": 2, "head_id_number": registered, "village_code": LAODONG},
    )
    opened = await api.open_case("cadre_found", id_number=monitored)
    text = (
        HEADER
        + "\n".join(
            [
                f"张一,{person},{PINGGANG},因病,住院费用高,2026-02-20",  # 2: accepted
                f"李二,{miswritten},{PINGGANG},illness,慢性病,",  # 3: bad check character
                f"王三,{new_id_number()},220281199999,因学,学费,",  # 4: unknown village
                f"张一,{person},{PINGGANG},因病,重复的预警,",  # 5: duplicates line 2
                f"张一,{person},{PINGGANG},因学,另一风险,",  # 6: another risk: accepted
                f"王德福,{monitored},{PINGGANG},accident,车祸,",  # 7: has an open case
                f"钱五,{registered},{LAODONG},其他,务工中断,",  # 8: a registered household
                ",,,,,",  # 9: blank, skipped
                "孙六,12345,村,火星,,2026-13-01",  # 10: every reason at once
            ]
        )
        + "\n"
    )
    response = await upload(
        api, text.encode(), filename="民政局2026年3月.csv", reference="MZ-2026-03"
    )
    assert response.status_code == 201, response.text
    batch = response.json()
    assert response.headers["Location"] == f"{PATH}/{batch['id']}"
    assert (batch["source"], batch["sender"], batch["format"], batch["encoding"]) == (
        "department",
        "civil_affairs",
        "csv",
        "utf-8",
    )
    assert {
        k: batch[k]
        for k in (
            "rows",
            "accepted",
            "rejected",
            "matched_households",
            "matched_open_cases",
            "distributed",
        )
    } == {
        "rows": 8,
        "accepted": 4,
        "rejected": 4,
        "matched_households": 2,
        "matched_open_cases": 1,
        "distributed": 0,
    }
    rows = await report(api, batch["id"])
    assert [
        (r["line"], r["status"], [x["code"] for x in r["reasons"]], r["matched"]) for r in rows
    ] == [
        (2, "accepted", [], None),
        (3, "rejected", ["id_number_invalid"], None),
        (4, "rejected", ["village_unknown"], None),
        (5, "rejected", ["duplicate_row"], None),
        (6, "accepted", [], None),
        (7, "accepted", [], "open_case"),
        (8, "accepted", [], "household"),
        (
            10,
            "rejected",
            [
                "id_number_invalid",
                "village_unknown",
                "risk_type_unknown",
                "description_missing",
                "date_invalid",
            ],
            None,
        ),
    ]
    assert rows[3]["reasons"][0]["message"] == "The same person and risk as line 2."
    assert rows[0]["risk_type"] == "illness"
    assert rows[0]["name"] == "张一"
    assert rows[0]["id_number_masked"] == "*" * 14 + person[-4:]
    assert [r["line"] for r in batch["rejected_rows"]] == [3, 4, 5, 10]
    only = await api.get("dept.civil-affairs", f"{PATH}/{batch['id']}/rows", status="rejected")
    assert [r["line"] for r in only.json()["items"]] == [3, 4, 5, 10]
    assert opened["id"]  # the open case the row matched

    before = await stored(api)
    again = await upload(api, text.encode(), filename="另一个名字.csv", reference="MZ-2026-03")
    assert again.status_code == 200
    assert again.json()["id"] == batch["id"]
    assert await stored(api) == before  # the same file again changes nothing
    reused = await upload(
        api,
        (text + f"周七,{new_id_number()},{PINGGANG},因残,x,\n").encode(),
        reference="MZ-2026-03",
    )
    assert reused.status_code == 409
    assert reused.json()["code"] == "batch_reference_reused"
    assert await stored(api) == before


async def test_a_file_not_valid_in_its_encoding_is_refused_whole(api: Api) -> None:
    text = (
        HEADER
        + f"张一,{new_id_number()},{PINGGANG},因病,住院,\n"
        + "".join(
            f"李{i},{new_id_number(f'19{60 + i // 900}0101')},{PINGGANG},因病,住院,\n"
            for i in range(3000)
        )
    )  # more than one chunk of rows, each person once
    gb = text.encode("gb18030")
    wrong = await upload(api, gb, CSV)
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "encoding_invalid"
    assert wrong.headers["content-type"] == "application/problem+json"
    # invalid bytes deep in an otherwise valid UTF-8 file: nothing of the first rows is kept
    late = text.encode() + "王五".encode("gb18030") + b",x,x,x,x,\n"
    refused = await upload(api, late, CSV)
    assert refused.status_code == 422
    assert refused.json()["code"] == "encoding_invalid"
    assert await stored(api) == (0, 0)
    right = await upload(api, gb, "text/csv; charset=GB18030")
    assert right.status_code == 201, right.text
    assert right.json()["encoding"] == "gb18030"
    assert right.json()["accepted"] == 3001
    names = [
        r["name"]
        for r in (
            await api.get("dept.civil-affairs", f"{PATH}/{right.json()['id']}/rows", limit=3)
        ).json()["items"]
    ]
    assert names == ["张一", "李0", "李1"]
    with_bom = await upload(
        api,
        b"\xef\xbb\xbf"
        + HEADER.encode()
        + (f"赵八,{new_id_number()},{PINGGANG},因残,残疾,\n").encode(),
    )
    assert with_bom.status_code == 201
    assert with_bom.json()["accepted"] == 1

    for body, content_type, code in (
        (HEADER.encode(), CSV, "file_empty"),
        (b"name,phone\nx,y\n", CSV, "header_unknown"),
        (text.encode(), "text/csv; charset=latin-1", "encoding_unsupported"),
        (b'{"rows": []}', "application/json", "json_invalid"),
        (b'[{"name": "x"', "application/json", "json_invalid"),
        (
            b"PK\x03\x04 not a workbook",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx_invalid",
        ),
    ):
        refused = await upload(api, body, content_type)
        assert refused.status_code == 422, (code, refused.text)
        assert refused.json()["code"] == code
    unsupported = await upload(api, b"<xml/>", "application/xml")
    assert unsupported.status_code == 415
    assert unsupported.json()["code"] == "media_type_unsupported"
    assert (await stored(api))[0] == 2


async def test_xlsx_and_json_batches(api: Api) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    number = new_id_number()
    sheet.append(["姓名", "证件号码", "村代码", "风险类型", "预警信息", "预警日期"])
    sheet.append(["周一", number, PINGGANG, "饮水安全", "水井干涸"])
    sheet.append(["周二", 220281197001010011, int(PINGGANG), "因病", "身份证号存成了数字"])
    sheet.append([])  # a blank row is skipped
    sheet.append(["周三", new_id_number(), int(PINGGANG), "因残", "工伤致残", datetime(2026, 2, 1)])
    sheet.append(["周四", None, PINGGANG, "因病", "缺证件号码"])
    buffer = io.BytesIO()
    book.save(buffer)
    xlsx = await upload(
        api, buffer.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert xlsx.status_code == 201, xlsx.text
    rows = await report(api, xlsx.json()["id"])
    assert [(r["line"], r["status"], [x["code"] for x in r["reasons"]]) for r in rows] == [
        (2, "accepted", []),
        (3, "rejected", ["id_number_not_text"]),
        (5, "accepted", []),
        (6, "rejected", ["id_number_missing"]),
    ]
    assert rows[0]["risk_type"] == "drinking_water"
    assert (rows[2]["village_code"], rows[2]["flagged_on"]) == (PINGGANG, "2026-02-01")

    items = [
        {
            "name": "吴一",
            "id_number": new_id_number(),
            "village_code": LAODONG,
            "risk_type": "housing_safety",
            "description": "危房",
            "flagged_on": "2026-03-01",
        },
        {"name": None, "id_number": "", "village_code": None},  # blank: skipped
        {
            "姓名": "吴二",
            "证件号码": new_id_number(),
            "村代码": LAODONG,
            "风险类型": "因残",
            "预警信息": "新增残疾",
            "预警日期": "2026-04-01",
        },
    ]
    as_json = await upload(api, json.dumps(items, ensure_ascii=False).encode(), "application/json")
    assert as_json.status_code == 201, as_json.text
    assert (as_json.json()["rows"], as_json.json()["rejected"]) == (2, 1)
    rows = await report(api, as_json.json()["id"])
    # a JSON record is numbered by its place in the array, from 1
    assert [(r["line"], r["status"], [x["code"] for x in r["reasons"]]) for r in rows] == [
        (1, "accepted", []),
        (3, "rejected", ["date_in_future"]),
    ]


async def test_the_city_distributes_and_the_department_gets_feedback(api: Api) -> None:
    fresh, registered, monitored = new_id_number(), new_id_number(), new_id_number()
    household = await api.post(
        "cadre.pinggang",
        "/api/v1/households",
        {"head_name": "郑二", "head_id_number": registered, "village_code": PINGGANG, "size": 3},
    )
    open_case = await api.open_case("cadre_found", id_number=monitored)
    text = HEADER + (
        f"郑一,{fresh},{PINGGANG},因病,大病住院,\n"
        f"郑二,{registered},{PINGGANG},因学,子女上学,\n"
        f"王德福,{monitored},{PINGGANG},因病,再次住院,\n"
        f"郑四,12,{PINGGANG},因病,x,\n"
    )
    batch = (await upload(api, text.encode())).json()
    path = f"{PATH}/{batch['id']}"
    waiting = (await api.get("dept.civil-affairs", f"{path}/feedback")).json()["items"]
    assert [(f["line"], f["outcome"], f["became_monitored"]) for f in waiting] == [
        (2, "awaiting_distribution", None),
        (3, "awaiting_distribution", None),
        (4, "awaiting_distribution", None),
    ]

    decide = f"{path}/dispositions"
    refused = await api.post(
        "dept.civil-affairs", decide, {"items": [{"line": 2, "decision": "distribute"}]}
    )
    assert refused.status_code == 403
    for items, status, code in (
        ([{"line": 5, "decision": "distribute"}], 422, "warning_not_accepted"),
        ([{"line": 9, "decision": "distribute"}], 422, "warning_not_accepted"),
        ([{"line": 3, "decision": "dismiss"}], 422, "validation_failed"),
        (
            [
                {"line": 2, "decision": "distribute"},
                {"line": 2, "decision": "dismiss", "reason": "x"},
            ],
            422,
            "line_repeated",
        ),
    ):
        answer = await api.post("bureau.jiaohe", decide, {"items": items})
        assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
    decided = await api.post(
        "bureau.jiaohe",
        decide,
        {
            "items": [
                {"line": 2, "decision": "distribute", "risk_type": "illness"},
                {"line": 3, "decision": "dismiss", "reason": "已享受教育资助, 无返贫风险"},
                {"line": 4, "decision": "distribute"},
            ]
        },
    )
    assert decided.status_code == 201, decided.text
    by_line = {d["line"]: d for d in decided.json()}
    assert by_line[2]["township_code"] == "220281102"
    assert by_line[2]["attached"] is False
    assert by_line[4]["case_id"] == open_case["id"]
    assert by_line[4]["attached"] is True
    assert by_line[3]["case_id"] is None
    again = await api.post(
        "bureau.jiaohe", decide, {"items": [{"line": 2, "decision": "distribute"}]}
    )
    assert again.status_code == 409
    assert again.json()["code"] == "warning_already_decided"

    case = await api.case(by_line[2]["case_id"])
    assert (case["channel"], case["state"]) == ("department_flagged", "village_nomination")
    assert case["household"]["head_name"] == "郑一"  # registered from the warning
    events = (await api.get("bureau.jiaohe", f"/api/v1/cases/{case['id']}/events")).json()
    assert [e["name"] for e in events] == ["open_department_flagged", "distribute"]
    assert events[0]["payload"]["source"] == f"department:civil_affairs:{batch['id']}:2"
    assert household.status_code == 201

    feedback = (await api.get("dept.civil-affairs", f"{path}/feedback")).json()["items"]
    assert [
        (f["line"], f["disposition"], f["outcome"], f["became_monitored"]) for f in feedback
    ] == [
        (2, "distributed", "under_review", None),
        (3, "dismissed", "dismissed", False),
        (4, "distributed", "received", None),
    ]
    assert feedback[1]["dismissal_reason"] == "已享受教育资助, 无返贫风险"

    api.heads[case["id"]] = fresh  # 郑一, registered from line 2
    await api.to_city(case["id"])
    await api.must_fact("bureau.jiaohe", case["id"], "classification", CLASSIFICATION)
    await api.must("bureau.jiaohe", case["id"], "confirm")
    now = (await api.get("dept.civil-affairs", f"{path}/feedback")).json()["items"]
    assert (now[0]["outcome"], now[0]["became_monitored"]) == ("monitored", True)
    assert now[0]["monitoring_type"] == CLASSIFICATION["monitoring_type"]
    summary = (await api.get("dept.civil-affairs", path)).json()
    assert (summary["distributed"], summary["dismissed"]) == (2, 1)


async def test_departments_see_only_their_own_batches(api: Api) -> None:
    text = HEADER + f"冯一,{new_id_number()},{PINGGANG},因病,x,\n"
    own = (await upload(api, text.encode())).json()
    education = department(api, "education")
    theirs = await upload(api, text.encode(), headers=education)
    assert theirs.status_code == 201
    assert theirs.json()["id"] != own["id"]
    for suffix in ("", "/rows", "/feedback"):
        hidden = await api.client.get(f"{PATH}/{own['id']}{suffix}", headers=education)
        assert hidden.status_code == 404
        assert hidden.json()["code"] == "batch_not_found"
    listed = await api.client.get(PATH, headers=education)
    assert [b["id"] for b in listed.json()] == [theirs.json()["id"]]
    city = (await api.get("bureau.jiaohe", PATH)).json()
    assert {b["sender"] for b in city} == {"civil_affairs", "education"}
    assert (await api.get("auditor.jiaohe", f"{PATH}/{own['id']}/feedback")).status_code == 200
    for user in ("township.baishishan", "cadre.pinggang", "exporter.national"):
        assert (await api.get(user, PATH)).status_code == 403

    media = await upload(api, text.encode(), user="bureau.jiaohe", source="media")
    assert media.status_code == 201
    assert media.json()["sender"] == "media"
    petition = await upload(api, text.encode(), user="bureau.jiaohe", source="petition")
    assert petition.status_code == 201
    assert petition.json()["source"] == "petition"
    mine = await upload(api, text.encode(), source="media")
    assert mine.status_code == 422
    assert mine.json()["code"] == "source_not_yours"
    city_as_department = await upload(api, text.encode(), user="bureau.jiaohe")
    assert city_as_department.status_code == 422
    assert (await upload(api, text.encode(), user="township.baishishan")).status_code == 403


async def test_a_batch_past_the_limits_is_refused_whole(api: Api, monkeypatch: Any) -> None:
    from app.department_warnings import parsing, service

    monkeypatch.setattr(service, "MAX_ROWS", 1500)  # chunks of 1,000: the limit is met mid-file
    text = HEADER + "".join(
        f"李{i},{new_id_number(f'19{60 + i // 900}0101')},{PINGGANG},因病,住院,\n"
        for i in range(2000)
    )
    refused = await upload(api, text.encode())
    assert refused.status_code == 422
    assert refused.json()["code"] == "too_many_rows"
    assert await stored(api) == (0, 0)  # the first chunk, already stored, is rolled back
    monkeypatch.setattr(parsing, "MAX_SHARED_STRINGS", 10)  # a string table that expands a lot
    bomb = await upload(
        api, excel_workbook([["姓名", "证件号码", "村代码", "风险类型", "预警信息"]]), XLSX
    )
    assert bomb.status_code == 422
    assert bomb.json()["code"] == "xlsx_invalid"


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def excel_workbook(table: list[list[Any]]) -> bytes:
    """A workbook written the way Excel writes one (openpyxl writes strings inline): text in
    a shared string table, numbers in the cell, a sheet found through the workbook's rels."""
    strings: list[str] = []
    rows = []
    for r, values in enumerate(table, start=1):
        cells = []
        for c, value in enumerate(values):
            ref = f"{chr(65 + c)}{r}"
            if value is None:
                continue
            if isinstance(value, str):
                if value not in strings:
                    strings.append(value)
                cells.append(f'<c r="{ref}" t="s"><v>{strings.index(value)}</v></c>')
            else:
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
        rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    shared = "".join(
        f"<si><t>{s}</t></si>"
        if i % 2
        else f"<si><r><t>{s[:1]}</t></r><r><t>{s[1:]}</t></r><rPh><t>ピン</t></rPh></si>"
        for i, s in enumerate(strings)
    )  # rich-text runs and phonetics too
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        book.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets>'
            '<sheet name="预警" sheetId="1" r:id="rId7"/></sheets></workbook>',
        )
        book.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId7" '
            'Target="worksheets/data.xml" Type="worksheet"/></Relationships>',
        )
        book.writestr("xl/sharedStrings.xml", f'<sst xmlns="{MAIN}">{shared}</sst>')
        book.writestr(
            "xl/worksheets/data.xml",
            f'<worksheet xmlns="{MAIN}"><sheetData>{"".join(rows)}</sheetData></worksheet>',
        )
    return buffer.getvalue()


async def test_a_workbook_as_excel_writes_it(api: Api) -> None:
    number = new_id_number()
    body = excel_workbook(
        [
            ["姓名", "证件号码", "村代码", "风险类型", "预警信息", "预警日期"],
            ["陈一", number, PINGGANG, "因病", "住院", 46054],  # 2026-02-01 as Excel counts days
            ["陈二", 2.20281197001011e17, PINGGANG, "因病", "科学计数法"],
            ["陈三", None, PINGGANG, "因学", "缺证件号码"],
        ]
    )
    response = await upload(api, body, XLSX)
    assert response.status_code == 201, response.text
    rows = await report(api, response.json()["id"])
    assert [(r["line"], r["status"], [x["code"] for x in r["reasons"]]) for r in rows] == [
        (2, "accepted", []),
        (3, "rejected", ["id_number_not_text"]),
        (4, "rejected", ["id_number_missing"]),
    ]
    assert (rows[0]["name"], rows[0]["risk_type"], rows[0]["flagged_on"]) == (
        "陈一",
        "illness",
        "2026-02-01",
    )


async def test_a_row_of_someone_born_after_today_is_refused_with_its_reason(api: Api) -> None:
    unborn = new_id_number("20260303")  # the service's today is 2026-03-02
    text = HEADER + f"赵宝宝,{unborn},{PINGGANG},因病,出生缺陷,\n"
    text += f"赵大宝,{new_id_number('20260302')},{PINGGANG},因病,出生缺陷,\n"
    response = await upload(api, text.encode(), filename="卫健局.csv", reference="WJ-1")
    assert response.status_code == 201, response.text
    rows = await report(api, response.json()["id"])
    assert [(r["line"], r["status"]) for r in rows] == [(2, "rejected"), (3, "accepted")]
    (reason,) = rows[0]["reasons"]
    assert reason["code"] == "id_number_invalid"
    assert "after today" in reason["message"]


async def test_a_row_naming_another_village_says_where_it_goes(api: Api) -> None:
    registered = new_id_number()
    await api.post(
        "cadre.laodong",
        "/api/v1/households",
        {"head_name": "钱五", "size": 2, "head_id_number": registered, "village_code": LAODONG},
    )
    text = HEADER + f"钱五,{registered},{PINGGANG},因病,住院,\n"
    batch = (await upload(api, text.encode(), reference="MZ-V")).json()
    (row,) = await report(api, batch["id"])
    assert (row["status"], row["reasons"], row["matched"]) == ("accepted", [], "household")
    (note,) = row["notes"]
    assert note["code"] == "village_differs"
    assert LAODONG in note["message"]
    decide = f"{PATH}/{batch['id']}/dispositions"
    decided = await api.post(
        "bureau.jiaohe", decide, {"items": [{"line": 2, "decision": "distribute"}]}
    )
    assert decided.status_code == 201, decided.text
    assert decided.json()[0]["township_code"] == LAODONG[:9]  # the registered village's
