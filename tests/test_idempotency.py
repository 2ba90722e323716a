"""Idempotency-Key on POST: a retry answers the first answer and writes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select, text, update

from app.core import direct, idempotency
from app.core.db import make_engine, make_sessionmaker
from app.core.idempotency_model import IdempotencyRecord
from tests.helpers import APPLICATION, Api, new_id_number


def report(id_number: str) -> dict[str, object]:
    return {
        "channel": "self_declared",
        "application_sha256": APPLICATION,
        "household": {
            "head_name": "王",
            "head_id_number": id_number,
            "village_code": "220281102200",
            "size": 2,
        },
    }


async def test_retry_answers_the_first_answer(api: Api) -> None:
    body = report(new_id_number())
    first = await api.post("cadre.pinggang", "/api/v1/cases", body, **{"Idempotency-Key": "k1"})
    again = await api.post("cadre.pinggang", "/api/v1/cases", body, **{"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len((await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"]) == 1
    assert await api.event_count(first.json()["id"]) == 1


async def test_refusals_are_replayed_too(api: Api) -> None:
    case = await api.open_case()
    path = f"/api/v1/cases/{case['id']}/actions/withdraw"
    headers = {"Idempotency-Key": "w", "If-Match": '"1"'}
    first = await api.post("cadre.pinggang", path, {}, **headers)
    assert first.status_code == 409
    # the state changes meanwhile; the retry still answers the stored refusal
    await api.must("cadre.pinggang", case["id"], "start_village_review")
    again = await api.post("cadre.pinggang", path, {}, **headers)
    assert (again.status_code, again.json()) == (409, first.json())


async def test_same_key_other_body_is_422(api: Api) -> None:
    key = {"Idempotency-Key": "k2"}
    await api.post("cadre.pinggang", "/api/v1/cases", report(new_id_number()), **key)
    other = await api.post("cadre.pinggang", "/api/v1/cases", report(new_id_number()), **key)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert len((await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"]) == 1


async def test_keys_are_scoped_per_caller(api: Api) -> None:
    body = report(new_id_number())
    await api.post("cadre.pinggang", "/api/v1/cases", body, **{"Idempotency-Key": "same"})
    other_caller = await api.post(
        "bureau.jiaohe",
        "/api/v1/cases",
        {**body, "channel": "department_flagged"},
        **{"Idempotency-Key": "same"},
    )
    assert other_caller.status_code == 200
    assert other_caller.json()["attached"] is True


async def test_on_sqlite_two_copies_of_an_opening_at_once_open_one_case(api: Api) -> None:
    """On the embedded SQLite no claim is ever found in flight: the second copy's claim, sent
    with its transaction's ``BEGIN IMMEDIATE``, waits for the writers' turn the first holds
    until it commits, then finds the first's record and answers its answer. (On PostgreSQL a
    copy that waits longer than 250 ms is answered 409: ``test_key_in_flight_is_409``.)"""
    if not api.settings.database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's copies may meet a claim in flight")
    body = report(new_id_number())
    key = {"Idempotency-Key": "opened-twice"}
    first, second = await asyncio.gather(
        api.post("cadre.pinggang", "/api/v1/cases", body, **key),
        api.post("cadre.pinggang", "/api/v1/cases", body, **key),
    )
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json() == second.json()
    replayed = [r.headers.get("idempotent-replayed") for r in (first, second)]
    assert sorted(replayed, key=lambda value: value is None) == ["true", None], replayed
    assert len((await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"]) == 1


async def test_key_in_flight_is_409(postgres_api: Api) -> None:
    """The first request's claim is uncommitted while it runs (it commits with the answer):
    a retry meanwhile is 409 in flight; once the first is gone without committing (crashed,
    refused), the retry runs at once: no lease to wait out."""
    api = postgres_api
    body = report(new_id_number())
    raw = json.dumps(body).encode()
    engine = make_engine(api.settings.database_url)
    claim = insert(IdempotencyRecord).values(
        subject="cadre.pinggang",
        method="POST",
        path="/api/v1/cases",
        key="busy",
        request_sha256=hashlib.sha256(raw).hexdigest(),
        created_at=api.clock.now(),
    )
    headers = api.headers(
        "cadre.pinggang", **{"Idempotency-Key": "busy", "Content-Type": "application/json"}
    )
    try:
        async with make_sessionmaker(engine)() as first:
            await first.execute(claim)  # the first request, still running
            response = await api.client.post("/api/v1/cases", content=raw, headers=headers)
            assert response.status_code == 409, response.text
            assert response.json()["code"] == "idempotency_key_in_flight"
            assert (await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"] == []
            await first.rollback()  # it dies: its claim goes with it
        retry = await api.client.post("/api/v1/cases", content=raw, headers=headers)
        assert retry.status_code == 201, retry.text
    finally:
        await engine.dispose()


async def test_a_claim_left_by_an_earlier_release_does_not_block(api: Api) -> None:
    """Releases before this one committed the claim apart from the request: a claim without
    an answer is a request that never finished, and the retry runs."""
    body = report(new_id_number())
    raw = json.dumps(body).encode()
    engine = make_engine(api.settings.database_url)
    async with make_sessionmaker(engine)() as session, session.begin():
        digest = hashlib.sha256(raw).hexdigest()
        await session.execute(
            insert(IdempotencyRecord).values(
                subject="cadre.pinggang",
                method="POST",
                path="/api/v1/cases",
                key="stale",
                request_sha256=digest,
                created_at=api.clock.now(),
            )
        )
    await engine.dispose()
    headers = api.headers(
        "cadre.pinggang", **{"Idempotency-Key": "stale", "Content-Type": "application/json"}
    )
    response = await api.client.post("/api/v1/cases", content=raw, headers=headers)
    assert response.status_code == 201, response.text
    again = await api.client.post("/api/v1/cases", content=raw, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"


async def test_a_retry_the_moment_the_answer_arrives_is_answered_from_the_record(
    api: Api,
) -> None:
    """The record holds the answer before it leaves: a retry sent the moment the first
    answer's status line goes out is answered from the record, never in_flight."""
    body = json.dumps(report(new_id_number())).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"idempotency-key", b"quick"),
        *((k.lower().encode(), v.encode()) for k, v in api.headers("cadre.pinggang").items()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/cases",
        "raw_path": b"/api/v1/cases",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    sent: list[dict[str, Any]] = []
    retried: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.start" and not retried:
            retried.append(
                await api.client.post(
                    "/api/v1/cases",
                    content=body,
                    headers={
                        **api.headers("cadre.pinggang"),
                        "Idempotency-Key": "quick",
                        "Content-Type": "application/json",
                    },
                )
            )

    await api.app(scope, receive, send)
    assert sent[0]["status"] == 201
    (retry,) = retried
    assert retry.status_code == 201, retry.text
    assert retry.headers["Idempotent-Replayed"] == "true"


async def test_a_request_refused_before_it_ran_frees_its_key(api: Api) -> None:
    """Stripe's rule: a 422 (or 401, 403, 404, 412, 428) is not kept, so the corrected retry
    with the same key runs; what ran (2xx, a 409 of the rules) is kept."""
    key = {"Idempotency-Key": "fix-me"}
    broken = {**report(new_id_number()), "channel": "by_pigeon"}
    assert (await api.post("cadre.pinggang", "/api/v1/cases", broken, **key)).status_code == 422
    fixed = await api.post("cadre.pinggang", "/api/v1/cases", report(new_id_number()), **key)
    assert fixed.status_code == 201, fixed.text
    assert "Idempotent-Replayed" not in fixed.headers
    case = fixed.json()
    stale = {"Idempotency-Key": "stale", "If-Match": '"9"'}
    path = f"/api/v1/cases/{case['id']}/actions/start_village_review"
    assert (await api.post("cadre.pinggang", path, {}, **stale)).status_code == 412
    current = {"Idempotency-Key": "stale", "If-Match": '"1"'}
    moved = await api.post("cadre.pinggang", path, {}, **current)
    assert moved.status_code == 200, moved.text


async def test_the_write_and_its_record_commit_together(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after the route ran, as its answer is recorded, leaves neither the write nor
    the record: the retry with the same key runs once, and there is one case, not two."""
    real_store = idempotency._store
    crashed: list[bool] = []

    async def crash_once(*args: Any) -> None:
        if not crashed:
            crashed.append(True)
            raise RuntimeError("the process dies as the answer is recorded")
        await real_store(*args)

    monkeypatch.setattr(idempotency, "_store", crash_once)
    body = report(new_id_number())
    with pytest.raises(RuntimeError):
        await api.post("cadre.pinggang", "/api/v1/cases", body, **{"Idempotency-Key": "crash"})
    assert crashed
    assert (await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"] == []
    retry = await api.post("cadre.pinggang", "/api/v1/cases", body, **{"Idempotency-Key": "crash"})
    assert retry.status_code == 201, retry.text
    assert "Idempotent-Replayed" not in retry.headers
    assert len((await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"]) == 1
    assert await api.event_count(retry.json()["id"]) == 1


async def test_a_refusal_of_the_rules_keeps_its_record_and_nothing_else(api: Api) -> None:
    case = await api.open_case()
    path = f"/api/v1/cases/{case['id']}/actions/withdraw"
    refused = await api.post(
        "cadre.pinggang", path, {}, **{"Idempotency-Key": "r", "If-Match": '"1"'}
    )
    assert refused.status_code == 409
    assert await api.event_count(case["id"]) == 1
    again = await api.post(
        "cadre.pinggang", path, {}, **{"Idempotency-Key": "r", "If-Match": '"1"'}
    )
    assert again.headers["idempotent-replayed"] == "true"


async def test_an_expired_key_runs_again(api: Api) -> None:
    """A key kept longer than ``IDEMPOTENCY_TTL_HOURS`` is forgotten: the request with it runs
    as a new one (and keeps its own answer), neither replayed nor refused as reused."""
    body = report(new_id_number())
    first = await api.post("cadre.pinggang", "/api/v1/cases", body, **{"Idempotency-Key": "old"})
    assert first.status_code == 201, first.text
    api.clock.advance(timedelta(hours=api.settings.idempotency_ttl_hours + 1))
    other = report(new_id_number())  # another body: a live key would be refused as reused
    again = await api.post("cadre.pinggang", "/api/v1/cases", other, **{"Idempotency-Key": "old"})
    assert again.status_code == 201, again.text
    assert "Idempotent-Replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    replayed = await api.post(
        "cadre.pinggang", "/api/v1/cases", other, **{"Idempotency-Key": "old"}
    )
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json()["id"] == again.json()["id"]


async def test_the_claim_leaves_the_lock_wait_as_it_found_it(postgres_api: Api) -> None:
    """The claim in one statement waits at most ``IN_FLIGHT_WAIT`` for a claim in flight, and
    puts the setting back: the route's own statements, in the same transaction, wait on a
    lock as long as the server's setting lets them."""
    engine = make_engine(postgres_api.settings.database_url)
    ident = {"subject": "cadre.pinggang", "method": "POST", "path": "/api/v1/x", "key": "k"}
    try:
        async with make_sessionmaker(engine)() as session:
            now = postgres_api.clock.now()
            params = idempotency._claim_params(ident, "d" * 64, now, now - timedelta(days=1))
            before = await session.scalar(text("SELECT current_setting('lock_timeout')"))
            assert await idempotency.CLAIM_AT_ONCE.first(session, params) == (1, before)
            assert await session.scalar(text("SELECT current_setting('lock_timeout')")) == before
            # once the record holds its answer, the key is kept
            kept = update(IdempotencyRecord).where(IdempotencyRecord.key == "k")
            await session.execute(kept.values(status_code=200))
            assert await idempotency.CLAIM_AT_ONCE.first(session, params) == (0, before)
            # an expired record, or a claim committed without its answer, is taken over
            later = idempotency._claim_params(ident, "e" * 64, now, now + timedelta(seconds=1))
            assert await idempotency.CLAIM_AT_ONCE.first(session, later) == (1, before)
            await session.execute(kept.values(status_code=None, created_at=now))
            again = idempotency._claim_params(ident, "f" * 64, now, now - timedelta(days=1))
            assert await idempotency.CLAIM_AT_ONCE.first(session, again) == (1, before)
            digest = await session.scalar(select(IdempotencyRecord.request_sha256))
            assert digest == "f" * 64
            await session.rollback()
    finally:
        await engine.dispose()


async def test_a_claim_that_meets_a_dead_database_is_503_not_in_flight(
    postgres_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a lock wait that ran out is a request in flight: a claim that fails because the
    database is gone answers 503 ``database_unavailable`` (the client sends it again), and
    the same key then runs."""
    real_fetch = direct._Asyncpg.fetch
    failed: list[bool] = []

    async def dead_once(self: Any, sql: str, *args: Any) -> Any:
        if not failed and "INSERT INTO idempotency_record" in sql:  # the claim
            failed.append(True)
            raise ConnectionResetError(104, "reset")
        return await real_fetch(self, sql, *args)

    monkeypatch.setattr(direct._Asyncpg, "fetch", dead_once)
    headers = postgres_api.headers("cadre.pinggang", **{"Idempotency-Key": "dead"})
    body = report(new_id_number())
    transport = httpx.ASGITransport(app=postgres_api.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        refused = await client.post("/api/v1/cases", json=body, headers=headers)
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "database_unavailable"
        retry = await client.post("/api/v1/cases", json=body, headers=headers)
        assert retry.status_code == 201, retry.text
        assert "Idempotent-Replayed" not in retry.headers


# --- a step whose move waits for the commit: the record goes with the move ------------------


async def _kept_record(
    api: Api, path: str, key: str, body: bytes, *, status: int | None, age: timedelta
) -> None:
    """A record of ``key`` on ``path`` for ``body``, committed: with an answer (``status``) or
    without one (a claim an earlier release committed apart from its request), made ``age``
    ago."""
    engine = make_engine(api.settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await session.execute(
                insert(IdempotencyRecord).values(
                    subject="cadre.pinggang",
                    method="POST",
                    path=path,
                    key=key,
                    request_sha256=hashlib.sha256(body).hexdigest(),
                    created_at=api.clock.now() - age,
                    status_code=status,
                    response_headers=None if status is None else {"content-type": "text/plain"},
                    response_body=None if status is None else b"kept",
                )
            )
    finally:
        await engine.dispose()


def _step(case: dict[str, Any]) -> str:
    return f"/api/v1/cases/{case['id']}/actions/start_village_review"


async def _keyed_step(api: Api, case: dict[str, Any], key: str) -> httpx.Response:
    headers = api.headers(
        "cadre.pinggang",
        **{
            "Idempotency-Key": key,
            "If-Match": f'"{case["version"]}"',
            "Content-Type": "application/json",
        },
    )
    return await api.client.post(_step(case), content=b"{}", headers=headers)


async def test_a_step_whose_key_is_kept_replays_and_does_not_move(api: Api) -> None:
    """The step's rules pass and its move waits for the commit; the key's record, written by
    the move's own statement, is found there: the statement fails whole (the case does not
    move) and the kept answer is sent again."""
    case = await api.open_case()
    await _kept_record(api, _step(case), "kept", b"{}", status=202, age=timedelta(0))
    response = await _keyed_step(api, case, "kept")
    assert (response.status_code, response.content) == (202, b"kept")
    assert response.headers["idempotent-replayed"] == "true"
    assert (await api.case(case["id"]))["version"] == case["version"]
    assert await api.event_count(case["id"]) == case["version"]


async def test_a_step_whose_key_came_with_another_body_is_422_and_does_not_move(
    api: Api,
) -> None:
    case = await api.open_case()
    await _kept_record(api, _step(case), "other", b'{"x": 1}', status=200, age=timedelta(0))
    response = await _keyed_step(api, case, "other")
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "idempotency_key_reused"
    assert await api.event_count(case["id"]) == case["version"]


@pytest.mark.parametrize("kept", ["expired", "abandoned"])
async def test_a_step_whose_key_is_no_longer_live_runs(api: Api, kept: str) -> None:
    """An expired record, or a claim an earlier release committed without its answer, gives
    way: the step moves its case, and its own answer is kept."""
    case = await api.open_case()
    hours = api.settings.idempotency_ttl_hours + 1
    if kept == "expired":
        await _kept_record(api, _step(case), kept, b"{}", status=200, age=timedelta(hours=hours))
    else:
        await _kept_record(api, _step(case), kept, b"{}", status=None, age=timedelta(0))
    response = await _keyed_step(api, case, kept)
    assert response.status_code == 200, response.text
    assert "idempotent-replayed" not in response.headers
    assert await api.event_count(case["id"]) == case["version"] + 1
    again = await _keyed_step(api, case, kept)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == response.json()


async def test_a_step_whose_key_is_in_flight_is_409_and_does_not_move(
    postgres_api: Api,
) -> None:
    """The first request with the key holds its claim uncommitted: the step's statement waits
    for it at most ``IN_FLIGHT_WAIT``, then fails whole (409, the case not moved); once the
    first is gone without committing, the retry moves the case."""
    api = postgres_api
    case = await api.open_case()
    engine = make_engine(api.settings.database_url)
    claim = insert(IdempotencyRecord).values(
        subject="cadre.pinggang",
        method="POST",
        path=_step(case),
        key="busy",
        request_sha256=hashlib.sha256(b"{}").hexdigest(),
        created_at=api.clock.now(),
    )
    try:
        async with make_sessionmaker(engine)() as first:
            await first.execute(claim)  # the first request, still running
            response = await _keyed_step(api, case, "busy")
            assert response.status_code == 409, response.text
            assert response.json()["code"] == "idempotency_key_in_flight"
            assert await api.event_count(case["id"]) == case["version"]
            await first.rollback()
        retry = await _keyed_step(api, case, "busy")
        assert retry.status_code == 200, retry.text
    finally:
        await engine.dispose()


async def test_two_copies_of_a_step_sent_at_once_move_the_case_once(api: Api) -> None:
    """Two copies of a keyed step, sent together, both read the case; one moves it with its
    record, and the other, finding the case moved (or its record there), answers the first
    one's answer. (On the embedded SQLite too: the key is claimed with the move there as
    well, and the two moves take the writers' turn one after the other.)"""
    case = await api.open_case()
    first, second = await asyncio.gather(
        _keyed_step(api, case, "twice"), _keyed_step(api, case, "twice")
    )
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json() == second.json()
    replayed = [r.headers.get("idempotent-replayed") for r in (first, second)]
    assert sorted(replayed, key=lambda value: value is None) == ["true", None], replayed
    assert await api.event_count(case["id"]) == case["version"] + 1
