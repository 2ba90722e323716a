"""The API's connection pool (PostgreSQL's, and the embedded SQLite's): SQLAlchemy's asyncio
queue pool, which also keeps the connections its requests were lent between one request and
the next.

Every request's statements outside its transaction (the read of a case, a step's move sent
alone) run on one connection lent from the pool for the request (``app.core.direct``).
Through SQLAlchemy's pool that is a checkout and a check-in a request, each a hop into its
synchronous core through a greenlet, a proxy built and a queue passed: measured at 8
requests at once, 60 µs of CPU for a pooled ``SELECT 1`` against 13 µs on a connection kept
at hand, and the server's CPU a read of a case fell from 0.57 to 0.44 ms when the request's
connection was kept (``bench/RESULTS.md``). So a connection handed back clean (valid, in no
transaction) is kept as it is, checked out, in :attr:`LendingPool.idle`, and the next
request is lent it without the pool's round trip.

What the pool promised stays true:

- No more connections than before: an idle one counts as checked out against the pool's
  size and overflow, and what is kept open unused, idle or in the pool's queue, is at most
  the pool's size, as before (an overflow connection handed back is closed).
- Nothing waits on the pool while a connection sits idle: a checkout that finds the pool's
  queue empty first hands one idle connection back to it (:meth:`LendingPool._do_get`), and
  once the pool has opened every connection it may (when a checkout may be waiting in its
  queue), a connection handed back goes to the queue, not to the idle.
- No connection is lent that the pool would not hand out: one past ``pool_recycle``, or
  invalidated (itself, or every connection older than the pool's last invalidation, as
  after PostgreSQL restarted) goes back to the pool, which recycles it on its next
  checkout.
- The pool's answers about itself count an idle connection as checked in, as it is idle
  (the ``/metrics`` gauges).
- Disposing of the pool (the engine's ``dispose``) closes the idle connections with the rest.

It relies on SQLAlchemy's pool internals (the queue, a record's start time and invalidation,
the pool's recycle time); SQLAlchemy is pinned (``constraints.txt``) and the tests in
``tests/test_pool.py`` fail if any of them moves.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util import greenlet_spawn

from app.core.sqlite import OneCallConnection

_LOGGER = logging.getLogger(__name__)
if _LOGGER.level == logging.NOTSET:
    # the pool's own messages (SQLAlchemy names its logger after the pool's class) at
    # warnings and above, as SQLAlchemy leaves those of its own pool ("sqlalchemy")
    _LOGGER.setLevel(logging.WARNING)


class LendingPool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio queue pool, with the connections lent to requests kept idle
    between them (the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idle: list[Any] = []
        """Connections (the pool's proxies, still checked out) kept for the next request,
        the one handed back last on top."""

    def usable(self, fairy: Any) -> bool:
        """Whether the pool would hand this connection out as it is: it is this pool's,
        valid, not invalidated, and not past its recycle time."""
        record = fairy._connection_record
        return (
            fairy._pool is self
            and fairy.is_valid
            and record is not None
            and not record._is_hard_or_soft_invalidated()
            and (self._recycle < 0 or time.time() - record.starttime <= self._recycle)
        )

    def _do_get(self) -> Any:
        # a checkout through the pool (a session's own transaction, or a request when none
        # is idle) takes what is idle before the pool opens a connection or waits for one
        if self.idle and self._pool.empty():
            self.idle.pop().close()  # clean, into an empty queue: nothing to await
        return super()._do_get()

    def at_limit(self) -> bool:
        """Whether the pool has opened every connection it may: a checkout that finds its
        queue empty then waits for one to be handed back."""
        return self._max_overflow > -1 and self._overflow >= self._max_overflow

    def room(self) -> bool:
        """Whether one more connection may be kept open unused: what the pool keeps so is its
        queue and the idle, together no more than its size, as its queue alone was."""
        return self._pool.qsize() + len(self.idle) < self._pool.maxsize

    def keeps(self, fairy: Any) -> bool:
        """Whether a connection handed back is kept idle for the next request: it is clean
        and usable, there is :meth:`room`, and the pool is not at its limit (a checkout may
        be waiting in its queue for this one)."""
        return not self.at_limit() and self.room() and self.usable(fairy) and _clean(fairy)

    def _do_return_conn(self, record: Any) -> None:
        # an overflow connection handed back without room is closed (at its limit nothing is
        # idle: none is kept there, and the last connection it opened was opened when its
        # queue and the idle were empty, _do_get)
        if not self.room():
            try:
                record.close()
            finally:
                self._dec_overflow()
            return
        super()._do_return_conn(record)

    def dispose(self) -> None:
        while self.idle:
            self.idle.pop().close()
        super().dispose()

    def checkedin(self) -> int:
        return int(super().checkedin()) + len(self.idle)

    def checkedout(self) -> int:
        return int(super().checkedout()) - len(self.idle)


def _clean(fairy: Any) -> bool:
    """The connection is in no transaction, neither as SQLAlchemy's adapter sees it nor as
    the driver does, and open: the pool's reset would have nothing to do. (The embedded
    SQLite's: no ``BEGIN IMMEDIATE`` pending, no writers' turn held, ``app.core.sqlite``.)"""
    adapter = fairy.dbapi_connection
    if adapter is None:
        return False
    if isinstance(adapter, OneCallConnection):
        driver = fairy.driver_connection
        return (
            not adapter.begin_pending
            and adapter.turn is None
            and driver._connection is not None
            and not driver.in_transaction
        )
    return (
        adapter._transaction is None
        and not fairy.driver_connection.is_closed()
        and not fairy.driver_connection.is_in_transaction()
    )


async def lend(engine: AsyncEngine) -> Any:
    """A connection (the pool's proxy) for a request's statements outside its transaction:
    the idle one handed back last, if the pool would still hand it out, or one checked out
    of the pool."""
    pool = engine.pool
    if isinstance(pool, LendingPool):
        while pool.idle:
            fairy = pool.idle.pop()
            if pool.usable(fairy):
                return fairy
            await greenlet_spawn(fairy.close)  # the pool recycles it on its next checkout
    return await engine.raw_connection()


async def take_back(engine: AsyncEngine, fairy: Any) -> None:
    """A connection :func:`lend` gave, handed back: kept idle for the next request when the
    pool keeps it (:meth:`LendingPool.keeps`), else returned to the pool (whose reset rolls
    back what it must, and which hands it to a checkout waiting for one, or closes it if it
    is one more than the pool's size)."""
    pool = engine.pool
    if isinstance(pool, LendingPool) and pool.keeps(fairy):
        pool.idle.append(fairy)
        return
    await greenlet_spawn(fairy.close)
