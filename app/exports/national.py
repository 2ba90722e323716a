"""The national export: cases and members under the national forms' field names.

The export's cases are fixed once in a temporary table (those confirmed, changed within the
log range, or rejected by the national system), then read in chunks by case id with their
members; case fields come from the projection the write path keeps
(``monitoring_case.national``), spliced into each line as stored. JSON Lines nest members
under 成员; CSV and XLSX take one row per member. ID numbers are decrypted as they go out.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import FieldCipher, context
from app.exports import document, projection

CASES = """SELECT c.national, (SELECT {aggregate}(m.id || ' ' || m.id_number_encrypted, ',')
        FROM member m WHERE m.household_id = c.household_id)
    FROM export_selection s JOIN monitoring_case c ON c.id = s.case_id ORDER BY s.case_id"""
SELECT_INTO = (
    # changed within the log range (joins, not IN: a million ids do not fit a hashed subplan)
    """INSERT INTO export_selection (case_id)
    SELECT DISTINCT e.case_id FROM audit_log l
        JOIN case_event e ON e.id = l.event_id JOIN monitoring_case c ON c.id = e.case_id
    WHERE l.log_index > :after AND l.log_index < :to
        AND c.national IS NOT NULL AND c.area_code LIKE :area""",
    # rejected by the national system: sent again
    """INSERT INTO export_selection (case_id)
    SELECT s.case_id FROM national_sync s JOIN monitoring_case c ON c.id = s.case_id
    WHERE s.status = 'rejected' AND c.national IS NOT NULL AND c.area_code LIKE :area
        AND s.case_id NOT IN (SELECT case_id FROM export_selection)""",
)


def headers() -> list[str]:
    """The flat (CSV/XLSX) header row: case fields, then member fields."""
    return [*document.HEAD_FIELDS, *projection.FIELDS, *document.MEMBER_FIELDS]


def sync_statement() -> str:
    """Mark every case of a finished export as sent: the version recorded is the newest event
    of the case inside the export's log range (what was sent is at least that new). (``WHERE
    true`` lets SQLite tell the SELECT from the upsert clause.)"""
    return """INSERT INTO national_sync (case_id, status, batch_id, exported_version, exported_at)
    SELECT s.case_id, 'exported', :batch, (SELECT max(e.seq) FROM case_event e
        JOIN audit_log l ON l.event_id = e.id WHERE e.case_id = s.case_id
        AND l.log_index < :to), :now FROM export_selection s WHERE true
    ON CONFLICT (case_id) DO UPDATE SET status = 'exported', batch_id = excluded.batch_id,
        exported_version = excluded.exported_version, exported_at = excluded.exported_at,
        reason = NULL, acknowledged_at = NULL, acknowledged_by = NULL"""


async def select_cases(session: AsyncSession, params: dict[str, Any]) -> int:
    """Fix the export's cases in a temporary table (this session's), once; answers how many.
    They are then read in id order, and the batch marks exactly these as sent."""
    await session.execute(text("CREATE TEMPORARY TABLE IF NOT EXISTS export_selection "
                               "(case_id VARCHAR(36) PRIMARY KEY)"))  # fmt: skip
    await session.execute(text("DELETE FROM export_selection"))
    selected = 0
    for statement in SELECT_INTO:
        result = await session.execute(text(statement), params)
        selected += int(result.rowcount or 0)  # type: ignore[attr-defined]
    await session.execute(text("ANALYZE export_selection"))
    return selected


async def _documents(session: AsyncSession) -> AsyncIterator[tuple[str, str | None]]:
    """The selected cases' documents with their members' ciphertexts, in case id order.

    A task fetches the next rows while the previous ones are being written out, so the
    database works on the following batch instead of waiting for the service to ask."""
    postgres = session.get_bind().dialect.name == "postgresql"
    query = CASES.format(aggregate="string_agg" if postgres else "group_concat")
    queue: asyncio.Queue[Sequence[Any] | BaseException | None] = asyncio.Queue(maxsize=4)

    async def produce() -> None:
        try:
            result = await session.stream(text(query))
            async for partition in result.partitions(1000):  # the size bounds memory
                await queue.put(partition)
            await queue.put(None)
        except BaseException as error:  # handed to the reader, which raises it
            await queue.put(error)

    task = asyncio.create_task(produce())
    try:
        while (partition := await queue.get()) is not None:
            if isinstance(partition, BaseException):
                raise partition
            for row in partition:
                yield row[0], row[1]
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _numbers(sealed: str | None, cipher: FieldCipher) -> dict[str, str]:
    """Member id → ID number, decrypted from ``id ciphertext`` pairs."""
    numbers = {}
    for pair in (sealed or "").split(","):
        if pair:
            member_id, token = pair.split(" ", 1)
            numbers[member_id] = cipher.decrypt(token, context("member", member_id, "id_number"))
    return numbers


async def stream_jsonl(
    session: AsyncSession, cipher: FieldCipher, tally: Tally
) -> AsyncIterator[bytes]:
    """JSON Lines, one case a line, as stored with each member's ID number put in."""
    lines: list[str] = []
    async for doc, sealed in _documents(session):
        for member_id, number in _numbers(sealed, cipher).items():
            doc = doc.replace(f'"#{member_id}"', f'"{number}"', 1)
        lines.append(doc)
        if len(lines) == 1000:
            tally.cases += len(lines)
            yield ("\n".join(lines) + "\n").encode()
            lines.clear()
    tally.cases += len(lines)
    tally.rows = tally.cases
    if lines:
        yield ("\n".join(lines) + "\n").encode()


async def flat_rows(
    session: AsyncSession, cipher: FieldCipher, tally: Tally
) -> AsyncIterator[list[Any]]:
    """One row per member, in :func:`headers` order (a case without members: one row)."""
    async for doc, sealed in _documents(session):
        numbers = _numbers(sealed, cipher)
        record = json.loads(doc)
        head = [record.get(f) for f in document.HEAD_FIELDS]
        head += [record.get(f, "") for f in projection.FIELDS]
        tally.cases += 1
        for member in record["成员"] or [None]:
            tally.rows += 1
            if member is None:
                yield head + [None] * len(document.MEMBER_FIELDS)
                continue
            member[document.ID_FIELD] = numbers.get(member["member_id"])
            yield head + [member.get(f) for f in document.MEMBER_FIELDS]


@dataclass
class Tally:
    cases: int = 0
    rows: int = 0


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
