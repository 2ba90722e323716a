"""The embedded SQLite's driver (app.core.sqlite): every statement through SQLAlchemy is one
call on aiosqlite's thread, and answers what SQLAlchemy's own cursor answered."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    insert,
    null,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from app.core.db import JsonDocument, make_engine

METADATA = MetaData()
THINGS = Table(
    "things",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", String, unique=True, nullable=False),
)
DOCUMENTS = Table(
    "documents",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("body", JsonDocument, nullable=True),
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.sqlite3'}")
    async with made.begin() as connection:
        await connection.run_sync(METADATA.create_all)
    yield made
    await made.dispose()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The calls made on aiosqlite's thread from now on, by the function each runs."""
    seen: list[str] = []
    original: Any = aiosqlite.Connection._execute

    async def counted(self: Any, function: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(function, "__name__", repr(function)))
        return await original(self, function, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return seen


async def test_a_statement_is_one_call_and_answers_as_sqlalchemys_cursor(
    engine: AsyncEngine, calls: list[str]
) -> None:
    async with engine.begin() as connection:
        calls.clear()
        inserted = await connection.execute(insert(THINGS).values(name="a"))
        assert calls == ["_run"], calls  # SQLAlchemy's cursor: cursor, execute, close
        assert inserted.inserted_primary_key == (1,)  # the last row id
        await connection.execute(insert(THINGS), [{"name": "b"}, {"name": "c"}])  # executemany
        touched = await connection.execute(
            update(THINGS).where(THINGS.c.id > 1).values(name="x" + THINGS.c.name)
        )
        assert touched.rowcount == 2
        calls.clear()
        rows = (
            await connection.execute(select(THINGS.c.id, THINGS.c.name).order_by(THINGS.c.id))
        ).all()
        assert calls == ["_run"], calls  # and the rows with it, not a call more
        assert rows == [(1, "a"), (2, "xb"), (3, "xc")]
        result = await connection.execute(select(THINGS.c.name).where(THINGS.c.id == 9))
        assert result.first() is None
        assert list(
            (await connection.execute(text("SELECT name FROM things ORDER BY id"))).keys()
        ) == ["name"]


async def test_an_error_is_sqlalchemys_and_the_transaction_goes_on(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(THINGS).values(name="once"))
        savepoint = await connection.begin_nested()
        with pytest.raises(IntegrityError):
            await connection.execute(insert(THINGS).values(name="once"))
        await savepoint.rollback()
        await connection.execute(insert(THINGS).values(name="twice"))
    async with engine.connect() as connection:
        names = (await connection.execute(select(THINGS.c.name).order_by(THINGS.c.id))).scalars()
        assert list(names) == ["once", "twice"]


async def test_streamed_results_keep_sqlalchemys_server_side_cursor(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(THINGS), [{"name": f"n{i}"} for i in range(120)])
    async with engine.connect() as connection:
        streamed = await connection.stream(select(THINGS.c.id).order_by(THINGS.c.id))
        seen = [row[0] async for row in streamed]
    assert seen == list(range(1, 121))


async def test_a_transaction_takes_the_write_lock_with_its_first_statement(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """The ``BEGIN IMMEDIATE`` goes with the transaction's first statement, streamed or not:
    before it another writer still gets the lock, from it on it waits (here: times out)."""
    other = sqlite3.connect(tmp_path / "driver.sqlite3", timeout=0.05, isolation_level=None)

    def other_writer_gets_the_lock() -> bool:
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            return "locked" not in str(error)  # (any other error: True, and the test fails)
        other.execute("ROLLBACK")
        return True

    for streamed in (False, True):
        async with engine.connect() as connection:
            await connection.begin()
            assert other_writer_gets_the_lock()  # nothing sent yet
            query = select(THINGS.c.id)
            if streamed:
                result = await connection.stream(query)
                assert [row async for row in result] == []
            else:
                await connection.execute(query)
            assert not other_writer_gets_the_lock()
            await connection.rollback()
        assert other_writer_gets_the_lock()
    other.close()


async def test_a_like_pattern_does_not_make_sqlite_prepare_the_statement_again(
    engine: AsyncEngine,
) -> None:
    """SQLite re-plans a statement whose LIKE pattern is a bound parameter each time it is
    bound (seen here: its authorizer is asked again, as it is on every prepare); through the
    service's compiler the statement stays prepared, and matches what it matched."""
    async with engine.begin() as connection:
        await connection.execute(
            insert(THINGS), [{"name": n} for n in ("2202810001", "2202820001", "a_b", "axb")]
        )
    prepared: list[int] = []

    def authorizer(action: int, *_: Any) -> int:
        if action == sqlite3.SQLITE_SELECT:
            prepared.append(action)
        return sqlite3.SQLITE_OK

    pattern = bindparam("pattern", type_=String())
    compiled = select(THINGS.c.name).where(THINGS.c.name.like(pattern)).order_by(THINGS.c.id)
    unlike = select(THINGS.c.name).where(THINGS.c.name.not_like(pattern)).order_by(THINGS.c.id)
    plain = text("SELECT name FROM things WHERE name LIKE :pattern ORDER BY id")
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        await driver._execute(driver._conn.set_authorizer, authorizer)

        async def names(query: Any, value: str) -> list[str]:
            return list((await connection.execute(query, {"pattern": value})).scalars())

        for query in (compiled, unlike, plain):
            await names(query, "0%")  # prepared once, into sqlite3's statement cache
            prepared.clear()
            found = [await names(query, p) for p in ("220281%", "220282%", "%", "a\\_b")]
            if query is compiled:
                assert found == [
                    ["2202810001"],
                    ["2202820001"],
                    ["2202810001", "2202820001", "a_b", "axb"],
                    [],
                ]
                assert prepared == [], "a new pattern prepared the statement again"
            elif query is unlike:
                assert found[0] == ["2202820001", "a_b", "axb"]
                assert prepared == []
            else:  # SQLite's own behaviour, which the compiler avoids
                assert len(prepared) == 4
        escaped = select(THINGS.c.name).where(THINGS.c.name.like(pattern, escape="\\"))
        assert await names(escaped, "a\\_b") == ["a_b"]
        assert await names(escaped, "a_b") == ["a_b", "axb"]


async def test_writers_take_their_turns_in_order_and_each_end_passes_the_turn(
    engine: AsyncEngine, calls: list[str]
) -> None:
    """A transaction waits for its turn before its ``BEGIN`` reaches SQLite (so SQLite's busy
    handler never sleeps on a writer of this engine), turns go first come first served, and
    the turn passes when the transaction commits, rolls back, or its connection goes back to
    the pool still inside it."""
    import asyncio

    order: list[str] = []

    async def writer(name: str, started: asyncio.Event, end: str) -> None:
        async with engine.connect() as connection:
            await connection.begin()
            started.set()
            await connection.execute(insert(THINGS).values(name=name))  # waits for its turn
            order.append(name)
            if end == "commit":
                await connection.commit()
            elif end == "rollback":
                await connection.rollback()
            # "returned": the connection goes back to the pool inside its transaction

    opened = [await engine.connect() for _ in range(5)]  # the pool's connections, made now
    for connection in opened:
        await connection.close()
    first = await engine.connect()
    await first.begin()
    await first.execute(insert(THINGS).values(name="first"))  # holds the turn
    calls.clear()
    tasks = []
    for name, end in (("b", "rollback"), ("c", "returned"), ("d", "commit"), ("e", "commit")):
        started = asyncio.Event()
        tasks.append(asyncio.create_task(writer(name, started, end)))
        await started.wait()
        for _ in range(5):
            await asyncio.sleep(0)  # let it reach its first statement and queue there
    for _ in range(20):
        await asyncio.sleep(0)
    assert calls == [], "a writer went to SQLite before its turn"
    assert order == []
    await first.commit()
    await first.close()
    await asyncio.gather(*tasks)
    assert order == ["b", "c", "d", "e"]
    async with engine.connect() as connection:
        names = (await connection.execute(select(THINGS.c.name).order_by(THINGS.c.id))).scalars()
        assert list(names) == ["first", "d", "e"]


async def test_a_writer_that_waits_too_long_goes_to_sqlites_own_lock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past its patience a writer stops waiting for its turn (logged), so a transaction that
    never ended holds up the others only as long as SQLite's lock would."""
    from app.core.sqlite import Writers

    writers = Writers(patience=0)
    held = await writers.wait()
    assert held is not None
    assert held.held
    with caplog.at_level("WARNING", logger="app.core.sqlite"):
        assert await writers.wait() is None
    assert "waited 0 s for its turn" in caplog.text
    held.release()
    again = await writers.wait()
    assert again is held  # free again: taken at once
    again.release()


async def test_the_connection_returned_last_is_handed_out_next(engine: AsyncEngine) -> None:
    """The pool hands out the connection given back last (its page cache still valid after
    its own commit; SQLite drops a connection's cache when another one committed since), and
    not the one idle longest."""
    first = await engine.raw_connection()
    second = await engine.raw_connection()
    last = second.driver_connection
    for fairy in (first, second):
        await greenlet_spawn(fairy.close)  # first back, then second
    again = await engine.raw_connection()
    try:
        assert again.driver_connection is last
    finally:
        await greenlet_spawn(again.close)


async def test_a_document_travels_as_its_utf8_bytes_and_is_stored_as_text(
    engine: AsyncEngine,
) -> None:
    """A JSON document is bound as the UTF-8 bytes orjson wrote, cast to TEXT, and read as
    bytes cast from it, parsed by orjson: no ``str`` between. What SQLite stores is the same
    TEXT as before, which its JSON functions read (a key in Chinese found by
    ``json_extract``); Python's None is JSON's null and SQL's NULL stays NULL, as with
    SQLAlchemy's JSON; an integer beyond 64 bits, which orjson refuses, is written all the
    same."""
    sent: list[Any] = []

    def traced(connection: Any, _record: Any) -> None:
        connection.driver_connection._conn.set_trace_callback(sent.append)

    document = {"姓名": "张三", "成员": [1, 2], "big": 2**70}
    await engine.dispose()
    event.listen(engine.sync_engine, "connect", traced)
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(DOCUMENTS).values(id=1, body=document))
            await connection.execute(insert(DOCUMENTS).values(id=2, body=None))
            await connection.execute(insert(DOCUMENTS).values(id=3, body=null()))
    finally:
        event.remove(engine.sync_engine, "connect", traced)
    inserted = [s for s in sent if s.startswith("INSERT INTO documents")]
    assert len(inserted) == 3
    # the document bound as bytes (SQLite's trace writes a bound BLOB as x'…'), cast to TEXT
    assert "CAST(x'7b22" in inserted[0], inserted[0]  # x'7b22…': the bytes of '{"…'
    async with engine.connect() as connection:
        rows = (await connection.execute(select(DOCUMENTS).order_by(DOCUMENTS.c.id))).all()
        stored = (
            await connection.exec_driver_sql(
                "SELECT typeof(body), json_extract(body, '$.姓名') FROM documents ORDER BY id"
            )
        ).all()
        raw = await connection.execute(select(DOCUMENTS.c.body).where(DOCUMENTS.c.id == 1))
        compiled = str(select(DOCUMENTS.c.body).compile(dialect=engine.dialect))
    assert [row.body for row in rows] == [document, None, None]
    assert [tuple(row) for row in stored] == [("text", "张三"), ("text", None), ("null", None)]
    assert raw.scalar_one() == document
    assert "CAST(documents.body AS BLOB)" in compiled, compiled
