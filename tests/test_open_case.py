"""Opening cases: one open case per household; a second report attaches to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select

from app.cases import repository as repo
from app.cases.models import Case
from app.core.db import is_sqlite
from app.core.direct import Direct
from app.households import repository as households
from app.households.models import Household, Member
from tests.helpers import APPLICATION, Api, new_id_number, statements_sent
from tests.machine import machine_sends
from workflows.case import CURRENT
from workflows.policy import POLICIES


async def test_second_report_attaches_to_the_open_case(api: Api) -> None:
    id_number = new_id_number()
    first = await api.open_case("self_declared", id_number=id_number)
    assert first["attached"] is False
    assert first["state"] == "self_declared"
    second = await _flagged(api, id_number)
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["attached"] is True
    assert body["id"] == first["id"]
    assert body["state"] == "self_declared"
    assert body["channel"] == "self_declared"
    assert [r["channel"] for r in body["facts"]["reports"]] == [
        "self_declared",
        "department_flagged",
    ]
    assert body["facts"]["reports"][1]["source"] == "medical_insurance"
    assert len((await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"]) == 1


async def _flagged(api: Api, id_number: str, **headers: str) -> Any:
    """The medical insurance bureau flags the household whose head holds ``id_number``."""
    return await api.post(
        "bureau.jiaohe",
        "/api/v1/cases",
        {
            "channel": "department_flagged",
            "source": "medical_insurance",
            "household": {
                "head_name": "王德福",
                "head_id_number": id_number,
                "village_code": "220281102200",
                "size": 4,
            },
        },
        **headers,
    )


async def test_a_closed_case_lets_a_new_one_open(api: Api) -> None:
    id_number = new_id_number()
    first = await api.open_case("cadre_found", id_number=id_number)
    await api.must("cadre.pinggang", first["id"], "withdraw", {"reason": "农户申请撤回"})
    second = await api.open_case("self_declared", id_number=id_number)
    assert second["attached"] is False
    assert second["id"] != first["id"]


async def test_created_case_answers_location_etag_and_deadline(api: Api) -> None:
    response = await api.post(
        "cadre.pinggang",
        "/api/v1/cases",
        {
            "channel": "self_declared",
            "application_sha256": APPLICATION,
            "household": {
                "head_name": "王",
                "head_id_number": new_id_number(),
                "village_code": "220281102200",
                "size": 2,
                "phone": "13800000000",
            },
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/api/v1/cases/{body['id']}"
    assert response.headers["etag"] == '"1"'
    # reported 2026-03-02 (Shanghai), 15 days: overdue from 2026-03-18 00:00 Shanghai
    assert body["deadlines"]["identification_due_at"] == "2026-03-17T16:00:00Z"
    assert body["household"]["head_id_number_masked"].count("*") == 14  # the last 4 characters only
    events = (await api.get("auditor.jiaohe", f"/api/v1/cases/{body['id']}/events")).json()
    assert "13800000000" not in str(events)


async def test_list_filters_and_paginates(api: Api) -> None:
    from datetime import timedelta

    ids = []
    for _ in range(5):
        ids.append((await api.open_case("cadre_found"))["id"])
        api.clock.advance(timedelta(minutes=1))
    tied = [(await api.open_case("cadre_found"))["id"] for _ in range(4)]  # same opened_at
    await api.must("cadre.pinggang", ids[0], "start_village_review")
    page = (await api.get("bureau.jiaohe", "/api/v1/cases", limit=2)).json()
    seen = [c["id"] for c in page["items"]]
    while page["next_cursor"]:
        page = (
            await api.get("bureau.jiaohe", "/api/v1/cases", limit=2, cursor=page["next_cursor"])
        ).json()
        seen += [c["id"] for c in page["items"]]
    assert seen[:5] == ids  # oldest first
    assert sorted(seen[5:]) == sorted(tied)  # ties broken by id: none lost, none twice
    nominated = (await api.get("bureau.jiaohe", "/api/v1/cases", state="village_nomination")).json()
    assert [c["id"] for c in nominated["items"]] == [ids[0]]
    by_area = await api.get("bureau.jiaohe", "/api/v1/cases", area="220281105")
    assert by_area.json()["items"] == []


async def test_overdue_filter_follows_the_clock(api: Api) -> None:
    from datetime import timedelta

    case = await api.open_case()
    assert (await api.get("bureau.jiaohe", "/api/v1/cases", overdue="true")).json()["items"] == []
    api.clock.advance(timedelta(days=15, hours=14, minutes=30))  # 2026-03-18 00:00 Shanghai
    overdue = (await api.get("bureau.jiaohe", "/api/v1/cases", overdue="true")).json()["items"]
    assert [c["id"] for c in overdue] == [case["id"]]
    assert overdue[0]["deadlines"]["identification_overdue"] is True


async def test_a_process_that_never_read_the_cases_policy_still_writes_to_it(api: Api) -> None:
    """Each process loads a pinned policy version when it first meets it. A report attached
    to an open case, and a registry change recorded on it, are writes that reach the case
    without reading it first: they load its version too (they answered 500 before)."""
    id_number = new_id_number()
    first = await api.open_case("self_declared", id_number=id_number)
    POLICIES.clear()  # as in another process, which has loaded nothing yet
    attached = await api.post(
        "bureau.jiaohe",
        "/api/v1/cases",
        {
            "channel": "department_flagged",
            "source": "medical_insurance",
            "household": {
                "head_name": "王德福",
                "head_id_number": id_number,
                "village_code": "220281102200",
                "size": 4,
            },
        },
    )
    assert attached.status_code == 200, attached.text
    POLICIES.clear()
    path = f"/api/v1/households/{first['household']['id']}/members"
    child = {
        "name": "王小明",
        "relation": "son",
        "labour_skill": "none",
        "health": "healthy",
        "id_number": new_id_number("20150607", "male"),
    }
    added = await api.post("cadre.pinggang", path, child)
    assert added.status_code == 201, added.text
    assert await api.event_count(first["id"]) == 3


async def test_a_new_household_is_opened_without_asking_for_its_cases(api: Api) -> None:
    """A household registered by the opening itself has no case anyone could have opened: the
    opening does not read cases; a registered household's opening still finds its open case
    (locked) and its history."""
    id_number = new_id_number()
    with statements_sent() as sent, _cases_read(api) as read:
        await api.open_case("self_declared", id_number=id_number)
    assert read == []
    assert not [s for s in sent if _reads_cases(s)]
    with statements_sent() as sent, _cases_read(api) as read:
        again = await api.open_case("cadre_found", id_number=id_number)
    assert again["attached"] is True
    if is_sqlite(api.settings.database_url):
        assert len(read) == 2  # the household's cases, then its open one, locked
    else:  # its cases in one read outside the transaction, then the open one, locked
        direct = [s for s in sent if _reads_cases(s)]
        assert len(direct) == 1, direct
        assert "FOR UPDATE" not in direct[0]
        assert len(read) == 1, read
        assert "FOR UPDATE" in read[0]


async def test_a_household_whose_case_closed_opens_a_new_one_in_one_statement(api: Api) -> None:
    """A registered household with no open case (its last one withdrawn): the opening reads
    its cases, then, writing nothing else, inserts the new case linked to them (its event and
    timer with it) as one statement, its own transaction on PostgreSQL."""
    id_number = new_id_number()
    first = await api.open_case("cadre_found", id_number=id_number)
    await api.must("cadre.pinggang", first["id"], "withdraw", {"reason": "农户申请撤回"})
    with statements_sent() as sent:
        second = await api.open_case("self_declared", id_number=id_number)
    assert second["attached"] is False
    assert second["household"]["id"] == first["household"]["id"]
    assert second["facts"]["previous_case_ids"] == [first["id"]]
    if not is_sqlite(api.settings.database_url):
        written = [s for s in sent if s.startswith(("INSERT", "WITH", "UPDATE"))]
        assert len(written) == 1, sent
        assert "INSERT INTO monitoring_case " in written[0]
        assert "INSERT INTO household " not in written[0]
        assert not [s for s in sent if s.rstrip(";").upper() in ("BEGIN", "COMMIT")], sent
        assert not [s for s in sent if "FOR UPDATE" in s], sent


def _reads_cases(statement: str) -> bool:
    return statement.startswith("SELECT") and "FROM monitoring_case" in statement


@contextmanager
def _cases_read(api: Api) -> Iterator[list[str]]:
    """The reads of cases that go through SQLAlchemy's execution meanwhile."""
    read: list[str] = []

    def watch(*args: Any) -> None:
        statement = " ".join(str(args[2]).split())
        if _reads_cases(statement):
            read.append(statement)

    engine = api.app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", watch)
    try:
        yield read
    finally:
        event.remove(engine, "before_cursor_execute", watch)


