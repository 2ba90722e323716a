"""The national export: cases and members under the national forms' field names.

A batch's cases are the confirmed ones changed within its log range and those the national
system rejected from the batch that last sent them (:data:`SELECTION`); each goes out once,
as its document (``national_document``) stands, its members' sealed numbers put in
(:func:`app.exports.document.filled`), and is recorded as an item of the batch, at the
version sent. On PostgreSQL one binary COPY reads the selection with the documents, whose
rows are sliced out of the byte stream, while the writer's connection appends the items
from what went out (CSV and XLSX, slower, once the body is complete: :class:`ItemWriter`);
SQLite writes the items first, then reads their documents. JSON Lines nest members under
成员; CSV and XLSX take one row per member.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import struct
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.crypto import FieldCipher
from app.exports import document, quality
from app.national_sheet import sheet

EXPORT_LOCK = 0x66_66_70_6E_61_74  # "ffpnat": one national export at a time
SELECTION = """SELECT {columns} FROM national_document d
    WHERE d.area_code LIKE {area}
        AND d.case_id IN (SELECT e.case_id FROM audit_log l JOIN case_event e ON e.id = l.event_id
                          WHERE l.log_index > {after} AND l.log_index < {to})
    UNION ALL
    SELECT {columns} FROM national_sync s
        JOIN national_export_batch b ON b.id = s.batch_id
        JOIN national_document d ON d.case_id = s.case_id
    WHERE s.status = 'rejected' AND d.area_code LIKE {area}
        AND EXISTS (SELECT 1 FROM national_export_item i
                    WHERE i.batch_number = b.number AND i.case_id = s.case_id)
        AND NOT EXISTS (SELECT 1 FROM national_export_batch later JOIN national_export_item i
                        ON i.batch_number = later.number AND i.case_id = s.case_id
                        WHERE later.number > b.number)
        AND NOT EXISTS (SELECT 1 FROM case_event e JOIN audit_log l ON l.event_id = e.id
                        WHERE e.case_id = d.case_id
                            AND l.log_index > {after} AND l.log_index < {to})"""
"""A batch's cases, read from their documents alone (each carries its case's version and
area): confirmed ones changed within the log range (a semi-join: a million ids hash well),
and those the national system rejected from the batch that last sent them."""
SELECT_INTO = "INSERT INTO national_export_item (batch_number, case_id, version) " + (
    SELECTION.format(
        columns=":number, d.case_id, d.version", area=":area", after=":after", to=":to"
    )
)
"""SQLite: the items first, then :data:`DOCUMENTS` reads them."""
DOCUMENTS = """SELECT d.case_id, d.quality, d.numbers, d.document FROM national_export_item i
    JOIN national_document d ON d.case_id = i.case_id WHERE i.batch_number = :number"""
SENT = SELECTION.format(
    columns="d.case_id || E'\\t' || d.version || E'\\t' || coalesce(d.quality, '') || E'\\t' "
    "|| d.numbers || E'\\t' || d.document",
    area="$1",
    after="$2",
    to="$3",
)
"""PostgreSQL: the selection and the documents in one statement, ``case id, version, quality
flags, sealed numbers, document`` joined by tabs; the items are written from what it sent,
and the flags counted as it goes (:attr:`Tally.quality`)."""
ITEMS_AT_ONCE = 200_000
COPY_TUPLE = struct.Struct(">hi")
TRAILER = b"\xff\xff"  # a field count of -1
COPY_HEADER = 19  # signature (11), flags (4), header extension length (4, zero)
BLOCK = 1 << 18  # bytes of documents opened and sent at a time


SERVICE_COLUMNS = ("case_id", "member_id", *sheet.MEMBER_EXTRA, *sheet.HOUSEHOLD_EXTRA)
"""The service's own columns, after the national sheet's."""


def headers() -> list[str]:
    """The flat (CSV/XLSX) header row: the national sheet's columns in its order, then the
    service's own."""
    return [*sheet.NAMES, *SERVICE_COLUMNS]


Run = tuple[bool, tuple[str, ...], tuple[int, ...]]
"""A run of the flat row's columns of one level: member level?, names, where its numbers are."""


