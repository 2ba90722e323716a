"""``Idempotency-Key`` on every POST, scoped to (caller ``sub``, method, path).

A retry with the same key and body answers the first answer again (status, body, and the
headers that matter) and writes nothing; the same key with another body is refused (422
``idempotency_key_reused``); a key whose first request still runs answers 409
``idempotency_key_in_flight`` (on the embedded SQLite, where writers take turns, no claim is
ever found in flight: the copies write one after the other, and each answers the answer of
the one that wrote).

Only what executed is kept: answers below 400, and 409 refusals of the rules. A request
refused before it ran (401, 403, 404, 412, 422, 428) and server errors (5xx) keep nothing,
so the corrected retry runs. The key's claim, the route's writes and the stored answer are
one transaction: the route runs in a session this middleware holds (``app.core.db.
get_session`` hands it over), and the transaction commits before the answer leaves. A crash
at any point leaves all of it or none (no lease to wait out, no write without its record),
and a retry sent the moment the answer arrives is answered from the record. The caller is
the principal the authentication middleware verified (local or identity-provider tokens
alike).

The key is claimed late (:func:`_run_claiming_late`), its statements sent straight to the
driver (PostgreSQL's asyncpg, or the embedded SQLite's aiosqlite as ``app.core.db`` makes its
connections): its claim is the first statement of the request's transaction, sent
when something begins it, and a step whose only write is its move, waiting for the commit,
writes the key's record with its answer with the move: on PostgreSQL in the move's own
statement, which is then the whole transaction (two round trips for a keyed step, as without
a key); on the embedded SQLite in the one call that is its transaction (``BEGIN IMMEDIATE``,
the move, its event, the record, ``COMMIT``). A key already kept is found after the route
ran, and its answer replaces the route's.
"""

from __future__ import annotations

import hashlib
import json
import logging
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Integer,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.clock import Clock
from app.core.config import Settings
from app.core.db import HELD_SESSION, close_request_session, settle
from app.core.direct import (
    DEFERRABLE,
    OPENING,
    PRELUDE,
    Direct,
    DirectInsert,
    DirectRow,
    Prelude,
    commit_alone,
    drop_opening,
    give_back,
    has_direct_path,
    write_alone,
    write_waits,
)
from app.core.errors import (
    PROBLEM_JSON,
    Conflict,
    ProblemError,
    Unprocessable,
    server_problem,
)
from app.core.idempotency_model import IdempotencyRecord

HEADER = b"idempotency-key"
KEPT_HEADERS = ("content-type", "location", "etag")
ANSWER = ("status_code", "response_headers", "response_body")
RECORD = cast(Table, IdempotencyRecord.__table__)
IDENT = ("subject", "method", "path", "key")
"""The record's key: the caller, the method, the path and the key the caller sent."""
log = logging.getLogger(__name__)


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_key = headers.get(HEADER)
        subject = None if raw_key is None else self._subject(scope)
        if subject is None:
            await self.app(scope, receive, send)  # no key, or the route will answer 401
            return
        assert raw_key is not None
        key = raw_key.decode("latin-1").strip()
        if not 1 <= len(key) <= 200:
            await _send_problem(
                send,
                Unprocessable(
                    "idempotency_key_invalid", "An Idempotency-Key has 1 to 200 characters."
                ),
            )
            return
        body = await _read_body(receive)
        app_state = scope["app"].state
        sessionmaker: async_sessionmaker[AsyncSession] = app_state.sessionmaker
        clock: Clock = app_state.clock
        settings: Settings = app_state.settings
        now = clock.now()
        sent = _Key(
            {"subject": subject, "method": "POST", "path": scope["path"], "key": key},
            hashlib.sha256(body).hexdigest(),
            now,
            now - timedelta(hours=settings.idempotency_ttl_hours),
        )
        route = _Route(self.app, scope, body)
        # The key is claimed, the route writes and the answer is stored in one transaction,
        # committed before the answer leaves: a crash anywhere leaves all or nothing, so the
        # retry either replays the answer or runs for the first time.
        session = sessionmaker()
        # (the service's engines take statements straight to their drivers: app.core.db)
        assert has_direct_path(session), "the key is claimed late, on a direct path"
        try:
            messages = await _run_claiming_late(route, session, sent, clock)
        finally:
            await close_request_session(session)  # (nothing to close once it holds nothing)
        for message in messages:
            await send(message)

    @staticmethod
    def _subject(scope: Scope) -> str | None:
        """The caller the authentication middleware verified (it runs first, on every path
        under ``/api/v1`` but the open ones); without one there is nobody to scope a key to,
        and the request runs as if it had none."""
        verified = scope.get("state", {}).get("principal")
        return None if verified is None else str(verified.sub)


