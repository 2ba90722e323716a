"""The national export, its batches and acknowledgments, and the ledgers."""

from __future__ import annotations

import asyncio
import base64
import csv
import datetime as dt
import gc
import hashlib
import io
import json
import struct
import tempfile
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app import migrations
from app.areas.demo import load as load_demo_areas
from app.audit import log
from app.cases.models import Case
from app.core import workbook, xlsx
from app.core.clock import FrozenClock
from app.core.crypto import CipherError, FieldCipher
from app.core.db import make_engine, make_sessionmaker
from app.core.rotation import rotate
from app.exports import document, national, router
from app.exports.models import NationalDocument
from app.households.models import Member
from tests.conftest import settings_for
from tests.helpers import Api, new_id_number
from tests.test_measures import MEASURE
from workflows.case import STATE_TITLES

EXPORTER, BUREAU = "exporter.national", "bureau.jiaohe"
PATH = "/api/v1/exports/national"


def lines(body: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.splitlines() if line]


async def export(api: Api, user: str = EXPORTER, **params: Any) -> Any:
    response = await api.get(user, PATH, **params)
    assert response.status_code == 200, response.text
    return response


async def database_counts(api: Api) -> tuple[int, int]:
    """Confirmed cases and their members, counted in the database itself."""
    engine = make_engine(api.settings.database_url)
    async with make_sessionmaker(engine)() as session:
        cases = await session.scalar(select(func.count()).select_from(NationalDocument))
        members = await session.scalar(
            select(func.count())
            .select_from(Member)
            .join(Case, Case.household_id == Member.household_id)
            .join(NationalDocument, NationalDocument.case_id == Case.id)
        )
    await engine.dispose()
    return int(cases or 0), int(members or 0)


async def test_confirmed_cases_export_with_national_fields_and_full_id_numbers(api: Api) -> None:
    id_number = new_id_number()
    case_id = await api.to_assisted(id_number=id_number)
    await api.open_case("cadre_found")  # not confirmed: not exported
    response = await export(api)
    assert response.headers["content-type"] == "application/x-ndjson"
    [record] = lines(response.text)
    assert record["case_id"] == case_id
    assert (record["县"], record["乡"], record["村"]) == ("蛟河市", "白石山镇", "平岗村")
    assert record["监测对象类别"] == "突发严重困难户"
    assert record["致贫/返贫风险1"] == "因病"
    assert record["识别监测时间"] == "202603"
    assert record["风险是否已消除"] == "否"
    assert record["人均纯收入（元）"]
    assert record["帮扶责任人"]
    assert record["信息采集人"]
    assert record["整户无劳动能力兜底保障户"] == "否"
    [head] = record["成员"]
    assert head["证件号码"] == id_number
    assert head["与户主关系"] == "户主"
    assert head["性别"] in "男女"
    assert head["证件类型"] == "居民身份证"
    assert head["出生日期"] == id_number[6:14]
    # the batch: the log range, the counts and the body's SHA-256
    batch = (await api.get(EXPORTER, f"{PATH}/batches/{response.headers['X-Export-Batch']}")).json()
    assert batch["sha256"] == hashlib.sha256(response.content).hexdigest()
    assert (batch["cases"], batch["rows"], batch["after_index"]) == (1, 1, -1)
    assert str(batch["to_index"]) == response.headers["X-Export-To"]
    sync = (await api.get(BUREAU, f"/api/v1/cases/{case_id}/national-sync")).json()
    assert sync["status"] == "exported"
    assert sync["changed_since_export"] is False
    assert (await database_counts(api))[0] == 1


async def test_the_next_export_has_only_what_changed(api: Api) -> None:
    first = await api.to_assisted()
    second = await api.to_assisted()
    assert {r["case_id"] for r in lines((await export(api)).text)} == {first, second}
    assert lines((await export(api)).text) == []  # nothing changed since
    await api.must_fact("bureau.jiaohe", first, "measures", MEASURE)
    sync = (await api.get(BUREAU, f"/api/v1/cases/{first}/national-sync")).json()
    assert sync["changed_since_export"] is True
    [changed] = lines((await export(api)).text)
    assert changed["case_id"] == first
    assert changed["就业帮扶"] == MEASURE["content"]
    assert changed["实施开发式帮扶措施情况"] == "是"
    # an explicit cursor exports again from there
    again = lines((await export(api, after=-1)).text)
    assert {r["case_id"] for r in again} == {first, second}


