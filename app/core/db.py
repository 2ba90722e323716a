"""Engine, sessions and the declarative base (with a naming convention for migrations)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Request
from sqlalchemy import JSON, DateTime, LargeBinary, MetaData, Text, cast, event, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.asyncio.engine import _get_sync_engine_or_connection
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.elements import Null
from sqlalchemy.types import TypeDecorator

from app.core.config import Settings, get_settings
from app.core.direct import DEFERRABLE, commit_alone, drop_opening, give_back, nothing_begun
from app.core.errors import ProblemError
from app.core.pool import LendingPool
from app.core.sqlite import Compiler as SQLiteCompiler
from app.core.sqlite import dbapi as sqlite_dbapi

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


ModelClass = TypeVar("ModelClass", bound=type)


def append_only(model: ModelClass) -> ModelClass:
    """Mark a model's table as written once (the trail, its log, ledgers, batches …): the
    grants give the application only SELECT and INSERT on it (``app.migrations``), and the
    tests check that the database refuses UPDATE and DELETE there (its migration's triggers).
    The one place a table is declared so."""
    model.__table__.info["append_only"] = True  # type: ignore[attr-defined]
    return model


def append_only_tables() -> tuple[str, ...]:
    """Every table marked :func:`append_only`, by name (the models must be imported)."""
    return tuple(sorted(t.name for t in Base.metadata.tables.values() if t.info.get("append_only")))


def sealed(*columns: tuple[str, str], key: str | None = "id") -> Callable[[ModelClass], ModelClass]:
    """Mark a model's columns that hold personal data sealed at rest, each as (attribute,
    the place it is bound to): AES-GCM bound to the table, the row's ``key`` and the place
    (``app.core.crypto.context``). ``fangfanpin rotate-keys`` (:mod:`app.core.rotation`)
    re-seals every column so marked, and the tests check that every ``*_encrypted`` column
    is. An :func:`append_only` table is never re-sealed (its rows are written once); its
    ``key`` may be ``None`` and the rotation counts its rows under older keys instead."""

    def mark(model: ModelClass) -> ModelClass:
        model.__table__.info["sealed"] = Sealed(columns, key)  # type: ignore[attr-defined]
        return model

    return mark


@dataclass(frozen=True)
class Sealed:
    columns: tuple[tuple[str, str], ...]
    key: str | None


def sealed_models() -> list[tuple[Any, Sealed]]:
    """Every mapped model marked :func:`sealed` (the models must be imported), by table."""
    found = [
        (mapper.class_, mapper.class_.__table__.info["sealed"])
        for mapper in Base.registry.mappers
        if "sealed" in mapper.class_.__table__.info
    ]
    return sorted(found, key=lambda pair: pair[0].__tablename__)


class _SQLiteDocument(TypeDecorator[Any]):
    """A JSON document on the embedded SQLite, sent and read as its UTF-8 bytes: written as
    ``CAST(? AS TEXT)`` of the bytes orjson made (:func:`json_bytes`), read as ``CAST(column
    AS BLOB)`` and parsed by orjson from those bytes. SQLite stores it as TEXT, as before
    (its JSON functions read it as they did; a cast between BLOB and TEXT in a UTF-8
    database copies the bytes), but no ``str`` is made between: the facts of a case, in
    Chinese, were decoded from orjson's bytes to ``str`` and encoded back to UTF-8 by the
    driver on every write, and made a ``str`` by the driver and encoded again by orjson on
    every read (counted with ``bench/instructions.py``: ``bench/RESULTS.md``). A decorator,
    not a subclass of SQLite's JSON, which the dialect would adapt back to its own."""

    impl = JSON
    cache_ok = True

    def bind_expression(self, bindvalue: Any) -> Any:
        return cast(bindvalue, Text)

    def column_expression(self, column: Any) -> Any:
        # the bytes, read as JSON's result reads a document (its deserializer: orjson)
        return type_coerce(cast(column, LargeBinary), JSON())

    def bind_processor(self, _dialect: Dialect) -> Callable[[Any], bytes | None]:
        none_as_null = getattr(self.impl_instance, "none_as_null", False)
        null = JSON.NULL

        def process(value: Any) -> bytes | None:
            # as JSON's own: JSON.NULL is JSON's null, SQL's NULL is SQL's
            if value is null:
                value = None
            elif isinstance(value, Null) or (value is None and none_as_null):
                return None
            return json_bytes(value)

        return process


JsonDocument = JSON().with_variant(JSONB(), "postgresql").with_variant(_SQLiteDocument(), "sqlite")