async def _race_lost(api: Api, patch: pytest.MonkeyPatch, **headers: str) -> Any:
    """A report on a household registered since its lookup: the lookup is made to miss it
    once, as a concurrent opening that commits between lookup and INSERT would."""
    id_number = new_id_number()
    first = await api.open_case("self_declared", id_number=id_number)
    lookup = households.village_and_household
    missed: list[bool] = []

    def late(*args: Any, **kwargs: Any) -> Any:
        village, household = lookup(*args, **kwargs)
        if not missed:
            missed.append(True)
            return village, None
        return village, household

    patch.setattr(households, "village_and_household", late)
    registered = await _registered(api)
    statements: list[str] = []

    def seen(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    engine = api.app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        response = await _flagged(api, id_number, **headers)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert missed == [True]
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["attached"] is True
    assert body["id"] == first["id"]
    assert [r["channel"] for r in body["facts"]["reports"]] == [
        "self_declared",
        "department_flagged",
    ]
    assert await _registered(api) == registered  # the attempt undone left nothing
    return statements, id_number


async def _registered(api: Api) -> tuple[int, int, int]:
    """How many households, members and cases there are."""
    async with api.app.state.sessionmaker() as session:
        counts = [
            (await session.execute(select(func.count()).select_from(model))).scalar_one()
            for model in (Household, Member, Case)
        ]
    return counts[0], counts[1], counts[2]


async def test_a_report_that_lost_the_race_to_register_attaches(api: Api) -> None:
    """The household was registered by a concurrent report after this one looked it up: its
    INSERT conflicts, the opening is undone and tried again, and attaches to the case the
    other opened. A request that began nothing before the opening rolls its transaction
    back for that, with no savepoint. On PostgreSQL the attempt that lost was the opening
    written alone (its household, head, case, event and timer in one statement), and its
    conflict is what sent the opening round again."""
    attempts: list[tuple[frozenset[str], str]] = []
    alone = Direct.alone

    async def watched(self: Direct, session: Any, params: dict[str, Any]) -> int:
        try:
            touched = await alone(self, session, params)
        except Exception as error:
            attempts.append((self.tables, type(error).__name__))
            raise
        attempts.append((self.tables, "written"))
        return touched

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Direct, "alone", watched)
        statements, _ = await _race_lost(api, patch)
    assert "SAVEPOINT" not in statements, statements
    if not is_sqlite(api.settings.database_url):
        lost = [outcome for tables, outcome in attempts if "household" in tables]
        assert lost[-1] == "IntegrityError", attempts


