"""A step that names the version it read (``If-Match``) reads its case without the lock; the
lock, guarded by that version, is the first statement of the request's transaction whenever
it begins, and a step whose only write is its move sends that move alone, as its own
transaction (``app.core.direct.begin_with``, ``commit_alone``). A case moved after the read
answers 412 and nothing of the request is written. Without ``If-Match`` the case is locked
when it is read, as before; with an ``Idempotency-Key`` on PostgreSQL, the key's record goes
with the move, in its statement. On the
embedded SQLite the same: the lock is the transaction's ``BEGIN IMMEDIATE`` (the whole file's
write lock) with a read of the case at its version, and a move sent alone is one call on
aiosqlite's thread, ``BEGIN IMMEDIATE`` to ``COMMIT``. The statements each database is sent
are checked on both (asyncpg's, and SQLite's trace of what it ran)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import event, func, select

from app.cases import hooks
from app.cases import repository as repo
from app.core import direct
from app.core import pool as pool_module
from app.core.db import is_sqlite
from app.core.idempotency_model import IdempotencyRecord
from app.core.observability import REGISTRY
from tests.helpers import COMMITMENT_FORM, HOME_VISIT, VERIFICATION, Api, statements_sent


def _kinds(sent: list[str]) -> list[str]:
    """Each statement as what it does to the case: its read, its lock, its move (on SQLite,
    whose transaction is the file's write lock, a lock is a read after ``BEGIN``, and a move
    is its UPDATE and then its event's INSERT)."""
    kinds = []
    for statement in sent:
        if statement.startswith("SELECT monitoring_case.id, monitoring_case.household_id"):
            kinds.append("lock" if "FOR UPDATE" in statement else "read")
        elif statement.startswith("SELECT monitoring_case.id FROM monitoring_case"):
            # (SQLite's: a read at the version, after BEGIN IMMEDIATE took the write lock)
            kinds.append("lock at version" if "FOR UPDATE" in statement else "read at version")
        elif statement.startswith(
            ("WITH first AS (UPDATE monitoring_case", "UPDATE monitoring_case")
        ):
            kinds.append("move")
        elif statement.startswith("INSERT INTO case_event"):
            kinds.append("event")
        elif statement.rstrip(";") in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"):
            kinds.append(statement.rstrip(";").split()[0])
        else:
            kinds.append(statement.split(None, 3)[0] + " " + statement.split(None, 3)[-2])
    return kinds


@asynccontextmanager
async def _sent(api: Api) -> AsyncIterator[list[str]]:
    """Every statement the database is sent meanwhile, its whitespace folded: asyncpg's
    (:func:`statements_sent`), or what SQLite's trace says each connection ran (its pool
    emptied first, so that every connection is a new one, traced)."""
    if _postgres(api):
        with statements_sent() as sent:
            yield sent
        return
    sent = []

    def trace(connection: Any, _record: Any) -> None:
        connection.driver_connection._conn.set_trace_callback(
            lambda statement: sent.append(" ".join(statement.split()))
        )

    engine = api.app.state.engine
    await engine.dispose()
    event.listen(engine.sync_engine, "connect", trace)
    async with engine.connect():  # one connection opened before, the one handed out next
        pass
    sent.clear()
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "connect", trace)
        await engine.dispose()


@contextmanager
def _calls() -> Iterator[list[str]]:
    """The calls made on aiosqlite's thread meanwhile (the embedded SQLite), by function."""
    calls: list[str] = []
    original: Any = aiosqlite.Connection._execute

    async def counted(self: Any, function: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(function, "__name__", repr(function)))
        return await original(self, function, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aiosqlite.Connection, "_execute", counted)
        yield calls


def _counted(action: str, outcome: str) -> float:
    """How many times ``fangfanpin_transitions`` counted this action with this outcome."""
    found = REGISTRY.get_sample_value(
        "fangfanpin_transitions_total", {"action": action, "outcome": outcome}
    )
    return found or 0.0


def _postgres(api: Api) -> bool:
    return not is_sqlite(api.settings.database_url)


