"""Statements the hot paths send straight to the driver (asyncpg, or aiosqlite for the
embedded SQLite), on the request's own connection and in its transaction.

Every request on a case reads or locks it; every rule-checked step ends in the same few
statements (the case's UPDATE guarded by its version, the event's INSERT); every opening
inserts the same rows. Through ``session.execute`` each pays SQLAlchemy's execution
layers: the compiled-cache lookup, an execution context, parameter processing, the greenlet
hop into the synchronous core and back, a result wrapper. A :class:`Direct` statement is
compiled once by SQLAlchemy for the connection's dialect (its SQL, with the casts SQLAlchemy
would send, and each parameter's bind processor: JSON through ``json_bytes`` on PostgreSQL
and ``json_text`` on SQLite, datetimes through ``UTCDateTime``) and then handed to asyncpg as
it is. Counted with ``bench/instructions.py``: see ``bench/RESULTS.md``.

It is only used where it is safe:

- the driver is asyncpg or aiosqlite (any other runs the statement through the session);
- an INSERT, UPDATE or DELETE goes to the driver only inside the request's transaction:
  the case's lock began it, or the session did, or, when it is the session's first
  statement, asyncpg's adapter begins it as it would for SQLAlchemy's own cursor (its
  ``BEGIN``), so the session commits or rolls back that transaction as its own; nothing is
  ever written outside the request's transaction;
- an INSERT, UPDATE or DELETE answers how many rows it touched (:class:`Direct`); a SELECT
  answers its first row as plain values, each through its column's result processor as
  SQLAlchemy would apply it (:class:`DirectRow`), never ORM objects.

:class:`DirectRow` is what reads and locks the case, the first statement of every request
on one: a lock with no transaction yet begins one through SQLAlchemy's own asyncpg adapter
(the ``BEGIN`` the adapter would send before its first statement), so the session commits
or rolls back that transaction as its own; a read begins none.

On the embedded SQLite the session's transaction is the ``BEGIN IMMEDIATE`` that
``app.core.db`` sends when the session takes its connection, so every statement there runs
inside it. aiosqlite runs each call on its own thread, and SQLAlchemy's cursor makes three or
four such calls a statement (a cursor, the execute, the rows, the close), each a hand-off
between threads through a queue and the event loop's wake-up pipe: a direct statement is one
call that does all of it on that thread, and once the transaction holds SQLite's write lock
none at all: it runs on the event loop's thread (:class:`_Aiosqlite`). A step that names the
version it read defers its lock there as on PostgreSQL (:func:`begin_with`): its transaction
begins only when something must be written, and a step whose only write is its move sends
it at the commit as one call: the writers' turn, ``BEGIN IMMEDIATE``, the guarded UPDATE,
the event's INSERT and ``COMMIT`` (:func:`commit_alone`), so the file's write lock is held
for that call, not while the request's rules run.

An error of the driver is raised as SQLAlchemy would raise it (``IntegrityError``,
``DBAPIError`` with ``connection_invalidated`` when the connection died), so the handlers
above (the idempotency middleware, ``database_unreachable``) see what they always saw; a
connection that died is invalidated, as the session would have done.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from sqlalchemy import (
    Connection,
    String,
    Table,
    bindparam,
    event,
    func,
    insert,
    select,
    union_all,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import Select, TextualSelect
from sqlalchemy.sql.util import find_tables
from sqlalchemy.util import await_only, greenlet_spawn

from app.core.pool import lend, take_back
from app.core.sqlite import OneCallConnection, OneCallDBAPI, begin_if

_T = TypeVar("_T")


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


AnySelect = Select[*tuple[Any, ...]] | TextualSelect
"""A query built, or written as text with its columns named (``text(...).columns(...)``)."""


def _compile(statement: UpdateBase | AnySelect, dialect: Dialect) -> _Compiled:
    compiled: Any = statement.compile(dialect=dialect)
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
    """One INSERT, UPDATE or DELETE, compiled once, run by :meth:`rowcount` (or a SELECT … FOR
    UPDATE, whose rows it counts, as a transaction's opening: :func:`begin_with`)."""

    def __init__(self, statement: UpdateBase | AnySelect) -> None:
        self.statement = statement
        self.tables = _tables(statement)
        """The tables it writes (or locks)."""
        self._compiled: dict[str, _Compiled] = {}
        """By dialect: the service runs on one, its tests on both in one process."""

    def compiled(self, dialect: Dialect) -> _Compiled:
        """The statement as compiled for ``dialect`` (once)."""
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _compile(self.statement, dialect)
        return compiled

    async def rowcount(self, session: AsyncSession, params: dict[str, Any]) -> int:
        """Run the statement with ``params`` (by bind name); how many rows it touched."""
        connection, driver = await _connection(session)
        if driver is not None and (driver.begins or driver.in_transaction()):
            compiled = self.compiled(connection.dialect)
            arguments = compiled.arguments(params)
            try:
                await driver.begin()  # the session's transaction, when nothing began it yet
                return await driver.execute(compiled.sql, arguments)
            except Exception as error:
                await _raise_as_sqlalchemy(connection, compiled.sql, arguments, error)
        result: Any = await connection.execute(self.statement, params)
        return int(result.rowcount)

    async def alone(self, session: AsyncSession, params: dict[str, Any]) -> int:
        """Run the statement as a transaction of its own, now, on the connection the request
        borrowed (only where :func:`may_write_alone`): one statement is one transaction in
        PostgreSQL, written whole or not at all, with no ``BEGIN`` and ``COMMIT`` around it.
        How many rows it touched; a failure is raised as SQLAlchemy's."""
        assert may_write_alone(session)
        return await self._alone(session, params)

    async def _alone(self, session: AsyncSession, params: dict[str, Any]) -> int:
        engine = _lending(session)
        assert engine is not None  # only a session on asyncpg writes alone
        compiled = self.compiled(engine.dialect)
        arguments = compiled.arguments(params)
        return await _on_borrowed(
            session,
            engine,
            compiled.sql,
            arguments,
            lambda fairy: _Asyncpg(fairy).execute(compiled.sql, arguments),
        )


async def write_alone(
    session: AsyncSession,
    statement: Direct,
    params: dict[str, Any],
    *,
    embedded: Direct | None = None,
) -> int:
    """A write that is the request's whole transaction, sent now, when the session has begun
    nothing: on asyncpg ``statement`` alone (:meth:`Direct.alone`); on the embedded SQLite
    ``embedded`` (else ``statement``) in one call on a borrowed connection, in the writers'
    turn, between ``BEGIN IMMEDIATE`` and ``COMMIT``, rolled back unless it touched one row.
    How many rows it touched; a failure is raised as SQLAlchemy's."""
    engine = _lending(session)
    if engine is None or engine.dialect.driver != "aiosqlite":
        return await statement.alone(session, params)
    assert not session.in_transaction(), "a write alone begins no transaction of the session"
    compiled = (embedded or statement).compiled(engine.dialect)
    step = (compiled.sql, compiled.arguments(params))
    touched: int = await _on_borrowed(
        session, engine, *step, lambda fairy: _Aiosqlite(fairy).alone([step])
    )
    return touched


class DirectInsert:
    """An INSERT of one row into ``table``, of the columns a call gives (compiled once per
    column list): :meth:`run` writes it as :class:`Direct` does, in the transaction."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._by_columns: dict[tuple[str, ...], Direct] = {}

    async def run(self, session: AsyncSession, values: dict[str, Any]) -> None:
        await self.of(tuple(values)).rowcount(session, values)

    def of(self, columns: tuple[str, ...]) -> Direct:
        """The INSERT of these columns."""
        statement = self._by_columns.get(columns)
        if statement is None:
            statement = self._by_columns[columns] = Direct(
                insert(self.table).values({name: bindparam(name) for name in columns})
            )
        return statement


async def guarded_pair(
    session: AsyncSession,
    guard: Direct,
    guard_params: dict[str, Any],
    then: Direct,
    then_params: dict[str, Any],
) -> bool:
    """``guard`` (an UPDATE guarded by a version), and ``then`` only when it touched exactly
    one row: whether it did. Where the database cannot do both in one statement (SQLite has
    no UPDATE in a CTE), on aiosqlite they are still one call on its thread, in the
    transaction; anywhere else two statements in turn."""
    connection, driver = await _connection(session)
    if isinstance(driver, _Aiosqlite) and driver.in_transaction():
        dialect = connection.dialect
        first, second = guard.compiled(dialect), then.compiled(dialect)
        arguments = (first.arguments(guard_params), second.arguments(then_params))
        try:
            touched = await driver.pair(first.sql, second.sql, *arguments)
        except _Second as failed:
            await _raise_as_sqlalchemy(connection, second.sql, arguments[1], failed.error)
        except Exception as error:
            await _raise_as_sqlalchemy(connection, first.sql, arguments[0], error)
        return touched == 1
    if await guard.rowcount(session, guard_params) != 1:
        return False
    await then.rowcount(session, then_params)
    return True


class Chained:
    """A write (``first``: an UPDATE guarded by a version, or an INSERT) and then the INSERT
    of one row into ``table``, only when ``first`` touched exactly one row: the event that
    comes with a case's move, the head that comes with a new household. On PostgreSQL one
    statement, one round trip: ``first`` in a CTE returning the row's key, and the INSERT
    selecting its values from what the CTE returned, so the second row exists only with the
    first (built and compiled once per ``first``, column list and number of rows). Elsewhere
    :func:`guarded_pair`. The second row's parameters go by their column names; on
    PostgreSQL they are bound as ``then_<column>`` beside ``first``'s own (``then<i>_``
    for the i-th of several rows, :meth:`follow`)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.then = DirectInsert(table)
        self._statements: dict[tuple[Any, ...], Direct] = {}
        """By ``first``, the chained rows' columns, their number and the other tables' rows."""

    async def run(
        self,
        session: AsyncSession,
        first: Direct,
        first_params: dict[str, Any],
        then_params: dict[str, Any],
        *,
        takes_lock: tuple[Any, ...] | None = None,
        leaves: tuple[Any, ...] | None = None,
        refused: Callable[[], Exception] | None = None,
        also: Sequence[tuple[DirectInsert, dict[str, Any]]] = (),
        alone: bool = False,
    ) -> bool:
        """Whether ``first`` touched its row (and the second row was inserted with it).

        ``alone``: the statement is the request's whole write, sent now as its own
        transaction (:meth:`Direct.alone`); the caller has asked :func:`may_write_alone`.

        ``also``: rows of other tables that come with the pair (an INSERT each, the row's
        values by column): on PostgreSQL in the same statement, each a CTE of its own
        selecting from ``first`` like the second row; elsewhere each an INSERT after the
        pair, in the transaction. Not with a lock's place to take (``takes_lock``).

        ``takes_lock``: the row and version ``first`` is guarded by; ``leaves``: the row and
        version it leaves. When the session's transaction is still to begin with the lock of
        that same row at that same version (:func:`begin_with`), the pair takes the lock's
        place instead of running now: it is the transaction's first statement if anything
        else is written, or runs alone at the commit (:func:`commit_alone`), and
        ``refused()`` is raised then if ``first`` touched no row. The answer is then True, to
        be confirmed by that statement."""
        columns = tuple(then_params)
        postgres = session.get_bind().dialect.name == "postgresql"  # (asked without a hop)
        if takes_lock is not None and refused is not None and _lock_pending(session, takes_lock):
            assert not also, "rows of other tables do not wait for the commit"
            session.info[OPENING] = self._waiting(
                postgres, first, first_params, [then_params], refused, takes_lock, leaves
            )
            return True
        if not postgres:
            then = self.then.of(columns)
            if not await guarded_pair(session, first, first_params, then, then_params):
                return False
            for insert_, row in also:
                await insert_.run(session, row)
            return True
        statement, params = self._statement(first, first_params, [then_params], also)
        if alone:
            return await statement.alone(session, params) == 1
        return await statement.rowcount(session, params) == 1

    def follow(
        self,
        session: AsyncSession,
        waiting: Opening,
        first: Direct,
        first_params: dict[str, Any],
        then_params: dict[str, Any],
        leaves: tuple[Any, ...],
    ) -> bool:
        """Join a write to the one ``waiting`` for the commit (:func:`waiting_write`), when it
        is a pair of this chain with rows of the same columns: one statement, ``first`` (its
        values, guarded as ``waiting``'s own ``first`` was: the caller's ``first_params``)
        with the rows of both. Whether it joined (if not, nothing changed)."""
        if waiting.chain is not self or tuple(waiting.rows[0]) != tuple(then_params):
            return False
        session.info[OPENING] = self._waiting(
            session.get_bind().dialect.name == "postgresql",
            first,
            first_params,
            [*waiting.rows, then_params],
            waiting.refused,
            waiting.key,
            leaves,
        )
        return True

    def _waiting(
        self,
        postgres: bool,
        first: Direct,
        first_params: dict[str, Any],
        rows: list[dict[str, Any]],
        refused: Callable[[], Exception],
        key: tuple[Any, ...],
        leaves: tuple[Any, ...] | None,
    ) -> Opening:
        """The write waiting for the commit: on PostgreSQL one statement (:meth:`_statement`);
        elsewhere ``first`` and then each row's INSERT, in one call (:class:`Opening`)."""
        if not postgres:
            then = tuple((self.then.of(tuple(row)), row) for row in rows)
            return Opening(
                first, first_params, refused, key, leaves=leaves, chain=self, rows=rows, then=then
            )
        statement, params = self._statement(first, first_params, rows)
        return Opening(
            statement,
            params,
            refused,
            key,
            leaves=leaves,
            chain=self,
            rows=rows,
            first=(first, first_params),
        )

    def _statement(
        self,
        first: Direct,
        first_params: dict[str, Any],
        rows: list[dict[str, Any]],
        also: Sequence[tuple[DirectInsert, dict[str, Any]]] = (),
        wait: str | None = None,
    ) -> tuple[Direct, dict[str, Any]]:
        columns = tuple(rows[0])
        others = tuple((insert_.table, tuple(row)) for insert_, row in also)
        key = (first, columns, len(rows), others, wait is not None)
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements[key] = self._chain(
                first, columns, len(rows), others, waits=wait is not None
            )
        params = dict(first_params)
        for index, row in enumerate(rows):
            prefix = _then(index)
            params.update({f"{prefix}{name}": value for name, value in row.items()})
        for index, (_, row) in enumerate(also):
            params.update({f"also{index}_{name}": value for name, value in row.items()})
        if wait is not None:
            params["also_wait"] = wait
        return statement, params

    def _chain(
        self,
        first: Direct,
        columns: tuple[str, ...],
        count: int,
        others: tuple[tuple[Table, tuple[str, ...]], ...] = (),
        *,
        waits: bool = False,
    ) -> Direct:
        """The statement; ``waits``: the other tables' rows are inserted after PostgreSQL's
        ``lock_timeout`` is set to the ``also_wait`` parameter (:func:`commit_alone`)."""
        write: Any = first.statement
        head = write.returning(*write.table.primary_key.columns).cte("first")
        source: Any = head
        if waits:
            # evaluated from first's rows, so after its write holds its row's lock; local
            # to the statement's own transaction
            setting = func.set_config("lock_timeout", bindparam("also_wait", type_=String), True)
            source = select(setting.label("lock_timeout")).select_from(head).cte("waited")
        selects = [
            select(
                *(bindparam(f"{_then(i)}{n}", type_=self.table.c[n].type) for n in columns)
            ).select_from(head)
            for i in range(count)
        ]
        rows: Any = selects[0] if count == 1 else union_all(*selects)
        statement = insert(self.table).from_select(columns, rows).add_cte(head)
        for index, (table, names) in enumerate(others):
            values = select(
                *(bindparam(f"also{index}_{n}", type_=table.c[n].type) for n in names)
            ).select_from(source)
            # a data-modifying CTE runs whether or not the statement reads it
            statement = statement.add_cte(
                insert(table).from_select(names, values).cte(f"also{index}")
            )
        return Direct(statement)


