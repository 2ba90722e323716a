"""Case writes take turns: a process lets a few run at once and queues the rest in order.

A case write (every ``POST`` under ``/api/v1/cases``: an opening, an action, a recorded fact;
and the 12317 platform's self-declaration, which opens a case: :data:`SELF_DECLARATIONS`)
is a short piece of database work: the case's read, one statement or a short transaction,
the commit's flush to disk. When more of them are in flight than the database and the
process can advance at once, the surplus only interleaves: each PostgreSQL backend more is a
process more on the same cores, and each request in flight is one more turn of the event
loop between a request's statements. Measured (``python -m bench.transitions``, 32 clients on
two shared cores, four pairs of runs interleaved, ``bench/RESULTS.md`` 2026-12-04): with
eight at once the p99 was 36.4 / 51.7 / 46.0 / 43.0 ms against 54.1 / 50.5 / 60.1 / 56.6
without, and PostgreSQL's CPU a write 0.56-0.70 ms against 0.64-0.70.

So at most :attr:`Turns.at_once` case writes of a process run at once
(``Settings.case_writes_at_once``); the others wait, first come first served, before their
transaction begins. What is refused at the door (a token, a body too large or not storable,
a rate limit) is refused before it waits: the gate sits inside those middlewares, around the
idempotency middleware and the route. Nothing else waits here: reads, exports and uploads
are not case writes. A request whose client leaves while it waits gives its place up; one
that leaves after its turn came passes the turn on. ``/metrics`` reports the writes in
progress and waiting (``fangfanpin_case_writes``)."""

from __future__ import annotations

import asyncio
from collections import deque

from starlette.types import ASGIApp, Receive, Scope, Send

CASE_WRITES = "/api/v1/cases"
"""The path of an opening; a case's own writes are under it."""
SELF_DECLARATIONS = "/api/v1/intake/self-declarations"
"""The 12317 platform's door: each declaration opens a case (``app.intake.router``)."""


class Turns:
    """A first-come-first-served count of turns: :meth:`take` waits while ``at_once`` are
    taken, :meth:`give_back` hands a turn to the one waiting longest (or frees it)."""

    def __init__(self, at_once: int) -> None:
        if at_once < 1:
            raise ValueError("at least one turn")
        self.at_once = at_once
        self.taken = 0
        self.waiting: deque[asyncio.Future[None]] = deque()

    async def take(self) -> None:
        if self.taken < self.at_once and not self.waiting:
            self.taken += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append(turn)
        try:
            await turn  # resolved by give_back: the turn is handed over, still counted
        except BaseException:
            if turn.done() and not turn.cancelled():
                self.give_back()  # it came, but no one will use it: the next one's
            elif turn in self.waiting:
                self.waiting.remove(turn)
            raise

    def give_back(self) -> None:
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.taken -= 1


class CaseWriteGate:
    """Case writes (the module) run in turns of :class:`Turns`; every other request passes."""

    def __init__(self, app: ASGIApp, *, turns: Turns) -> None:
        self.app, self.turns = app, turns

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not _case_write(scope["path"]):
            await self.app(scope, receive, send)
            return
        await self.turns.take()
        try:
            await self.app(scope, receive, send)
        finally:
            self.turns.give_back()


def _case_write(path: str) -> bool:
    if path.startswith(CASE_WRITES):
        return len(path) == len(CASE_WRITES) or path[len(CASE_WRITES)] == "/"
    return path == SELF_DECLARATIONS
