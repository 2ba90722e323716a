"""The one XLSX writer of the service: the national export and every ledger.

Rows are written as they come into a streamed workbook (:mod:`app.core.xlsx`: memory stays
flat), deflated off the event loop, and the file is sent in chunks. Values keep their types,
so Excel adds them up: amounts and counts are numbers, days are Excel dates, moments are
Asia/Shanghai times; identifiers are text. :func:`json_value` gives the same values for a
JSON answer.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi.responses import StreamingResponse

from app.core import xlsx
from workflows.calendar import SHANGHAI

MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WIDE = {
    "证件号码": 22,
    "户主证件号码": 22,
    "案件编号": 38,
    "case_id": 38,
    "member_id": 38,
    "行政区划代码": 15,
    "报送时间": 20,
    "记账时间": 20,
    "情况说明": 30,
    "风险情况": 30,
}


def column_widths(header: list[str]) -> list[float]:
    """Column widths that fit the Chinese headers and typical values, in the header's order."""
    return [float(WIDE.get(name) or max(10, 2 * len(name) + 2)) for name in header]


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

    return StreamingResponse(
        write_xlsx(title, header, each()),
        media_type=MEDIA,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


SHEET_ROWS = 1_048_576
"""The rows a sheet takes: Excel opens at most 1,048,576, the header (and caption) among them."""


BLOCK_ROWS = 2000
"""Rows built into XML at a time, then deflated on a worker thread."""


async def write_xlsx(
    title: str,
    header: list[str],
    rows: AsyncIterator[list[Any]],
    caption: tuple[str, str] | None = None,
) -> AsyncIterator[bytes]:
    """A workbook streamed into a temporary file as the rows come (:mod:`app.core.xlsx`:
    memory stays flat), then sent in chunks: frozen header row, widths that fit. Rows beyond
    what Excel opens in one sheet go on in the next (``title (2)``, …), each with the header.
    With a ``caption`` (a title line and a notes line), every sheet opens with those two rows
    and its header is the third, as the national system's sheets are laid out. Each block of
    rows is turned into XML on the event loop and deflated on a worker thread, so the process
    goes on answering other requests while a million rows are zipped."""
    top: list[list[Any]] = [[caption[0]], [caption[1]]] if caption else []
    widths = column_widths(header)
    per_sheet = SHEET_ROWS - len(top) - 1
    loop = asyncio.get_running_loop()
    file = tempfile.TemporaryFile()  # noqa: SIM115 (closed below, on every path)
    book = xlsx.Workbook(file)
    try:

        async def put(block: list[list[Any]]) -> None:
            data = book.rows_xml(block)
            await loop.run_in_executor(None, book.write, data)

        async def sheet(number: int) -> None:
            name = title if number == 1 else f"{title} ({number})"
            await loop.run_in_executor(None, lambda: book.add_sheet(name, widths, len(top) + 1))
            await put([*top, header])

        sheets, written = 1, 0
        block: list[list[Any]] = []
        await sheet(1)
        async for values in rows:
            if written == per_sheet:
                await put(block)
                block, sheets, written = [], sheets + 1, 0
                await sheet(sheets)
            block.append(values)
            written += 1
            if len(block) == BLOCK_ROWS:
                await put(block)
                block = []
        await put(block)
        await loop.run_in_executor(None, book.close)
    except BaseException:  # the rows failed or the client went: no workbook will be sent
        book.abandon()
        file.close()
        raise
    try:
        file.seek(0)
        while chunk := await loop.run_in_executor(None, file.read, 1 << 16):
            yield chunk
    finally:
        file.close()  # a temporary file: gone once closed