def _runs() -> list[Run]:
    """The flat row's columns (:func:`headers`) as runs of one level each, in order."""
    levels = [(column.level == "人", column.name) for column in sheet.COLUMNS]
    levels += [(False, "case_id"), (True, "member_id")]
    levels += [(True, name) for name in sheet.MEMBER_EXTRA]
    levels += [(False, name) for name in sheet.HOUSEHOLD_EXTRA]
    runs: list[tuple[bool, list[str]]] = []
    for personal, name in levels:
        if runs and runs[-1][0] == personal:
            runs[-1][1].append(name)
        else:
            runs.append((personal, [name]))
    return [
        (personal, tuple(names), tuple(i for i, name in enumerate(names) if name in sheet.NUMBERS))
        for personal, names in runs
    ]


RUNS = _runs()


def _read(source: dict[str, Any], run: Run, number: Callable[[Any], Any] | None) -> list[Any]:
    get = source.get
    values = [get(name, "") for name in run[1]]
    if number is not None:
        for index in run[2]:
            value = values[index]
            values[index] = number(value) if value not in ("", None) else None
    return values


def flat(record: dict[str, Any], number: Callable[[Any], Any] | None = None) -> list[list[Any]]:
    """A document's rows in :func:`headers` order: one per member (none: one row), household
    fields repeated, and with ``number`` the numeric columns' values through it (an empty one
    as None). The household's columns are read once per case, each member's once."""
    members = record["成员"] or [{}]
    household = [None if run[0] else _read(record, run, number) for run in RUNS]
    rows = []
    for member in members:
        row: list[Any] = []
        for run, values in zip(RUNS, household, strict=True):
            row += _read(member, run, number) if values is None else values
        rows.append(row)
    return rows


async def select_cases(session: AsyncSession, params: dict[str, Any]) -> None:
    """SQLite: append the export's cases to its items."""
    await session.execute(text(SELECT_INTO), params)


@dataclass
class Tally:
    cases: int = 0
    rows: int = 0
    quality: dict[bytes, int] = field(default_factory=dict)
    """The cases sent by their documents' quality flags as kept (``,code,code,``), so an
    export counts what it sent without reading the documents a second time."""

    def flagged(self) -> dict[str, int]:
        """How many of the cases sent break each data-quality rule."""
        counts: dict[str, int] = {}
        for codes, n in self.quality.items():
            for code in quality.split(codes.decode()):
                counts[code] = counts.get(code, 0) + n
        return counts


