"""Case writes take turns (app.core.turns): no more than the setting's number run at once in
a process, the others wait first come first served, a request that goes away gives its place
or its turn on, and nothing but a case write ever waits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.core.config import Settings
from app.core.turns import CaseWriteGate, Turns
from app.main import create_app
from tests.helpers import Api
from tests.test_observability import sample, scrape

ANSWERED_WITHIN = 30.0
"""Seconds a request that must not wait for a turn may take before the test fails."""


async def settle() -> None:
    """Let every task that can move move (no time passes: the event loop's turns only)."""
    for _ in range(100):
        await asyncio.sleep(0)


class Writes:
    """Tasks that each take a turn, record that they run, and hold it until released."""

    def __init__(self, turns: Turns) -> None:
        self.turns = turns
        self.ran: list[int] = []
        self.inside = self.most = 0
        self.done: dict[int, asyncio.Event] = {}
        self.tasks: dict[int, asyncio.Task[None]] = {}

    def start(self, *numbers: int) -> None:
        for n in numbers:
            self.done[n] = asyncio.Event()
            self.tasks[n] = asyncio.create_task(self.write(n))

    async def write(self, n: int) -> None:
        await self.turns.take()
        try:
            self.ran.append(n)
            self.inside += 1
            self.most = max(self.most, self.inside)
            await self.done[n].wait()
        finally:
            self.inside -= 1
            self.turns.give_back()

    async def finish(self, *numbers: int) -> None:
        for n in numbers:
            self.done[n].set()
        await settle()


async def test_no_more_than_at_once_run_and_the_others_wait_first_come_first_served() -> None:
    writes = Writes(Turns(2))
    writes.start(0, 1, 2, 3, 4)
    await settle()
    assert writes.ran == [0, 1]
    assert len(writes.turns.waiting) == 3
    await writes.finish(1)  # the second finishes first: the third comes in, not the last
    assert writes.ran == [0, 1, 2]
    await writes.finish(0, 2)
    assert writes.ran == [0, 1, 2, 3, 4]
    await writes.finish(3, 4)
    assert writes.most == 2
    assert writes.turns.taken == 0
    assert not writes.turns.waiting


async def test_while_turns_are_free_a_write_runs_at_once() -> None:
    turns = Turns(3)
    takes = [asyncio.create_task(turns.take()) for _ in range(3)]
    await settle()
    assert all(take.done() for take in takes)  # none waited
    assert turns.taken == 3
    assert not turns.waiting
    for _ in range(3):
        turns.give_back()
    assert turns.taken == 0


async def test_a_write_that_goes_away_while_waiting_gives_up_its_place() -> None:
    writes = Writes(Turns(1))
    writes.start(0, 1, 2)
    await settle()
    writes.tasks[1].cancel()  # its client went away while it waited
    await settle()
    assert writes.tasks[1].cancelled()
    await writes.finish(0)
    assert writes.ran == [0, 2]  # the next one in line has the turn
    await writes.finish(2)
    assert writes.turns.taken == 0
    assert not writes.turns.waiting


async def test_a_write_that_goes_away_as_its_turn_comes_passes_the_turn_on() -> None:
    writes = Writes(Turns(1))
    writes.start(0, 1, 2)
    await settle()
    writes.done[0].set()
    await asyncio.sleep(0)  # the first finishes and hands the turn to the second …
    assert writes.ran == [0]
    assert len(writes.turns.waiting) == 1  # (the third still waits)
    writes.tasks[1].cancel()  # … which goes away before it could run
    await settle()
    assert writes.ran == [0, 2]
    assert writes.tasks[1].cancelled()
    await writes.finish(2)
    assert writes.turns.taken == 0
    assert not writes.turns.waiting


def test_a_turn_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Turns(0)


@pytest.mark.parametrize(
    ("method", "path", "waits"),
    [
        ("POST", "/api/v1/cases", True),  # an opening
        ("POST", "/api/v1/cases/c1/actions/submit_to_city", True),
        ("POST", "/api/v1/cases/c1/reviews", True),
        ("POST", "/api/v1/intake/self-declarations", True),  # 12317's, which opens a case
        ("GET", "/api/v1/intake/self-declarations/T1", False),
        ("GET", "/api/v1/cases/c1", False),
        ("GET", "/api/v1/cases", False),
        ("POST", "/api/v1/households", False),
        ("POST", "/api/v1/casesx", False),  # not under the cases
        ("POST", "/api/v1/department-data/civil_affairs/snapshots", False),
    ],
)
async def test_only_a_case_write_waits_for_its_turn(method: str, path: str, waits: bool) -> None:
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    turns = Turns(1)
    await turns.take()  # every turn taken
    gate = CaseWriteGate(app, turns=turns)

    async def receive() -> Any:
        raise AssertionError("not read")

    async def send(message: Any) -> None:
        raise AssertionError("not answered")

    scope = {"type": "http", "method": method, "path": path}
    request = asyncio.create_task(gate(scope, receive, send))
    await settle()
    assert reached == ([] if waits else [path])
    turns.give_back()
    await settle()
    assert request.done()
    assert reached == [path]
    assert turns.taken == 0


async def test_case_writes_at_once_through_the_api_all_land(settings: Settings, api: Api) -> None:
    """One turn at a time (the strictest setting): openings sent together all land, one after
    another, and nothing is left waiting."""
    strict = settings.model_copy(update={"case_writes_at_once": 1})
    async with Api.start(strict, api.clock) as one:
        opened = await asyncio.gather(*(one.open_case() for _ in range(4)))
        assert len({case["id"] for case in opened}) == 4
        turns = one.app.state.case_writes
    assert turns.at_once == 1
    assert turns.taken == 0
    assert not turns.waiting


def test_the_gate_is_in_the_stack_unless_the_setting_is_zero(settings: Settings) -> None:
    def gates(app: Any) -> list[Any]:
        return [m for m in app.user_middleware if m.cls is CaseWriteGate]

    default = create_app(settings)
    assert settings.case_writes_at_once == 8
    assert len(gates(default)) == 1
    assert default.state.case_writes.at_once == 8
    off = create_app(settings.model_copy(update={"case_writes_at_once": 0}))
    assert gates(off) == []
    assert off.state.case_writes is None


async def test_what_the_door_refuses_is_refused_without_waiting(
    settings: Settings, api: Api
) -> None:
    """With every turn taken: a case write without a token is refused at once (401), a read
    answers at once, and a case write that passes the door waits until a turn frees; the
    metrics count it waiting, and nothing once it has landed."""
    strict = settings.model_copy(update={"case_writes_at_once": 1})
    async with Api.start(strict, api.clock) as one:
        case = await one.open_case()
        turns = one.app.state.case_writes
        await turns.take()  # every turn taken
        # answered without a turn (a bound on the wait: a request that waited for one would
        # fail here instead of hanging the suite) …
        refused = await asyncio.wait_for(
            one.client.post(f"/api/v1/cases/{case['id']}/reviews", json={}), ANSWERED_WITHIN
        )
        assert refused.status_code == 401
        read = await asyncio.wait_for(
            one.get("bureau.jiaohe", f"/api/v1/cases/{case['id']}"), ANSWERED_WITHIN
        )
        assert read.status_code == 200
        waiting = asyncio.create_task(one.open_case())  # … while a case write waits for one
        await settle()
        assert not waiting.done()
        assert len(turns.waiting) == 1
        metrics = await scrape(one)  # (a read: it does not wait)
        assert sample(metrics, "fangfanpin_case_writes", state="in_progress") == 1
        assert sample(metrics, "fangfanpin_case_writes", state="waiting") == 1
        turns.give_back()
        assert (await asyncio.wait_for(waiting, ANSWERED_WITHIN))["state"] == "self_declared"
        assert turns.taken == 0
        metrics = await scrape(one)
        assert sample(metrics, "fangfanpin_case_writes", state="in_progress") == 0
        assert sample(metrics, "fangfanpin_case_writes", state="waiting") == 0
