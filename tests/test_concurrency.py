"""Two officials acting at once: exactly one wins, the other gets 412, one event is written.

The app opens a connection per request (a file database on SQLite, a pool on PostgreSQL),
so the two requests really race; nothing shares one in-memory connection.
"""

from __future__ import annotations

import asyncio

from app.cases import repository as repo
from app.core.db import make_engine, make_sessionmaker
from tests.helpers import Api


async def test_two_concurrent_actions_exactly_one_wins(api: Api) -> None:
    for _ in range(5):
        case = await api.open_case()
        version = case["version"]
        first, second = await asyncio.gather(
            api.act("cadre.pinggang", case["id"], "start_village_review", version=version),
            api.act(
                "cadre.pinggang", case["id"], "withdraw", {"reason": "农户申请"}, version=version
            ),
        )
        assert sorted([first.status_code, second.status_code]) == [200, 412], (
            first.text,
            second.text,
        )
        assert await api.event_count(case["id"]) == version + 1
        assert (await api.case(case["id"]))["version"] == version + 1


async def test_concurrent_facts_on_one_case_are_serialized(api: Api) -> None:
    case_id = await api.to_village_nomination()
    body = {"lodged_by_name": "x", "statement": "y"}
    await api.nominate(case_id)
    responses = await asyncio.gather(
        *(api.fact("cadre.pinggang", case_id, "objections", body) for _ in range(6))
    )
    assert [r.status_code for r in responses] == [201] * 6
    events = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/events")).json()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    replay = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/replay")).json()
    assert replay["chain_valid"]
    assert replay["matches"]
    assert replay["facts_match"]


async def test_versioned_update_refuses_a_stale_writer_even_without_the_lock(api: Api) -> None:
    case = await api.open_case()
    engine = make_engine(api.settings.database_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        stale = await repo.advance_case(session, case["id"], case["version"] - 1, {"state": "x"})
        current = await repo.advance_case(
            session, case["id"], case["version"], {"updated_at": api.clock.now()}
        )
    assert (stale, current) == (False, True)
    await engine.dispose()


async def test_facts_with_and_without_a_version_on_one_case_are_serialized(api: Api) -> None:
    """Writers that name the version they read (their case read unlocked, the lock taken when
    their transaction begins, or their move sent alone) and writers that do not (locked as
    they read) on one case at once: every unversioned one applies, at most one versioned one
    does (the others 412), and the trail is one unbroken chain whose replay matches."""
    case_id = await api.to_village_nomination()
    await api.nominate(case_id)
    version = (await api.case(case_id))["version"]
    body = {"lodged_by_name": "x", "statement": "y"}
    path = f"/api/v1/cases/{case_id}/objections"
    unversioned = [api.fact("cadre.pinggang", case_id, "objections", body) for _ in range(4)]
    versioned = [
        api.post("cadre.pinggang", path, body, **{"If-Match": f'"{version}"'}) for _ in range(4)
    ]
    answers = await asyncio.gather(*unversioned, *versioned)
    assert [r.status_code for r in answers[:4]] == [201] * 4, [r.text for r in answers]
    statuses = sorted(r.status_code for r in answers[4:])
    assert set(statuses) <= {201, 412}, [r.text for r in answers[4:]]
    assert statuses.count(201) <= 1
    events = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/events")).json()
    assert [e["seq"] for e in events] == list(range(1, version + 5 + statuses.count(201)))
    replay = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/replay")).json()
    assert replay["chain_valid"]
    assert replay["matches"]
    assert replay["facts_match"]