WholeDocument = JSON().with_variant(_SQLiteDocument(), "sqlite")
"""A JSON document the service only ever writes and reads whole, which no statement looks
into: a case's facts. PostgreSQL's ``json`` keeps the text as it was sent, checked as JSON
but not parsed into ``jsonb``'s tree on a write nor rendered back to text on a read (3.4 KB
of facts: 31 us against 9 to take in, 18 us against none to give back, on a host of this
project's benchmarks; revision 0039). Stored as :data:`JsonDocument` on SQLite."""


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (which stores naive text) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, _: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


DRIVERS = ("postgresql+asyncpg", "sqlite+aiosqlite")
"""The databases and drivers the service runs on: its direct statements (``app.core.direct``)
and the idempotency key's claim (``app.core.idempotency``) are written for these two."""


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """An engine; on SQLite, WAL and ``BEGIN IMMEDIATE`` so writers queue instead of failing.
    ``pool_size`` 0: no pool, a new connection each time (for what swaps the database file
    under a running app, as the contract test does)."""
    driver = make_url(url).drivername
    if driver not in DRIVERS:
        raise ValueError(
            f"database URL with driver {driver!r}: the service runs on "
            f"{' or '.join(DRIVERS)} (e.g. postgresql+asyncpg://user@host/db)"
        )
    pooling: dict[str, Any] = (
        {"poolclass": NullPool} if pool_size == 0 else {"pool_size": pool_size}
    )
    if is_sqlite(url):
        engine = create_async_engine(
            url,
            echo=echo,
            # pooled: opening a SQLite connection parses the whole schema, which cost more
            # CPU than the write it served; the connection returned last is handed out
            # next, its page cache still valid (SQLite drops a connection's cache when
            # another one has committed since)
            # (the connections lent to requests kept between them, as on PostgreSQL:
            # app.core.pool)
            **(
                pooling
                if pool_size == 0
                else {**pooling, "pool_use_lifo": True, "poolclass": LendingPool}
            ),
            # used from the event loop's thread too, never at once: app.core.direct
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_reset_on_return=None,  # the "reset" event below does it
            module=sqlite_dbapi(),  # a statement is one call on aiosqlite's thread
            json_serializer=json_text,
            json_deserializer=orjson.loads,
        )
        # LIKE patterns SQLite does not re-plan each time (app.core.sqlite.Compiler); set
        # before the engine compiles anything
        engine.sync_engine.dialect.statement_compiler = SQLiteCompiler

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _: Any) -> None:
            # Let us issue BEGIN ourselves: pysqlite's implicit BEGIN is deferred, and two
            # deferred writers on one file deadlock instead of queueing.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            # sent with the transaction's first statement, in the same call on aiosqlite's
            # thread (app.core.sqlite); on its own it was one call more every transaction
            connection.connection.dbapi_connection.begin_immediate()

        @event.listens_for(engine.sync_engine, "reset")
        def _sqlite_reset(dbapi_connection: Any, _: Any, state: Any) -> None:
            # What the pool does on return (reset_on_return off above), only when it has
            # something to do: a connection whose transaction committed or rolled back is
            # not in one, and rolling it back again was one more call on aiosqlite's thread
            # for every request. Not where the pool may not await (a connection found by
            # the garbage collector), as the pool's own reset.
            if dbapi_connection is None:
                return
            # (take_begin: a transaction that sent nothing has nothing to roll back)
            if state.asyncio_safe and not dbapi_connection.take_begin():
                driver = dbapi_connection._connection
                if driver._connection is None or driver.in_transaction:
                    dbapi_connection.rollback()
            dbapi_connection.end_turn()  # the next writer's turn, whatever happened

        return engine
    # No pre-ping: it costs a round trip on every checkout; connections are recycled instead,
    # and a connection that died is discarded on its first error, with every connection older
    # than it (app.core.direct), as SQLAlchemy does on a disconnect.
    if pool_size:
        # the connections lent to requests kept between them (app.core.pool)
        pooling.update(max_overflow=pool_size, pool_recycle=1800, poolclass=LendingPool)
    engine = create_async_engine(
        url,
        echo=echo,
        **pooling,
        json_serializer=json_bytes,
        json_deserializer=orjson.loads,
    )
    if engine.dialect.driver == "asyncpg":
        # the dialect's hook for it ("can be overridden"), called on every new connection
        engine.dialect.setup_asyncpg_jsonb_codec = _jsonb_codec  # type: ignore[attr-defined]
        engine.dialect.setup_asyncpg_json_codec = _json_codec  # type: ignore[attr-defined]
    return engine


def json_text(value: Any) -> str:
    """A JSON column's text: UTF-8 as written (SQLite's json_extract then finds keys in
    Chinese), encoded in C; the stdlib only for integers beyond 64 bits, which orjson
    refuses."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False)


def json_bytes(value: Any) -> bytes:
    """A JSON column's value for PostgreSQL, as :func:`json_text` writes it but left in the
    UTF-8 bytes it is sent as (:func:`_jsonb_codec`)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value, ensure_ascii=False).encode()


