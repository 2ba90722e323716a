"""``Idempotency-Key`` on every POST, scoped to (caller ``sub``, method, path).

A retry with the same key and body answers the first answer again (status, body, and the
headers that matter) and writes nothing; the same key with another body is refused (422
``idempotency_key_reused``); a key whose first request still runs answers 409
``idempotency_key_in_flight``. A first request that crashed releases its key after a lease.

Only what executed is kept: answers below 400, and 409 refusals of the rules. A request
refused before it ran (401, 403, 404, 412, 422, 428) and server errors (5xx) release the key,
so the corrected retry runs. The answer is stored in the route's own transaction: the
route runs in a session this middleware holds (``app.core.db.get_session`` hands it over),
and the writes and the record commit together before the answer leaves, so a crash can
neither lose the record of a write nor leave one of a write that never took place, and a
retry sent the moment the answer arrives is answered from the record, never ``in_flight``.
The caller is the principal the authentication middleware verified (local or
identity-provider tokens alike).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.tokens import verify
from app.core.clock import Clock
from app.core.config import Settings
from app.core.db import HELD_SESSION
from app.core.errors import PROBLEM_JSON, Conflict, ProblemError, Unauthorized, Unprocessable
from app.core.idempotency_model import IdempotencyRecord

HEADER = b"idempotency-key"
KEPT_HEADERS = ("content-type", "location", "etag")
RECORD = cast(Table, IdempotencyRecord.__table__)
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
        subject = None if raw_key is None else self._subject(scope, headers)
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
        outcome = await _claim(sessionmaker, ident, digest, clock, settings)
        if isinstance(outcome, ProblemError):
            await _send_problem(send, outcome)
            return
        if outcome is not None:
            await _send_stored(send, outcome)
            return
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

        # The route's writes and the stored answer commit in one transaction, before the
        # answer leaves: a crash between them cannot lose the record of a write that took
        # place (nor keep one for a write that did not).
        async with sessionmaker() as session:
            scope.setdefault("state", {})[HELD_SESSION] = session
            try:
                await self.app(scope, replay_body, capture)
                stored = await _finish(session, ident, captured)
            except BaseException:
                await session.rollback()
                await _release(session, ident)
                raise
            finally:
                scope["state"].pop(HELD_SESSION, None)
        if not stored:
            held = _problem_messages(
                ProblemError(
                    "internal_error",
                    "The request could not be committed and wrote nothing; send it again.",
                )
            )
        for message in held:
            await send(message)

    @staticmethod
    def _subject(scope: Scope, headers: dict[bytes, bytes]) -> str | None:
        verified = scope.get("state", {}).get("principal")
        if verified is not None:  # AuthFirstMiddleware checked the token, whoever signed it
            return str(verified.sub)
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if not authorization.lower().startswith("bearer "):
            return None
        state = scope["app"].state
        try:
            return verify(state.settings, authorization[7:].strip(), state.clock.now()).sub
        except Unauthorized:
            return None


async def _read_body(receive: Receive) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    ident: dict[str, str],
    digest: str,
    clock: Clock,
    settings: Settings,
) -> ProblemError | IdempotencyRecord | None:
    """None when this request now holds the key; else a stored answer or a refusal."""
    now = clock.now()
    expired_before = now - timedelta(hours=settings.idempotency_ttl_hours)
    lease_before = now - timedelta(seconds=settings.idempotency_lease_seconds)
    where = [RECORD.c[name] == value for name, value in ident.items()]
    async with sessionmaker() as session, session.begin():
        record = (
            await session.execute(select(IdempotencyRecord).where(*where))
        ).scalar_one_or_none()
        if record is not None and (
            record.created_at < expired_before
            or (record.status_code is None and record.created_at < lease_before)
        ):
            await session.execute(delete(RECORD).where(*where))  # expired, or its request died
            record = None
        if record is None:
            try:
                async with session.begin_nested():
                    await session.execute(
                        insert(RECORD).values(**ident, request_sha256=digest, created_at=now)
                    )
                return None
            except IntegrityError:
                record = (
                    await session.execute(select(IdempotencyRecord).where(*where))
                ).scalar_one()
    if record.request_sha256 != digest:
        return Unprocessable(
            "idempotency_key_reused", "This Idempotency-Key was used with another request body."
        )
    if record.status_code is None:
        return Conflict(
            "idempotency_key_in_flight", "The first request with this key is still running."
        )
    return record


async def _finish(session: AsyncSession, ident: dict[str, str], captured: dict[str, Any]) -> bool:
    """Commit the route's writes with the stored answer (or, for a request refused before it
    ran, roll them back and release the key). False when the commit failed."""
    where = [RECORD.c[name] == value for name, value in ident.items()]
    if not executed(captured["status"], captured["body"]):
        await session.rollback()
        await _release(session, ident)
        return True
    if captured["status"] >= 400:  # a refusal of the rules: it writes nothing but its record
        await session.rollback()
    kept = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in captured["headers"]
        if name.decode("latin-1").lower() in KEPT_HEADERS
    }
    await session.execute(
        update(RECORD)
        .where(*where)
        .values(
            status_code=captured["status"],
            response_headers=kept,
            response_body=captured["body"],
        )
    )
    try:
        await session.commit()
    except DBAPIError:
        log.exception("commit of an idempotent request failed")
        await session.rollback()
        await _release(session, ident)
        return False
    return True


async def _release(session: AsyncSession, ident: dict[str, str]) -> None:
    """Free the key of a request that did not run, so that its corrected retry does."""
    where = [RECORD.c[name] == value for name, value in ident.items()]
    await session.execute(delete(RECORD).where(*where))
    await session.commit()


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


async def _send_stored(send: Send, record: IdempotencyRecord) -> None:
    headers = [
        (k.encode("latin-1"), v.encode("latin-1"))
        for k, v in (record.response_headers or {}).items()
    ]
    headers.append((b"idempotent-replayed", b"true"))
    await _send(send, record.status_code or 200, headers, record.response_body or b"")


async def _send_problem(send: Send, error: ProblemError) -> None:
    for message in _problem_messages(error):
        await send(message)


def _problem_messages(error: ProblemError) -> list[Message]:
    return _messages(error.status, [(b"content-type", PROBLEM_JSON.encode())],
                     json.dumps(error.body()).encode())  # fmt: skip


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    for message in _messages(status, headers, body):
        await send(message)


def _messages(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> list[Message]:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    return [{"type": "http.response.start", "status": status, "headers": headers},
            {"type": "http.response.body", "body": body}]  # fmt: skip
