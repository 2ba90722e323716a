"""The national export: cases and members under the national forms' field names.

An export first appends its cases to ``national_export_item`` (those confirmed and changed
within the log range, and those the national system rejected from the batch that last sent
them), then reads their documents (``national_document``) in one pass: on PostgreSQL as a
binary COPY, whose rows are sliced out of the byte stream, elsewhere in partitions of rows.
Documents are spliced into the output as stored, each member's sealed ID number opened on
the way (:func:`app.exports.document.unseal`). JSON Lines nest members under 成员; CSV and
XLSX take one row per member.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import FieldCipher
from app.exports import document, projection

EXPORT_LOCK = 0x66_66_70_6E_61_74  # "ffpnat": one national export at a time
CHANGED = """INSERT INTO national_export_item (case_id, batch_number, version)
    SELECT c.id, :number, c.version FROM monitoring_case c
    WHERE c.area_code LIKE :area
        AND c.id IN (SELECT e.case_id FROM audit_log l JOIN case_event e ON e.id = l.event_id
                     WHERE l.log_index > :after AND l.log_index < :to)
        AND EXISTS (SELECT 1 FROM national_document d WHERE d.case_id = c.id)
    ORDER BY c.id"""
"""Confirmed cases changed within the log range (a semi-join: a million ids hash well)."""
REJECTED = """INSERT INTO national_export_item (case_id, batch_number, version)
    SELECT c.id, :number, c.version FROM national_sync s
        JOIN national_export_batch b ON b.id = s.batch_id
        JOIN monitoring_case c ON c.id = s.case_id
    WHERE s.status = 'rejected' AND c.area_code LIKE :area
        AND EXISTS (SELECT 1 FROM national_export_item i
                    WHERE i.batch_number = b.number AND i.case_id = s.case_id)
        AND NOT EXISTS (SELECT 1 FROM national_export_batch later JOIN national_export_item i
                        ON i.batch_number = later.number AND i.case_id = s.case_id
                        WHERE later.number > b.number)
        AND NOT EXISTS (SELECT 1 FROM national_export_item i
                        WHERE i.batch_number = :number AND i.case_id = s.case_id)"""
"""Rejected by the national system in the batch that last sent them: sent again."""
DOCUMENTS = """SELECT d.document FROM national_export_item i
    JOIN national_document d ON d.case_id = i.case_id WHERE i.batch_number = {number}"""
COPY_TUPLE = struct.Struct(">hi")
TRAILER = b"\xff\xff"  # a field count of -1
COPY_HEADER = 19  # signature (11), flags (4), header extension length (4, zero)
BLOCK = 1 << 18  # bytes of documents opened and sent at a time


def headers() -> list[str]:
    """The flat (CSV/XLSX) header row: case fields, then member fields."""
    return [*document.HEAD_FIELDS, *projection.FIELDS, *document.MEMBER_FIELDS]


async def select_cases(session: AsyncSession, params: dict[str, Any]) -> int:
    """Append the export's cases to its items, once; answers how many. The batch sends
    exactly these, as the documents stand in this transaction's snapshot."""
    selected = 0
    for statement in (CHANGED, REJECTED):
        result = await session.execute(text(statement), params)
        selected += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return selected


@dataclass
class Tally:
    cases: int = 0
    rows: int = 0


