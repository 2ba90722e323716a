"""The hot paths' statements sent straight to the driver (app.core.direct), asyncpg or
aiosqlite: in the request's transaction or not at all, with SQLAlchemy's errors, compiled for
each database, and through the session where the driver cannot take them."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Any, cast

import aiosqlite
import pytest
from sqlalchemy import Table, bindparam, event, insert, literal_column, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.util import greenlet_spawn

from app.cases import repository as repo
from app.cases.errors import VersionMismatch
from app.cases.models import Case, CaseEvent
from app.cases.snapshot import Snapshot
from app.core import direct
from app.core.db import is_sqlite, json_bytes, json_text
from app.core.direct import Direct, DirectInsert, DirectRow
from app.households import repository as households
from app.households.card import CARD_FIELDS
from app.households.models import Household, Member
from app.screening.models import ScreeningTask
from app.timers.models import Timer
from tests.helpers import OTHER_VILLAGE, VILLAGE, Api, statements_sent

TOUCH = Direct(
    update(repo.CASE)
    .where(repo.CASE.c.id == bindparam("w_id"), repo.CASE.c.version == bindparam("w_version"))
    .values(monitoring_type=bindparam("v_type"))
)


def _seen_by_sqlalchemy(api: Api) -> list[str]:
    """Statements that go through SQLAlchemy's execution (its cursor) from now on."""
    seen: list[str] = []

    def before(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    event.listen(api.app.state.engine.sync_engine, "before_cursor_execute", before)
    return seen


async def test_the_statement_goes_to_the_driver_in_the_transaction(api: Api) -> None:
    case = await api.open_case()
    seen = _seen_by_sqlalchemy(api)
    async with api.app.state.sessionmaker() as session:
        found = await repo.case_in_area(session, case["id"], "", lock=True)  # begins
        assert found is not None
        version = found[0].version
        assert (
            await TOUCH.rowcount(session, {"w_id": case["id"], "w_version": version, "v_type": "x"})
            == 1
        )
        stale = {"w_id": case["id"], "w_version": version - 1, "v_type": "y"}
        assert await TOUCH.rowcount(session, stale) == 0  # the guard holds
        await session.commit()
    async with api.app.state.sessionmaker() as session:
        assert (await session.get(Case, case["id"])).monitoring_type == "x"
    assert "UPDATE" not in seen, seen  # not through SQLAlchemy's cursor


async def test_the_first_statement_of_a_session_begins_its_transaction(api: Api) -> None:
    """Nothing is ever written outside the request's transaction: a write that is the
    session's first statement begins the session's transaction (on PostgreSQL through
    asyncpg's adapter, and goes to the driver), so a rollback undoes it and a commit
    keeps it."""
    case = await api.open_case()
    seen = _seen_by_sqlalchemy(api)
    for value, end in (("z", "rollback"), ("w", "commit")):
        async with api.app.state.sessionmaker() as session:
            params = {"w_id": case["id"], "w_version": case["version"], "v_type": value}
            assert await TOUCH.rowcount(session, params) == 1  # the session's first statement
            assert session.in_transaction()
            await getattr(session, end)()
    async with api.app.state.sessionmaker() as session:
        assert (await session.get(Case, case["id"])).monitoring_type == "w"
    assert "UPDATE" not in seen, seen  # not through SQLAlchemy's cursor


async def test_a_refused_statement_raises_sqlalchemys_error_and_writes_nothing(api: Api) -> None:
    case = await api.open_case()
    async with api.app.state.sessionmaker() as session:
        found = await repo.case_in_area(session, case["id"], "", lock=True)
        assert found is not None
        trail = (
            (await session.execute(select(CaseEvent).where(CaseEvent.case_id == case["id"])))
            .scalars()
            .all()
        )
        first = trail[0]
        values = {c.name: getattr(first, c.name) for c in CaseEvent.__table__.columns}
        del values["id"], values["txid"]
        again = Direct(insert(repo.EVENT).values({name: bindparam(name) for name in values}))
        with pytest.raises(IntegrityError):  # (case_id, seq) once only
            await again.rowcount(session, values)
        await session.rollback()
    async with api.app.state.sessionmaker() as session:
        rows = (
            await session.execute(select(CaseEvent.seq).where(CaseEvent.case_id == case["id"]))
        ).all()
    assert len(rows) == len(trail)


async def test_a_move_writes_its_event_only_when_the_guard_holds(api: Api) -> None:
    """The case's UPDATE and the event's INSERT: one statement on PostgreSQL, two elsewhere;
    either way a stale version writes neither."""
    case = await api.open_case()
    async with api.app.state.sessionmaker() as session:
        found = await repo.case_in_area(session, case["id"], "", lock=True)
        assert found is not None
        row = found[0]
        last = (
            await session.execute(
                select(CaseEvent).where(CaseEvent.case_id == row.id, CaseEvent.seq == row.version)
            )
        ).scalar_one()
        event_values = {c.name: getattr(last, c.name) for c in CaseEvent.__table__.columns}
        del event_values["id"], event_values["txid"]
        event_values |= {"seq": row.version + 1, "name": "probe", "prev_hash": last.hash}
        moving = {"version": row.version + 1, "monitoring_type": "moved"}
        stale = await repo.move_with_event(session, row.id, row.version - 1, moving, event_values)
        assert stale is False
        assert await repo.move_with_event(session, row.id, row.version, moving, event_values)
        await session.commit()
    async with api.app.state.sessionmaker() as session:
        names = (
            (
                await session.execute(
                    select(CaseEvent.name)
                    .where(CaseEvent.case_id == case["id"])
                    .order_by(CaseEvent.seq)
                )
            )
            .scalars()
            .all()
        )
        moved = await session.get(Case, case["id"])
    assert names[-1] == "probe"
    assert names.count("probe") == 1
    assert moved is not None
    assert moved.monitoring_type == "moved"


async def test_the_lock_reads_what_the_orm_reads_and_holds_the_row(api: Api) -> None:
    """The write path's first statement: the same values the ORM would load (aware datetimes,
    decoded facts), the case's row locked until the transaction ends, none outside the area;
    sent to the driver, inside the transaction (on PostgreSQL it begins it)."""
    case = await api.open_case()
    seen = _seen_by_sqlalchemy(api)
    async with api.app.state.sessionmaker() as session:
        found = await repo.case_in_area(session, case["id"], case["area_code"][:9], lock=True)
        assert found is not None
        snap, card = found
        assert not seen, seen
        driver = (await direct._connection(session))[1]
        assert driver is not None
        assert driver.in_transaction()
        if not is_sqlite(api.settings.database_url):  # (SQLite's lock is the whole file)
            async with api.app.state.engine.connect() as other:  # the row is held
                with pytest.raises(DBAPIError, match="could not obtain lock"):
                    await other.execute(
                        select(Case.id).where(Case.id == case["id"]).with_for_update(nowait=True)
                    )
        assert repo.held_household(session, card.id) is card
        await session.rollback()
    async with api.app.state.sessionmaker() as session:
        orm = await session.get(Case, case["id"])
        household = await session.get(Household, orm.household_id)
        assert snap == Snapshot.of(orm)
        assert snap.opened_at.tzinfo is not None
        assert snap.facts == orm.facts
        assert {name: getattr(card, name) for name in CARD_FIELDS} == {
            name: getattr(household, name) for name in CARD_FIELDS
        }
        assert await repo.case_in_area(session, case["id"], "220281999") is None  # elsewhere
        assert repo.held_household(session, card.id) is None  # a new session holds none
        read = await repo.case_in_area(session, case["id"], "")  # a read locks nothing
        assert read is not None
        assert read[0] == snap
        if not is_sqlite(api.settings.database_url):
            async with api.app.state.engine.connect() as other:
                nowait = select(Case.id).where(Case.id == case["id"]).with_for_update(nowait=True)
                assert (await other.execute(nowait)).scalar_one() == case["id"]


async def test_a_select_answers_every_row_and_keeps_its_own_parameters(api: Api) -> None:
    """:meth:`DirectRow.all` and a statement's own values (a LIMIT's number), through the
    driver on either database, alike."""
    cases = [await api.open_case() for _ in range(3)]
    ids = sorted(case["id"] for case in cases)
    everything = DirectRow(select(Case.id, Case.version).order_by(Case.id))
    first_two = DirectRow(select(Case.id).order_by(Case.id).limit(2))
    async with api.app.state.sessionmaker() as session:
        rows = await everything.all(session, {})
        assert [row[0] for row in rows] == ids
        assert all(isinstance(row[1], int) for row in rows)
        assert await first_two.all(session, {}) == [(ids[0],), (ids[1],)]
        assert await first_two.first(session, {}) == (ids[0],)
        none = DirectRow(select(Case.id).where(Case.id == bindparam("id")))
        assert await none.first(session, {"id": "absent"}) is None
        assert await none.all(session, {"id": "absent"}) == []


async def test_a_read_begins_no_transaction_and_a_later_write_still_does(api: Api) -> None:
    """A plain read is a statement of its own on PostgreSQL (no BEGIN, no COMMIT); inside a
    transaction it runs in it; what the session writes afterwards is in a transaction, which
    a rollback undoes and a commit keeps."""
    case = await api.open_case()
    postgres = not is_sqlite(api.settings.database_url)

    async def in_transaction(session: Any) -> bool:
        fairy = await (await session.connection()).get_raw_connection()
        return bool(fairy.driver_connection.is_in_transaction())

    for commit in (False, True):
        async with api.app.state.sessionmaker() as session:
            found = await repo.case_in_area(session, case["id"], "")
            assert found is not None
            if postgres:
                assert not await in_transaction(session)
            await session.execute(
                update(Case).where(Case.id == case["id"]).values(monitoring_type=f"r{commit}")
            )
            if postgres:
                assert await in_transaction(session)
            assert await repo.case_in_area(session, case["id"], "") is not None  # within it
            await (session.commit() if commit else session.rollback())
        async with api.app.state.sessionmaker() as session:
            kept = (await session.get(Case, case["id"])).monitoring_type
            assert (kept == "rTrue") if commit else (kept != "rFalse")


def _word(statement: str) -> str:
    """A statement's first word: ``BEGIN``, ``COMMIT``, ``SELECT``."""
    return statement.split(None, 1)[0].rstrip(";").upper()


async def test_an_opening_writes_its_case_as_opened_with_its_event(api: Api) -> None:
    """An opening inserts the household with its head, and the case already in the state
    its first event leaves it with that event and its identification deadline's timer; what
    is written is what an INSERT of the new case and the event's move would leave (version
    1, the chain's first hash, the head as the only member). On PostgreSQL, after one read
    of the village, the person's household, the policy in effect and whether registering
    writes anything else (a running screening round), a new household's opening is one
    statement, its own transaction: no ``BEGIN``, no ``COMMIT``, the case never UPDATEd (the
    process's first opening reads the policy's parameters once, in a transaction)."""
    await api.open_case()
    with statements_sent() as sent:
        case = await api.open_case()
    async with api.app.state.sessionmaker() as session:
        row = await session.get(Case, case["id"])
        events = (
            (await session.execute(select(CaseEvent).where(CaseEvent.case_id == case["id"])))
            .scalars()
            .all()
        )
        assert row is not None
        members = (
            await session.execute(
                select(Member.relation).where(Member.household_id == row.household_id)
            )
        ).all()
        timers = (
            await session.execute(
                select(Timer.kind, Timer.due_at, Timer.fired_at).where(Timer.case_id == row.id)
            )
        ).all()
    assert timers == [("identification_deadline", row.identification_due_at, None)]
    assert (row.version, row.state) == (1, case["state"]) == (1, "self_declared")
    assert [(e.seq, e.name, e.from_state, e.to_state) for e in events] == [
        (1, "open_self_declared", "new", "self_declared")
    ]
    assert row.last_hash == events[0].hash
    assert members == [("head",)]
    if not is_sqlite(api.settings.database_url):
        assert not [s for s in sent if "UPDATE monitoring_case" in s], sent
        written = [s for s in sent if s.startswith(("INSERT", "WITH", "UPDATE", "DELETE"))]
        assert len(written) == 1, sent
        for table in ("household", "member", "monitoring_case", "case_event", "timer"):
            assert f"INSERT INTO {table} " in written[0], (table, written[0])
        assert not [s for s in sent if _word(s) in ("BEGIN", "COMMIT")], sent
        # its first read asks the village, the person's household, the policy in effect and
        # whether any screening round runs
        first = [s for s in sent if "FROM policy_version" in s]
        assert len(first) == 1, sent
        assert "FROM area" in first[0]
        assert "JOIN member" in first[0]
        assert "FROM screening_round" in first[0]


async def test_while_a_round_runs_an_opening_registers_in_its_transaction(api: Api) -> None:
    """While a screening round runs, a new household becomes its task (不留死角) in the
    transaction that registers it: the opening is not written alone then, and the task
    commits with the household and its case. A round over another township still makes the
    opening take its transaction (the first read asks whether any round runs), and makes it
    no task of its own."""
    elsewhere = await api.post(
        "bureau.jiaohe",
        "/api/v1/screening/campaigns",
        {"period": "2026-04", "area_codes": [OTHER_VILLAGE[:9]]},  # 天北镇
    )
    assert elsewhere.status_code == 201, elsewhere.text
    with statements_sent() as sent:
        other = await api.open_case()
    here = await api.post(
        "bureau.jiaohe",
        "/api/v1/screening/campaigns",
        {"period": "2026-04", "area_codes": [VILLAGE[:9]]},  # 白石山镇, the opening's
    )
    assert here.status_code == 201, here.text
    case = await api.open_case()
    async with api.app.state.sessionmaker() as session:
        tasks = (
            await session.execute(
                select(ScreeningTask.round_id, ScreeningTask.household_id).order_by(
                    ScreeningTask.round_id
                )
            )
        ).all()
    assert (here.json()["id"], case["household"]["id"]) in tasks
    assert (elsewhere.json()["id"], other["household"]["id"]) not in tasks
    if not is_sqlite(api.settings.database_url):
        assert [s for s in sent if _word(s) == "BEGIN"], sent
        assert [s for s in sent if _word(s) == "COMMIT"], sent


async def test_a_statement_in_a_savepoint_is_undone_by_its_rollback(api: Api) -> None:
    """A savepoint opened while the session already holds its connection: a direct statement
    inside it runs after its ``SAVEPOINT`` (SQLAlchemy sends that only when a statement asks
    the session for its connection), so the savepoint's rollback undoes that statement and
    nothing the transaction wrote before it; after the savepoint, statements run in the
    enclosing transaction again and commit with it."""
    case = await api.open_case()
    touch = {"w_id": case["id"], "w_version": case["version"]}

    async def written(session: Any) -> Any:
        query = select(repo.CASE.c.monitoring_type).where(repo.CASE.c.id == case["id"])
        return (await session.execute(query)).scalar_one()

    async with api.app.state.sessionmaker() as session:
        assert await repo.case_in_area(session, case["id"], "", lock=True) is not None
        assert await TOUCH.rowcount(session, {**touch, "v_type": "before"}) == 1

        async def undone() -> None:
            async with session.begin_nested():
                assert await TOUCH.rowcount(session, {**touch, "v_type": "undone"}) == 1
                raise RuntimeError("the savepoint rolls back")

        with pytest.raises(RuntimeError):
            await undone()
        assert await written(session) == "before"
        async with session.begin_nested():
            assert await TOUCH.rowcount(session, {**touch, "v_type": "released"}) == 1
        assert await written(session) == "released"
        await session.commit()
    async with api.app.state.sessionmaker() as session:
        assert await written(session) == "released"


async def test_a_chained_insert_needs_its_first_row(api: Api) -> None:
    """:class:`Chained`: the second row is written only with the first; a stale guard writes
    neither, and a second row that cannot be written undoes the first with it."""
    case = await api.open_case()
    chained = direct.Chained(cast(Table, Timer.__table__))
    due = api.clock.now() + timedelta(days=3)
    timer = {"case_id": case["id"], "kind": "probe", "due_at": due, "created_at": api.clock.now()}
    stale = {"w_id": case["id"], "w_version": case["version"] - 1, "v_type": "x"}
    fresh = {**stale, "w_version": case["version"]}
    async with api.app.state.sessionmaker() as session:
        assert await repo.case_in_area(session, case["id"], "", lock=True) is not None
        assert await chained.run(session, TOUCH, stale, timer) is False
        assert await chained.run(session, TOUCH, fresh, timer) is True
        await session.commit()
    async with api.app.state.sessionmaker() as session:
        kinds = (
            await session.execute(select(Timer.kind).where(Timer.case_id == case["id"]))
        ).scalars()
        assert list(kinds).count("probe") == 1
        moved = await session.get(Case, case["id"])
        assert moved is not None
        assert moved.monitoring_type == "x"
    broken = {**timer, "case_id": "no-such-case"}  # the timer's case must exist
    again = {**fresh, "w_version": case["version"], "v_type": "y"}
    async with api.app.state.sessionmaker() as session:
        assert await repo.case_in_area(session, case["id"], "", lock=True) is not None
        with pytest.raises(IntegrityError):
            async with session.begin_nested():
                await chained.run(session, TOUCH, again, broken)
        untouched = (
            await session.execute(
                select(repo.CASE.c.monitoring_type).where(repo.CASE.c.id == case["id"])
            )
        ).scalar_one()
        assert untouched == "x"


async def test_rows_of_other_tables_come_with_the_pair_or_not_at_all(api: Api) -> None:
    """:class:`Chained`'s ``also``: rows of other tables are written with the pair (on
    PostgreSQL in its one statement), only when its guard holds; one that cannot be written
    undoes the pair with it."""
    case = await api.open_case()
    table = cast(Table, Timer.__table__)
    chained, other = direct.Chained(table), DirectInsert(table)
    due = api.clock.now() + timedelta(days=3)
    row = {"case_id": case["id"], "due_at": due, "created_at": api.clock.now()}
    pair, along = {**row, "kind": "pair"}, {**row, "kind": "along"}
    stale = {"w_id": case["id"], "w_version": case["version"] - 1, "v_type": "x"}
    fresh = {**stale, "w_version": case["version"]}

    async def kinds() -> list[str]:
        async with api.app.state.sessionmaker() as session:
            query = select(Timer.kind).where(
                Timer.case_id == case["id"], Timer.kind != "identification_deadline"
            )
            return sorted((await session.execute(query)).scalars())

    async with api.app.state.sessionmaker() as session:
        assert await repo.case_in_area(session, case["id"], "", lock=True) is not None
        assert await chained.run(session, TOUCH, stale, pair, also=[(other, along)]) is False
        await session.commit()
    assert await kinds() == []
    async with api.app.state.sessionmaker() as session:
        assert await repo.case_in_area(session, case["id"], "", lock=True) is not None
        assert await chained.run(session, TOUCH, fresh, pair, also=[(other, along)]) is True
        await session.commit()
    assert await kinds() == ["along", "pair"]
    broken = {**along, "case_id": "no-such-case"}  # a timer's case must exist
    again = {**fresh, "v_type": "y"}
    async with api.app.state.sessionmaker() as session:
        assert await repo.case_in_area(session, case["id"], "", lock=True) is not None
        with pytest.raises(IntegrityError):
            async with session.begin_nested():
                await chained.run(session, TOUCH, again, pair, also=[(other, broken)])
        await session.commit()
    assert await kinds() == ["along", "pair"]
    async with api.app.state.sessionmaker() as session:
        moved = await session.get(Case, case["id"])
        assert moved is not None
        assert moved.monitoring_type == "x"


async def test_an_insert_writes_the_columns_given_in_the_transaction(api: Api) -> None:
    """:class:`DirectInsert`: one statement per column list, in the request's transaction
    (a rollback leaves nothing), through the driver."""
    case = await api.open_case()
    timers = DirectInsert(cast(Table, Timer.__table__))
    due = api.clock.now() + timedelta(days=3)
    row = {"case_id": case["id"], "kind": "probe", "due_at": due, "created_at": api.clock.now()}
    seen = _seen_by_sqlalchemy(api)
    for commit in (False, True):
        async with api.app.state.sessionmaker() as session:
            assert await repo.case_in_area(session, case["id"], "", lock=True) is not None
            await timers.run(session, row)
            await (session.commit() if commit else session.rollback())
        async with api.app.state.sessionmaker() as session:
            found = (
                await session.execute(
                    select(Timer.due_at).where(Timer.case_id == case["id"], Timer.kind == "probe")
                )
            ).all()
        assert found == ([(due,)] if commit else [])
    assert "INSERT" not in seen, seen


async def test_a_session_s_next_transaction_gets_its_own_connection(api: Api) -> None:
    """What the direct statements keep of a session's connection lasts one transaction: after
    a commit or a rollback, the same session's next lock begins a transaction anew."""
    case = await api.open_case()
    async with api.app.state.sessionmaker() as session:
        for end in (session.commit, session.rollback, session.commit):
            assert await repo.case_in_area(session, case["id"], "", lock=True) is not None
            first = session.info[direct.HELD_CONNECTION]
            assert await repo.case_in_area(session, case["id"], "") is not None
            assert session.info[direct.HELD_CONNECTION] is first  # kept within the transaction
            assert first[2].in_transaction()
            await end()
            assert first[0]() is None or not first[0]().is_active


async def test_a_list_parameter_is_an_array_on_postgresql_and_an_in_list_elsewhere(
    api: Api,
) -> None:
    """DirectRow's ``elsewhere``: whose household a person is, by several digests at once,
    answers alike on both databases (``= ANY`` through the driver, ``IN`` through SQLite)."""
    case = await api.open_case()
    async with api.app.state.sessionmaker() as session:
        household = await session.get(Household, case["household"]["id"])
        assert household is not None
        other = "0" * 64
        found = await households.household_of_person(session, [other, household.head_id_digest])
        assert found is not None
        assert found.id == household.id
        assert found.village_code == household.village_code
        assert await households.household_of_person(session, [other]) is None
        assert await households.household_of_person(session, []) is None


async def test_a_session_that_began_nothing_is_released_without_a_commit(api: Api) -> None:
    """Only direct reads outside a transaction: the session takes no connection at all (each
    read borrows one from the pool and gives it back), so there is nothing to commit; a lock,
    a write through the session or a pending object: a commit as always. On PostgreSQL a
    connection the session took without sending anything yet began nothing either."""
    case = await api.open_case()
    postgres = not is_sqlite(api.settings.database_url)
    pool = api.app.state.engine.sync_engine.pool
    async with api.app.state.sessionmaker() as session:
        assert not direct.nothing_begun(session)  # nothing ran yet
        assert await repo.case_in_area(session, case["id"], "") is not None
        assert not session.in_transaction()
        assert pool.checkedout() == 0  # given back
        if postgres:
            await direct._connection(session)  # taken, nothing sent
            assert direct.nothing_begun(session)
        assert await repo.case_in_area(session, case["id"], "", lock=True) is not None
        assert not direct.nothing_begun(session)
        await session.rollback()
    async with api.app.state.sessionmaker() as session:
        assert await repo.case_in_area(session, case["id"], "") is not None
        await session.execute(update(Case).where(Case.id == case["id"]).values(risk_types="x"))
        assert not direct.nothing_begun(session)
        await session.rollback()
    async with api.app.state.sessionmaker() as session:
        assert await repo.case_in_area(session, case["id"], "") is not None
        household = await session.get(Household, case["household"]["id"])
        assert household is not None
        assert not direct.nothing_begun(session)  # the ORM read began the transaction


async def test_a_read_outside_the_transaction_borrows_a_pooled_connection(api: Api) -> None:
    """A plain read before the session's transaction: a connection from the pool for that
    statement alone, given back at once, even when the statement fails (raised as
    SQLAlchemy's error); the session holds none afterwards. Once the session's transaction
    has begun, reads run in it and see what it wrote."""
    case = await api.open_case()
    pool = api.app.state.engine.sync_engine.pool
    seen = _seen_by_sqlalchemy(api)
    failing = DirectRow(select(literal_column("no_such_column")).select_from(Case))
    async with api.app.state.sessionmaker() as session:
        found = await repo.case_in_area(session, case["id"], "")
        assert found is not None
        assert found[0].version == case["version"]
        assert not session.in_transaction()
        assert pool.checkedout() == 0
        with pytest.raises(DBAPIError, match=r"no such column|does not exist"):
            await failing.first(session, {})
        assert pool.checkedout() == 0
        assert not session.in_transaction()
        assert not seen, seen
        await session.execute(update(Case).where(Case.id == case["id"]).values(risk_types="t"))
        within = await repo.case_in_area(session, case["id"], "")
        assert within is not None
        assert within[0].risk_types == "t"  # the transaction's own connection
        assert pool.checkedout() == 1
        await session.rollback()
    assert pool.checkedout() == 0


async def test_on_sqlite_a_read_does_not_wait_for_a_writer(api: Api) -> None:
    """The embedded SQLite's writers queue on ``BEGIN IMMEDIATE``; a read before its
    session's transaction runs beside a writer holding the lock (WAL) and sees what was
    committed."""
    if not is_sqlite(api.settings.database_url):
        pytest.skip("SQLite's write lock")
    case = await api.open_case()
    async with api.app.state.sessionmaker() as writer:
        found = await repo.case_in_area(writer, case["id"], "", lock=True)  # the write lock
        assert found is not None
        touched = {"w_id": case["id"], "w_version": found[0].version, "v_type": "pending"}
        assert await TOUCH.rowcount(writer, touched) == 1
        async with api.app.state.sessionmaker() as reader:
            read = await asyncio.wait_for(repo.case_in_area(reader, case["id"], ""), 5)
        assert read is not None
        assert read[0].monitoring_type != "pending"  # not committed yet
        await writer.rollback()


async def test_on_sqlite_a_statement_is_one_call_on_aiosqlites_thread(api: Api) -> None:
    """aiosqlite runs every call on its own thread; SQLAlchemy's cursor makes three or four a
    statement. The transaction's first direct statement and the commit make one each (the
    ``BEGIN IMMEDIATE`` goes with the first statement), a direct statement once the
    transaction holds the write lock makes none, a connection that committed goes back to the
    pool without another rollback, and a read before the transaction is one call in all. A
    transaction that sent nothing asks nothing of the thread."""
    if not is_sqlite(api.settings.database_url):
        pytest.skip("aiosqlite's thread: the embedded SQLite only")
    case = await api.open_case()
    calls: list[str] = []
    original: Any = aiosqlite.Connection._execute

    async def counted(self: Any, function: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(function, "__name__", repr(function)))
        return await original(self, function, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aiosqlite.Connection, "_execute", counted)
        async with api.app.state.sessionmaker() as session:
            found = await repo.case_in_area(session, case["id"], "", lock=True)
            assert found is not None
            touched = {"w_id": case["id"], "w_version": found[0].version, "v_type": "one"}
            assert await TOUCH.rowcount(session, touched) == 1
            await session.commit()
        # the BEGIN IMMEDIATE goes with the lock's SELECT, in its call; the UPDATE runs here
        assert calls == ["_sqlite_fetch", "commit"], calls
        calls.clear()
        async with api.app.state.sessionmaker() as session:  # a read: a borrowed connection
            assert await repo.case_in_area(session, case["id"], "") is not None
            await session.commit()
        assert calls == ["_sqlite_fetch"], calls
        calls.clear()
        async with api.app.state.sessionmaker() as session:
            await session.connection()  # begins, sends nothing
            await session.commit()
        async with api.app.state.sessionmaker() as session:
            await session.connection()
            await session.rollback()
    assert calls == [], calls


async def test_on_sqlite_only_the_write_transaction_runs_on_the_loops_thread(
    api: Api,
) -> None:
    """Which thread runs each statement, seen by SQLite's trace callback: the statement that
    begins the transaction (its ``BEGIN IMMEDIATE`` may wait for another process's write
    lock) and the commit (its ``fsync`` waits on the disk) on aiosqlite's thread; direct
    statements once the transaction holds the write lock on the event loop's thread; a read
    before any transaction, on a borrowed connection, on aiosqlite's thread."""
    if not is_sqlite(api.settings.database_url):
        pytest.skip("aiosqlite's thread: the embedded SQLite only")
    case = await api.open_case()
    here = threading.get_ident()
    ran: list[tuple[str, bool]] = []

    def traced(statement: str) -> None:
        ran.append((statement.split(None, 1)[0].upper(), threading.get_ident() == here))

    def trace(connection: Any, _record: Any) -> None:
        connection.driver_connection._conn.set_trace_callback(traced)

    engine = api.app.state.engine
    await engine.dispose()  # every connection from now on is a new one, and traced
    event.listen(engine.sync_engine, "connect", trace)
    async with api.app.state.sessionmaker() as session:
        assert await repo.case_in_area(session, case["id"], "") is not None
        read = list(ran)
        ran.clear()
        found = await repo.case_in_area(session, case["id"], "", lock=True)
        assert found is not None
        touched = {"w_id": case["id"], "w_version": found[0].version, "v_type": "traced"}
        assert await TOUCH.rowcount(session, touched) == 1
        await session.commit()
    event.remove(engine.sync_engine, "connect", trace)
    assert read == [("SELECT", False)], read
    assert ran == [("BEGIN", False), ("SELECT", False), ("UPDATE", True), ("COMMIT", False)], ran


async def test_on_sqlite_a_move_and_its_event_are_one_call(api: Api) -> None:
    """SQLite has no UPDATE in a CTE: the guarded UPDATE and the event's INSERT run in turn,
    on the event loop's thread once the lock began the transaction, or else in one call on
    aiosqlite's thread; an event that cannot be written raises SQLAlchemy's error naming its
    INSERT, and the request's rollback undoes the move with it."""
    if not is_sqlite(api.settings.database_url):
        pytest.skip("aiosqlite's thread: the embedded SQLite only")
    case = await api.open_case()
    calls: list[str] = []
    original: Any = aiosqlite.Connection._execute

    async def counted(self: Any, function: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(function, "__name__", repr(function)))
        return await original(self, function, *args, **kwargs)

    async with api.app.state.sessionmaker() as session:
        found = await repo.case_in_area(session, case["id"], "", lock=True)
        assert found is not None
        row = found[0]
        last = (
            await session.execute(
                select(CaseEvent).where(CaseEvent.case_id == row.id, CaseEvent.seq == row.version)
            )
        ).scalar_one()
        again = {c.name: getattr(last, c.name) for c in CaseEvent.__table__.columns}
        del again["id"], again["txid"]  # (case_id, seq) a second time
        moving = {"version": row.version + 1, "monitoring_type": "moved"}
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(aiosqlite.Connection, "_execute", counted)
            with pytest.raises(IntegrityError, match="INSERT INTO case_event"):
                await repo.move_with_event(session, row.id, row.version, moving, again)
        assert calls == [], calls  # inside the write transaction: on the event loop's thread
        await session.rollback()
    async with api.app.state.sessionmaker() as session:
        unmoved = await session.get(Case, case["id"])
        assert unmoved is not None
        assert unmoved.version == case["version"]
        assert unmoved.monitoring_type != "moved"


async def test_on_sqlite_a_move_sent_alone_commits_whole_or_not_at_all(api: Api) -> None:
    """A request's move that waited for the commit (the case read at a version, no lock) is
    sent by itself: the writers' turn, ``BEGIN IMMEDIATE``, the guarded UPDATE, the event's
    INSERT and ``COMMIT``, in one call on aiosqlite's thread. Its event refused by the
    database rolls the move back and raises SQLAlchemy's error naming the INSERT; a case moved
    since the read is refused (``refused()``); either way nothing is written, the connection
    is left in no transaction and the writers' turn is free: another writer goes at once."""
    if not is_sqlite(api.settings.database_url):
        pytest.skip("the embedded SQLite's write sent alone")
    case = await api.open_case()

    async def waiting(event_of: Any, version: int) -> Any:
        session = api.app.state.sessionmaker()
        session.info[direct.DEFERRABLE] = True  # as a request's own session
        assert direct.may_defer_lock(session)
        found = await repo.case_in_area(session, case["id"], "")  # no lock, no transaction
        assert found is not None
        assert not session.in_transaction()
        repo.lock_when_begun(session, case["id"], version)
        moving = {"version": version + 1, "monitoring_type": "moved"}
        assert await repo.move_with_event(session, case["id"], version, moving, event_of)
        assert not session.in_transaction()  # the move waits for the commit
        return session

    async with api.app.state.sessionmaker() as reader:
        last = (
            await reader.execute(
                select(CaseEvent).where(
                    CaseEvent.case_id == case["id"], CaseEvent.seq == case["version"]
                )
            )
        ).scalar_one()
        again = {c.name: getattr(last, c.name) for c in CaseEvent.__table__.columns}
        del again["id"], again["txid"]  # (case_id, seq) a second time
        await reader.rollback()
    engine = api.app.state.engine
    writers = engine.sync_engine.dialect.loaded_dbapi.writers
    refused = await waiting(again, case["version"])
    with pytest.raises(IntegrityError, match="INSERT INTO case_event"):
        await direct.commit_alone(refused)
    await direct.give_back(refused)  # (as the request's end does)
    stale = await waiting(again | {"seq": case["version"] + 1}, case["version"] - 1)
    with pytest.raises(VersionMismatch):
        await direct.commit_alone(stale)
    await direct.give_back(stale)
    assert writers._turns[asyncio.get_running_loop()].held is False
    async with api.app.state.sessionmaker() as writer:  # not locked: goes at once
        found = await asyncio.wait_for(repo.case_in_area(writer, case["id"], "", lock=True), 5)
        assert found is not None
        assert (found[0].version, found[0].monitoring_type) == (
            case["version"],
            case["monitoring_type"],
        )
        await writer.rollback()
    assert await api.event_count(case["id"]) == case["version"]
    fine = await waiting(again | {"seq": case["version"] + 1, "name": "probe"}, case["version"])
    await direct.commit_alone(fine)
    await direct.give_back(fine)
    async with api.app.state.sessionmaker() as reader:
        moved = await reader.get(Case, case["id"])
        assert moved is not None
        assert (moved.version, moved.monitoring_type) == (case["version"] + 1, "moved")
    assert await api.event_count(case["id"]) == case["version"] + 1


async def test_on_sqlite_a_connection_returned_inside_its_transaction_is_rolled_back(
    api: Api,
) -> None:
    """The pool's reset on return rolls back only what is still open: a connection handed
    back inside a transaction is rolled back (and the database not left locked), one that
    committed is not asked again. A session closed without a commit leaves nothing written."""
    if not is_sqlite(api.settings.database_url):
        pytest.skip("the embedded SQLite's reset on return")
    case = await api.open_case()
    fairy = await api.app.state.engine.raw_connection()
    driver = fairy.driver_connection
    await driver.execute("BEGIN IMMEDIATE")
    await driver.execute("UPDATE monitoring_case SET monitoring_type = 'raw'")
    assert driver.in_transaction
    await greenlet_spawn(fairy.close)  # back to the pool, inside its transaction
    assert not driver.in_transaction
    async with api.app.state.sessionmaker() as session:
        found = await repo.case_in_area(session, case["id"], "", lock=True)
        assert found is not None
        assert found[0].monitoring_type != "raw"
        touched = {"w_id": case["id"], "w_version": found[0].version, "v_type": "left"}
        assert await TOUCH.rowcount(session, touched) == 1
    async with api.app.state.sessionmaker() as session:
        assert (await session.get(Case, case["id"])).monitoring_type != "left"


async def test_json_is_written_from_bytes_and_read_without_a_str_between(
    postgres_api: Api,
) -> None:
    """A document goes to PostgreSQL as the bytes orjson made (``json_bytes``) and comes back
    through orjson from the bytes PostgreSQL sent (``app.core.db._jsonb_codec``, and
    ``_json_codec`` for ``json``, a case's facts, kept as the text sent); a ``str``, as
    anything else may still hand the driver, is taken too."""
    document = {"head_name": "王德福", "reasons": ["因病", None, 1.5], "big": 2**70, "7": True}
    sent = json_bytes(document)
    assert isinstance(sent, bytes)
    assert sent.decode() == json_text(document)  # the same text as SQLite keeps
    fairy = await postgres_api.app.state.engine.raw_connection()
    try:
        driver = fairy.driver_connection
        assert await driver.fetchval("SELECT $1::jsonb ->> 'head_name'", sent) == "王德福"
        assert await driver.fetchval("SELECT $1::jsonb", json_text(document)) == {
            **document,
            "big": float(2**70),  # as orjson reads an integer beyond 64 bits, before and now
        }
        assert await driver.fetchval("SELECT '[\"监测\"]'::jsonb") == ["监测"]
        assert await driver.fetchval("SELECT $1::json", sent) == {**document, "big": float(2**70)}
        assert await driver.fetchval("SELECT $1::json::text", sent) == sent.decode()  # as sent
        assert (await driver.fetchval("SELECT $1::json", json_text(document)))["7"] is True
        assert await driver.fetchval("SELECT '[\"监测\"]'::json") == ["监测"]
    finally:
        await greenlet_spawn(fairy.close)
    case = await postgres_api.open_case()  # and the service's own facts, written and read
    got = await postgres_api.get("cadre.pinggang", f"/api/v1/cases/{case['id']}")
    assert got.json()["facts"] == case["facts"]