async def _at_village_review(api: Api) -> dict[str, Any]:
    case_id = await api.to_village_nomination()
    return await api.case(case_id)


async def _sign(api: Api, case: dict[str, Any], version: int | None = None) -> Any:
    """Record the household head's commitment form on ``case``, naming ``version`` (If-Match)
    when one is given."""
    body = {
        **COMMITMENT_FORM,
        "signed_on": api.today(),
        "signatory_name": case["household"]["head_name"],
        "covered_member_id_numbers": [api.heads[case["id"]]],
    }
    path = f"/api/v1/cases/{case['id']}/commitment-forms"
    if version is None:
        return await api.post("cadre.pinggang", path, body)
    return await api.post("cadre.pinggang", path, body, **{"If-Match": f'"{version}"'})


async def test_a_step_named_by_its_version_is_its_read_and_its_move_alone(api: Api) -> None:
    """The case is read (no lock, no transaction) and moved by one statement with its event:
    two round trips where ``BEGIN``, the lock, the move and ``COMMIT`` were four. On SQLite
    two calls on aiosqlite's thread: the read, and the move with its event as a transaction
    of its own (the write lock held for that call only, not while the rules ran)."""
    case = await api.open_case()
    fired = _counted("start_village_review", "fired")
    async with _sent(api) as sent:
        with _calls() as calls:
            response = await api.act(
                "cadre.pinggang", case["id"], "start_village_review", version=case["version"]
            )
    assert response.status_code == 200, response.text
    assert _counted("start_village_review", "fired") == fired + 1
    assert response.headers["ETag"] == f'"{case["version"] + 1}"'
    assert await api.event_count(case["id"]) == case["version"] + 1
    replay = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case['id']}/replay")).json()
    assert replay["chain_valid"]
    assert replay["matches"]
    assert replay["facts_match"]
    if _postgres(api):
        assert _kinds(sent) == ["read", "move"], sent
    else:
        assert _kinds(sent) == ["read", "BEGIN", "move", "event", "COMMIT"], sent
        assert calls == ["_sqlite_fetch", "_sqlite_alone"], calls


async def test_a_refused_step_sends_its_read_and_nothing_else(api: Api) -> None:
    """A step its rules refuse wrote nothing, so its lock is never sent: no transaction at all."""
    case = await _at_village_review(api)
    async with _sent(api) as sent:
        response = await api.act(
            "committee.pinggang",
            case["id"],
            "publish_notice",
            {"location": "村务公开栏"},
            case["version"],
        )
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "guard_failed"
    assert await api.event_count(case["id"]) == case["version"]
    assert _kinds(sent) == ["read"], sent


async def test_a_step_that_reads_through_its_session_begins_with_its_lock(api: Api) -> None:
    """A commitment form reads the household's members through the session before its event
    (whom the form may cover): that read begins the transaction, which begins with the case's
    lock at the version read, before anything else."""
    case = await _at_village_review(api)
    async with _sent(api) as sent:
        response = await _sign(api, case, case["version"])
    assert response.status_code == 201, response.text
    assert (await api.case(case["id"]))["facts"]["commitment_form"] is not None
    kinds = _kinds(sent)
    if _postgres(api):
        assert kinds[:3] == ["read", "BEGIN", "lock at version"], sent
        assert kinds[-2:] == ["move", "COMMIT"], sent
    else:
        assert kinds[:3] == ["read", "BEGIN", "read at version"], sent
        assert kinds[-3:] == ["move", "event", "COMMIT"], sent


async def test_a_step_whose_effect_writes_begins_with_its_move(api: Api) -> None:
    """Publishing the notice also schedules its end: the move takes the lock's place as the
    transaction's first statement, the timer follows it."""
    case_id = await api.to_village_nomination()
    await api.prepare_nomination(case_id)
    version = (await api.case(case_id))["version"]
    async with _sent(api) as sent:
        response = await api.act(
            "committee.pinggang", case_id, "publish_notice", {"location": "村务公开栏"}, version
        )
    assert response.status_code == 200, response.text
    kinds = _kinds(sent)
    assert kinds[:3] == ["read", "BEGIN", "move"], sent
    assert kinds[-1] == "COMMIT", sent
    assert any(s.startswith("INSERT INTO timer") for s in sent), sent