def _then(index: int) -> str:
    """The prefix of the ``index``-th chained row's parameters."""
    return "then_" if index == 0 else f"then{index}_"


_Processors = tuple[tuple[int, Callable[[Any], Any]], ...]
"""The columns of a read whose values SQLAlchemy's result would process (JSON decoded,
datetimes made aware), by index, with their processors: the rest are taken as they come."""


class DirectRow:
    """One SELECT of plain columns, compiled once; :meth:`first` answers its first row,
    :meth:`all` every row. No expanding (``IN``-list) parameters, which are rendered per
    call: a list is one array parameter (``= ANY``), with ``elsewhere`` for other databases,
    which runs through the session when it has an ``IN`` list, and straight to the driver
    when it takes the list otherwise (SQLite's ``json_each`` of the list as JSON text).

    ``begins``: the statement needs the session's transaction (a ``FOR UPDATE`` lock) and
    begins it when the session has none yet. A plain read does not: inside a transaction it
    runs in it, outside one it runs as a statement of its own, sparing a read-only request
    its ``BEGIN`` and ``COMMIT`` round trips. Under PostgreSQL's READ COMMITTED (the
    service's level) every statement of a transaction takes its own snapshot anyway, so a
    request's reads see nothing different; whatever the request writes afterwards begins
    the transaction as before. A read before the session's transaction borrows a connection
    from the pool for itself (:meth:`_borrowed`). (On the embedded SQLite the session's
    connection comes with its transaction, so a lock, or a read after it, runs in it.)"""

    def __init__(
        self, statement: AnySelect, *, begins: bool = False, elsewhere: AnySelect | None = None
    ) -> None:
        self.statement = statement
        self.begins = begins
        self.tables = _tables(statement)
        """The tables it reads: a read of none a waiting write touches may borrow a
        connection while that write waits for the commit."""
        self.elsewhere = statement if elsewhere is None else elsewhere
        """What runs on any database but PostgreSQL: the same query where the statement is
        PostgreSQL's own (``= ANY(:list)`` for an ``IN`` list)."""
        self.elsewhere_direct = self.elsewhere is statement or not _expanding(self.elsewhere)
        """Whether ``elsewhere`` may go straight to the driver: it has no ``IN`` list, which
        SQLAlchemy renders anew for each call."""
        self._compiled: dict[str, tuple[_Compiled, _Processors]] = {}
        """By dialect: the statement, and the columns' result processors."""

    def compiled(self, dialect: Dialect) -> tuple[_Compiled, _Processors]:
        """The statement as compiled for ``dialect`` (once), and its columns' processors."""
        found = self._compiled.get(dialect.name)
        return found if found is not None else self._compile(dialect)

    def _compile(self, dialect: Dialect) -> tuple[_Compiled, _Processors]:
        # each column's value as SQLAlchemy's result would give it (JSON decoded, datetimes
        # made aware by UTCDateTime); types whose processor needs the driver's type code
        # (numerics) do not belong in such a statement
        driver = _DRIVERS.get(dialect.driver)
        statement = self.statement if driver is not None and driver.arrays else self.elsewhere
        results = tuple(
            (index, process)
            for index, column in enumerate(statement.selected_columns)
            if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
            is not None
        )
        compiled = self._compiled[dialect.name] = (_compile(statement, dialect), results)
        return compiled

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
        if (
            not self.begins
            and not session.in_transaction()
            and not _write_pending(session, self.tables)
        ):
            engine = _lending(session)
            if engine is not None and (
                _DRIVERS[engine.dialect.driver].arrays or self.elsewhere_direct
            ):
                return await self._borrowed(session, engine, params, first)
        connection, driver = await _connection(session)
        if (
            driver is not None
            and (driver.arrays or self.elsewhere_direct)
            and (not self.begins or driver.begins or driver.in_transaction())
        ):
            compiled, processors = self.compiled(connection.dialect)
            arguments = compiled.arguments(params)
            try:
                if self.begins:
                    await driver.begin()
                records = await driver.fetch(compiled.sql, arguments, first)
            except Exception as error:
                await _raise_as_sqlalchemy(connection, compiled.sql, arguments, error)
            return self._processed(records, processors)
        result = await connection.execute(self.elsewhere, params)
        if first:
            row = result.first()
            return [] if row is None else [tuple(row)]
        return [tuple(row) for row in result]

    async def _borrowed(
        self, session: AsyncSession, engine: AsyncEngine, params: dict[str, Any], first: bool
    ) -> list[tuple[Any, ...]]:
        """The read on a connection borrowed from the pool (:func:`_borrow`): the session
        takes none (its connection, transaction and their release cost more than a read of
        a case), and a later statement of the request that needs the session's own
        transaction begins it as before. Never two connections at once."""
        dialect = engine.dialect
        compiled, processors = self.compiled(dialect)
        arguments = compiled.arguments(params)
        driver = _DRIVERS[dialect.driver]
        records = await _on_borrowed(
            session,
            engine,
            compiled.sql,
            arguments,
            lambda fairy: driver(fairy).fetch(compiled.sql, arguments, first),
        )
        return self._processed(records, processors)

    @staticmethod
    def _processed(
        records: Sequence[Sequence[Any]], processors: _Processors
    ) -> list[tuple[Any, ...]]:
        """Each record as a tuple, each column that has a processor processed."""
        if not processors:
            return [tuple(record) for record in records]
        rows = []
        for record in records:
            row = list(record)
            for index, process in processors:
                row[index] = process(row[index])
            rows.append(tuple(row))
        return rows