async def test_with_a_key_the_race_is_undone_with_the_keys_claim(api: Api) -> None:
    """The same race with an ``Idempotency-Key``, whose claim is the first statement of the
    transaction and whose record stores the answer with the write. The claim is sent as the
    transaction begins (``app.core.idempotency``; on the embedded SQLite with its ``BEGIN
    IMMEDIATE``), so nothing began before the opening: the transaction is rolled back, claim
    and all, and the next one claims the key again and attaches, with no savepoint. The key
    keeps the answer that attached."""
    key = {"Idempotency-Key": "race-lost-once"}
    with pytest.MonkeyPatch.context() as patch:
        statements, id_number = await _race_lost(api, patch, **key)
    assert "SAVEPOINT" not in statements, statements
    again = await _flagged(api, id_number, **key)
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["attached"] is True


async def test_an_opening_takes_the_machines_kept_answer(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An opening asks its step's rules once and sends the machine on their verdicts, as a
    step of an open case does: the machine is sent the first opening of a channel only, and
    every later one takes the state it answered then (``Workflow.run``)."""
    sent = machine_sends(monkeypatch, CURRENT)
    key = ("new", "open_cadre_found", frozenset[str]())
    monkeypatch.delitem(CURRENT._decided, key, raising=False)  # as if never opened before
    for _ in range(3):
        opened = await api.open_case("cadre_found", id_number=new_id_number())
        assert opened["state"] == "cadre_found"
    assert sent == ["open_cadre_found"]


async def test_an_opening_that_lost_the_race_to_a_households_open_case_attaches(
    api: Api,
) -> None:
    """A registered household's case opened by a concurrent report after this one read its
    cases: the new case's statement meets the database's one open case a household, the
    opening is tried again, and attaches to the case the other opened."""
    id_number = new_id_number()
    first = await api.open_case("cadre_found", id_number=id_number)
    await api.must("cadre.pinggang", first["id"], "withdraw", {"reason": "农户申请撤回"})
    other = await api.open_case("self_declared", id_number=id_number)
    read = repo.cases_of_household
    missed: list[bool] = []

    async def late(session: Any, household_id: str) -> list[tuple[str, bool]]:
        cases = await read(session, household_id)
        if not missed:
            missed.append(True)
            return [(case_id, False) for case_id, _ in cases if case_id != other["id"]]
        return cases

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(repo, "cases_of_household", late)
        before = await _registered(api)
        again = await api.open_case("cadre_found", id_number=id_number)
    assert again["attached"] is True
    assert again["id"] == other["id"]
    assert await _registered(api) == before  # the attempt undone left nothing
    if not is_sqlite(api.settings.database_url):
        assert missed == [True]