async def test_csv_in_utf8_with_bom_and_in_gb18030_round_trips_every_name(api: Api) -> None:
    await api.to_assisted()
    await api.to_assisted()
    utf8 = await export(api, format="csv", after=-1)
    assert utf8.content.startswith(b"\xef\xbb\xbf")
    assert utf8.headers["content-type"].startswith("text/csv; charset=utf-8")
    gb = await export(api, format="csv", encoding="gb18030", after=-1)
    assert gb.headers["content-type"] == "text/csv; charset=gb18030"
    from_utf8 = list(csv.reader(io.StringIO(utf8.content.decode("utf-8-sig"))))
    from_gb = list(csv.reader(io.StringIO(gb.content.decode("gb18030"))))
    assert from_gb == from_utf8
    assert from_gb[0] == national.headers()
    cases, members = await database_counts(api)
    case_column = from_gb[0].index("case_id")
    assert len(from_gb) - 1 == members
    assert len({r[case_column] for r in from_gb[1:]}) == cases
    names = {row[from_gb[0].index("姓名")] for row in from_gb[1:]}
    assert names == {"王德福"}
    assert "蛟河市" in from_gb[1]
    assert gb.content.decode("gb18030").encode("gb18030") == gb.content


async def test_xlsx_opens_with_the_exact_headers(api: Api) -> None:
    await api.to_assisted()
    response = await export(api, format="xlsx")
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.active
    assert book.sheetnames == ["监测对象信息"]
    assert sheet is not None
    assert sheet.freeze_panes == "A4"
    rows = list(sheet.iter_rows(values_only=True))
    assert str(rows[0][0]).startswith("监测对象信息　蛟河市（220281）　导出时间：")
    assert str(rows[1][0]).startswith("表式 2022.1")
    assert list(rows[2]) == national.headers()
    assert len(rows) - 3 == (await database_counts(api))[1]
    assert rows[3][national.headers().index("监测对象类别")] == "突发严重困难户"