def _lending(session: AsyncSession) -> AsyncEngine | None:
    """The engine a read outside the session's transaction may borrow a connection from: the
    session's own, where its driver has a direct path. On the embedded SQLite that also
    spares the read the ``BEGIN IMMEDIATE`` of the session's connection, which would make it
    wait for every writer: SQLite's WAL lets a read run beside them."""
    bind = session.bind
    if isinstance(bind, AsyncEngine) and _direct_path(bind.dialect) is not None:
        return bind
    return None


def has_direct_path(session: AsyncSession) -> bool:
    """Whether the session's statements may go straight to its driver (:func:`_lending`)."""
    return _lending(session) is not None


LENT = "lent_connection"
"""Where a request's session keeps the connection lent to its statements outside its
transaction (``session.info``), until :func:`give_back`."""


async def _borrow(session: AsyncSession, engine: AsyncEngine) -> tuple[Any, bool]:
    """A pooled connection (its proxy) for a statement outside the session's transaction (a
    read before it, a write that runs alone: :func:`commit_alone`), and whether the session
    keeps it. A request's own session (:data:`DEFERRABLE`) keeps it lent for the request's
    further such statements, and gives it back when the request ends or when the session
    takes its own connection (:func:`give_back`): one checkout a request, as with the
    session's own. (On the embedded SQLite a lent connection holds no lock between its
    statements: each runs outside any transaction, or is one of its own, committed.) Any
    other session gives it back after the statement. On PostgreSQL a connection handed back
    clean is kept for the next request, which then needs no checkout at all
    (``app.core.pool``)."""
    keeps = bool(session.info.get(DEFERRABLE))
    fairy = session.info.get(LENT) if keeps else None
    if fairy is None:
        fairy = await lend(engine)
        if keeps:
            session.info[LENT] = fairy
    return fairy, keeps


