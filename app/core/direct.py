"""Statements the hot paths send straight to asyncpg, on the request's own connection and in
its transaction.

Every request on a case reads or locks it; every rule-checked step ends in the same few
statements (the case's UPDATE guarded by its version, the event's INSERT); every opening
inserts the same rows. Through ``session.execute`` each pays SQLAlchemy's execution
layers: the compiled-cache lookup, an execution context, parameter processing, the greenlet
hop into the synchronous core and back, a result wrapper. A :class:`Direct` statement is
compiled once by SQLAlchemy for the connection's dialect (its SQL, with the casts SQLAlchemy
would send, and each parameter's bind processor: JSON through ``json_text``, datetimes
through ``UTCDateTime``) and then handed to asyncpg as it is. Counted with
``bench/instructions.py``: see ``bench/RESULTS.md``.

It is only used where it is safe:

- the driver is asyncpg (the embedded SQLite runs the statement through the session);
- an INSERT, UPDATE or DELETE goes to the driver only when the connection is already inside
  the request's transaction (the case's lock began it, or the session did); otherwise it
  runs through the session, which begins it, so nothing is ever written outside the
  request's transaction;
- an INSERT, UPDATE or DELETE answers how many rows it touched (:class:`Direct`); a SELECT
  answers its first row as plain values, each through its column's result processor as
  SQLAlchemy would apply it (:class:`DirectRow`), never ORM objects.

:class:`DirectRow` is what reads and locks the case, the first statement of every request
on one: a lock with no transaction yet begins one through SQLAlchemy's own asyncpg adapter
(the ``BEGIN`` the adapter would send before its first statement), so the session commits
or rolls back that transaction as its own; a read begins none.

An error of the driver is raised as SQLAlchemy would raise it (``IntegrityError``,
``DBAPIError`` with ``connection_invalidated`` when the connection died), so the handlers
above (the idempotency middleware, ``database_unreachable``) see what they always saw; a
connection that died is invalidated, as the session would have done.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import Select


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    fixed: dict[str, Any]
    """Parameters the statement carries its own value for (a LIMIT's number)."""

    def arguments(self, params: dict[str, Any]) -> list[Any]:
        if self.fixed:
            params = {**self.fixed, **params}
        return [
            params[name] if process is None else process(params[name])
            for name, process in zip(self.names, self.processors, strict=True)
        ]


AnySelect = Select[*tuple[Any, ...]]


def _compile(statement: UpdateBase | AnySelect, connection: AsyncConnection) -> _Compiled:
    compiled: Any = statement.compile(dialect=connection.dialect)
    names = tuple(compiled.positiontup or ())
    processors = compiled._bind_processors  # what SQLAlchemy applies to each parameter
    binds = compiled.binds  # each rendered name's parameter
    fixed = {
        name: binds[name].effective_value
        for name in names
        if name in binds and binds[name].value is not None
    }
    return _Compiled(compiled.string, names, tuple(processors.get(name) for name in names), fixed)


class Direct:
    """One INSERT, UPDATE or DELETE, compiled once, run by :meth:`rowcount`."""

    def __init__(self, statement: UpdateBase) -> None:
        self.statement = statement
        self._compiled: _Compiled | None = None

    def _compile(self, connection: AsyncConnection) -> _Compiled:
        self._compiled = _compile(self.statement, connection)
        return self._compiled

    async def rowcount(self, session: AsyncSession, params: dict[str, Any]) -> int:
        """Run the statement with ``params`` (by bind name); how many rows it touched."""
        connection, fairy = await _connection(session)
        if fairy is not None:
            driver = fairy.driver_connection
            if driver is not None and driver.is_in_transaction():
                compiled = self._compiled or self._compile(connection)
                arguments = compiled.arguments(params)
                try:
                    status: str = await driver.execute(compiled.sql, *arguments)
                except Exception as error:
                    await _raise_as_sqlalchemy(connection, fairy, compiled.sql, arguments, error)
                return _touched(status)
        result: Any = await connection.execute(self.statement, params)
        return int(result.rowcount)


class DirectInsert:
    """An INSERT of one row into ``table``, of the columns a call gives (compiled once per
    column list): :meth:`run` writes it as :class:`Direct` does, in the transaction."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._by_columns: dict[tuple[str, ...], Direct] = {}

    async def run(self, session: AsyncSession, values: dict[str, Any]) -> None:
        columns = tuple(values)
        statement = self._by_columns.get(columns)
        if statement is None:
            statement = self._by_columns[columns] = Direct(
                insert(self.table).values({name: bindparam(name) for name in columns})
            )
        await statement.rowcount(session, values)


class DirectRow:
    """One SELECT of plain columns, compiled once; :meth:`first` answers its first row,
    :meth:`all` every row. No expanding (``IN``-list) parameters, which are rendered per
    call: a list is one array parameter (``= ANY``), with ``elsewhere`` for other databases.

    ``begins``: the statement needs the session's transaction (a ``FOR UPDATE`` lock) and
    begins it when the session has none yet. A plain read does not: inside a transaction it
    runs in it, outside one it runs as a statement of its own, sparing a read-only request
    its ``BEGIN`` and ``COMMIT`` round trips. Under PostgreSQL's READ COMMITTED (the
    service's level) every statement of a transaction takes its own snapshot anyway, so a
    request's reads see nothing different; whatever the request writes afterwards begins
    the transaction as before."""

    def __init__(
        self, statement: AnySelect, *, begins: bool = False, elsewhere: AnySelect | None = None
    ) -> None:
        self.statement = statement
        self.begins = begins
        self.elsewhere = statement if elsewhere is None else elsewhere
        """What runs through the session on any other driver: the same query where the
        statement is PostgreSQL's own (``= ANY(:list)`` for an ``IN`` list)."""
        self._compiled: _Compiled | None = None
        self._results: tuple[Callable[[Any], Any] | None, ...] = ()

    def _compile(self, connection: AsyncConnection) -> _Compiled:
        dialect = connection.dialect
        # each column's value as SQLAlchemy's result would give it (JSON decoded, datetimes
        # made aware by UTCDateTime); types whose processor needs the driver's type code
        # (numerics) do not belong in such a statement
        self._results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in self.statement.selected_columns
        )
        self._compiled = _compile(self.statement, connection)
        return self._compiled

    async def first(self, session: AsyncSession, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The statement's first row with ``params`` (by bind name), or None."""
        rows = await self._rows(session, params, first=True)
        return rows[0] if rows else None

    async def all(self, session: AsyncSession, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Every row of the statement with ``params`` (by bind name)."""
        return await self._rows(session, params, first=False)

    async def _rows(
        self, session: AsyncSession, params: dict[str, Any], *, first: bool
    ) -> list[tuple[Any, ...]]:
        connection, fairy = await _connection(session)
        if fairy is not None:
            adapter, driver = fairy.dbapi_connection, fairy.driver_connection
            if driver is not None and adapter is not None:
                compiled = self._compiled or self._compile(connection)
                arguments = compiled.arguments(params)
                try:
                    if self.begins and adapter._transaction is None:  # as its cursor checks
                        await adapter._start_transaction()  # the adapter's own BEGIN
                    if first:
                        record = await driver.fetchrow(compiled.sql, *arguments)
                        records = [] if record is None else [record]
                    else:
                        records = await driver.fetch(compiled.sql, *arguments)
                except Exception as error:
                    await _raise_as_sqlalchemy(connection, fairy, compiled.sql, arguments, error)
                processors = self._results
                return [
                    tuple(
                        value if process is None else process(value)
                        for value, process in zip(record, processors, strict=True)
                    )
                    for record in records
                ]
        result = await connection.execute(self.elsewhere, params)
        if first:
            row = result.first()
            return [] if row is None else [tuple(row)]
        return [tuple(row) for row in result]


HELD_CONNECTION = "direct_connection"
"""Where a session keeps the connection its direct statements use (``session.info``), with
the transaction it belongs to."""


def _held(session: AsyncSession) -> tuple[Any, AsyncConnection, Any | None] | None:
    """What the session keeps for its direct statements, while it still holds: the same
    transaction, active, its connection valid; a commit, a rollback or an invalidated
    connection ends it."""
    held = session.info.get(HELD_CONNECTION)
    if held is None:
        return None
    transaction = session.sync_session.get_transaction()
    if (
        transaction is None
        or held[0]() is not transaction
        or not transaction.is_active
        or held[1].invalidated
    ):
        return None
    return held  # type: ignore[no-any-return]


async def _connection(session: AsyncSession) -> tuple[AsyncConnection, Any | None]:
    """The session's connection, and its pool's proxy of the asyncpg connection (None on any
    other driver). Asking the session for them costs two hops into SQLAlchemy's synchronous
    core, so they are kept for the span of the transaction (:func:`_held`)."""
    held = _held(session)
    if held is not None:
        return held[1], held[2]
    connection = await session.connection()
    fairy = (
        await connection.get_raw_connection() if connection.dialect.driver == "asyncpg" else None
    )
    # the transaction weakly: it refers to the session, which holds this, and a cycle would
    # leave every session of the service to the cyclic garbage collector
    began = weakref.ref(session.sync_session.get_transaction())
    session.info[HELD_CONNECTION] = (began, connection, fairy)
    return connection, fairy


def nothing_begun(session: AsyncSession) -> bool:
    """Whether the session's transaction never reached the database: only direct reads ran
    (on asyncpg, outside any transaction) and nothing waits to be flushed. Committing such a
    session would only release its connection, as closing it does."""
    held = _held(session)
    if held is None or held[2] is None:
        return False
    driver = held[2].driver_connection
    if driver is None or driver.is_in_transaction():
        return False
    return not (session.new or session.dirty or session.deleted)


def _touched(status: str) -> int:
    """Rows touched, from the command tag: ``UPDATE 1``, ``INSERT 0 1``, ``DELETE 0``."""
    return int(status.rsplit(" ", 1)[-1])


async def _raise_as_sqlalchemy(
    connection: AsyncConnection, fairy: Any, sql: str, arguments: Sequence[Any], error: Exception
) -> NoReturn:
    """Raise ``error`` as SQLAlchemy's own execution would have: translated by the dialect's
    DBAPI adapter, wrapped in ``sqlalchemy.exc``, the connection invalidated when it died."""
    dialect = connection.dialect
    try:
        fairy.dbapi_connection._handle_exception(error)  # raises the DBAPI's translation
    except Exception as translated:
        error = translated
    dead = isinstance(error, dialect.loaded_dbapi.Error) and dialect.is_disconnect(
        error, fairy.dbapi_connection, None
    )
    if dead:
        await connection.invalidate(error)
    raise DBAPIError.instance(
        sql,
        tuple(arguments),
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=dead,
        dialect=dialect,
    ) from error
