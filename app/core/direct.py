"""Statements the write path sends straight to asyncpg, on the request's own connection and in
its transaction.

Every rule-checked step ends in the same few statements (the case's UPDATE guarded by its
version, the event's INSERT). Through ``session.execute`` each pays SQLAlchemy's execution
layers: the compiled-cache lookup, an execution context, parameter processing, the greenlet
hop into the synchronous core and back, a result wrapper. A :class:`Direct` statement is
compiled once by SQLAlchemy for the connection's dialect (its SQL, with the casts SQLAlchemy
would send, and each parameter's bind processor: JSON through ``json_text``, datetimes
through ``UTCDateTime``) and then handed to asyncpg as it is. Counted with
``bench/instructions.py``: see ``bench/RESULTS.md``.

It is only used where it is safe:

- the driver is asyncpg (the embedded SQLite runs the statement through the session);
- the connection is already inside the transaction the session began (the write path locks
  the case first, through the session); otherwise the statement runs through the session,
  which begins it, so nothing is ever written outside the request's transaction;
- it answers only how many rows the statement touched, never rows.

An error of the driver is raised as SQLAlchemy would raise it (``IntegrityError``,
``DBAPIError`` with ``connection_invalidated`` when the connection died), so the handlers
above (the idempotency middleware, ``database_unreachable``) see what they always saw; a
connection that died is invalidated, as the session would have done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.dml import UpdateBase


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]

    def arguments(self, params: dict[str, Any]) -> list[Any]:
        return [
            params[name] if process is None else process(params[name])
            for name, process in zip(self.names, self.processors, strict=True)
        ]


class Direct:
    """One INSERT, UPDATE or DELETE, compiled once, run by :meth:`rowcount`."""

    def __init__(self, statement: UpdateBase) -> None:
        self.statement = statement
        self._compiled: _Compiled | None = None

    def _compile(self, connection: AsyncConnection) -> _Compiled:
        compiled: Any = self.statement.compile(dialect=connection.dialect)
        names = tuple(compiled.positiontup or ())
        processors = compiled._bind_processors  # what SQLAlchemy applies to each parameter
        self._compiled = _Compiled(
            compiled.string, names, tuple(processors.get(name) for name in names)
        )
        return self._compiled

    async def rowcount(self, session: AsyncSession, params: dict[str, Any]) -> int:
        """Run the statement with ``params`` (by bind name); how many rows it touched."""
        connection = await session.connection()
        if connection.dialect.driver == "asyncpg":
            fairy = await connection.get_raw_connection()
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