async def _on_borrowed(
    session: AsyncSession,
    engine: AsyncEngine,
    sql: str,
    arguments: Sequence[Any],
    run: Callable[[Any], Awaitable[_T]],
) -> _T:
    """``run(connection)`` for the statement ``sql`` on a borrowed connection (:func:`_borrow`),
    given back after it unless the session keeps it. If the statement fails, the connection
    goes back at once (a dead one invalidated, so the pool discards it) and the error is
    raised as SQLAlchemy's."""
    fairy, kept = await _borrow(session, engine)
    try:
        answer = await run(fairy)
    except BaseException as error:
        if kept:
            session.info.pop(LENT, None)
        try:
            if isinstance(error, _Step):  # one of several statements: that one's
                sql, arguments, error = error.sql, error.arguments, error.error
            if isinstance(error, Exception):
                await _raise_borrowed(engine, fairy, sql, arguments, error)
            raise
        finally:
            await greenlet_spawn(fairy.close)
    if not kept:
        await take_back(engine, fairy)
    return answer


async def give_back(session: AsyncSession) -> None:
    """Return the connection lent to the session's statements outside its transaction, if
    one is (:func:`_borrow`): the request has ended."""
    fairy = session.info.pop(LENT, None)
    if fairy is not None:
        await take_back(session.bind, fairy)  # type: ignore[arg-type]  # (_lending's engine)


@event.listens_for(Session, "after_transaction_create")
def _give_back_first(session: Session, transaction: Any) -> None:
    """The session is about to take its own connection (its transaction was just created,
    inside SQLAlchemy's greenlet, before any connection): the lent one goes back first,
    so a request never holds two."""
    if transaction.parent is None:
        fairy = session.info.pop(LENT, None)
        if fairy is not None:
            fairy.close()