async def _blocks(
    session: AsyncSession, number: int, cipher: FieldCipher, tally: Tally
) -> AsyncIterator[bytes]:
    """The batch's documents as JSON Lines, opened, in blocks of whole lines.

    A producer reads from the database while the blocks before are being sent, with a small
    queue between them, so memory stays bounded however many cases there are."""
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(maxsize=4)
    pending: list[bytes] = []
    size = 0

    async def flush() -> None:
        nonlocal size
        if pending:
            tally.cases += len(pending)
            pending.append(b"")
            lines = b"\n".join(pending)
            pending.clear()
            size = 0
            await queue.put(document.unseal(lines, cipher))

    async def add(lines: list[bytes], length: int) -> None:
        nonlocal size
        pending.extend(lines)
        size += length
        if size >= BLOCK:
            await flush()

    async def produce() -> None:
        try:
            if session.get_bind().dialect.name == "postgresql":
                await _copy(session, number, add)
            else:
                result = await session.stream(text(DOCUMENTS.format(number=":number")),
                                              {"number": number})  # fmt: skip
                async for partition in result.partitions(1000):
                    lines = [row[0].encode() for row in partition]
                    await add(lines, sum(map(len, lines)))
            await flush()
            await queue.put(None)
        except BaseException as error:  # handed to the reader, which raises it
            await queue.put(error)

    task = asyncio.create_task(produce())
    try:
        while (block := await queue.get()) is not None:
            if isinstance(block, BaseException):
                raise block
            yield block
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class CopyRows:
    """Single-field tuples out of a binary COPY stream fed in pieces of any size."""

    def __init__(self) -> None:
        self.carry, self.skip, self.done = b"", COPY_HEADER, False

    def feed(self, data: bytes) -> tuple[list[bytes], int]:
        """The whole rows completed by ``data``, and their bytes."""
        buffer = self.carry + data if self.carry else data
        position, end, rows, size = self.skip, len(buffer), [], 0
        while position + 2 <= end:
            if buffer[position : position + 2] == TRAILER:
                self.done, position = True, end
                break
            if position + 6 > end:
                break
            _, length = COPY_TUPLE.unpack_from(buffer, position)
            if position + 6 + length > end:
                break
            rows.append(buffer[position + 6 : position + 6 + length])
            size += length
            position += 6 + length
        self.skip = max(0, position - end)  # inside the header still
        self.carry = buffer[position:]
        return rows, size

    def close(self) -> None:
        if not self.done or self.carry:
            raise ValueError("the COPY stream ended inside a row")


async def _copy(
    session: AsyncSession, number: int, add: Callable[[list[bytes], int], Awaitable[None]]
) -> None:
    """PostgreSQL: the documents as a binary COPY in this transaction; each tuple is one
    field, its length then its UTF-8 bytes, sliced straight out of the stream."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    rows = CopyRows()

    async def sink(data: bytes) -> None:
        await add(*rows.feed(data))

    await driver.copy_from_query(DOCUMENTS.format(number=int(number)), output=sink,
                                 format="binary")  # fmt: skip
    rows.close()


async def stream_jsonl(
    session: AsyncSession, number: int, cipher: FieldCipher, tally: Tally
) -> AsyncIterator[bytes]:
    """JSON Lines, one case a line, as stored with each member's ID number opened."""
    async for block in _blocks(session, number, cipher, tally):
        yield block
    tally.rows = tally.cases


async def flat_rows(
    session: AsyncSession, number: int, cipher: FieldCipher, tally: Tally
) -> AsyncIterator[list[Any]]:
    """One row per member, in :func:`headers` order (a case without members: one row)."""
    cases = Tally()
    async for block in _blocks(session, number, cipher, cases):
        for line in block.splitlines():
            record = json.loads(line)
            head = [record.get(f) for f in document.HEAD_FIELDS]
            head += [record.get(f, "") for f in projection.FIELDS]
            tally.cases += 1
            for member in record["成员"] or [None]:
                tally.rows += 1
                if member is None:
                    yield head + [None] * len(document.MEMBER_FIELDS)
                    continue
                yield head + [member.get(f) for f in document.MEMBER_FIELDS]


def csv_lines(header: list[str], encoding: str) -> tuple[Callable[[list[Any]], bytes], bytes]:
    """An encoder of one row, and the file's first bytes (BOM for UTF-8, then the header)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def encode(values: list[Any]) -> bytes:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(["" if v is None else v for v in values])
        return buffer.getvalue().encode(encoding)

    start = ("\ufeff".encode() if encoding == "utf-8" else b"") + encode(header)
    return encode, start


def column_widths(header: list[str]) -> Iterator[tuple[str, float]]:
    """Excel column letters and widths that fit the Chinese headers and typical values."""
    from openpyxl.utils import get_column_letter

    for index, name in enumerate(header, start=1):
        wide = {"证件号码": 22, "case_id": 38, "member_id": 38, "行政区划代码": 15}.get(name)
        yield get_column_letter(index), float(wide or max(10, 2 * len(name) + 2))
