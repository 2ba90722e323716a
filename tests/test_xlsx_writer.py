"""The streaming XLSX writer, read back by openpyxl and by pandas as Excel users' tools read it."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pandas
from openpyxl import load_workbook

from app.core import xlsx

ROWS: list[list[Any]] = [
    ["文本", "  spaced  ", "a < b & c > d", "控制\x01字符", "是"],
    [12000, Decimal("5250.50"), 1.25, True, None],
    [
        date(2026, 3, 15),
        datetime(2026, 3, 15, 8, 30, 5, tzinfo=UTC),
        "",
        "220281197001011234",
        "否",
    ],
]


def written(sheets: dict[str, list[list[Any]]], frozen: int = 1) -> bytes:
    buffer = io.BytesIO()
    book = xlsx.Workbook(buffer)
    for name, rows in sheets.items():
        book.add_sheet(name, [12.0, 30.0], frozen)
        book.write(book.rows_xml(rows[:1]))
        book.write(book.rows_xml(rows[1:]))  # rows keep their numbers across blocks
    book.close()
    return buffer.getvalue()


def test_values_keep_their_types_and_their_text() -> None:
    book = load_workbook(io.BytesIO(written({"台账": ROWS})))
    sheet = book["台账"]
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["B"].width == 30
    first, second, third = (list(r) for r in sheet.iter_rows(values_only=True))
    assert first == ["文本", "  spaced  ", "a < b & c > d", "控制字符", "是"]  # XML-illegal dropped
    assert second[:4] == [12000, 5250.5, 1.25, True]
    assert second[4] is None
    assert third[0] == datetime(2026, 3, 15)  # a day, as an Excel date
    assert third[1] == datetime(2026, 3, 15, 16, 30, 5)  # Asia/Shanghai wall time
    assert third[2] is None
    assert third[3] == "220281197001011234"
    assert third[4] == "否"
    assert sheet["A3"].number_format == "yyyy-mm-dd"
    assert sheet["B3"].number_format == "yyyy-mm-dd hh:mm:ss"


def test_equal_text_and_numbers_keep_their_kinds_in_the_remembered_cells() -> None:
    # the writer remembers each text's cell: 1, 1.0, True and Decimal 1 are equal keys, and
    # none of them may come out as the text "1" (or the other way round)
    rows = [["1", 1, "1", True, Decimal("1"), 1.0, "True"], [True, "1", 1, Decimal("1"), "1"]]
    sheet = load_workbook(io.BytesIO(written({"s": rows}))).active
    assert sheet is not None
    first, second = (list(r) for r in sheet.iter_rows(values_only=True))
    assert [type(v) for v in first] == [str, int, str, bool, int, float, str]
    assert first == ["1", 1, "1", True, 1, 1.0, "True"]
    assert [type(v) for v in second[:5]] == [bool, str, int, int, str]


def test_spaces_at_the_ends_and_characters_xml_cannot_carry() -> None:
    values = [
        " lead",
        "trail ",
        "\u3000全角",
        "tab\tinside",
        "two\nlines",
        "bad\ufffechar",
        "a&b",
        "<x>",
        "plain 中文 text",
    ]
    content = written({"s": [values, values]})
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    xml = zipfile.ZipFile(io.BytesIO(content)).read("xl/worksheets/sheet1.xml").decode()
    # Excel drops spaces at a text's ends unless told to keep them, in every row
    assert xml.count('<t xml:space="preserve"> lead</t>') == 2
    assert xml.count('<t xml:space="preserve">trail </t>') == 2
    assert xml.count('<t xml:space="preserve">\u3000全角</t>') == 2
    for row in sheet.iter_rows(values_only=True):  # the second row from the remembered cells
        assert list(row) == [
            " lead",
            "trail ",
            "\u3000全角",
            "tab\tinside",
            "two\nlines",
            "badchar",
            "a&b",
            "<x>",
            "plain 中文 text",
        ]


def test_several_sheets_with_awkward_names_and_a_reader_that_counts_rows() -> None:
    content = written({'一 "引号" & <尖>': [["a"], ["b"]], "第二页": [["c"], ["d"], ["e"]]}, 0)
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == ['一 "引号" & <尖>', "第二页"]
    assert [list(r) for r in book["第二页"].iter_rows(values_only=True)] == [["c"], ["d"], ["e"]]
    frame = pandas.read_excel(io.BytesIO(content), sheet_name="第二页", dtype=str)
    assert list(frame["c"]) == ["d", "e"]
    assert zipfile.ZipFile(io.BytesIO(content)).testzip() is None


def test_an_abandoned_workbook_can_be_discarded() -> None:
    buffer = io.BytesIO()
    book = xlsx.Workbook(buffer)
    book.add_sheet("x")
    book.write(book.rows_xml([["half"]]))
    book.abandon()  # no exception, nothing left open
    assert book.entry is None
