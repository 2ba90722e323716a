"""Durable timers: the notice moves on by itself, deadlines escalate once, nothing fires twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.cases.service import fire_timer
from app.core.db import make_engine, make_sessionmaker
from app.timers.models import Timer
from app.timers.service import process_due
from tests.helpers import Api


async def fire(api: Api) -> int:
    """One worker pass with the test's clock, on its own engine (as a worker process would)."""
    engine = make_engine(api.settings.database_url)
    try:
        return await process_due(make_sessionmaker(engine), api.clock, fire_timer)
    finally:
        await engine.dispose()


async def timers_of(api: Api, case_id: str) -> list[Timer]:
    engine = make_engine(api.settings.database_url)
    async with make_sessionmaker(engine)() as session:
        query = select(Timer).where(Timer.case_id == case_id).order_by(Timer.id)
        found = list((await session.execute(query)).scalars())
    await engine.dispose()
    return found


async def events(api: Api, case_id: str) -> list[dict[str, Any]]:
    response = await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/events")
    result: list[dict[str, Any]] = response.json()
    return result


async def test_notice_moves_on_by_itself_when_its_period_ends(api: Api) -> None:
    case_id = await api.to_village_nomination()
    await api.nominate(case_id)  # published 2026-03-02, may leave from 03-08 00:00 Shanghai
    api.clock.advance(timedelta(days=5, hours=14, minutes=29))  # 03-07 23:59 Shanghai
    assert await fire(api) == 0
    assert (await api.case(case_id))["state"] == "public_notice"
    api.clock.advance(timedelta(minutes=1))  # 03-08 00:00 Shanghai
    assert await fire(api) == 1
    case = await api.case(case_id)
    assert case["state"] == "township_verification"
    last = (await events(api, case_id))[-1]
    assert last["name"] == "submit_to_township"
    assert last["actor"] == {"sub": "system:timer", "role": "system", "area": ""}
    assert await fire(api) == 0  # never twice
    replay = (await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/replay")).json()
    assert replay["matches"]
    assert replay["all_steps_legal"]
    assert replay["chain_valid"]


async def test_open_objection_stops_the_timer_and_dismissal_lets_the_case_go(api: Api) -> None:
    case_id = await api.to_village_nomination()
    await api.nominate(case_id)
    objection_id = await api.lodge_objection(case_id, "有车")
    api.clock.advance(timedelta(days=7))
    assert await fire(api) == 1
    assert (await api.case(case_id))["state"] == "public_notice"
    notice_timer = next(t for t in await timers_of(api, case_id) if t.kind == "notice_end")
    assert notice_timer.outcome == "refused: objection_open"
    await api.must_fact(
        "township.baishishan",
        case_id,
        f"objections/{objection_id}/resolution",
        {"outcome": "dismissed", "reason": "车辆为营运所需"},
    )
    assert await fire(api) == 1
    assert (await api.case(case_id))["state"] == "township_verification"


async def test_a_timer_whose_case_moved_on_is_skipped(api: Api) -> None:
    case_id = await api.to_village_nomination()
    await api.to_township(case_id)  # the village committee submitted by hand after 6 days
    assert await fire(api) == 1
    outcomes = {t.kind: t.outcome for t in await timers_of(api, case_id)}
    assert outcomes["notice_end"] == "skipped: the case is township_verification"


async def test_identification_deadline_escalates_once_and_never_blocks(api: Api) -> None:
    case = await api.open_case()
    api.clock.advance(timedelta(days=15, hours=14, minutes=29))  # 03-17 23:59 Shanghai
    assert await fire(api) == 0
    api.clock.advance(timedelta(minutes=1))  # 03-18 00:00 Shanghai: overdue
    assert await fire(api) == 1
    assert await fire(api) == 0
    escalations = [e for e in await events(api, case["id"]) if e["name"] == "deadline_escalation"]
    assert len(escalations) == 1
    assert escalations[0]["actor"]["sub"] == "system:timer"
    current = await api.case(case["id"])
    assert current["deadlines"]["identification_overdue"] is True
    assert current["facts"]["identification_escalated_at"] is not None
    # late cases are flagged, never blocked
    moved = await api.must("cadre.pinggang", case["id"], "start_village_review")
    assert moved["state"] == "village_nomination"


async def test_confirmed_in_time_is_not_escalated(api: Api) -> None:
    case_id = await api.to_assisted()
    api.clock.advance(timedelta(days=30))
    await fire(api)
    outcomes = {t.kind: t.outcome for t in await timers_of(api, case_id)}
    assert outcomes["identification_deadline"] == "skipped: the case is assisted"


async def test_timers_survive_a_restart(api: Api) -> None:
    """Timers live in the database: a new app and a new worker find them."""
    case_id = await api.to_village_nomination()
    await api.nominate(case_id)
    async with Api.start(api.settings, api.clock) as restarted:
        restarted.clock.advance(timedelta(days=6))
        assert await fire(restarted) == 1
        assert (await restarted.case(case_id))["state"] == "township_verification"


async def test_racing_workers_fire_each_timer_exactly_once(api: Api) -> None:
    case_ids = []
    for _ in range(6):
        case_id = await api.to_village_nomination()
        await api.nominate(case_id)
        case_ids.append(case_id)
    api.clock.advance(timedelta(days=20))  # every notice over, every deadline passed
    engines = [make_engine(api.settings.database_url) for _ in range(3)]
    try:
        counts = await asyncio.gather(
            *(process_due(make_sessionmaker(engine), api.clock, fire_timer) for engine in engines)
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(counts) == 12  # 6 notice ends + 6 deadlines, each once
    for case_id in case_ids:
        names = [e["name"] for e in await events(api, case_id)]
        assert names.count("submit_to_township") == 1
        # still short of city confirmation when the deadline passed: escalated, once
        assert names.count("deadline_escalation") == 1
        timers = await timers_of(api, case_id)
        assert all(t.fired_at is not None for t in timers)