async def test_without_if_match_a_fact_locks_its_case_when_it_reads_it(api: Api) -> None:
    """A fact may be recorded without naming a version: it then waits for a concurrent
    writer and applies after it, so its case is locked as it is read."""
    case = await _at_village_review(api)
    async with _sent(api) as sent:
        response = await _sign(api, case)
    assert response.status_code == 201, response.text
    kinds = _kinds(sent)
    if _postgres(api):
        assert kinds[:2] == ["BEGIN", "lock"], sent
        assert "read" not in kinds, sent
    else:  # the read that follows BEGIN IMMEDIATE is the lock
        assert kinds[:2] == ["BEGIN", "read"], sent
        assert kinds.count("read") == 1, sent
    assert "lock at version" not in kinds, sent
    assert "read at version" not in kinds, sent


async def test_an_idempotent_step_is_its_read_and_its_move_with_its_record(api: Api) -> None:
    """With an ``Idempotency-Key`` on PostgreSQL, the key's record, holding the answer, is
    written by the move's own statement, only when the move touched its case: the same two
    round trips as a step without a key, no ``BEGIN``, claim or ``COMMIT``. On the embedded
    SQLite, likewise, the record is inserted after the move and its event, in the one call
    that is the step's transaction (``BEGIN IMMEDIATE`` to ``COMMIT``): no claim before the
    route, and no transaction held while the rules run."""
    case = await api.open_case()
    async with _sent(api) as sent:
        response = await api.post(
            "cadre.pinggang",
            f"/api/v1/cases/{case['id']}/actions/start_village_review",
            None,
            **{"If-Match": f'"{case["version"]}"', "Idempotency-Key": "deferred-lock-1"},
        )
    assert response.status_code == 200, response.text
    if _postgres(api):
        assert _kinds(sent) == ["read", "move"], sent
        assert "INSERT INTO idempotency_record" in sent[-1], sent
    else:
        assert "INSERT INTO idempotency_record" in sent[-2], sent
        kinds = _kinds([s for s in sent if "idempotency_record" not in s])
        assert kinds == ["read", "BEGIN", "move", "event", "COMMIT"], sent
    again = await api.post(
        "cadre.pinggang",
        f"/api/v1/cases/{case['id']}/actions/start_village_review",
        None,
        **{"If-Match": f'"{case["version"]}"', "Idempotency-Key": "deferred-lock-1"},
    )
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == response.json()
    assert await api.event_count(case["id"]) == case["version"] + 1


@contextmanager
def _moved_after_the_read(api: Api, interloper: Any) -> Iterator[list[int]]:
    """The first read of a case through ``case_in_area`` is followed, before the request goes
    on, by ``interloper`` (a whole request of its own that moves the case); ``ran`` counts
    it."""
    read = repo.case_in_area
    ran: list[int] = []

    async def then_moved(*args: Any, **kwargs: Any) -> Any:
        found = await read(*args, **kwargs)
        if not ran:
            ran.append(1)
            response = await interloper()
            assert response.status_code in (200, 201), response.text
        return found

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(repo, "case_in_area", then_moved)
        yield ran