async def _read_body(receive: Receive) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


@dataclass(frozen=True)
class _Key:
    """The key a request came with: its record's key (:data:`IDENT`), the body's digest, when
    the request came, and the moment before which a kept record has expired."""

    ident: dict[str, str]
    digest: str
    now: datetime
    expired_before: datetime

    def claim_params(self) -> dict[str, Any]:
        """The claim's parameters (:data:`CLAIM_FIRST`, :data:`CLAIM_AT_ONCE`)."""
        return _claim_params(self.ident, self.digest, self.now, self.expired_before)


CLAIM_FIRST = Direct(
    sqlite_insert(RECORD)
    .values(
        {
            **{name: bindparam(name) for name in IDENT},
            "request_sha256": bindparam("digest"),
            "created_at": bindparam("created_at"),
        }
    )
    .on_conflict_do_update(
        index_elements=list(IDENT),
        set_={
            "request_sha256": bindparam("digest"),
            "created_at": bindparam("created_at"),
            "status_code": null(),
            "response_headers": null(),
            "response_body": null(),
        },
        where=or_(
            RECORD.c.created_at < bindparam("expired_before"),
            RECORD.c.status_code.is_(None),
        ),
    )
)
"""The key's claim on the embedded SQLite, the first statement of the request's transaction,
sent with its ``BEGIN IMMEDIATE`` (``app.core.direct.Prelude``), which takes the writers'
turn, so no claim of another request is in flight: it inserts the
claim, or takes the place of a record no longer live (expired, or a claim an earlier release
committed apart from its request), and touches nothing where the key's answer is kept."""


class _Route:
    """The route, run in the session the middleware holds, its answer held back."""

    def __init__(self, app: ASGIApp, scope: Scope, body: bytes) -> None:
        self.app, self.scope, self.body = app, scope, body
        self.captured: dict[str, Any] = {"status": 500, "headers": [], "body": b""}
        self.held: list[Message] = []
        """The answer's messages, sent once the record holds it."""

    async def run(self, session: AsyncSession) -> None:
        state = self.scope.setdefault("state", {})
        state[HELD_SESSION] = session
        try:
            await self.app(self.scope, self._receive, self._send)
        finally:
            state.pop(HELD_SESSION, None)

    async def _receive(self) -> Message:
        return {"type": "http.request", "body": self.body, "more_body": False}

    async def _send(self, message: Message) -> None:
        captured = self.captured
        if message["type"] == "http.response.start":
            captured["status"], captured["headers"] = message["status"], message["headers"]
        elif message["type"] == "http.response.body":
            captured["body"] += message.get("body", b"")
        self.held.append(message)


async def _commit_claimed(
    session: AsyncSession, key: _Key, route: _Route, clock: Clock
) -> list[Message]:
    """Commit the claimed key's record with the route's writes (:func:`_finish`); the
    messages to answer."""
    stored = await _finish(session, key.ident, key.digest, route.captured, clock)
    if stored is not None:  # the commit failed: nothing was written
        return _commit_failed(stored)
    settle(session, None)
    return route.held


