"""``Idempotency-Key`` on every POST, scoped to (caller ``sub``, method, path).

A retry with the same key and body answers the first answer again (status, body, and the
headers that matter) and writes nothing; the same key with another body is refused (422
``idempotency_key_reused``); a key whose first request still runs answers 409
``idempotency_key_in_flight`` (on SQLite, where writers take turns, the retry waits for the
first answer and replays it).

Only what executed is kept: answers below 400, and 409 refusals of the rules. A request
refused before it ran (401, 403, 404, 412, 422, 428) and server errors (5xx) keep nothing,
so the corrected retry runs. The key's claim, the route's writes and the stored answer are
one transaction: the route runs in a session this middleware holds (``app.core.db.
get_session`` hands it over), and the transaction commits before the answer leaves. A crash
at any point leaves all of it or none (no lease to wait out, no write without its record),
and a retry sent the moment the answer arrives is answered from the record. The caller is
the principal the authentication middleware verified (local or identity-provider tokens
alike).
"""

from __future__ import annotations

import hashlib
import json
import logging
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Integer, String, Table, bindparam, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.clock import Clock
from app.core.config import Settings
from app.core.db import HELD_SESSION
from app.core.direct import Direct, DirectRow
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
        digest = hashlib.sha256(body).hexdigest()
        app_state = scope["app"].state
        sessionmaker: async_sessionmaker[AsyncSession] = app_state.sessionmaker
        clock: Clock = app_state.clock
        settings: Settings = app_state.settings
        ident = {"subject": subject, "method": "POST", "path": scope["path"], "key": key}
        captured: dict[str, Any] = {"status": 500, "headers": [], "body": b""}
        held: list[Message] = []

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"], captured["headers"] = message["status"], message["headers"]
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            held.append(message)  # sent once the record holds the answer

        # The key is claimed, the route writes and the answer is stored in one transaction,
        # committed before the answer leaves: a crash anywhere leaves all or nothing, so the
        # retry either replays the answer or runs for the first time.
        async with sessionmaker() as session:
            outcome = await _claim(session, ident, digest, clock, settings)
            if outcome is not None:
                if isinstance(outcome, ProblemError):
                    answer = _problem_messages(outcome)
                else:
                    answer = _stored_messages(outcome)
                await session.rollback()  # nothing was claimed
                for message in answer:
                    await send(message)
                return
            scope.setdefault("state", {})[HELD_SESSION] = session
            try:
                await self.app(scope, replay_body, capture)
                stored = await _finish(session, ident, digest, captured, clock)
            except BaseException:
                await session.rollback()
                raise
            finally:
                scope["state"].pop(HELD_SESSION, None)
        if stored is not None:  # the commit failed: nothing was written
            error, headers = server_problem(
                stored, "The request could not be committed and wrote nothing; send it again."
            )
            held = _problem_messages(error, headers)
        for message in held:
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


async def _claim(
    session: AsyncSession,
    ident: dict[str, str],
    digest: str,
    clock: Clock,
    settings: Settings,
) -> ProblemError | IdempotencyRecord | None:
    """None when this request now holds the key (its claim, uncommitted, is the first write
    of the request's transaction); else a stored answer or a refusal. A claim another
    transaction holds uncommitted is a request in flight: PostgreSQL waits for it at most
    :data:`IN_FLIGHT_WAIT`; SQLite's writers take turns, so there the retry waits for the
    first answer and replays it."""
    now = clock.now()
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        try:
            if await _claim_at_once(session, ident, digest, now):
                return None
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise  # the database's own failure (unreachable: 503), not a claim in flight
            return Conflict(
                "idempotency_key_in_flight", "The first request with this key is still running."
            )
    expired_before = now - timedelta(hours=settings.idempotency_ttl_hours)
    where = [RECORD.c[name] == value for name, value in ident.items()]
    record = (await session.execute(select(IdempotencyRecord).where(*where))).scalar_one_or_none()
    if record is not None and (record.created_at < expired_before or record.status_code is None):
        # expired; or a claim an earlier release committed apart from its request
        await session.execute(delete(RECORD).where(*where))
        record = None
    if record is None:
        try:
            async with session.begin_nested():
                if postgres:
                    await session.execute(text(f"SET LOCAL lock_timeout = '{IN_FLIGHT_WAIT}'"))
                await session.execute(
                    insert(RECORD).values(**ident, request_sha256=digest, created_at=now)
                )
            if postgres:
                await session.execute(text("RESET lock_timeout"))
            return None
        except DBAPIError as exc:
            if not isinstance(exc, IntegrityError):  # the lock wait ran out: still running
                return Conflict(
                    "idempotency_key_in_flight", "The first request with this key is still running."
                )
            # the first request committed meanwhile: its answer is there now
            await session.rollback()
            record = (await session.execute(select(IdempotencyRecord).where(*where))).scalar_one()
    if record.request_sha256 != digest:
        return Unprocessable(
            "idempotency_key_reused", "This Idempotency-Key was used with another request body."
        )
    return record


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
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM claimed) AS claimed,
       set_config('lock_timeout', (SELECT before FROM waiting), true) AS restored
"""
    ).columns(claimed=Integer, restored=String),
    begins=True,
)
"""A new key's claim on PostgreSQL in one round trip, where :func:`_claim` would send six (the
lookup, a savepoint, ``SET LOCAL lock_timeout``, the insert, the savepoint's release and the
reset): the insert waits at most :data:`IN_FLIGHT_WAIT` on a claim another transaction holds
uncommitted (the setting is made before it, in the statement's first part, which the insert
selects from, and put back after it, the count of what it inserted being read first), and
does nothing where the key is already kept. It answers 1 when this request now holds the
key; 0 when a record is there (a committed answer, or one to look at: expired, or a claim an
earlier release committed apart from its request), which the lookup then reads. It is the
request's first statement and begins its transaction; sent straight to the driver
(``app.core.direct``), as the answer's storing is (:data:`STORE_ANSWER`)."""


async def _claim_at_once(
    session: AsyncSession, ident: dict[str, str], digest: str, now: datetime
) -> bool:
    """Whether this request now holds the key (:data:`CLAIM_AT_ONCE`)."""
    row = await CLAIM_AT_ONCE.first(
        session, {**ident, "digest": digest, "created_at": now, "wait": IN_FLIGHT_WAIT}
    )
    return bool(row and row[0])


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
    kept = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in captured["headers"]
        if name.decode("latin-1").lower() in KEPT_HEADERS
    }
    answer = {
        "status_code": captured["status"],
        "response_headers": kept,
        "response_body": captured["body"],
    }
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


def _stored_messages(record: IdempotencyRecord) -> list[Message]:
    headers = [
        (k.encode("latin-1"), v.encode("latin-1"))
        for k, v in (record.response_headers or {}).items()
    ]
    headers.append((b"idempotent-replayed", b"true"))
    return _messages(record.status_code or 200, headers, record.response_body or b"")


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