class _Asyncpg:
    """The request's asyncpg connection, as the pool's proxy holds it."""

    arrays = True
    """Takes a list as one array parameter (``= ANY``)."""
    begins = True
    """Can begin the session's transaction itself (:meth:`begin`)."""

    def __init__(self, fairy: Any) -> None:
        self.adapter, self.driver = fairy.dbapi_connection, fairy.driver_connection

    def in_transaction(self) -> bool:
        return bool(self.driver.is_in_transaction())

    async def execute(self, sql: str, arguments: list[Any]) -> int:
        status: str = await self.driver.execute(sql, *arguments)
        return _touched(status)

    async def begin(self) -> None:
        if self.adapter._transaction is None:  # as its cursor checks
            await self.adapter._start_transaction()  # the adapter's own BEGIN

    async def fetch(self, sql: str, arguments: list[Any], first: bool) -> Sequence[Sequence[Any]]:
        if first:
            record = await self.driver.fetchrow(sql, *arguments)
            return [] if record is None else [record]
        records: list[Any] = await self.driver.fetch(sql, *arguments)
        return records


class _Aiosqlite:
    """The request's aiosqlite connection. A statement that begins the transaction (its
    ``BEGIN IMMEDIATE`` still to be sent, ``app.core.sqlite``), or that runs outside one, is
    one call on aiosqlite's thread (its ``_execute``, which each of aiosqlite's own calls
    makes) that executes, reads and closes the cursor there. A statement inside the write
    transaction runs here, on the event loop's thread (:meth:`_here`): a hand-off to the
    thread and back cost more than such a statement."""

    arrays = False
    begins = False
    """The transaction is the ``BEGIN IMMEDIATE`` that came with the session's connection."""

    def __init__(self, fairy: Any) -> None:
        self.adapter: OneCallConnection = fairy.dbapi_connection
        self.driver = fairy.driver_connection  # aiosqlite.Connection

    def in_transaction(self) -> bool:
        return self.adapter.begin_pending or bool(self.driver.in_transaction)

    def _here(self, begin: bool) -> bool:
        """Whether a statement may run on the event loop's thread: its transaction's ``BEGIN
        IMMEDIATE`` has run (the writers' turn is held and SQLite says a transaction is open),
        so the connection holds SQLite's write lock. Nothing it then sends waits for a lock:
        in WAL a writer waits for no reader, and no other writer can hold the lock; and
        nothing of its own is on aiosqlite's thread, as the request awaits each call before
        the next (the commit, whose ``fsync`` does wait on the disk, stays there). The
        connection is opened with ``check_same_thread=False`` for it (``app.core.db``)."""
        return not begin and self.adapter.turn is not None and self.driver._conn.in_transaction

    async def _call(self, function: Callable[..., Any], *arguments: Any) -> Any:
        """``function(connection, *arguments, begin)`` here (:meth:`_here`), or as one call on
        aiosqlite's thread, with the transaction's ``BEGIN IMMEDIATE`` when it is due."""
        begin = await self.adapter.take_turn()
        connection = self.driver._conn
        if self._here(begin):
            return function(connection, *arguments, False)
        return await self.driver._execute(function, connection, *arguments, begin)

    async def execute(self, sql: str, arguments: list[Any]) -> int:
        touched: int = await self._call(_sqlite_execute, sql, arguments)
        return touched

    async def pair(
        self, guard: str, then: str, guard_arguments: list[Any], then_arguments: list[Any]
    ) -> int:
        touched: int = await self._call(_sqlite_pair, guard, then, guard_arguments, then_arguments)
        return touched

    async def opening(self, steps: list[tuple[str, list[Any]]], *, counted: bool) -> int:
        """The transaction's opening (:class:`Opening`), which begins it: the rows the first
        statement touched (``counted``: the rows a SELECT found), and the rest only when it
        touched one. A statement that fails raises :class:`_Step`."""
        touched: int = await self._call(_sqlite_steps, steps, counted)
        return touched

    async def alone(self, steps: list[tuple[str, list[Any]]]) -> int:
        """The statements as a transaction of their own, at once: the writers' turn, ``BEGIN
        IMMEDIATE``, the first, the rest only when it touched one row, and ``COMMIT``, or
        ``ROLLBACK`` when it touched none or one failed (raised as :class:`_Step`). The rows
        the first touched. On a connection outside any transaction (a borrowed one)."""
        self.adapter.begin_immediate()
        try:
            touched: int = await self._call(_sqlite_alone, steps)
        finally:
            self.adapter.take_begin()  # (sent, or never: cancelled waiting for the turn)
            self.adapter.end_turn()
        return touched

    async def begin(self) -> None:
        """Nothing to send: called only inside the transaction (``begins`` is False)."""

    async def fetch(self, sql: str, arguments: list[Any], first: bool) -> Sequence[Sequence[Any]]:
        rows: list[Any] = await self._call(_sqlite_fetch, sql, arguments, first)
        return rows


def _sqlite_execute(connection: Any, sql: str, arguments: list[Any], begin: bool) -> int:
    begin_if(connection, begin)
    cursor = connection.execute(sql, arguments)
    try:
        return int(cursor.rowcount)
    finally:
        cursor.close()


class _Second(Exception):
    """The second statement of a pair failed (``error``), the first having run."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _sqlite_pair(
    connection: Any,
    guard: str,
    then: str,
    guard_arguments: list[Any],
    then_arguments: list[Any],
    begin: bool,
) -> int:
    touched = _sqlite_execute(connection, guard, guard_arguments, begin)
    if touched == 1:
        try:
            _sqlite_execute(connection, then, then_arguments, False)
        except Exception as error:
            raise _Second(error) from error
    return touched


class _Step(Exception):
    """One statement of several sent in one call (``sql``, ``arguments``) failed (``error``)."""

    def __init__(self, sql: str, arguments: list[Any], error: Exception) -> None:
        super().__init__(str(error))
        self.sql, self.arguments, self.error = sql, arguments, error


def _sqlite_steps(
    connection: Any, steps: list[tuple[str, list[Any]]], counted: bool, begin: bool
) -> int:
    """On aiosqlite's thread: the first statement (a SELECT whose rows are ``counted``, or a
    write), then the others only when it touched exactly one row; how many it touched."""
    begin_if(connection, begin)
    touched = 0
    for index, (sql, arguments) in enumerate(steps):
        try:
            cursor = connection.execute(sql, arguments)
            try:
                count = len(cursor.fetchall()) if counted and not index else cursor.rowcount
            finally:
                cursor.close()
        except Exception as error:
            raise _Step(sql, arguments, error) from error
        if not index:
            touched = int(count)
            if touched != 1:
                break
    return touched


def _sqlite_alone(connection: Any, steps: list[tuple[str, list[Any]]], begin: bool) -> int:
    """:func:`_sqlite_steps` as a transaction of its own, committed when the first touched
    one row, else rolled back (or when one failed, then raised)."""
    try:
        touched = _sqlite_steps(connection, steps, False, begin)
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK").close()
        raise
    connection.execute("COMMIT" if touched == 1 else "ROLLBACK").close()
    return touched


def _sqlite_fetch(
    connection: Any, sql: str, arguments: list[Any], first: bool, begin: bool
) -> list[Any]:
    begin_if(connection, begin)
    cursor = connection.execute(sql, arguments)
    try:
        if first:
            row = cursor.fetchone()
            return [] if row is None else [row]
        return list(cursor.fetchall())
    finally:
        cursor.close()


_DRIVERS: dict[str, type[_Asyncpg | _Aiosqlite]] = {
    "asyncpg": _Asyncpg,
    "aiosqlite": _Aiosqlite,
}


def _direct_path(dialect: Dialect) -> type[_Asyncpg | _Aiosqlite] | None:
    """How a dialect's connections take direct statements, if they do: asyncpg's, and
    aiosqlite's as ``app.core.db`` makes them (``app.core.sqlite``, whose connections send a
    transaction's ``BEGIN IMMEDIATE`` with its first statement)."""
    if dialect.driver == "aiosqlite" and not isinstance(dialect.loaded_dbapi, OneCallDBAPI):
        return None
    return _DRIVERS.get(dialect.driver)


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
    transaction = _innermost(session)
    if (
        transaction is None
        or held[0]() is not transaction
        or not transaction.is_active
        or held[1].invalidated
    ):
        return None
    return held  # type: ignore[no-any-return]