async def test_xlsx_goes_on_in_a_new_sheet_where_excel_would_stop(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Excel opens 1,048,576 rows a sheet; the rows after go on in the next sheet, which has
    the header too (the limit is made 2 here)."""
    assert workbook.SHEET_ROWS == 1_048_576
    for _ in range(3):
        await api.to_assisted()
    monkeypatch.setattr(workbook, "SHEET_ROWS", 5)  # title, notes, header and two rows
    book = load_workbook(io.BytesIO((await export(api, format="xlsx")).content))
    assert book.sheetnames == ["监测对象信息", "监测对象信息 (2)"]
    first, second = (
        [list(r) for r in book[name].iter_rows(values_only=True)] for name in book.sheetnames
    )
    assert first[2] == second[2] == national.headers()
    assert first[0] == second[0]
    assert str(first[0][0]).startswith("监测对象信息")
    assert (len(first), len(second)) == (5, 4)
    assert book[book.sheetnames[1]].freeze_panes == "A4"
    column = national.headers().index("member_id")
    ids = [row[column] for row in first[3:] + second[3:]]
    assert len(set(ids)) == 3 == (await database_counts(api))[1]


async def test_a_workbook_is_zipped_while_the_process_answers_others(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deflating a workbook of a million rows takes a while; other requests are answered
    meanwhile. Its blocks are written and the zip closed off the event loop: the close here
    waits until /health has answered (on the event loop it would wait in vain, and time out)."""
    await api.to_assisted()
    saving, answered, waited = threading.Event(), threading.Event(), []
    original = xlsx.Workbook.close

    def close_once_answered(self: xlsx.Workbook) -> None:
        saving.set()
        waited.append(answered.wait(10))
        original(self)

    monkeypatch.setattr(xlsx.Workbook, "close", close_once_answered)
    exporting = asyncio.create_task(export(api, format="xlsx"))
    assert await asyncio.to_thread(saving.wait, 10)
    assert (await api.get(EXPORTER, "/health")).status_code == 200
    answered.set()
    book = load_workbook(io.BytesIO((await exporting).content))
    assert waited == [True]
    assert len(list(book.active.iter_rows())) == 4


async def test_a_workbook_given_up_leaves_no_temporary_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rows fail (or the client goes) halfway: the sheets' temporary files, which
    openpyxl would otherwise keep until the process exits, are removed."""
    from openpyxl.worksheet import _writer

    async def rows() -> AsyncIterator[list[Any]]:
        for value in "ab":
            yield [value] * 3
        raise RuntimeError("the client went away")

    def files() -> set[Path]:
        return set(Path(tempfile.gettempdir()).glob("openpyxl.*"))

    monkeypatch.setattr(workbook, "SHEET_ROWS", 1)  # two sheets by the time it fails
    before, registered = files(), set(_writer.ALL_TEMP_FILES)
    with pytest.raises(RuntimeError, match="went away"):
        async for _ in workbook.write_xlsx("台账", ["x", "y", "z"], rows()):
            pass
    assert files() == before
    assert set(_writer.ALL_TEMP_FILES) == registered


async def test_acknowledgments_keep_numbers_and_a_rejection_is_sent_again(api: Api) -> None:
    accepted, rejected = await api.to_assisted(), await api.to_assisted()
    response = await export(api)
    batch = response.headers["X-Export-Batch"]
    members = {r["case_id"]: r["成员"] for r in lines(response.text)}
    body = {
        "batch_id": batch,
        "items": [
            {
                "case_id": accepted,
                "status": "accepted",
                "household_number": "2202811020001",
                "members": [
                    {
                        "member_id": members[accepted][0]["member_id"],
                        "member_number": "220281102000101",
                    }
                ],
            },
            {"case_id": rejected, "status": "rejected", "reason": "证件号码与户籍信息不符"},
        ],
    }
    answer = await api.post(EXPORTER, f"{PATH}/acknowledgments", body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["rejected"] == 1, answer.text
    sync = (await api.get(BUREAU, f"/api/v1/cases/{rejected}/national-sync")).json()
    assert sync["status"] == "rejected"
    assert sync["reason"] == "证件号码与户籍信息不符"
    # nothing changed, yet the rejected case goes out again; the accepted one does not
    [again] = lines((await export(api)).text)
    assert again["case_id"] == rejected
    # the national system's numbers are kept and appear in the next export of that case
    everything = {r["case_id"]: r for r in lines((await export(api, after=-1)).text)}
    assert everything[accepted]["户编号"] == "2202811020001"
    assert everything[accepted]["成员"][0]["人编号"] == "220281102000101"
    assert "户编号" not in everything[rejected]  # empty: left out


async def test_acknowledgments_of_unknown_or_unsent_cases_change_nothing(api: Api) -> None:
    case_id = await api.to_assisted()
    batch = (await export(api)).headers["X-Export-Batch"]
    later = await api.to_assisted()  # never exported
    for items, code in (
        (
            [
                {"case_id": case_id, "status": "accepted"},
                {"case_id": "00000000-0000-0000-0000-000000000000", "status": "accepted"},
            ],
            "unknown_case",
        ),
        (
            [{"case_id": case_id, "status": "accepted"}, {"case_id": later, "status": "accepted"}],
            "case_not_in_batch",
        ),
        ([{"case_id": case_id, "status": "rejected"}], "validation_failed"),
    ):
        response = await api.post(
            EXPORTER, f"{PATH}/acknowledgments", {"batch_id": batch, "items": items}
        )
        assert response.status_code == 422, response.text
        assert response.json()["code"] == code, response.text
    sync = (await api.get(BUREAU, f"/api/v1/cases/{case_id}/national-sync")).json()
    assert sync["status"] == "exported"
    assert sync["acknowledged_at"] is None
    wrong_batch = await api.post(
        EXPORTER,
        f"{PATH}/acknowledgments",
        {"batch_id": "nope", "items": [{"case_id": case_id, "status": "accepted"}]},
    )
    assert wrong_batch.json()["code"] == "unknown_batch"


async def test_only_the_exporter_and_the_city_export_and_every_export_is_logged(
    api: Api,
) -> None:
    await api.to_assisted()
    for user in (
        "cadre.pinggang",
        "committee.pinggang",
        "township.baishishan",
        "auditor.jiaohe",
        "dept.civil-affairs",
        "platform.12317",
    ):
        response = await api.get(user, PATH)
        assert response.status_code == 403, (user, response.text)
    first = await export(api)
    second = await export(api, BUREAU, purpose="年度核对")
    logged = (await api.get("auditor.jiaohe", "/api/v1/access-log")).json()
    exports = [e for e in logged if e["record_type"] == "national_export"]
    assert {e["record_id"] for e in exports} == {
        first.headers["X-Export-Batch"],
        second.headers["X-Export-Batch"],
    }
    assert {e["purpose"] for e in exports} == {"全国防返贫监测信息系统数据报送", "年度核对"}
    assert all(e["fields"] == ["id_number"] for e in exports)
    ahead = await api.get(EXPORTER, PATH, after=10_000)
    assert ahead.status_code == 422
    assert ahead.json()["code"] == "cursor_ahead"
    json_gb = await api.get(EXPORTER, PATH, encoding="gb18030")
    assert json_gb.status_code == 422


async def test_a_change_made_during_an_export_is_in_the_next_one(
    postgres_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL (SQLite serialises the export and the change). The change commits while
    the body is being streamed: this export may or may not show it; the next one must."""
    api = postgres_api
    moving, still = await api.to_assisted(), await api.to_assisted()
    original = router._render
    changed: list[bool] = []

    async def render_with_a_change(*args: Any, **kwargs: Any) -> AsyncIterator[bytes]:
        async for chunk in original(*args, **kwargs):
            if not changed:
                await api.must_fact("bureau.jiaohe", moving, "measures", MEASURE)
                changed.append(True)
            yield chunk

    monkeypatch.setattr(router, "_render", render_with_a_change)
    first = lines((await export(api)).text)
    assert changed
    assert {r["case_id"] for r in first} == {moving, still}
    monkeypatch.setattr(router, "_render", original)
    [again] = lines((await export(api)).text)
    assert again["case_id"] == moving
    assert again["就业帮扶"] == MEASURE["content"]


async def test_a_slow_export_does_not_hold_the_log_back(
    postgres_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL. The log sequences an event once every writing transaction older than it
    has ended, on the whole cluster. CSV and XLSX take minutes for a million cases, so they
    write their items only once the body is complete: a change made while one streams is
    in the log before it ends. (JSON Lines writes them as it goes: it takes seconds.)"""
    api = postgres_api
    moving = await api.to_assisted()
    await api.to_assisted()
    monkeypatch.setattr(national, "ITEMS_AT_ONCE", 1)  # as a big export would, early on
    original, seen = router._render, list[Any]()
    engine = make_engine(api.settings.database_url)
    sessions = make_sessionmaker(engine)

    async def sequenced() -> int:
        async with sessions() as session, session.begin():
            return await log.sequence_all(session, api.clock.now())

    async def render_with_a_change(*args: Any, **kwargs: Any) -> AsyncIterator[bytes]:
        async for chunk in original(*args, **kwargs):
            if not seen:
                await sequenced()
                await api.must_fact("bureau.jiaohe", moving, "measures", MEASURE)
                seen.append(await sequenced())
            yield chunk

    monkeypatch.setattr(router, "_render", render_with_a_change)
    try:
        for format in ("csv", "xlsx"):
            seen.clear()
            await export(api, format=format, after=-1)
            assert seen == [1], format  # the measure's event was sequenced mid-export
    finally:
        await engine.dispose()
    monkeypatch.setattr(router, "_render", original)
    batches = (await api.get(EXPORTER, f"{PATH}/batches")).json()
    assert [(b["format"], b["cases"]) for b in batches] == [("xlsx", 2), ("csv", 2)]


@pytest.mark.parametrize("format", ["jsonl", "csv"])
async def test_an_export_whose_items_cannot_be_written_fails_and_records_nothing(
    postgres_api: Api, monkeypatch: pytest.MonkeyPatch, format: str
) -> None:
    """PostgreSQL. The items' writer fails on its first run; more runs than its queue
    holds follow (one per case here): the export raises that error, never waits on a writer
    that is gone, and records no batch."""
    import asyncpg

    api = postgres_api
    for _ in range(6):
        await api.to_assisted()
    monkeypatch.setattr(national, "ITEMS_AT_ONCE", 1)
    add = national.ItemWriter.add

    async def one_by_one(self: national.ItemWriter, items: list[bytes]) -> None:
        for item in items:  # a run per case, as a big export has many
            await add(self, [item])

    async def refused(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the items cannot be written")

    monkeypatch.setattr(national.ItemWriter, "add", one_by_one)

    monkeypatch.setattr(asyncpg.Connection, "copy_to_table", refused)
    with pytest.raises(RuntimeError, match="cannot be written"):
        await asyncio.wait_for(api.get(EXPORTER, PATH, format=format), timeout=30)
    monkeypatch.undo()
    assert (await api.get(EXPORTER, f"{PATH}/batches")).json() == []
    assert len(lines((await export(api)).text)) == 6


async def test_ledgers_per_area_in_json_and_xlsx(api: Api) -> None:
    here = await api.to_assisted()
    response = await api.get("township.baishishan", "/api/v1/ledgers/monitored-households")
    ledger = response.json()
    assert ledger["columns"][:10] == router.LEDGER_HEAD
    assert "case_id" not in ledger["columns"]  # every header Chinese
    [row] = ledger["rows"]
    column = {name: i for i, name in enumerate(ledger["columns"])}
    assert row[column["案件编号"]] == here
    assert "*" in row[column["户主证件号码"]]
    assert (row[column["村代码"]], row[column["村"]]) == ("220281102200", "平岗村")
    assert (row[column["乡镇代码"]], row[column["乡镇"]]) == ("220281102", "白石山镇")
    assert row[ledger["columns"].index("当前状态")] == STATE_TITLES["assisted"]
    other = await api.get("township.tianbei", "/api/v1/ledgers/monitored-households")
    assert other.json()["rows"] == []
    outside = await api.get(
        "township.tianbei", "/api/v1/ledgers/monitored-households", area="220281102"
    )
    assert outside.status_code == 404
    for user in ("dept.civil-affairs", "platform.12317", "exporter.national"):
        forbidden = await api.get(user, "/api/v1/ledgers/monitored-households")
        assert forbidden.status_code == 403, user
    book = await api.get("cadre.pinggang", "/api/v1/ledgers/monitored-households", format="xlsx")
    sheet = load_workbook(io.BytesIO(book.content)).active
    assert sheet is not None
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == ledger["columns"]
    assert rows[1][0] == here
    assert sheet.column_dimensions["H"].width >= 20
    # Excel that adds up: amounts and counts are numbers, the assessment's day a date
    cells = dict(zip(rows[0], rows[1], strict=True))
    money = [
        "工资性收入",
        "生产经营性收入",
        "财产性收入",
        "转移性收入",
        "生产经营性支出",
        "合规自付支出",
        "家庭纯收入",
        "人均纯收入（元）",
    ]
    assert all(isinstance(cells[name], int | float) for name in money), cells
    assert cells["工资性收入"] == 12000
    assert cells["人均纯收入（元）"] == 5250
    assert isinstance(cells["家庭人口数"], int)
    assert isinstance(cells["收入核查日期"], dt.datetime)  # an Excel date
    assert row[column["人均纯收入（元）"]] == "5250.00"  # JSON keeps yuan as decimal strings
    logged = (await api.get("auditor.jiaohe", "/api/v1/access-log")).json()
    assert {e["record_id"] for e in logged if e["record_type"] == "ledger"} == {
        "monitored_households:220281102",
        "monitored_households:220281105",
        "monitored_households:220281102200",
    }


async def test_the_migration_composes_documents_for_cases_confirmed_before_it(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """A database that had confirmed cases before the national document existed gets one
    for each (in the form of its day, frozen in revision 0014); revision 0027 marks it stale
    and the refresh `fangfanpin migrate` runs writes it as the write path does today."""
    url, engine, case_id, written = await confirmed_in_a_new_database(tmp_path, clock)
    assert json.loads(written)["case_id"] == case_id
    await asyncio.to_thread(migrations.downgrade, url, "0013")
    await asyncio.to_thread(migrations.upgrade, url)
    older = json.loads(await stored_document(engine, case_id) or "{}")
    assert older["case_id"] == case_id
    assert "致贫返贫风险1" in older
    sessions = make_sessionmaker(engine, settings_for(url))
    assert await document.refresh(sessions) == 1
    assert await stored_document(engine, case_id) == written
    assert await document.refresh(sessions) == 0  # nothing stale is left
    await engine.dispose()


async def confirmed_in_a_new_database(
    tmp_path: Path, clock: FrozenClock
) -> tuple[str, Any, str, str]:
    """A SQLite database at head with one confirmed case: its URL, an engine on it, the
    case's id and its stored document."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'migrated.sqlite3'}"
    await asyncio.to_thread(migrations.upgrade, url)  # Alembic runs its own event loop
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session, session.begin():
        await load_demo_areas(session)
    async with Api.start(settings_for(url), clock) as api:
        case_id = await api.to_assisted()
        written = await stored_document(engine, case_id)
    assert written is not None
    return url, engine, case_id, written


async def stored_document(engine: Any, case_id: str) -> str | None:
    async with make_sessionmaker(engine)() as session:
        return await session.scalar(
            select(NationalDocument.document).where(NationalDocument.case_id == case_id)
        )


def copy_stream(rows: list[bytes]) -> bytes:
    """A binary COPY of one text column, as PostgreSQL sends it."""
    body = b"".join(struct.pack(">hi", 1, len(row)) + row for row in rows)
    return b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + body + b"\xff\xff"


@pytest.mark.parametrize("piece", [1, 2, 5, 19, 4096])
def test_copy_rows_are_whole_however_the_stream_is_cut(piece: int) -> None:
    documents = [
        json.dumps({"case_id": str(n), "村": "平岗村" * n}, ensure_ascii=False).encode()
        for n in range(40)
    ]
    stream, rows = copy_stream(documents), national.CopyRows()
    seen: list[bytes] = []
    for start in range(0, len(stream), piece):
        taken, size = rows.feed(stream[start : start + piece])
        assert size == sum(map(len, taken))
        seen += taken
    rows.close()
    assert seen == documents
    cut = national.CopyRows()
    cut.feed(copy_stream(documents)[:-9])
    with pytest.raises(ValueError, match="inside a row"):
        cut.close()
    with pytest.raises(ValueError, match="after its end"):
        national.CopyRows().feed(copy_stream(documents) + copy_stream(documents)[19:])


async def test_key_rotation_reseals_the_numbers_in_national_documents(api: Api) -> None:
    id_number = new_id_number()
    case_id = await api.to_assisted(id_number=id_number)
    second = base64.b64encode(bytes(range(32))).decode()
    rotated = api.settings.model_copy(
        update={"field_keys": f"{api.settings.field_keys},k2:{second}"}
    )
    engine = make_engine(api.settings.database_url)
    await rotate(make_sessionmaker(engine), rotated)
    async with make_sessionmaker(engine)() as session:
        stored = await session.get(NationalDocument, case_id)
    await engine.dispose()
    assert stored is not None
    assert stored.numbers.startswith("k2:")
    assert id_number not in stored.document + stored.numbers
    only_new = FieldCipher({"k2": bytes(range(32))}, "k2")  # the old key is retired
    opened = opened_document(
        case_id.encode(), stored.numbers.encode(), stored.document.encode(), only_new
    )
    [member] = json.loads(opened)["成员"]
    assert member["证件号码"] == id_number


async def test_an_answer_belongs_to_the_batch_that_last_sent_the_case(api: Api) -> None:
    case_id = await api.to_assisted()
    first = (await export(api)).headers["X-Export-Batch"]
    rejection = {
        "batch_id": first,
        "items": [{"case_id": case_id, "status": "rejected", "reason": "户主姓名有误"}],
    }
    assert (await api.post(EXPORTER, f"{PATH}/acknowledgments", rejection)).status_code == 200
    again = await export(api)  # the rejected case goes out once more…
    assert [r["case_id"] for r in lines(again.text)] == [case_id]
    assert lines((await export(api)).text) == []  # …and not again until answered or changed
    second = again.headers["X-Export-Batch"]
    sync = (await api.get(BUREAU, f"/api/v1/cases/{case_id}/national-sync")).json()
    assert (sync["status"], sync["batch_id"], sync["reason"]) == ("exported", second, None)
    late = await api.post(
        EXPORTER,
        f"{PATH}/acknowledgments",
        {"batch_id": first, "items": [{"case_id": case_id, "status": "accepted"}]},
    )
    assert late.status_code == 422
    assert late.json()["code"] == "case_not_in_batch"
    accepted = await api.post(
        EXPORTER,
        f"{PATH}/acknowledgments",
        {"batch_id": second, "items": [{"case_id": case_id, "status": "accepted"}]},
    )
    assert accepted.status_code == 200, accepted.text
    sync = (await api.get(BUREAU, f"/api/v1/cases/{case_id}/national-sync")).json()
    assert (sync["status"], sync["batch_id"]) == ("accepted", second)
    assert sync["exported_version"] == sync["current_version"]
    assert not sync["changed_since_export"]
    batches = (await api.get(EXPORTER, f"{PATH}/batches")).json()
    assert [(b["number"], b["cases"]) for b in batches] == [(3, 0), (2, 1), (1, 1)]


async def test_an_export_that_fails_midway_records_nothing_and_the_next_one_runs(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = await api.to_assisted(), await api.to_assisted()
    original, opened = document.filled, list[Any]()

    def failing(*args: Any) -> list[bytes]:
        if opened:
            raise RuntimeError("the second document breaks")
        opened.append(True)
        return original(*args)

    monkeypatch.setattr(document, "filled", failing)
    with pytest.raises(RuntimeError, match="second document"):
        await api.get(EXPORTER, PATH)
    monkeypatch.setattr(document, "filled", original)
    assert (await api.get(EXPORTER, f"{PATH}/batches")).json() == []
    sync = (await api.get(BUREAU, f"/api/v1/cases/{first}/national-sync")).json()
    assert sync["status"] == "pending"
    assert {r["case_id"] for r in lines((await export(api)).text)} == {first, second}


def opened_document(case_id: bytes, numbers: bytes, text: bytes, cipher: FieldCipher) -> bytes:
    """A stored document as the export sends it."""
    return b"".join(document.filled(case_id, numbers, text, cipher))


def test_numbers_go_into_their_places_and_a_mismatch_refuses() -> None:
    """Each member's number lands in its own 证件号码, in order; numbers sealed for another
    case, or for fewer or more members than the document lists, refuse to open."""
    cipher = FieldCipher({"k1": bytes(32)}, "k1")
    members = [
        {
            "member_id": f"m{n}",
            "姓名": f"成员{n}",
            document.ID_FIELD: document.PLACEHOLDER,
            "备注": '证件号码":"#"',
            "其他": "#",
        }
        for n in range(3)
    ]
    text = json.dumps({"case_id": "c1", "成员": members}, ensure_ascii=False).replace(" ", "")
    numbers = ["220281199001011234", "22028120100101123X", "220281201801011231"]

    def sealed(case_id: str, values: list[str]) -> bytes:
        return cipher.encrypt(",".join(values), document.numbers_context(case_id)).encode()

    opened = json.loads(opened_document(b"c1", sealed("c1", numbers), text.encode(), cipher))
    assert [m[document.ID_FIELD] for m in opened["成员"]] == numbers
    assert [m["备注"] for m in opened["成员"]] == ['证件号码":"#"'] * 3  # a value is not a place
    assert [m["其他"] for m in opened["成员"]] == ["#"] * 3  # nor another field's "#"
    for wrong in (sealed("c2", numbers), sealed("c1", numbers[:2]), sealed("c1", numbers * 2)):
        with pytest.raises(CipherError):
            opened_document(b"c1", wrong, text.encode(), cipher)
    alone = json.dumps({"case_id": "c1", "成员": []}).encode()
    assert opened_document(b"c1", b"never opened", alone, cipher) == alone
    # a document in the form before 0021 (as the version before it writes) is not sent
    # with member ids where the numbers belong
    older = text.replace(f'"{document.ID_FIELD}":"#"', f'"{document.ID_FIELD}":"#m0"')
    with pytest.raises(CipherError, match="before revision 0021"):
        opened_document(b"c1", sealed("c1", numbers), older.encode(), cipher)


async def test_the_document_keeps_its_case_version_and_area(api: Api) -> None:
    case_id = await api.to_assisted()
    engine = make_engine(api.settings.database_url)
    async with make_sessionmaker(engine)() as session:
        case = await session.get(Case, case_id)
        stored = await session.get(NationalDocument, case_id)
    await engine.dispose()
    assert case is not None
    assert stored is not None
    assert (stored.version, stored.area_code) == (case.version, case.area_code)


async def test_the_places_downgrade_to_member_ids_and_back(
    tmp_path: Path, clock: FrozenClock
) -> None:
    url, engine, case_id, written = await confirmed_in_a_new_database(tmp_path, clock)
    assert f'"{document.ID_FIELD}":"#"' in written
    await asyncio.to_thread(migrations.downgrade, url, "0020")
    older = await stored_document(engine, case_id)
    assert older is not None
    for member in json.loads(older)["成员"]:
        assert member[document.ID_FIELD] == f"#{member['member_id']}"
    await asyncio.to_thread(migrations.upgrade, url)
    assert await stored_document(engine, case_id) == written
    await engine.dispose()


async def test_an_export_leaves_no_cycle_holding_its_items(postgres_api: Api) -> None:
    """What an export sends is freed when it ends, not at the next full collection: a
    million items are some 50 MB, kept per export while the process runs otherwise."""
    await postgres_api.to_assisted()
    gc.collect()
    gc.disable()
    try:
        await export(postgres_api)
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        readers = [o for o in gc.garbage if isinstance(o, type) and o.__name__ == "_Reader"]
        kept = [o for o in gc.garbage if isinstance(o, io.BytesIO)] + readers
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert kept == []


async def test_each_consumer_has_its_own_cursor(api: Api) -> None:
    """The city's own export never moves the national exporter past changes it has not sent."""
    first = await api.to_assisted()
    assert {r["case_id"] for r in lines((await export(api, "bureau.jiaohe")).text)} == {first}
    assert {r["case_id"] for r in lines((await export(api)).text)} == {first}
    second = await api.to_assisted()
    assert {r["case_id"] for r in lines((await export(api, "bureau.jiaohe")).text)} == {second}
    assert {r["case_id"] for r in lines((await export(api)).text)} == {second}
    assert lines((await export(api)).text) == []


async def test_an_areas_sync_status_counts_every_case_and_lists_the_refused(api: Api) -> None:
    accepted, rejected = await api.to_assisted(), await api.to_assisted()
    await api.open_case("cadre_found")  # not confirmed: never exported
    status = (await api.get(BUREAU, f"{PATH}/sync-status")).json()
    assert status["by_status"] == {
        "not_exportable": 1,
        "pending": 2,
        "exported": 0,
        "accepted": 0,
        "rejected": 0,
    }
    assert status["last_export_at"] is None
    assert status["rejected"] == []
    response = await export(api)
    batch = response.headers["X-Export-Batch"]
    body = {
        "batch_id": batch,
        "items": [
            {"case_id": accepted, "status": "accepted"},
            {"case_id": rejected, "status": "rejected", "reason": "证件号码与户籍信息不符"},
        ],
    }
    assert (await api.post(EXPORTER, f"{PATH}/acknowledgments", body)).status_code == 200
    await api.must_fact(BUREAU, accepted, "measures", MEASURE)  # moved on since the export
    township = (await api.get("township.baishishan", f"{PATH}/sync-status")).json()
    assert township["area"] == "220281102"
    assert township["by_status"] == {
        "not_exportable": 1,
        "pending": 0,
        "exported": 0,
        "accepted": 1,
        "rejected": 1,
    }
    assert township["changed_since_export"] == 1
    assert township["last_export_at"] is not None
    [refused] = township["rejected"]
    assert refused["case_id"] == rejected
    assert refused["reason"] == "证件号码与户籍信息不符"
    # each case's own status says the same
    one = (await api.get(BUREAU, f"/api/v1/cases/{rejected}/national-sync")).json()
    assert one["status"] == "rejected"
    # another township's area: nothing there; outside the caller's: 404
    other = (await api.get(BUREAU, f"{PATH}/sync-status", area="220281105")).json()
    assert sum(other["by_status"].values()) == 0
    outside = await api.get("township.baishishan", f"{PATH}/sync-status", area="220281105")
    assert outside.status_code == 404
    # a role that reads no cases may not ask
    assert (await api.get("dept.civil-affairs", f"{PATH}/sync-status")).status_code == 403
