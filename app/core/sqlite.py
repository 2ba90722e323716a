"""The embedded SQLite's driver as SQLAlchemy uses it, with each statement one call on
aiosqlite's thread.

aiosqlite runs every call on a thread of its own, and each call is a hand-off between threads
(a queue, the event loop's wake-up pipe). SQLAlchemy's cursor for it makes three or four calls
a statement: a cursor, the execute, the rows, the close. :class:`OneCallCursor` makes one: it
executes, reads every row (SQLAlchemy's cursor reads them all at once too) and closes the
sqlite3 cursor on that thread, and keeps what SQLAlchemy asks afterwards (the description,
the row count, the last row id). Server-side cursors (``stream_results``) keep SQLAlchemy's
own, which fetch as they go.

A transaction's ``BEGIN IMMEDIATE`` (``app.core.db``: writers queue on the file's lock
instead of failing) is sent with the transaction's first statement, in the same call
(:meth:`OneCallConnection.begin_immediate`, :func:`begin_if`): nothing runs in the
transaction before it, so it takes the lock exactly where a ``BEGIN`` sent on its own would
have. A transaction that sent nothing has nothing to commit or roll back, and asks nothing
of aiosqlite's thread.

Before that ``BEGIN IMMEDIATE``, a transaction takes its turn among the engine's writers
(:class:`Writers`): they queue in the event loop, first come first served, and each is sent
its ``BEGIN`` once the one before it has committed or rolled back. Left to SQLite, a writer
that finds the file locked sleeps and tries again (1, 2, 5 … 100 ms), so under eight writers
one could wait over a second while the lock sat free. SQLite's own lock still guards the file
(another process, the ``worker`` command, queues there as before).

It is plugged in through ``create_async_engine(module=...)``, SQLAlchemy's way to give a
dialect another DBAPI module (:func:`dbapi`): the dialect and its types are SQLAlchemy's
aiosqlite dialect unchanged, and so is its SQL but for one thing, :class:`Compiler`'s LIKE.
``app.core.direct`` sends its statements the same way, without the cursor.

SQLite prepares a statement whose LIKE pattern is a bound parameter again each time that
parameter is bound (its planner looks at the pattern for the LIKE optimization, and marks the
statement to be re-planned when it changes), and re-planning a join of thirty columns cost four
times the statement itself. Every area-scoped query has such a pattern (``area_code LIKE
'2202810%'``), the case's own lock included. :class:`Compiler` gives the pattern as
``CAST(? AS VARCHAR)``, an expression the planner does not look into: the statement stays
prepared in sqlite3's cache. The LIKE optimization never applied here anyway (it needs
``case_sensitive_like`` or a NOCASE index, and the service has neither).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sqlite3
import weakref
from typing import Any

import aiosqlite
from sqlalchemy import String, cast
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    AsyncAdapt_aiosqlite_ss_cursor,
)
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.sql.elements import BinaryExpression, BindParameter
from sqlalchemy.util import EMPTY_DICT

log = logging.getLogger(__name__)


class _Done:
    """What SQLAlchemy reads of a sqlite3 cursor after its statement, kept once it is
    closed."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, description: Any, rowcount: int, lastrowid: int | None) -> None:
        self.description = description
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self.arraysize = 1

    def close(self) -> None:
        """Already closed, on aiosqlite's thread."""


_NOTHING_YET = _Done(None, -1, None)


def begin_if(connection: sqlite3.Connection, begin: bool) -> None:
    """On aiosqlite's thread, before a statement: the transaction's ``BEGIN IMMEDIATE`` when
    it is still to be sent."""
    if begin:
        connection.execute("BEGIN IMMEDIATE").close()


def _run(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool, begin: bool
) -> tuple[_Done, list[Any] | None]:
    """On aiosqlite's thread: the statement, its rows, and its cursor closed."""
    begin_if(connection, begin)
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return _Done(description, cursor.rowcount, cursor.lastrowid), rows
    finally:
        cursor.close()


class OneCallCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's aiosqlite cursor, each statement one call on aiosqlite's thread."""

    __slots__ = ()
    _awaitable_cursor_close = False  # nothing left open to close

    def __init__(self, adapt_connection: Any) -> None:
        # as the base class, without asking aiosqlite's thread for a cursor up front
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _NOTHING_YET  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._one_call(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._one_call(operation, seq_of_parameters, many=True)

    async def _one_call(self, operation: Any, parameters: Any, *, many: bool) -> None:
        driver: Any = self._connection  # aiosqlite's connection
        adapter: OneCallConnection = self._adapt_connection  # type: ignore[assignment]
        async with adapter._execute_mutex:
            begin = await adapter.take_turn()
            done, rows = await driver._execute(
                _run, driver._conn, operation, parameters, many, begin
            )
        self._cursor = done
        self._rows = collections.deque(rows or ())


class _StreamingCursor(AsyncAdapt_aiosqlite_ss_cursor):
    """SQLAlchemy's server-side cursor, after the transaction's ``BEGIN IMMEDIATE`` if it is
    still to be sent."""

    __slots__ = ()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        adapter: OneCallConnection = self._adapt_connection  # type: ignore[assignment]
        if await adapter.take_turn():
            driver: Any = self._connection
            await driver._execute(begin_if, driver._conn, True)
        return await super()._execute_async(operation, parameters)


class OneCallConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite connection with :class:`OneCallCursor`, whose transaction's
    ``BEGIN IMMEDIATE`` waits for its first statement."""

    __slots__ = ("begin_pending", "turn")
    _cursor_cls = OneCallCursor
    _ss_cursor_cls = _StreamingCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.begin_pending = False
        self.turn: Turn | None = None
        """The writers' turn this connection's transaction holds (:class:`Writers`)."""

    def begin_immediate(self) -> None:
        """The transaction begins: its ``BEGIN IMMEDIATE`` goes with its first statement."""
        self.begin_pending = True

    def take_begin(self) -> bool:
        """Whether the next statement must send the ``BEGIN IMMEDIATE`` (then it is sent)."""
        pending, self.begin_pending = self.begin_pending, False
        return pending

    async def take_turn(self) -> bool:
        """:meth:`take_begin`, and when the ``BEGIN`` is to be sent, first the transaction's
        turn among the engine's writers."""
        if not self.begin_pending:
            return False
        self.turn = await self.dbapi.writers.wait()  # (cancelled here: still to begin)
        if self.take_begin():
            return True
        self.end_turn()
        return False

    def end_turn(self) -> None:
        """The transaction is over (committed, rolled back, or its connection closed or
        reset): the next writer's turn. Idempotent."""
        turn, self.turn = self.turn, None
        if turn is not None:
            turn.release()

    def commit(self) -> None:
        try:
            if not self.take_begin():  # a transaction that sent nothing has nothing to commit
                super().commit()
        finally:
            self.end_turn()

    def rollback(self) -> None:
        try:
            if not self.take_begin():
                super().rollback()
        finally:
            self.end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_turn()


class Turn:
    """A writer's turn on an engine, held from its transaction's ``BEGIN`` to its end. Taken
    at once when free, by whoever asks, even with writers waiting: a transaction that is
    running when the turn frees goes on without a hand-over through the event loop, the file
    never idles between two writers, and the writer woken by the release (the longest
    waiting) that finds the turn taken again waits at the head of the queue."""

    __slots__ = ("_waiters", "held")

    def __init__(self) -> None:
        self.held = False
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def release(self) -> None:
        self.held = False
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class Writers:
    """The engine's writers: one transaction at a time goes to SQLite for its lock, the
    others wait in the event loop for a :class:`Turn` (one per event loop) and are woken the
    moment it frees. A transaction that waits longer than SQLite itself would (``patience``)
    goes to SQLite without its turn, logged: a transaction that never ended could then hold
    up the others only as long as SQLite's own lock would."""

    def __init__(self, patience: float = 30.0) -> None:
        self.patience = patience
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Turn] = (
            weakref.WeakKeyDictionary()
        )

    async def wait(self) -> Turn | None:
        """The caller's turn, which it holds until its transaction ends; None when it waited
        ``patience`` seconds in vain."""
        loop = asyncio.get_running_loop()
        turn = self._turns.get(loop)
        if turn is None:
            turn = self._turns[loop] = Turn()
        if not turn.held:
            turn.held = True
            return turn
        deadline, woken = loop.time() + self.patience, False
        while turn.held:
            if loop.time() >= deadline:
                log.warning(
                    "a SQLite writer waited %.0f s for its turn; it goes to SQLite's lock",
                    self.patience,
                )
                return None
            waiter: asyncio.Future[None] = loop.create_future()
            if woken:
                turn._waiters.appendleft(waiter)  # woken, and barged past: first again
            else:
                turn._waiters.append(waiter)
            timer = loop.call_at(deadline, _resolve, waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and not turn.held:
                    turn._wake()  # this wake-up was ours: the next writer's
                raise
            finally:
                timer.cancel()
            woken = True
        turn.held = True
        return turn


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class OneCallDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite DBAPI module, its connections with :class:`OneCallCursor`;
    one for each engine, with the engine's :class:`Writers`."""

    def __init__(self, aiosqlite: Any, sqlite: Any) -> None:
        super().__init__(aiosqlite, sqlite)
        self.writers = Writers()

    def connect(self, *arg: Any, **kw: Any) -> OneCallConnection:
        adapted = super().connect(*arg, **kw)
        return OneCallConnection(self, adapted._connection)


def dbapi() -> OneCallDBAPI:
    """The module to give ``create_async_engine`` for a ``sqlite+aiosqlite`` URL."""
    return OneCallDBAPI(aiosqlite, sqlite3)


class Compiler(SQLiteCompiler):
    """SQLAlchemy's SQLite compiler, with a bound LIKE pattern given as an expression so that
    SQLite does not prepare the statement again for each pattern (see the module's doc). The
    same text and the same parameters: ``LIKE CAST(? AS VARCHAR)`` matches what ``LIKE ?``
    matches, escapes included."""

    def visit_like_op_binary(self, binary: BinaryExpression[Any], operator: Any, **kw: Any) -> str:
        text: str = super().visit_like_op_binary(  # type: ignore[no-untyped-call]
            _planned_once(binary), operator, **kw
        )
        return text

    def visit_not_like_op_binary(
        self, binary: BinaryExpression[Any], operator: Any, **kw: Any
    ) -> str:
        text: str = super().visit_not_like_op_binary(  # type: ignore[no-untyped-call]
            _planned_once(binary), operator, **kw
        )
        return text


def _planned_once(binary: BinaryExpression[Any]) -> BinaryExpression[Any]:
    if not isinstance(binary.right, BindParameter):
        return binary
    binary = binary._clone()
    binary.right = cast(binary.right, String())
    return binary
