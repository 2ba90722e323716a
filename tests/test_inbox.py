"""待办: the cases a role may act on (role x state), the nearest deadline first."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app import migrations
from app.areas.demo import load as load_demo_areas
from app.cases import snapshot as case_snapshot
from app.cases.models import Case
from app.core.clock import FrozenClock
from app.core.db import make_engine, make_sessionmaker
from tests.conftest import settings_for
from tests.helpers import CLASSIFICATION, Api


async def test_the_inbox_holds_the_cases_the_role_may_act_on(api: Api) -> None:
    first = await api.open_case("cadre_found")
    second = await api.open_case("cadre_found")
    await api.must("cadre.pinggang", second["id"], "start_village_review")
    cadre = (await api.get("cadre.pinggang", "/api/v1/inbox")).json()
    assert {c["id"] for c in cadre["items"]} == {first["id"], second["id"]}
    mine = {c["id"]: c["my_actions"] for c in cadre["items"]}
    assert "start_village_review" in mine[first["id"]]
    assert "withdraw" in mine[second["id"]]
    # the committee may reject a report before its review and publish the notice after it;
    # the township acts in neither state
    committee = (await api.get("committee.pinggang", "/api/v1/inbox")).json()
    acts = {c["id"]: set(c["my_actions"]) for c in committee["items"]}
    assert acts == {first["id"]: {"reject"}, second["id"]: {"publish_notice", "reject"}}
    township = (await api.get("township.baishishan", "/api/v1/inbox")).json()
    assert township == {"items": [], "total": 0}
    # another village's cadre sees nothing of these
    elsewhere = (await api.get("cadre.laodong", "/api/v1/inbox")).json()
    assert elsewhere["total"] == 0


async def test_the_nearest_deadline_comes_first_and_the_late_are_marked(api: Api) -> None:
    older = await api.open_case("cadre_found")
    api.clock.advance(timedelta(days=3))
    newer = await api.open_case("cadre_found")
    listed = (await api.get("cadre.pinggang", "/api/v1/inbox")).json()["items"]
    assert [c["id"] for c in listed] == [older["id"], newer["id"]]
    assert listed[0]["due_at"] < listed[1]["due_at"]
    assert not any(c["overdue"] for c in listed)
    api.clock.advance(timedelta(days=30))
    late = (await api.get("cadre.pinggang", "/api/v1/inbox")).json()["items"]
    assert all(c["overdue"] for c in late)
    by_state = await api.get("cadre.pinggang", "/api/v1/inbox", state="assisted")
    assert by_state.json()["items"] == []
    refused = await api.get("cadre.pinggang", "/api/v1/inbox", state="nominated")
    assert refused.status_code == 422
    by_name = await api.get("cadre.pinggang", "/api/v1/inbox", name="王德")
    assert by_name.json()["total"] == 2


async def test_the_dashboard_counts_the_open_cases_of_an_area(api: Api) -> None:
    first = await api.open_case("cadre_found")
    await api.open_case("cadre_found")
    await api.open_case("cadre_found", user="cadre.laodong", village="220281105200")
    await api.must("cadre.pinggang", first["id"], "start_village_review")
    city = (await api.get("bureau.jiaohe", "/api/v1/dashboard")).json()
    assert city["open"] == 3
    assert city["by_state"] == {"cadre_found": 2, "village_nomination": 1}
    assert city["by_channel"] == {"cadre_found": 3}
    assert {v["code"]: (v["name"], v["count"]) for v in city["by_village"]} == {
        "220281102200": ("平岗村", 2),
        "220281105200": ("劳动村", 1),
    }
    township = (await api.get("township.baishishan", "/api/v1/dashboard")).json()
    assert township["open"] == 2
    assert township["area"] == "220281102"
    other = await api.get("township.baishishan", "/api/v1/dashboard", area="220281105")
    assert other.status_code == 404
    api.clock.advance(timedelta(days=40))
    late = (await api.get("bureau.jiaohe", "/api/v1/dashboard")).json()
    assert late["identification_overdue"] == 3


async def test_the_console_reads_how_to_sign_in_without_a_token(api: Api) -> None:
    config = await api.client.get("/api/v1/console/config")
    assert config.status_code == 200
    assert config.json() == {"demo": False, "oidc": None}


async def test_the_demo_doors_are_closed_outside_a_demonstration(api: Api) -> None:
    """Routed in every mode (one OpenAPI document), answered only in a demonstration."""
    assert (await api.client.get("/api/v1/demo/users")).status_code == 404
    minted = await api.client.post("/api/v1/demo/tokens", json={"user": "admin.jiaohe"})
    assert minted.status_code == 404
    assert "access_token" not in minted.text
    assert (await api.post("admin.jiaohe", "/api/v1/demo/clock", {"days": 1})).status_code == 404


async def test_a_running_notice_is_the_deadline_the_inbox_shows(api: Api) -> None:
    """The notice's end comes before the identification limit: the committee's inbox shows it,
    and marks the case once the notice has run (it may then be sent on)."""
    case_id = await api.to_village_nomination("cadre_found")
    await api.nominate(case_id)
    case = await api.case(case_id)
    [item] = (await api.get("committee.pinggang", "/api/v1/inbox")).json()["items"]
    assert item["due_kind"] == "notice_end"
    assert not item["overdue"]
    assert item["due_at"] == case["deadlines"]["notice_ends_at"]
    assert item["due_at"] < case["deadlines"]["identification_due_at"]
    api.clock.advance(timedelta(days=6))
    [ended] = (await api.get("committee.pinggang", "/api/v1/inbox")).json()["items"]
    assert ended["overdue"]
    assert ended["due_kind"] == "notice_end"
    assert (await api.get("bureau.jiaohe", "/api/v1/dashboard")).json()["notices_ended"] == 1
    # once the case leaves the notice, the identification limit is its deadline again
    await api.must("committee.pinggang", case_id, "submit_to_township")
    [verifying] = (await api.get("township.baishishan", "/api/v1/inbox")).json()["items"]
    assert verifying["due_kind"] == "identification"
    assert (await api.case(case_id))["deadlines"]["notice_ends_at"] is None
    # a 12317 declaration waits for the village's acceptance first
    from tests.test_intake import declare

    assert (await declare(api)).status_code == 201
    waiting = (await api.get("cadre.pinggang", "/api/v1/inbox")).json()["items"]
    assert [i["due_kind"] for i in waiting if i["channel"] == "self_declared"] == ["acceptance"]


async def test_measures_and_elimination_due_are_listed_and_counted(api: Api) -> None:
    case_id = await api.to_assisted()
    confirmed = await api.case(case_id)
    city = (await api.get("bureau.jiaohe", "/api/v1/dashboard")).json()
    assert city["measures_due"] == 1
    assert city["elimination_due"] == 0
    assert city["by_risk_type"] == {"illness": 1}
    waiting = (await api.get("bureau.jiaohe", "/api/v1/cases", measures_due="true")).json()
    assert [c["id"] for c in waiting["items"]] == [case_id]
    [item] = (await api.get("bureau.jiaohe", "/api/v1/inbox", state="assisted")).json()["items"]
    assert item["due_kind"] == "measures"
    # monitored six months: a candidate for an elimination assessment, not before
    due = confirmed["deadlines"]["elimination_due_at"]
    assert due is not None
    assert due > confirmed["updated_at"]
    api.clock.advance(timedelta(days=180))
    assert (await api.get("bureau.jiaohe", "/api/v1/dashboard")).json()["elimination_due"] == 0
    api.clock.advance(timedelta(days=5))
    later = (await api.get("bureau.jiaohe", "/api/v1/dashboard")).json()
    assert later["elimination_due"] == 1
    candidates = (await api.get("bureau.jiaohe", "/api/v1/cases", elimination_due="true")).json()
    assert [c["id"] for c in candidates["items"]] == [case_id]
    refused = await api.get("bureau.jiaohe", "/api/v1/cases", elimination_due="false")
    assert refused.status_code == 422
    # the township sees its own; another township's area is not counted
    elsewhere = (await api.get("bureau.jiaohe", "/api/v1/dashboard", area="220281105")).json()
    assert elsewhere["elimination_due"] == 0
    assert elsewhere["by_risk_type"] == {}


async def test_risk_types_are_counted_once_per_case_and_type(api: Api) -> None:
    several = {**CLASSIFICATION, "risk_types": ["illness", "disability"]}
    first = await api.to_village_nomination("cadre_found")
    await api.to_city(first)
    await api.must_fact("bureau.jiaohe", first, "classification", several)
    await api.to_assisted()
    counted = (await api.get("bureau.jiaohe", "/api/v1/dashboard")).json()["by_risk_type"]
    assert counted == {"illness": 2, "disability": 1}


async def test_revision_0026_fills_the_deadlines_the_service_keeps(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """Down past revision 0026 and up again: the backfill computes, from the facts, what the
    service wrote for a case in its notice and for an assisted one."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'deadlines.sqlite3'}"
    await asyncio.to_thread(migrations.upgrade, url)
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session, session.begin():
        await load_demo_areas(session)
    async with Api.start(settings_for(url), clock) as api:
        assisted = await api.to_assisted()
        noticed = await api.to_village_nomination("cadre_found")
        await api.nominate(noticed)
    columns = (Case.id, Case.notice_ends_at, Case.elimination_due_at, Case.risk_types)

    async def kept() -> set[tuple[Any, ...]]:
        async with make_sessionmaker(engine)() as session:
            return {tuple(row) for row in (await session.execute(select(*columns))).all()}

    written = await kept()
    by_case = {row[0]: row[1:] for row in written}
    assert by_case[noticed][0] is not None
    assert by_case[noticed][1:] == (None, None)
    assert by_case[assisted][0] is None
    assert by_case[assisted][1:] != (None, None)
    assert by_case[assisted][2] == ",illness,"
    await asyncio.to_thread(migrations.downgrade, url, "0025")
    await asyncio.to_thread(migrations.upgrade, url)
    assert await kept() == written
    await engine.dispose()


