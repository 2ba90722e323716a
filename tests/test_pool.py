"""The pool keeps the connections lent to requests between them (``app.core.pool``): the
next request is lent one without a checkout, and what the pool promised holds: no
connection is lent that the pool would not hand out, nothing waits while one sits idle, at
most the pool's size is kept, and disposing of the pool closes them. The pool's own
promises are tested on PostgreSQL; the embedded SQLite's pool is the same, and what differs
there (when a connection is clean enough to keep) is tested at the end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.core.db import is_sqlite, make_engine
from app.core.pool import LendingPool, lend, take_back
from tests.helpers import Api


def _url(api: Api) -> str:
    return api.settings.database_url


@asynccontextmanager
async def _engine(api: Api, **pooling: Any) -> AsyncIterator[AsyncEngine]:
    """An engine on the test database with the service's pool, or with ``pooling``."""
    engine = (
        create_async_engine(_url(api), poolclass=LendingPool, **pooling)
        if pooling
        else make_engine(_url(api), pool_size=4)
    )
    try:
        yield engine
    finally:
        await engine.dispose()


@contextmanager
def _checkouts(engine: AsyncEngine) -> Iterator[list[int]]:
    """The server pid of every connection checked out of the pool meanwhile."""
    seen: list[int] = []

    def out(_: Any, record: Any, __: Any) -> None:
        seen.append(record.driver_connection.get_server_pid())

    pool = engine.sync_engine.pool
    event.listen(pool, "checkout", out)
    try:
        yield seen
    finally:
        event.remove(pool, "checkout", out)


async def test_the_next_request_is_lent_the_connection_the_last_one_handed_back(
    postgres_api: Api,
) -> None:
    api = postgres_api
    case = await api.open_case()
    first = await api.case(case["id"])  # its connection, handed back clean, is kept idle
    pool = api.app.state.engine.sync_engine.pool
    assert isinstance(pool, LendingPool)
    kept = pool.idle[-1].driver_connection
    with _checkouts(api.app.state.engine) as seen:
        again = await api.case(case["id"])
    assert again == first
    assert seen == []  # no checkout: lent what was kept
    assert pool.idle[-1].driver_connection is kept
    # the idle connection counts as checked in, as it is idle
    assert (pool.checkedout(), pool.checkedin()) == (0, len(pool.idle))


async def test_a_connection_handed_back_in_a_transaction_goes_back_to_the_pool(
    postgres_api: Api,
) -> None:
    async with _engine(postgres_api) as engine:
        fairy = await lend(engine)
        await fairy.dbapi_connection._start_transaction()  # as app.core.direct begins one
        assert fairy.driver_connection.is_in_transaction()
        await take_back(engine, fairy)
        pool = engine.sync_engine.pool
        assert isinstance(pool, LendingPool)
        assert pool.idle == []
        again = await lend(engine)  # out of the pool, which rolled the transaction back
        assert not again.driver_connection.is_in_transaction()
        await take_back(engine, again)
        assert [f.driver_connection for f in pool.idle] == [again.driver_connection]


async def test_no_more_than_the_pool_size_is_kept_unused(postgres_api: Api) -> None:
    """Four lent by a pool of two with two more of overflow, and handed back: the pool was at
    its limit, so they went back to its queue, where the two of overflow were closed; the
    next requests' connections, handed back below the limit, are kept idle."""
    async with _engine(postgres_api, pool_size=2, max_overflow=2) as engine:
        pool = engine.sync_engine.pool
        assert isinstance(pool, LendingPool)
        lent = [await lend(engine) for _ in range(4)]
        assert pool.at_limit()
        for fairy in lent:
            await take_back(engine, fairy)
        assert (pool.checkedin(), pool.checkedout(), pool.overflow()) == (2, 0, 0)
        assert (len(pool.idle), pool._pool.qsize()) == (0, 2)
        again = [await lend(engine) for _ in range(3)]
        for fairy in again:
            await take_back(engine, fairy)
        # two kept idle, the third (an overflow one) closed: still two unused, as before
        assert [f.driver_connection for f in pool.idle] == [f.driver_connection for f in again[:2]]
        assert (pool.checkedin(), pool.checkedout(), pool.overflow()) == (2, 0, 0)
        assert pool._pool.qsize() == 0


async def test_a_checkout_takes_an_idle_connection_rather_than_open_another(
    postgres_api: Api,
) -> None:
    """A pool of one, its one connection idle: the session's own checkout takes it (the pool
    would have opened one more, its overflow)."""
    async with _engine(postgres_api, pool_size=1, max_overflow=1) as engine:
        fairy = await lend(engine)
        await take_back(engine, fairy)
        pool = engine.sync_engine.pool
        assert isinstance(pool, LendingPool)
        assert len(pool.idle) == 1
        kept = fairy.driver_connection
        async with engine.connect() as connection:
            assert await connection.scalar(select(1)) == 1
            assert pool.idle == []
            raw = await connection.get_raw_connection()
            assert raw.driver_connection is kept
            assert pool.overflow() == 0  # none opened
        again = await lend(engine)  # back in the pool's queue, and lent from there
        assert again.driver_connection is kept
        await take_back(engine, again)


async def test_a_connection_handed_back_goes_to_a_checkout_waiting_for_one(
    postgres_api: Api,
) -> None:
    """A pool of one with no overflow, its one connection lent: a session's checkout waits
    in the pool's queue, and the connection handed back goes to it, not to the idle (where
    the checkout would wait its two seconds and fail)."""
    async with _engine(postgres_api, pool_size=1, max_overflow=0, pool_timeout=2) as engine:
        fairy = await lend(engine)
        kept = fairy.driver_connection

        async def checkout() -> Any:
            async with engine.connect() as connection:
                return (await connection.get_raw_connection()).driver_connection

        waiting = asyncio.ensure_future(checkout())
        await asyncio.sleep(0)  # (it is in the pool's queue, waiting)
        assert not waiting.done()
        await take_back(engine, fairy)
        assert await asyncio.wait_for(waiting, 1) is kept
        pool = engine.sync_engine.pool
        assert isinstance(pool, LendingPool)
        assert pool.idle == []