def _innermost(session: AsyncSession) -> Any:
    """The session's transaction its next statement runs in: a savepoint's when one is open
    (``begin_nested``), else the root's. SQLAlchemy sends a savepoint's ``SAVEPOINT`` only
    when a statement first asks the session for its connection inside it: a connection kept
    from the enclosing transaction would run the statements before the savepoint began, out
    of the reach of its rollback."""
    sync = session.sync_session
    return sync.get_nested_transaction() or sync.get_transaction()


async def _connection(
    session: AsyncSession,
) -> tuple[AsyncConnection, _Asyncpg | _Aiosqlite | None]:
    """The session's connection, and its driver's connection (None for a driver with no
    direct path). Asking the session for them costs two hops into SQLAlchemy's synchronous
    core, so they are kept for the span of the transaction (:func:`_held`)."""
    held = _held(session)
    if held is not None:
        return held[1], held[2]
    connection = await session.connection()
    make = _direct_path(connection.dialect)
    driver = None if make is None else make(await connection.get_raw_connection())
    # the transaction weakly: it refers to the session, which holds this, and a cycle would
    # leave every session of the service to the cyclic garbage collector
    began = weakref.ref(_innermost(session))
    session.info[HELD_CONNECTION] = (began, connection, driver)
    return connection, driver


def nothing_begun(session: AsyncSession) -> bool:
    """Whether the session's transaction never reached the database: only direct reads ran
    (on asyncpg, outside any transaction) and nothing waits to be flushed. Committing such a
    session would only release its connection, as closing it does."""
    held = _held(session)
    if held is None or held[2] is None or held[2].in_transaction():
        return False
    return not (session.new or session.dirty or session.deleted)


# --- a transaction that begins with the statement the request chose ----------------------------

DEFERRABLE = "deferrable"
"""Set in ``session.info`` by the session's owner when the session is the request's own, which
commits when the route returns (``app.core.db``): its lock may wait for its transaction
(:func:`may_defer_lock`). Not on a session the idempotency middleware commits with its record,
nor on the worker's or the command line's."""
OPENING = "opening"
"""Where a session keeps its :class:`Opening` (``session.info``) until its transaction begins."""


@dataclass(frozen=True)
class Opening:
    """The statement a session's transaction is to begin with, sent when it begins (whatever
    begins it: a direct statement, the ORM's flush, a read through the session): a lock,
    guarded by the version the request read, or the guarded write that took the lock's place.
    ``refused()`` is raised when it touches no row."""

    statement: Direct
    params: dict[str, Any]
    refused: Callable[[], Exception]
    key: tuple[Any, ...]
    """The row and the version the statement is guarded by."""
    leaves: tuple[Any, ...] | None = None
    """A write's row and the version it leaves: a later write guarded by it may join it
    (:func:`waiting_write`, :meth:`Chained.follow`)."""
    chain: Chained | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    """A write's chained rows (:class:`Chained`), to be written with it; none for a lock."""
    then: tuple[tuple[Direct, dict[str, Any]], ...] = ()
    """Where the database has no UPDATE in a CTE (SQLite): the chained rows' INSERTs, each
    with its parameters, sent after ``statement`` (then the guarded UPDATE alone) in the
    same call, only when it touched its row."""
    first: tuple[Direct, dict[str, Any]] | None = None
    """On PostgreSQL, a chained write's own first statement and its parameters: the write
    may be rebuilt with rows of other tables (:func:`commit_alone`)."""

    @property
    def alone(self) -> bool:
        """A write (not a lock): if nothing else is written, it runs by itself at the commit
        (:func:`commit_alone`)."""
        return bool(self.rows)

    @property
    def touches(self) -> int:
        """The rows the statement touches when its guard holds: the lock's row, a chained
        write's rows (each inserted with the guarded one), or on SQLite the guarded row."""
        return 1 if self.then else len(self.rows) or 1

    @property
    def tables(self) -> frozenset[str]:
        """The tables it writes (or locks)."""
        return self.statement.tables.union(*(insert_.tables for insert_, _ in self.then))

    def steps(self, dialect: Dialect) -> list[tuple[str, list[Any]]]:
        """Its statements as sent (SQL and arguments), the guarded one first."""
        return [
            (compiled.sql, compiled.arguments(params))
            for compiled, params in (
                (statement.compiled(dialect), params)
                for statement, params in ((self.statement, self.params), *self.then)
            )
        ]


def may_defer_lock(session: AsyncSession) -> bool:
    """Whether the row a request is about to read and then write may be read without a lock,
    the lock then taken as the transaction's first statement (:func:`begin_with`): the
    session is the request's own (:data:`DEFERRABLE`), has begun nothing, and its driver
    has a direct path (asyncpg, whose transaction a direct statement begins, or the embedded
    SQLite's aiosqlite, whose transaction's ``BEGIN IMMEDIATE`` goes with its first
    statement: the opening, sent with it in one call on aiosqlite's thread)."""
    if not session.info.get(DEFERRABLE) or session.in_transaction() or OPENING in session.info:
        return False
    return _lending(session) is not None