async def test_revision_0033_fills_the_next_deadline_the_service_keeps(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """The service writes each case's next deadline with every event (``next_deadline``);
    down past revision 0033 and up again, its frozen SQL computes the same for every kind:
    acceptance, identification, a running notice, measures, elimination."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'due.sqlite3'}"
    await asyncio.to_thread(migrations.upgrade, url)
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session, session.begin():
        await load_demo_areas(session)
    async with Api.start(settings_for(url), clock) as api:
        await api.open_case("self_declared", user="platform.12317")
        await api.open_case("cadre_found")
        noticed = await api.to_village_nomination("cadre_found")
        await api.nominate(noticed)
        await api.to_assisted()
    columns = (Case.id, Case.due_at, Case.due_kind)

    async def kept() -> set[tuple[Any, ...]]:
        async with make_sessionmaker(engine)() as session:
            return {tuple(row) for row in (await session.execute(select(*columns))).all()}

    written = await kept()
    assert {row[2] for row in written} >= {"acceptance", "identification", "notice_end"}
    assert all(row[1] is not None for row in written)
    await asyncio.to_thread(migrations.downgrade, url, "0032")
    await asyncio.to_thread(migrations.upgrade, url)
    assert await kept() == written
    await engine.dispose()


def test_the_next_deadline_of_each_kind() -> None:
    at = datetime(2026, 3, 2, tzinfo=UTC)
    base: dict[str, Any] = {
        "id": "c",
        "household_id": "h",
        "area_code": "220281102200",
        "channel": "cadre_found",
        "version": 1,
        "workflow_version": "case-v2",
        "policy_version": "p",
        "is_open": True,
        "monitoring_type": None,
        "facts": {},
        "last_hash": "0" * 64,
        "opened_at": at,
        "identification_due_at": at + timedelta(days=15),
        "measures_due_at": None,
        "acceptance_due_at": None,
        "updated_at": at,
    }
    n = timedelta(days=1)
    cases: list[tuple[dict[str, Any], tuple[Any, Any]]] = [
        ({"state": "cadre_found"}, (at + 15 * n, "identification")),
        ({"state": "self_declared", "acceptance_due_at": at + 2 * n}, (at + 2 * n, "acceptance")),
        ({"state": "public_notice", "notice_ends_at": at + 5 * n}, (at + 5 * n, "notice_end")),
        # a notice that ends after the identification limit: the limit comes first
        (
            {"state": "public_notice", "notice_ends_at": at + 20 * n},
            (at + 15 * n, "identification"),
        ),
        ({"state": "assisted", "measures_due_at": at + 30 * n}, (at + 30 * n, "measures")),
        ({"state": "assisted", "elimination_due_at": at + 99 * n}, (at + 99 * n, "elimination")),
        ({"state": "elimination_notice", "notice_ends_at": at + 5 * n}, (at + 5 * n, "notice_end")),
        ({"state": "kept_under_watch"}, (None, None)),
    ]
    for changes, expected in cases:
        assert (
            case_snapshot.next_deadline(case_snapshot.Snapshot(**{**base, **changes})) == expected
        ), changes