class ItemWriter:
    """PostgreSQL: the batch's items, appended by the writer's connection while the reader
    streams (the two run side by side), each a COPY of up to :data:`ITEMS_AT_ONCE` rows in
    key order, which the primary key's index takes at about half the cost of ids in the
    order the documents came.

    ``deferred`` (CSV and XLSX, which take minutes for a million cases): the sorted runs wait
    in a temporary file and are written once the body is complete. The first row written
    makes the writer's a writing transaction, and the log sequences no event younger than a
    writing transaction still open anywhere on the cluster: written as they go, the items
    would hold every change back for as long as the export runs."""

    def __init__(self, writer: AsyncSession, number: int, deferred: bool = False) -> None:
        self.writer, self.head = writer, b"%d\t" % number
        self.lines: list[bytes] = []
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=4)
        self.task: asyncio.Task[None] | None = None
        self.waiting = tempfile.TemporaryFile() if deferred else None  # noqa: SIM115
        self.runs: list[int] = []  # the waiting runs' lengths in bytes

    async def start(self) -> None:
        connection = await self.writer.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None

        async def write() -> None:
            # a buffer (bytes would be taken for a path), not a file: for a file asyncpg
            # defines a reader class per call, whose reference cycle keeps the file's
            # contents until a full collection, some 50 MB per export of a million
            while (rows := await self.queue.get()) is not None:
                columns = ["batch_number", "case_id", "version"]
                await driver.copy_to_table(
                    "national_export_item", source=memoryview(rows), columns=columns
                )

        self.task = asyncio.create_task(write())

    async def add(self, items: list[bytes]) -> None:
        """Items as :func:`open_rows` made them from the stream."""
        self.lines += items
        if len(self.lines) >= ITEMS_AT_ONCE:
            await self.flush()

    async def flush(self) -> None:
        if self.lines:
            self.lines.sort()
            self.lines.append(b"")
            run = b"\n".join(self.lines)
            self.lines.clear()
            if self.waiting is None:
                await self.put(run)
            else:
                self.runs.append(self.waiting.write(run))

    async def put(self, run: bytes | None) -> None:
        """Queue a run for the writer, or raise the writer's error: a writer that failed
        takes nothing more, and a full queue would wait for it forever."""
        assert self.task is not None
        if self.task.done():  # failed: raise its error here, in the stream
            self.task.result()
        put = asyncio.ensure_future(self.queue.put(run))
        await asyncio.wait({put, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if not put.done():
            put.cancel()
            self.task.result()  # it ends early only by failing
            raise RuntimeError("the export's items writer stopped")

    async def close(self) -> None:
        await self.flush()
        if self.waiting is not None:
            self.waiting.seek(0)
            for length in self.runs:
                await self.put(self.waiting.read(length))
            self.waiting.close()
        await self.put(None)
        assert self.task is not None
        await self.task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.waiting is not None:
            self.waiting.close()


@dataclass
class Batch:
    """The export being written: its number, what selects its cases, and on PostgreSQL the
    writer of its items (elsewhere they are written before the documents are read)."""

    number: int
    params: dict[str, Any]
    items: ItemWriter | None = None
    deferred: bool = False
    """Its items written once the body is complete (see :class:`ItemWriter`)."""


@contextlib.asynccontextmanager
async def reading(
    sessions: async_sessionmaker[AsyncSession], writer: AsyncSession, batch: Batch
) -> AsyncIterator[AsyncSession]:
    """The session the batch's documents are read from. PostgreSQL: a second one, beside the
    writer, which appends the items as the documents go out; its work ends with the body.
    SQLite (one writer): the items first, then the documents, in the writer's session."""
    if writer.get_bind().dialect.name != "postgresql":
        await select_cases(writer, batch.params | {"number": batch.number})
        yield writer
        return
    batch.items = ItemWriter(writer, batch.number, batch.deferred)
    await batch.items.start()
    reader = sessions()
    try:
        await reader.begin()
        # the selection hashes a million case ids: in memory, not in batches on disk; and
        # compiling it to machine code costs more than it saves on a plan this simple
        await reader.execute(text("SET LOCAL work_mem = '64MB'"))
        await reader.execute(text("SET LOCAL jit = off"))
        yield reader
        await reader.rollback()  # it only read
        await batch.items.close()
    except BaseException:
        # A COPY cut short (an error, or the client gone) leaves the driver inside the
        # protocol, where a rollback would wait forever: both connections are closed
        # instead, and PostgreSQL drops what they had begun.
        batch.items.cancel()
        await reader.invalidate()
        await writer.invalidate()
        raise
    finally:
        await reader.close()


async def _blocks(
    session: AsyncSession, batch: Batch, cipher: FieldCipher, tally: Tally
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
            block = b"".join(pending)
            pending.clear()
            size = 0
            await queue.put(block)

    async def add(parts: list[bytes], cases: int, length: int) -> None:
        """Whole lines, in pieces (see :func:`open_rows`)."""
        nonlocal size
        pending.extend(parts)
        tally.cases += cases
        size += length
        if size >= BLOCK:
            await flush()

    async def produce() -> None:
        try:
            if batch.items is not None:
                await _copy(session, batch, cipher, tally.quality, add)
            else:
                result = await session.stream(text(DOCUMENTS), {"number": batch.number})
                async for partition in result.partitions(1000):
                    parts: list[bytes] = []
                    for case_id, flags, numbers, stored in partition:
                        if flags:
                            kept = flags.encode()
                            tally.quality[kept] = tally.quality.get(kept, 0) + 1
                        parts += document.filled(
                            case_id.encode(), numbers.encode(), stored.encode(), cipher
                        )
                        parts.append(b"\n")
                    await add(parts, len(partition), sum(map(len, parts)))
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
        buffer = self.carry + data if self.carry else bytes(data)  # asyncpg's: a bytearray
        position, end, rows, size = self.skip, len(buffer), [], 0
        unpack = COPY_TUPLE.unpack_from
        while position + 6 <= end:
            fields, length = unpack(buffer, position)
            if fields == -1:  # the trailer came with more after it: not a COPY stream
                raise ValueError("the COPY stream goes on after its end")
            start = position + 6
            if start + length > end:
                break
            rows.append(buffer[start : start + length])
            size += length
            position = start + length
        if buffer[position:] == TRAILER:  # the last two bytes of the stream
            self.done, position = True, end
        self.skip = max(0, position - end)  # inside the header still
        self.carry = buffer[position:]
        return rows, size

    def close(self) -> None:
        if not self.done or self.carry:
            raise ValueError("the COPY stream ended inside a row")


def open_rows(
    rows: list[bytes], head: bytes, cipher: FieldCipher, flagged: dict[bytes, int]
) -> tuple[list[bytes], list[bytes]]:
    """Rows of :data:`SENT` (case id, version, quality flags, sealed numbers, document,
    joined by tabs) as the batch's items (``head``, case id, tab, version) and the documents
    with their numbers put in, as pieces and line ends to join; the flags are counted into
    ``flagged``. One pass, no step it can spare: every case of an export goes through here."""
    items: list[bytes] = []
    parts: list[bytes] = []
    item, extend, end, fill = items.append, parts.extend, parts.append, document.filled
    for row in rows:
        case_id, version, flags, numbers, text = row.split(b"\t", 4)
        if flags:
            flagged[flags] = flagged.get(flags, 0) + 1
        item(head + case_id + b"\t" + version)
        extend(fill(case_id, numbers, text, cipher))
        end(b"\n")
    return items, parts


async def _copy(
    session: AsyncSession,
    batch: Batch,
    cipher: FieldCipher,
    flagged: dict[bytes, int],
    add: Callable[[list[bytes], int, int], Awaitable[None]],
) -> None:
    """PostgreSQL: the batch's cases as a binary COPY (:data:`SENT`); each tuple is one
    field, its length then its UTF-8 bytes, sliced straight out of the stream. The case id
    and version before each document go to the items, its quality flags to ``flagged``, the
    sealed numbers into it."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    assert batch.items is not None
    rows, items = CopyRows(), batch.items

    async def sink(data: bytes) -> None:
        cut, size = rows.feed(data)
        lines, parts = open_rows(cut, items.head, cipher, flagged)
        await items.add(lines)
        await add(parts, len(cut), size)

    params = batch.params
    await driver.copy_from_query(
        SENT, params["area"], params["after"], params["to"], output=sink, format="binary"
    )
    rows.close()


async def stream_jsonl(
    session: AsyncSession, batch: Batch, cipher: FieldCipher, tally: Tally
) -> AsyncIterator[bytes]:
    """JSON Lines, one case a line, as stored with each member's ID number opened."""
    async for block in _blocks(session, batch, cipher, tally):
        yield block
    tally.rows = tally.cases


async def flat_blocks(
    session: AsyncSession,
    batch: Batch,
    cipher: FieldCipher,
    tally: Tally,
    number: Callable[[Any], Any] | None = None,
) -> AsyncIterator[list[list[Any]]]:
    """One row per member, in :func:`headers` order (a case without members: one row), a
    block's cases at a time; numeric columns through ``number`` (see :func:`flat`)."""
    async for block in _blocks(session, batch, cipher, tally):  # counts the cases
        rows: list[list[Any]] = []
        for line in block.splitlines():
            rows += flat(orjson.loads(line), number)
        tally.rows += len(rows)
        yield rows


def csv_lines(header: list[str], encoding: str) -> tuple[Callable[[list[list[Any]]], bytes], bytes]:
    """An encoder of rows (None as empty), and the file's first bytes (BOM for UTF-8, then
    the header)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def encode(rows: list[list[Any]]) -> bytes:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(rows)
        return buffer.getvalue().encode(encoding)

    start = ("\ufeff".encode() if encoding == "utf-8" else b"") + encode([header])
    return encode, start