def may_write_alone(session: AsyncSession) -> bool:
    """Whether a statement may be sent now as a transaction of its own (:meth:`Direct.alone`):
    the session is the request's own, on asyncpg, has begun nothing and has nothing waiting
    to begin with (as :func:`may_defer_lock` asks). The caller answers for the rest: that
    nothing else the request writes must commit with it. (Not on the embedded SQLite, where
    a write outside the session's transaction needs the writers' turn and a ``BEGIN`` and
    ``COMMIT`` of its own: only a step's move waiting for the commit is sent so,
    :func:`commit_alone`, and an idempotency key's record or its removal,
    :func:`write_alone`.)"""
    if not may_defer_lock(session) or PRELUDE in session.info:
        return False  # (what a session with a prelude writes commits with it)
    engine: Any = session.bind  # (an engine with a direct path, as may_defer_lock found)
    return _DRIVERS[engine.dialect.driver].begins


def begin_with(
    session: AsyncSession,
    lock: Direct,
    params: dict[str, Any],
    refused: Callable[[], Exception],
    key: tuple[Any, ...],
) -> None:
    """Make ``lock`` (a ``SELECT … FOR UPDATE`` of the row read, guarded by the version read)
    the first statement of the session's transaction, whenever it begins. The transaction
    then holds the row's lock before it writes anything, as if the row had been locked when
    it was read; a write that only moves that row, guarded by the same version (``key``: the
    row and the version), may take the lock's place (:meth:`Chained.run`) and, alone, spare
    the transaction altogether. If the request writes nothing, nothing is sent."""
    session.info[OPENING] = Opening(lock, params, refused, key)


def _lock_pending(session: AsyncSession, key: tuple[Any, ...]) -> bool:
    opening: Opening | None = session.info.get(OPENING)
    return (
        opening is not None
        and not opening.alone
        and opening.key == key
        and not session.in_transaction()
    )


def waiting_write(session: AsyncSession, leaves: tuple[Any, ...]) -> Opening | None:
    """The write waiting for the session's commit that leaves this row at this version, if
    one does: a write guarded by that version may join it (:meth:`Chained.follow`)."""
    opening: Opening | None = session.info.get(OPENING)
    if opening is None or not opening.alone or opening.leaves != leaves:
        return None
    if session.in_transaction():
        return None
    return opening


def _write_pending(session: AsyncSession, tables: frozenset[str]) -> bool:
    """Whether a write waits for the commit on one of these tables: a read of them must run
    in the session's transaction, which sends that write first."""
    opening: Opening | None = session.info.get(OPENING)
    return opening is not None and opening.alone and not tables.isdisjoint(opening.tables)


def _expanding(statement: Any) -> bool:
    """Whether a statement has an expanding (``IN``-list) parameter."""
    return any(
        isinstance(element, BindParameter) and element.expanding
        for element in visitors.iterate(statement)
    )


def _tables(statement: Any) -> frozenset[str]:
    """The names of the tables a statement reads or writes, its CTEs and subqueries included."""
    found = find_tables(statement, include_crud=True, include_aliases=True, include_joins=True)
    return frozenset(table.name for table in found if isinstance(table, Table))


def drop_opening(session: AsyncSession) -> None:
    """Forget the session's opening and prelude: its request failed, and nothing of it is to
    be sent (what a refusal keeps, committed after the rollback, goes without them)."""
    session.info.pop(OPENING, None)
    session.info.pop(PRELUDE, None)


def write_waits(session: AsyncSession) -> bool:
    """Whether a write waits for the session's commit (:func:`commit_alone`), nothing else
    having begun its transaction."""
    opening: Opening | None = session.info.get(OPENING)
    return opening is not None and opening.alone and not session.in_transaction()


async def commit_alone(
    session: AsyncSession,
    also: Sequence[tuple[DirectInsert, dict[str, Any]]] = (),
    wait: str | None = None,
) -> None:
    """Send the session's pending write (:meth:`Chained.run`) by itself, when nothing else
    began the transaction: one statement is one transaction in PostgreSQL, so the write
    commits whole or not at all, without a ``BEGIN`` and a ``COMMIT`` around it; on the
    embedded SQLite its statements, with ``BEGIN IMMEDIATE`` and ``COMMIT`` (or ``ROLLBACK``),
    are one call on aiosqlite's thread in the writers' turn. It runs on a connection
    borrowed from the pool, as the read before it did. A pending lock with nothing written
    after it is dropped: the request wrote nothing.

    ``also`` (with a write pending: :func:`write_waits`): rows of other tables written with
    it, only when the write touched its row (the idempotency key's record with its answer).
    On PostgreSQL in the same statement, each after ``lock_timeout`` is set to ``wait`` for
    the rest of the statement when ``wait`` is given; on the embedded SQLite each an INSERT
    after the write's own, in the same call and transaction (a writer there waits for no
    other's uncommitted row: the writers take turns)."""
    opening: Opening | None = session.info.pop(OPENING, None)
    if opening is None or not opening.alone:
        assert not also, "rows of other tables come with a write"
        return
    if opening.then:  # the embedded SQLite: the write's statements in one transaction, one call
        engine = _lending(session)
        assert engine is not None  # (a session may_defer_lock let wait)
        steps = opening.steps(engine.dialect)
        for insert_, row in also:
            compiled = insert_.of(tuple(row)).compiled(engine.dialect)
            steps.append((compiled.sql, compiled.arguments(row)))
        touched = await _on_borrowed(
            session, engine, *steps[0], lambda fairy: _Aiosqlite(fairy).alone(steps)
        )
    elif also:
        assert opening.chain is not None  # (a chained write's, on PostgreSQL)
        assert opening.first is not None
        statement, params = opening.chain._statement(*opening.first, opening.rows, also, wait)
        touched = await statement._alone(session, params)
    else:
        touched = await opening.statement._alone(session, opening.params)
    if touched != opening.touches:
        raise opening.refused()


PRELUDE = "prelude"
"""Where a session keeps its :class:`Prelude` (``session.info``)."""