@pytest.mark.parametrize("key", [None, "moved-meanwhile"])
async def test_a_case_moved_after_the_read_refuses_the_move_and_writes_nothing(
    api: Api, key: str | None
) -> None:
    """Another official withdrew the case between this step's read and its move: 412, and the
    case holds the other step's event only. With an ``Idempotency-Key`` nothing is kept
    either (the record goes with the move), so the key is free for the corrected retry."""
    case = await api.open_case()
    version = case["version"]

    async def withdraw() -> Any:
        return await api.act(
            "cadre.pinggang", case["id"], "withdraw", {"reason": "农户申请"}, version
        )

    fired = _counted("start_village_review", "fired")
    refused = _counted("start_village_review", "version_mismatch")
    with _moved_after_the_read(api, withdraw) as ran:
        response = await api.post(
            "cadre.pinggang",
            f"/api/v1/cases/{case['id']}/actions/start_village_review",
            None,
            **{"If-Match": f'"{version}"'},
            **({} if key is None else {"Idempotency-Key": key}),
        )
    assert ran == [1]
    assert response.status_code == 412, response.text
    assert response.json()["code"] == "version_mismatch"
    assert "etag" not in response.headers
    if key is not None:
        async with api.app.state.sessionmaker() as session:
            kept = select(func.count()).where(IdempotencyRecord.key == key)
            assert (await session.execute(kept)).scalar_one() == 0
    # counted as what it was: refused at its move, not fired
    assert _counted("start_village_review", "fired") == fired
    assert _counted("start_village_review", "version_mismatch") == refused + 1
    after = await api.case(case["id"])
    assert (after["version"], after["state"]) == (version + 1, "withdrawn")
    assert await api.event_count(case["id"]) == version + 1


async def test_a_case_moved_after_the_read_refuses_a_step_begun_before_its_move(
    api: Api,
) -> None:
    """The commitment form's transaction begins (with its read of the members) with the lock
    at the version read: the case moved meanwhile (a household verification was recorded), so
    it answers 412, and the form is not recorded."""
    case = await _at_village_review(api)
    version = case["version"]

    async def verify() -> Any:
        return await api.fact("cadre.pinggang", case["id"], "household-verifications", VERIFICATION)

    with _moved_after_the_read(api, verify) as ran:
        response = await _sign(api, case, version)
    assert ran == [1]
    assert response.status_code == 412, response.text
    assert response.json()["code"] == "version_mismatch"
    after = await api.case(case["id"])
    assert after["version"] == version + 1
    assert after["facts"]["commitment_form"] is None
    assert await api.event_count(case["id"]) == version + 1


async def _at_township_visited(api: Api) -> dict[str, Any]:
    case_id = await api.to_village_nomination()
    await api.to_township(case_id)
    await api.must_fact("township.baishishan", case_id, "home-visits", HOME_VISIT)
    return await api.case(case_id)


async def test_a_step_and_its_effects_event_are_one_move(api: Api) -> None:
    """Reaching the city runs the data comparison, recorded as its own event: both events
    and the case as the second leaves it are one statement, guarded by the version read,
    after the comparison's reads (which read no table the move writes)."""
    case = await _at_township_visited(api)
    version = case["version"]
    async with _sent(api) as sent:
        response = await api.act("township.baishishan", case["id"], "submit_to_city", None, version)
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == f'"{version + 2}"'
    events = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case['id']}/events")).json()
    assert [(e["seq"], e["name"]) for e in events[-2:]] == [
        (version + 1, "submit_to_city"),
        (version + 2, "data_comparison"),
    ]
    replay = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case['id']}/replay")).json()
    assert replay["chain_valid"]
    assert replay["matches"]
    assert replay["facts_match"]
    after = await api.case(case["id"])
    assert (after["state"], after["version"]) == ("city_confirmation", version + 2)
    assert after["facts"]["comparison"]["findings"] == {}
    kinds = _kinds(sent)
    assert kinds[0] == "read", sent
    assert kinds.count("move") == 1, sent
    if _postgres(api):
        assert kinds[-1] == "move", sent
        assert "BEGIN" not in kinds, sent
        assert sent[-1].count("SELECT $") == 2, sent[-1]  # the two events' rows
    else:  # the comparison's reads, then one transaction: the move and both events
        assert kinds[-5:] == ["BEGIN", "move", "event", "event", "COMMIT"], sent