async def _jsonb_codec(connection: Any) -> None:
    """``jsonb`` on a new asyncpg connection, as SQLAlchemy's dialect sets it up (binary, its
    version byte first) but without a round trip through ``str``: a document is written from
    the bytes :func:`json_bytes` made and read by orjson from the bytes PostgreSQL sent.
    SQLAlchemy's own codec decoded the bytes to ``str`` for the deserializer, which encodes
    them back to UTF-8 to parse them, and encoded the serializer's ``str``, which had been
    decoded from orjson's bytes: four conversions of every case's facts, in Chinese."""
    await connection._connection.set_type_codec(
        "jsonb",
        encoder=_jsonb_encode,
        decoder=_jsonb_decode,
        schema="pg_catalog",
        format="binary",
    )


async def _json_codec(connection: Any) -> None:
    """``json`` (:data:`WholeDocument`) as :func:`_jsonb_codec` sets up ``jsonb``: the bytes
    :func:`json_bytes` made sent as they are (a ``str`` encoded), read by orjson from the
    bytes PostgreSQL sent. Its binary form is the text itself, without jsonb's version byte."""
    await connection._connection.set_type_codec(
        "json",
        encoder=_json_encode,
        decoder=orjson.loads,
        schema="pg_catalog",
        format="binary",
    )