async def _run_claiming_late(
    route: _Route, session: AsyncSession, key: _Key, clock: Clock
) -> list[Message]:
    """Run the route with the key's claim sent late, and answer its messages (on PostgreSQL,
    and on the embedded SQLite, whose differences the last paragraph gives).

    The claim (:data:`CLAIM_AT_ONCE`) is the first statement of the request's transaction,
    whenever something begins it (``app.core.direct.Prelude``); until then the route only
    reads, outside any transaction, as a request without a key does. A step whose only write
    is its move lets the move wait for the commit (``app.core.direct.commit_alone``): the
    key's record, with the answer, is then written in the move's own statement, only when
    the move touched its case, and that one statement is the whole transaction, with no
    ``BEGIN``, claim or ``COMMIT`` of its own. A record that is already there makes the
    statement fail whole; a claim another request holds uncommitted makes it wait at most
    :data:`IN_FLIGHT_WAIT`.

    Since nothing claimed the key before the route ran, a key already kept is found after:
    when the route's answer is one nothing keeps (a 412 of the retry of a step that moved
    the case, say), or when the write finds the record there, the record is read and its
    answer replayed (or the key refused as reused), as if it had been found first.

    On the embedded SQLite the claim (:data:`CLAIM_FIRST`) goes with the transaction's
    ``BEGIN IMMEDIATE``, in the writers' turn, and a step's move, its event and the key's
    record are one call in that turn: ``BEGIN IMMEDIATE``, the guarded move, its event, the
    record's INSERT and ``COMMIT``, rolled back whole when the move touches nothing or the
    record is there. No claim is ever uncommitted outside the turn, so nothing waits on
    one, and the route's rules run with no write lock held."""
    claim = _LateClaim()
    session.info[DEFERRABLE] = True  # its lock and its move may wait for the commit
    session.info[PRELUDE] = Prelude(
        CLAIM_AT_ONCE, key.claim_params(), claim.answer, claim.failed, elsewhere=CLAIM_FIRST
    )
    try:
        await route.run(session)
        if (session.new or session.dirty or session.deleted) and not session.in_transaction():
            await session.flush()  # (written in the transaction the claim begins)
        session.info.pop(PRELUDE, None)  # (sent as the transaction began, if anything began it)
        if claim.taken:  # the key is kept: its answer, not this one
            await session.rollback()
            kept = await _kept(session, key)
            return kept if kept is not None else _in_flight_messages()
        if session.in_transaction():  # the claim began it: the route's writes follow it
            return await _commit_claimed(session, key, route, clock)
        # nothing began: the claim goes with the write
        if not executed(route.captured["status"], route.captured["body"]):
            drop_opening(session)
            kept = await _kept(session, key)
            return kept if kept is not None else route.held
        if not write_waits(session):
            drop_opening(session)  # a lock with nothing written after it
        return await _write_late(session, key, route)
    except BaseException:
        drop_opening(session)
        if session.in_transaction():
            await session.rollback()
        raise
    finally:
        await give_back(session)


class _LateClaim:
    """What became of the claim sent as the transaction began (:class:`Prelude`)."""

    def __init__(self) -> None:
        self.taken = False
        """The key was kept already (a committed answer): the request's own answer is not
        sent."""

    def answer(self, row: tuple[Any, ...] | None) -> None:
        if not (row and row[0]):
            self.taken = True
            raise _in_flight()  # (its answer is replaced by the kept one)

    @staticmethod
    def failed(error: Exception) -> None:
        if getattr(error, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise _in_flight() from error


async def _write_late(session: AsyncSession, key: _Key, route: _Route) -> list[Message]:
    """Write what the route left waiting for the commit (its move, or nothing) with the key's
    record, which holds the answer, as one statement; the answer's messages, or what answers
    instead: the kept record's answer when the key was kept meanwhile, 409 when its first
    request is still running, the refusal of a move that found its case moved."""
    record = {
        **key.ident,
        "request_sha256": key.digest,
        "created_at": key.now,
        **_answer(route.captured),
    }
    waiting = session.info.get(OPENING)
    for _ in range(2):  # a second time only after an expired or abandoned record is gone
        try:
            if write_waits(session):
                await commit_alone(session, [(RECORDS, record)], IN_FLIGHT_WAIT)
            else:
                params = {**record, "wait": IN_FLIGHT_WAIT}
                await write_alone(session, RECORD_ALONE, params, embedded=RECORD_EMBEDDED)
        except ProblemError as refused:  # the move found its case moved since it was read
            settle(session, refused.code)
            kept = await _kept(session, key)
            return kept if kept is not None else _problem_messages(refused)
        except IntegrityError:  # a record is there
            kept = await _kept(session, key)
            if kept is not None:
                return kept
            await write_alone(session, FORGET, {**key.ident, "expired_before": key.expired_before})
            if waiting is not None:
                session.info[OPENING] = waiting
            continue
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                return _in_flight_messages()
            log.warning("commit of an idempotent request failed: %s", exc)
            return _commit_failed(exc)
        settle(session, None)
        return route.held
    return _in_flight_messages()  # (the record came back at once: another request's)


async def _kept(session: AsyncSession, key: _Key) -> list[Message] | None:
    """The answer a key already kept gives (its stored answer replayed, or 422 when the key
    came with another body); None when no live record is there (none, an expired one, or a
    claim an earlier release committed without its answer)."""
    row = await LOOKUP.first(session, dict(key.ident))
    if row is None:
        return None
    sha256, created_at, status, headers, body = row
    if status is None or created_at < key.expired_before:
        return None
    if sha256 != key.digest:
        return _problem_messages(
            Unprocessable(
                "idempotency_key_reused",
                "This Idempotency-Key was used with another request body.",
            )
        )
    return _replayed(status, headers, body)


def _in_flight() -> Conflict:
    return Conflict(
        "idempotency_key_in_flight", "The first request with this key is still running."
    )


def _in_flight_messages() -> list[Message]:
    return _problem_messages(_in_flight())


def _commit_failed(error: DBAPIError) -> list[Message]:
    problem, headers = server_problem(
        error, "The request could not be committed and wrote nothing; send it again."
    )
    return _problem_messages(problem, headers)


def _answer(captured: dict[str, Any]) -> dict[str, Any]:
    """The record's columns for the route's answer: its status, the headers kept, its body."""
    kept = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in captured["headers"]
        if name.decode("latin-1").lower() in KEPT_HEADERS
    }
    return {
        "status_code": captured["status"],
        "response_headers": kept,
        "response_body": captured["body"],
    }


