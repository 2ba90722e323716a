"""The one XLSX writer of the service: the national export and every ledger.

Rows are written as they come to a write-only workbook (memory stays flat), the file is zipped
off the event loop and sent in chunks. Values keep their types, so Excel adds them up: amounts
and counts are numbers, days are Excel dates, moments are Asia/Shanghai times; identifiers
are text. :func:`json_value` gives the same values for a JSON answer.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi.responses import StreamingResponse

from workflows.calendar import SHANGHAI

MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WIDE = {"证件号码": 22, "户主证件号码": 22, "案件编号": 38, "case_id": 38, "member_id": 38,
        "行政区划代码": 15, "报送时间": 20, "记账时间": 20, "情况说明": 30,
        "风险情况": 30}  # fmt: skip


def column_widths(header: list[str]) -> Iterator[tuple[str, float]]:
    """Excel column letters and widths that fit the Chinese headers and typical values."""
    from openpyxl.utils import get_column_letter

    for index, name in enumerate(header, start=1):
        yield get_column_letter(index), float(WIDE.get(name) or max(10, 2 * len(name) + 2))


def excel_value(value: Any) -> Any:
    """A cell's value: an aware moment becomes its Asia/Shanghai wall time (Excel has no
    zones); numbers, days and text stay what they are."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(SHANGHAI).replace(tzinfo=None, microsecond=0)
    return value


def json_value(value: Any) -> Any:
    """The same value in a JSON answer: yuan as decimal strings, days as ISO dates, moments
    as ISO times in Asia/Shanghai (+08:00), to the second."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).replace(microsecond=0).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def json_rows(rows: Iterable[list[Any]]) -> list[list[Any]]:
    return [[json_value(v) for v in row] for row in rows]


def xlsx_response(
    title: str, header: list[str], rows: Iterable[list[Any]], filename: str
) -> StreamingResponse:
    """A ledger already read, as an Excel download."""

    async def each() -> AsyncIterator[list[Any]]:
        for row in rows:
            yield row

    return StreamingResponse(write_xlsx(title, header, each()), media_type=MEDIA,
                             headers={"Content-Disposition":
                                      f'attachment; filename="{filename}"'})  # fmt: skip


SHEET_ROWS = 1_048_576
"""The rows a sheet takes: Excel opens at most 1,048,576, the header (and caption) among them."""


async def write_xlsx(
    title: str,
    header: list[str],
    rows: AsyncIterator[list[Any]],
    caption: tuple[str, str] | None = None,
) -> AsyncIterator[bytes]:
    """A workbook written row by row to a temporary file (openpyxl's write-only mode keeps
    memory flat), then sent in chunks: frozen header row, widths that fit. Rows beyond what
    Excel opens in one sheet go on in the next (``title (2)``, …), each with the header.
    With a ``caption`` (a title line and a notes line), every sheet opens with those two rows
    and its header is the third, as the national system's sheets are laid out."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheets: list[Any] = []
    top = [[caption[0]], [caption[1]]] if caption else []

    def sheet_for(number: int) -> Any:
        sheet = book.create_sheet(title if number == 1 else f"{title} ({number})")
        sheets.append(sheet)
        sheet.freeze_panes = f"A{len(top) + 2}"
        for letter, width in column_widths(header):
            sheet.column_dimensions[letter].width = width
        for line in top:
            sheet.append(line)
        sheet.append(header)
        return sheet

    written = 0
    sheet = sheet_for(1)
    try:
        async for values in rows:
            if written == SHEET_ROWS - len(top) - 1:
                sheet, written = sheet_for(len(sheets) + 1), 0
            sheet.append([excel_value(v) for v in values])
            written += 1
    except BaseException:  # the rows failed or the client went: no workbook will be saved
        discard(sheets)
        raise
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        # zipping a sheet of a million rows takes a while: off the event loop, so the
        # process goes on answering other requests; and its own until done, since it
        # removes the sheets' files as it goes and the workbook's file is removed after it
        saving = asyncio.get_running_loop().run_in_executor(None, book.save, path)
        try:
            await asyncio.shield(saving)
        finally:
            if not saving.done():
                await asyncio.wait([saving])
        with open(path, "rb") as file:  # noqa: ASYNC230 (a local temporary file)
            while chunk := file.read(1 << 16):
                yield chunk
    finally:
        os.unlink(path)


def discard(sheets: list[Any]) -> None:
    """Write-only sheets keep their rows in temporary files that openpyxl removes when it
    saves the workbook, or else only when the process exits: a workbook given up is
    removed now (a million rows are gigabytes)."""
    for sheet in sheets:
        writer = sheet._writer
        if writer is None:
            continue
        if not sheet.closed:
            sheet.close()
        if os.path.exists(writer.out):
            writer.cleanup()