def _json_encode(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _jsonb_encode(value: bytes | str) -> bytes:
    return b"\x01" + (value if isinstance(value, bytes) else value.encode())


def _jsonb_decode(data: bytes) -> Any:
    return orjson.loads(memoryview(data)[1:])


class RequestSession(AsyncSession):
    """An :class:`AsyncSession` whose synchronous :class:`~sqlalchemy.orm.Session` is made
    when something first needs it, not when the request begins.

    Every request on the API takes a session, and a read that runs only direct statements
    (``app.core.direct``: a case, its actions) uses nothing of it but its ``info``, its engine
    (:attr:`bind`) and whether it is in a transaction; making the two sessions cost such a read
    about 43,000 instructions, 4% of it (``bench/RESULTS.md``, 2026-12-05). Until it is made,
    :attr:`info` is a dict kept here (the one the session gets when made, so nothing kept in
    it is lost) and :meth:`in_transaction` is false (no transaction exists without it); any
    other use makes it first (``sync_session`` and ``_proxied``, through which every other
    method and attribute of the async session goes, are made on first access), exactly as
    :class:`AsyncSession` would have made it."""

    def __init__(
        self,
        bind: AsyncEngine | AsyncConnection | None = None,
        *,
        binds: dict[Any, AsyncEngine | AsyncConnection] | None = None,
        sync_session_class: type[Session] | None = None,
        info: dict[Any, Any] | None = None,
        **kw: Any,
    ) -> None:
        # AsyncSession.__init__ but for its last step, the synchronous session, left to _make
        self._async_bind = bind
        self._async_binds = dict(binds) if binds else {}
        if sync_session_class:
            self.sync_session_class = sync_session_class
        self._kept_info: dict[Any, Any] = dict(info) if info else {}
        self._session_kw = kw

    def __getattr__(self, name: str) -> Any:
        if name in ("sync_session", "_proxied") and "_session_kw" in self.__dict__:
            self._make()
            return self.__dict__[name]
        raise AttributeError(name)

    def _make(self) -> None:
        bind, binds = self._async_bind, self._async_binds
        made = self.sync_session_class(
            bind=None if bind is None else _get_sync_engine_or_connection(bind),
            binds={key: _get_sync_engine_or_connection(b) for key, b in binds.items()} or None,
            **self._session_kw,
        )
        made.__dict__["info"] = self._kept_info  # (Session.info is memoized in __dict__)
        self.sync_session = self._proxied = self._assign_proxied(made)
        del self.__dict__["_session_kw"]
        # From now on an AsyncSession as any: a class with __getattr__ routes every attribute
        # of its instances through a slower lookup, which cost a write 29,000 instructions.
        self.__class__ = MadeSession  # type: ignore[assignment]

    # Until it is made (after, the instance is a MadeSession and AsyncSession's own serve):

    @property
    def info(self) -> dict[Any, Any]:
        return self._kept_info

    @property
    def bind(self) -> Any:
        """The engine (or connection) the session was given."""
        return self._async_bind

    @bind.setter
    def bind(self, bind: Any) -> None:
        AsyncSession.bind.fset(self, bind)  # type: ignore[attr-defined]  # (makes it first)

    def in_transaction(self) -> bool:
        return False  # (no transaction exists without the synchronous session)


class MadeSession(AsyncSession):
    """A :class:`RequestSession` once its synchronous session is made: an
    :class:`AsyncSession` as any other."""


def make_sessionmaker(
    engine: AsyncEngine, settings: Settings | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions that know the field keys (``session.info``): the write path seals what it
    keeps for the national export with them. Without settings, the environment's. Each
    makes its synchronous session when first needed (:class:`RequestSession`)."""
    keys = (settings or get_settings()).field_keys
    return async_sessionmaker(
        engine,
        class_=RequestSession,
        expire_on_commit=False,
        autoflush=False,
        info={"field_keys": keys},
    )


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One request, one transaction (the unit of work): services only write and flush; the
    transaction commits when the route returns, before the answer is sent, and rolls back
    when it raises, so a refusal writes nothing. What a refusal must still leave behind (the
    access log's record of a refused registry probe) travels on the error as ``kept`` and
    commits after the rollback.

    A request sent with an ``Idempotency-Key`` runs in the session the idempotency middleware
    holds: the middleware commits it together with the stored answer (one transaction for the
    write and its record), so on success this dependency leaves the commit to it."""
    held: AsyncSession | None = request.scope.get("state", {}).get(HELD_SESSION)
    if held is not None:
        async with _unit_of_work(held, commit=False):
            yield held
        return
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    session = sessionmaker()
    session.info[DEFERRABLE] = True  # it commits here, when the route returns
    try:
        async with _unit_of_work(session, commit=True):
            yield session
    finally:
        await give_back(session)  # the connection its statements outside it were lent
        await close_request_session(session)


HELD_SESSION = "idempotent_session"
"""Where the idempotency middleware leaves the session it commits (``scope["state"]``)."""


@asynccontextmanager
async def _unit_of_work(session: AsyncSession, *, commit: bool) -> AsyncIterator[None]:
    try:
        yield
    except BaseException as exc:
        drop_opening(session)
        session.info.pop(SETTLED, None)
        await session.rollback()
        kept = getattr(exc, "kept", ())
        if kept:
            session.add_all(kept)
            await session.commit()
        raise
    if not commit:  # the idempotency middleware commits it, with the answer stored, and
        return  # tells how it ended (settle)
    try:
        if not session.in_transaction():
            await commit_alone(session)  # a write that waited for the commit, the only one
        elif not nothing_begun(session):
            await session.commit()  # (a read that began nothing is released by the close)
    except ProblemError as refused:  # the case moved since the request read it
        settle(session, refused.code)
        raise
    settle(session, None)


SETTLED = "settled"
"""Where a request's session keeps who is to be told how its transaction ended
(:func:`when_settled`)."""


def when_settled(session: AsyncSession, callback: Callable[[str | None], None]) -> None:
    """Tell ``callback`` how the request's transaction ended, once it has: None when it
    committed, or the code of the refusal its commit met (a step whose move waited for the
    commit, and found the case moved since it was read: ``app.core.direct.commit_alone``).
    Never told when the route raised (it knew then), nor when the commit failed otherwise.
    A session the idempotency middleware commits with the stored answer settles when the
    middleware has written it (``app.core.idempotency``)."""
    session.info.setdefault(SETTLED, []).append(callback)


def settle(session: AsyncSession, outcome: str | None) -> None:
    """Tell who asked (:func:`when_settled`) how the request's transaction ended: None when
    it committed, else the code of the refusal its commit met."""
    for callback in session.info.pop(SETTLED, ()):
        callback(outcome)


async def close_request_session(session: AsyncSession) -> None:
    """Close a request's session (its own, or the one the idempotency middleware holds). One
    that still holds a connection is closed as ``async with`` closes it, in a task of its own
    that a cancelled request cannot cut short (the connection must get back to the pool). One
    that holds none (it committed or rolled back, or only read through connections borrowed
    from the pool, ``app.core.direct``) has nothing to give back, and is left as it is: its
    close would only forget the objects it loaded, which go with the session itself, and it
    would cost a hop into SQLAlchemy's synchronous core on every request."""
    if session.in_transaction():
        await session.__aexit__(None, None, None)


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
"""The request's session; ``scope="function"`` commits before the response is sent (a plain
yield dependency would commit after the client already has its answer)."""


async def get_read_session(request: Request, primary: SessionDep) -> AsyncIterator[AsyncSession]:
    """A session on the read replica when one is configured (``READ_DATABASE_URL``), for reads
    that may lag the primary by a moment: ledgers and audit reads. Never for a write, nor for
    a read that must see the caller's own writes. Without a replica, the request's own
    session (on SQLite a second connection would wait for the first one's write lock)."""
    if request.app.state.read_engine is request.app.state.engine:
        yield primary
        return
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.read_sessionmaker
    async with sessionmaker() as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