IN_FLIGHT_WAIT = "250ms"
"""How long a retry waits on PostgreSQL for the first request's transaction before it is
answered 409 ``idempotency_key_in_flight``."""
LOCK_NOT_AVAILABLE = "55P03"
"""PostgreSQL's SQLSTATE for a lock wait that ran out (``lock_timeout``)."""

CLAIM_AT_ONCE = DirectRow(
    text(
        """
WITH waiting AS MATERIALIZED (
    SELECT current_setting('lock_timeout') AS before,
           set_config('lock_timeout', CAST(:wait AS text), true) AS during
), claimed AS (
    INSERT INTO idempotency_record (subject, method, path, key, request_sha256, created_at)
    SELECT CAST(:subject AS varchar), CAST(:method AS varchar), CAST(:path AS varchar),
           CAST(:key AS varchar), CAST(:digest AS varchar), CAST(:created_at AS timestamptz)
      FROM waiting
    ON CONFLICT (subject, method, path, key) DO UPDATE
       SET request_sha256 = excluded.request_sha256, created_at = excluded.created_at,
           status_code = NULL, response_headers = NULL, response_body = NULL
     WHERE idempotency_record.created_at < CAST(:expired_before AS timestamptz)
        OR idempotency_record.status_code IS NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM claimed) AS claimed,
       set_config('lock_timeout', (SELECT before FROM waiting), true) AS restored
"""
    ).columns(claimed=Integer, restored=String),
    begins=True,
)
"""A new key's claim on PostgreSQL in one round trip (a lookup, a savepoint and the insert, with
the wait set and reset around it, were six): the insert waits at most :data:`IN_FLIGHT_WAIT`
on a claim another transaction holds uncommitted (the setting is made before it, in the
statement's first part, which the insert selects from, and put back after it, the count of
what it inserted being read first), and
takes the place of a record that is no longer live (expired, or a claim an earlier release
committed apart from its request), and does nothing where the key is kept. It answers 1 when
this request now holds the key; 0 when its answer is kept, which the lookup then reads
(:data:`LOOKUP`). It is the first statement of the request's transaction, sent as the
transaction begins (``app.core.direct.Prelude``)."""


def _claim_params(
    ident: dict[str, str], digest: str, now: datetime, expired_before: datetime
) -> dict[str, Any]:
    """:data:`CLAIM_AT_ONCE`'s parameters."""
    return {
        **ident,
        "digest": digest,
        "created_at": now,
        "expired_before": expired_before,
        "wait": IN_FLIGHT_WAIT,
    }