async def test_a_connection_past_its_recycle_time_is_not_lent_again(postgres_api: Api) -> None:
    async with _engine(postgres_api, pool_size=2, pool_recycle=1800) as engine:
        fairy = await lend(engine)
        await take_back(engine, fairy)
        old = fairy.driver_connection
        fairy._connection_record.starttime -= 1801  # opened 1,801 s ago
        again = await lend(engine)
        assert again.driver_connection is not old
        assert old.is_closed()  # the pool recycled it when it was checked out again
        await take_back(engine, again)


async def test_a_connection_kept_past_its_recycle_time_is_not_kept(postgres_api: Api) -> None:
    async with _engine(postgres_api, pool_size=2, pool_recycle=1800) as engine:
        fairy = await lend(engine)
        fairy._connection_record.starttime -= 1801
        await take_back(engine, fairy)
        pool = engine.sync_engine.pool
        assert isinstance(pool, LendingPool)
        assert pool.idle == []


async def test_a_dead_connection_invalidates_every_older_one_kept_idle(postgres_api: Api) -> None:
    """PostgreSQL restarted under the pool (here: every kept connection's backend ended).
    The first request meets a dead connection and is refused as the database unreachable;
    the pool is invalidated with it, as SQLAlchemy's own connection does, so no request
    after it is lent another dead one."""
    api = postgres_api
    case = await api.open_case()
    engine = api.app.state.engine
    pool = engine.sync_engine.pool
    assert isinstance(pool, LendingPool)
    lent = [await lend(engine) for _ in range(3)]
    for fairy in lent:
        await take_back(engine, fairy)
    assert len(pool.idle) == 3
    pids = [f.driver_connection.get_server_pid() for f in pool.idle]
    url = make_url(_url(api)).set(drivername="postgresql").render_as_string(False)
    killer = await asyncpg.connect(url)
    try:
        for pid in pids:
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await killer.close()
    await asyncio.sleep(0)  # (the ended backends' sockets are read by the loop)
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        path, headers = f"/api/v1/cases/{case['id']}", api.headers("bureau.jiaohe")
        refused = await client.get(path, headers=headers)
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "database_unavailable"
        for _ in range(3):
            answered = await client.get(path, headers=headers)
            assert answered.status_code == 200, answered.text


async def test_disposing_of_the_pool_closes_its_idle_connections(postgres_api: Api) -> None:
    engine = make_engine(_url(postgres_api), pool_size=2)
    lent = [await lend(engine), await lend(engine)]
    for fairy in lent:
        await take_back(engine, fairy)
    drivers = [f.driver_connection for f in lent]
    assert not any(d.is_closed() for d in drivers)
    await engine.dispose()
    assert all(d.is_closed() for d in drivers)


async def test_on_sqlite_the_next_request_is_lent_the_connection_kept(api: Api) -> None:
    """The embedded SQLite's pool keeps the connection a request was lent, as PostgreSQL's
    does: the next read of a case needs no checkout."""
    if not is_sqlite(_url(api)):
        pytest.skip("the embedded SQLite's pool")
    case = await api.open_case()
    first = await api.case(case["id"])
    pool = api.app.state.engine.sync_engine.pool
    assert isinstance(pool, LendingPool)
    kept = pool.idle[-1].driver_connection
    checkouts: list[Any] = []

    def out(*_: Any) -> None:
        checkouts.append(1)

    event.listen(pool, "checkout", out)
    try:
        again = await api.case(case["id"])
    finally:
        event.remove(pool, "checkout", out)
    assert again == first
    assert checkouts == []
    assert pool.idle[-1].driver_connection is kept


async def test_on_sqlite_a_connection_in_a_transaction_or_a_turn_is_not_kept(api: Api) -> None:
    """A SQLite connection handed back inside a transaction, with its ``BEGIN IMMEDIATE``
    still to be sent, or holding the writers' turn is not kept idle: it goes back to the
    pool, whose reset rolls it back and frees the turn; a clean one is kept."""
    if not is_sqlite(_url(api)):
        pytest.skip("the embedded SQLite's pool")
    engine = api.app.state.engine
    pool = engine.sync_engine.pool
    assert isinstance(pool, LendingPool)
    writers = engine.sync_engine.dialect.loaded_dbapi.writers

    fairy = await lend(engine)
    driver = fairy.driver_connection
    await driver.execute("BEGIN IMMEDIATE")
    await take_back(engine, fairy)
    assert fairy not in pool.idle
    assert not driver.in_transaction  # rolled back by the pool's reset

    fairy = await lend(engine)
    adapter = fairy.dbapi_connection
    adapter.begin_immediate()  # a transaction begun, nothing sent yet
    await take_back(engine, fairy)
    assert fairy not in pool.idle
    assert not adapter.begin_pending

    fairy = await lend(engine)
    fairy.dbapi_connection.begin_immediate()
    assert await fairy.dbapi_connection.take_turn()  # the writers' turn, held
    await take_back(engine, fairy)
    assert fairy not in pool.idle
    assert writers._turns[asyncio.get_running_loop()].held is False  # freed

    fairy = await lend(engine)
    await take_back(engine, fairy)
    assert pool.idle[-1] is fairy