@dataclass(frozen=True)
class Prelude:
    """A statement the session's transaction is to begin with, before its opening, whatever
    begins it: the idempotency key's claim. It is sent as each transaction of the session
    begins while the session keeps it (a transaction rolled back took what it wrote, so the
    next one sends it again); its owner removes it. ``answer`` is given its first row (or
    None) and may raise, refusing the request; ``failed`` is given the driver's error first
    and may raise one of its own (else the error is raised as SQLAlchemy's). A session with
    a prelude writes nothing alone (:func:`may_write_alone`): what it writes commits with
    what the prelude wrote, or with :func:`commit_alone`'s ``also``.

    On asyncpg ``statement`` is sent (a read); on the embedded SQLite ``elsewhere``, a write
    sent with the transaction's ``BEGIN IMMEDIATE`` in one call, its answer the one-column
    row of the rows it touched."""

    statement: DirectRow
    params: dict[str, Any]
    answer: Callable[[tuple[Any, ...] | None], None]
    failed: Callable[[Exception], None]
    elsewhere: Direct | None = None


def _run_prelude_embedded(prelude: Prelude, connection: Connection) -> None:
    """The prelude on the embedded SQLite (:attr:`Prelude.elsewhere`): the transaction's
    first call, with its ``BEGIN IMMEDIATE``, in the writers' turn."""
    assert prelude.elsewhere is not None, "a prelude on SQLite is a write"
    compiled = prelude.elsewhere.compiled(connection.dialect)
    arguments = compiled.arguments(prelude.params)
    try:
        touched = await_only(_Aiosqlite(connection.connection).execute(compiled.sql, arguments))
    except Exception as error:
        prelude.failed(error)
        _raise_in_greenlet(connection, compiled.sql, arguments, error)
    prelude.answer((touched,))


def _run_prelude(prelude: Prelude, connection: Connection, driver: _Asyncpg) -> None:
    compiled, processors = prelude.statement.compiled(connection.dialect)
    arguments = compiled.arguments(prelude.params)
    try:
        await_only(driver.begin())
        records = await_only(driver.fetch(compiled.sql, arguments, True))
    except Exception as error:
        prelude.failed(error)
        _raise_in_greenlet(connection, compiled.sql, arguments, error)
    rows = DirectRow._processed(records, processors)
    prelude.answer(rows[0] if rows else None)


@event.listens_for(Session, "after_begin")
def _send_opening(session: Session, _: Any, connection: Connection) -> None:
    """The session's transaction has just begun on ``connection`` (inside SQLAlchemy's greenlet,
    before the statement that began it): its prelude goes first (:class:`Prelude`), then its
    opening, with asyncpg's ``BEGIN``, or on the embedded SQLite in one call with the
    transaction's ``BEGIN IMMEDIATE`` (its lock a read of the row at the version: the write
    lock is the whole file's)."""
    prelude: Prelude | None = session.info.get(PRELUDE)
    if prelude is not None:  # (again after a rollback: what it wrote went with it)
        if connection.dialect.driver == "aiosqlite":
            _run_prelude_embedded(prelude, connection)
        else:
            _run_prelude(prelude, connection, _Asyncpg(connection.connection))
    opening: Opening | None = session.info.pop(OPENING, None)
    if opening is None:
        return
    fairy: Any = connection.connection
    steps = opening.steps(connection.dialect)
    sql, arguments = steps[0]
    try:
        if connection.dialect.driver == "aiosqlite":
            # with the transaction's BEGIN IMMEDIATE, in one call; a lock is a SELECT
            touched = await_only(_Aiosqlite(fairy).opening(steps, counted=not opening.alone))
        else:
            driver = _Asyncpg(fairy)
            await_only(driver.begin())
            touched = await_only(driver.execute(sql, arguments))
    except Exception as error:
        if isinstance(error, _Step):  # (SQLite's: the connection lives on)
            sql, arguments, error = error.sql, error.arguments, error.error
        _raise_in_greenlet(connection, sql, arguments, error)
    if touched != opening.touches:
        raise opening.refused()


def _raise_in_greenlet(
    connection: Connection, sql: str, arguments: Sequence[Any], error: Exception
) -> NoReturn:
    """:func:`_raise_as_sqlalchemy` inside SQLAlchemy's greenlet, on the synchronous
    ``connection`` a session's transaction began on."""
    error, dead = _translated(connection.dialect, connection.connection, error)
    if dead:
        connection.invalidate(error)
    _reraise(connection.dialect, sql, arguments, error, dead)


def _touched(status: str) -> int:
    """Rows touched, from the command tag: ``UPDATE 1``, ``INSERT 0 1``, ``DELETE 0``."""
    return int(status.rsplit(" ", 1)[-1])


async def _raise_as_sqlalchemy(
    connection: AsyncConnection, sql: str, arguments: Sequence[Any], error: Exception
) -> NoReturn:
    """Raise ``error`` as SQLAlchemy's own execution would have: translated by the dialect's
    DBAPI adapter, wrapped in ``sqlalchemy.exc``, the connection invalidated when it died."""
    fairy = await connection.get_raw_connection()
    error, dead = _translated(connection.dialect, fairy, error)
    if dead:
        await connection.invalidate(error)
    _reraise(connection.dialect, sql, arguments, error, dead)


async def _raise_borrowed(
    engine: AsyncEngine, fairy: Any, sql: str, arguments: Sequence[Any], error: Exception
) -> NoReturn:
    """:func:`_raise_as_sqlalchemy` for a connection borrowed from the pool: one that died
    is invalidated, so the pool discards it when it is given back."""
    error, dead = _translated(engine.dialect, fairy, error)
    if dead:
        # as SQLAlchemy's own connection does on a disconnect: the pool too, so every
        # connection older than this one is recycled before it is handed out again
        # (app.core.pool), not found dead by a request of its own
        await greenlet_spawn(engine.sync_engine.pool._invalidate, fairy, error)
    _reraise(engine.dialect, sql, arguments, error, dead)


def _translated(dialect: Dialect, fairy: Any, error: Exception) -> tuple[Exception, bool]:
    """The driver's error as the dialect's DBAPI adapter translates it, and whether the
    connection died of it."""
    try:
        fairy.dbapi_connection._handle_exception(error)  # raises the DBAPI's translation
    except Exception as translated:
        error = translated
    dead = isinstance(error, dialect.loaded_dbapi.Error) and dialect.is_disconnect(
        error, fairy.dbapi_connection, None
    )
    return error, dead


def _reraise(
    dialect: Dialect, sql: str, arguments: Sequence[Any], error: Exception, dead: bool
) -> NoReturn:
    raise DBAPIError.instance(
        sql,
        tuple(arguments),
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=dead,
        dialect=dialect,
    ) from error