LOOKUP = DirectRow(
    select(
        RECORD.c.request_sha256,
        RECORD.c.created_at,
        RECORD.c.status_code,
        RECORD.c.response_headers,
        RECORD.c.response_body,
    ).where(*(RECORD.c[name] == bindparam(name) for name in IDENT))
)
"""A key's record, read outside any transaction: what a key kept already answers."""
RECORDS = DirectInsert(RECORD)
"""A record with its answer, written with the move that waited for the commit
(``app.core.direct.commit_alone``)."""
COLUMNS = (*IDENT, "request_sha256", "created_at", *ANSWER)
RECORD_ALONE = Direct(
    insert(RECORD).from_select(
        COLUMNS,
        select(*(bindparam(name, type_=RECORD.c[name].type) for name in COLUMNS)).select_from(
            # a CTE: evaluated, never inlined (it calls a volatile function)
            select(
                func.set_config("lock_timeout", bindparam("wait", type_=String), True).label(
                    "lock_timeout"
                )
            ).cte("waited")
        ),
    )
)
"""A record with its answer, as a statement of its own, when the route wrote nothing (a
refusal of the rules): it waits at most :data:`IN_FLIGHT_WAIT` for a claim in flight."""
RECORD_EMBEDDED = RECORDS.of(COLUMNS)
""":data:`RECORD_ALONE` on the embedded SQLite, whose writers take turns: nothing to wait for."""
FORGET = Direct(
    delete(RECORD).where(
        *(RECORD.c[name] == bindparam(name) for name in IDENT),
        or_(
            RECORD.c.created_at < bindparam("expired_before"),
            RECORD.c.status_code.is_(None),
        ),
    )
)
"""A record no longer live (expired, or a claim committed without its answer), removed as a
statement of its own so that the request's own record can take its place."""


STORE_ANSWER = Direct(
    update(RECORD)
    .where(*(RECORD.c[name] == bindparam(f"kept_{name}") for name in IDENT))
    .values(
        status_code=bindparam("stored_status"),
        response_headers=bindparam("stored_headers"),
        response_body=bindparam("stored_body"),
    )
)
"""The answer stored in the key's record, in the request's transaction, sent straight to the
driver (``app.core.direct``): one statement compiled once, not an ORM update built, compiled
and run through the session's layers for every request."""


async def _store(session: AsyncSession, ident: dict[str, str], answer: dict[str, Any]) -> None:
    """Store ``answer`` in the record this request claimed (:data:`STORE_ANSWER`)."""
    await STORE_ANSWER.rowcount(
        session,
        {
            **{f"kept_{name}": ident[name] for name in IDENT},
            "stored_status": answer["status_code"],
            "stored_headers": answer["response_headers"],
            "stored_body": answer["response_body"],
        },
    )


async def _finish(
    session: AsyncSession,
    ident: dict[str, str],
    digest: str,
    captured: dict[str, Any],
    clock: Clock,
) -> DBAPIError | None:
    """Commit the claim, the route's writes and the stored answer together; for a request
    refused before it ran, roll all back (the key is free again). A refusal of the rules (409
    ``guard_failed``) wrote nothing: its answer is stored alone. The error when the commit
    failed (nothing was written)."""
    if not executed(captured["status"], captured["body"]):
        await session.rollback()
        return None
    answer = _answer(captured)
    try:
        if captured["status"] >= 400:  # the route's transaction, claim included, rolled back
            await session.rollback()
            try:
                async with session.begin_nested():
                    row = {**ident, "request_sha256": digest, "created_at": clock.now(), **answer}
                    await session.execute(insert(RECORD).values(**row))
            except IntegrityError:
                return None  # a retry claimed the key meanwhile: it stores its own answer
        else:
            await _store(session, ident, answer)
        await session.commit()
    except DBAPIError as exc:
        log.warning("commit of an idempotent request failed: %s", exc)
        with suppress(DBAPIError):  # the connection may be gone with the database
            await session.rollback()
        return exc
    return None


def executed(status: int, body: bytes) -> bool:
    """Whether an answer reports a request that ran: kept for its retries."""
    if status < 400:
        return True
    if status == 409:
        try:
            return bool(json.loads(body).get("code") == "guard_failed")
        except (ValueError, AttributeError):
            return False
    return False


def _replayed(
    status: int | None, kept_headers: dict[str, Any] | None, body: bytes | None
) -> list[Message]:
    """A kept answer, sent again, marked as replayed."""
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (kept_headers or {}).items()]
    headers.append((b"idempotent-replayed", b"true"))
    return _messages(status or 200, headers, body or b"")


async def _send_problem(send: Send, error: ProblemError) -> None:
    for message in _problem_messages(error):
        await send(message)


def _problem_messages(error: ProblemError, headers: dict[str, str] | None = None) -> list[Message]:
    extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    return _messages(
        error.status,
        [(b"content-type", PROBLEM_JSON.encode()), *extra],
        json.dumps(error.body()).encode(),
    )


def _messages(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> list[Message]:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    return [
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body},
    ]