async def test_a_case_moved_after_the_read_refuses_the_step_and_its_effect(api: Api) -> None:
    """The township recorded a new home visit between this submission's read and its move:
    412, and neither the submission's event nor the comparison's is written."""
    case = await _at_township_visited(api)
    version = case["version"]

    async def visit_again() -> Any:
        return await api.fact("township.baishishan", case["id"], "home-visits", HOME_VISIT)

    with _moved_after_the_read(api, visit_again) as ran:
        response = await api.act("township.baishishan", case["id"], "submit_to_city", None, version)
    assert ran == [1]
    assert response.status_code == 412, response.text
    after = await api.case(case["id"])
    assert (after["state"], after["version"]) == ("township_verification", version + 1)
    assert await api.event_count(case["id"]) == version + 1


async def test_a_read_of_a_table_the_waiting_move_writes_sees_the_move(api: Api) -> None:
    """While a step's move waits for the commit, a read of the case (a table it writes) runs
    in the transaction, which sends the move first: it sees the case moved. A read of a table
    the move does not write (the comparison's) borrows a connection and leaves it waiting."""
    case = await api.open_case()
    seen: list[int] = []

    async def reread(session: Any, moved: Any) -> None:
        found = await repo.case_in_area(session, moved.id, "")
        assert found is not None
        seen.append(found[0].version)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hooks.case_moved, "listeners", [*hooks.case_moved.listeners, reread])
        async with _sent(api) as sent:
            response = await api.act(
                "cadre.pinggang", case["id"], "start_village_review", version=case["version"]
            )
    assert response.status_code == 200, response.text
    assert seen == [case["version"] + 1]
    if _postgres(api):
        assert _kinds(sent) == ["read", "BEGIN", "move", "read", "COMMIT"], sent
    else:
        assert _kinds(sent) == ["read", "BEGIN", "move", "event", "read", "COMMIT"], sent


@contextmanager
def _checkouts(api: Api) -> Iterator[dict[str, int]]:
    """How many times a connection is handed to the request meanwhile (``checkouts``: lent
    to its statements outside the transaction, from the pool or from those kept idle between
    requests, or checked out for the session's own transaction), how many it holds at the
    end, and the most it held at once."""
    counted = {"checkouts": 0, "held": 0, "most": 0}
    holding: set[int] = set()

    def taken(connection: Any) -> None:
        if id(connection) not in holding:
            holding.add(id(connection))
            counted["checkouts"] += 1
        counted["held"] = len(holding)
        counted["most"] = max(counted["most"], counted["held"])

    def given(connection: Any) -> None:
        holding.discard(id(connection))
        counted["held"] = len(holding)

    async def lend(engine: Any) -> Any:
        fairy = await pool_module.lend(engine)
        taken(fairy.driver_connection)
        return fairy

    async def take_back(engine: Any, fairy: Any) -> None:
        given(fairy.driver_connection)
        await pool_module.take_back(engine, fairy)

    def out(_: Any, record: Any, __: Any) -> None:
        taken(record.driver_connection)

    def back(_: Any, record: Any) -> None:
        given(record.driver_connection)

    pool = api.app.state.engine.sync_engine.pool
    event.listen(pool, "checkout", out)
    event.listen(pool, "checkin", back)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(direct, "lend", lend)
            patch.setattr(direct, "take_back", take_back)
            yield counted
    finally:
        event.remove(pool, "checkout", out)
        event.remove(pool, "checkin", back)


async def test_a_request_borrows_one_connection_for_its_read_and_its_move(api: Api) -> None:
    """The read before the transaction and the move sent alone run on one connection, lent to
    the request until it ends; when a request's session then takes its own, the lent one goes
    back first: never two at once."""
    case = await api.open_case()
    with _checkouts(api) as alone:
        response = await api.act(
            "cadre.pinggang", case["id"], "start_village_review", version=case["version"]
        )
    assert response.status_code == 200, response.text
    assert alone == {"checkouts": 1, "held": 0, "most": 1}
    case = await api.case(case["id"])
    with _checkouts(api) as begun:
        response = await _sign(api, case, case["version"])
    assert response.status_code == 201, response.text
    assert begun == {"checkouts": 2, "held": 0, "most": 1}
