"""An attacker with database rights edits the trail: replay reports where it breaks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app.core.db import make_engine
from tests.helpers import Api, owner_url


async def sql(api: Api, statement: str, **params: Any) -> None:
    """An attacker with full rights on the database: the append-only trigger is set aside
    (disabled for this statement on PostgreSQL, removed from the file on SQLite)."""
    engine = make_engine(owner_url(api.settings))
    async with engine.begin() as connection:
        if api.settings.database_url.startswith("postgresql"):
            await connection.execute(text("ALTER TABLE case_event DISABLE TRIGGER USER"))
            await connection.execute(text(statement), params)
            await connection.execute(text("ALTER TABLE case_event ENABLE TRIGGER USER"))
        else:
            for trigger in ("case_event_no_update", "case_event_no_delete"):
                await connection.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
            await connection.execute(text(statement), params)
    await engine.dispose()


async def replay(api: Api, case_id: str) -> dict[str, Any]:
    response = await api.get("auditor.jiaohe", f"/api/v1/cases/{case_id}/replay")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_untouched_trail_replays_clean(api: Api) -> None:
    case_id = await api.to_assisted()
    result = await replay(api, case_id)
    assert result["chain_valid"]
    assert result["matches"]
    assert result["broken_at_seq"] is None
    assert [s["to_state"] for s in result["steps"]][-1] == "assisted"


async def test_edited_payload_is_located(api: Api) -> None:
    case_id = await api.to_assisted()
    # the review (seq 4) gets more votes than it had
    await sql(
        api,
        "UPDATE case_event SET payload = :p WHERE case_id = :c AND seq = 4",
        p='{"procedure": "identification", "present": 30}',
        c=case_id,
    )
    result = await replay(api, case_id)
    assert result["chain_valid"] is False
    assert result["broken_at_seq"] == 4
    assert [s["seq"] for s in result["steps"] if not s["hash_valid"]] == [4]


async def test_edited_actor_or_state_is_located(api: Api) -> None:
    case_id = await api.to_assisted()
    await sql(
        api,
        "UPDATE case_event SET actor_sub = 'someone.else' WHERE case_id = :c AND seq = 7",
        c=case_id,
    )
    assert (await replay(api, case_id))["broken_at_seq"] == 7


async def test_rewritten_to_state_does_not_fool_replay(api: Api) -> None:
    case_id = await api.to_village_nomination()
    # jump the stored state and the last event's to_state straight to `assisted`
    await sql(
        api, "UPDATE case_event SET to_state = 'assisted' WHERE case_id = :c AND seq = 2", c=case_id
    )
    await sql(api, "UPDATE monitoring_case SET state = 'assisted' WHERE id = :c", c=case_id)
    result = await replay(api, case_id)
    assert result["replayed_state"] == "village_nomination"
    assert result["matches"] is False
    assert result["broken_at_seq"] == 2


async def test_deleted_event_is_located(api: Api) -> None:
    case_id = await api.to_assisted()
    await sql(api, "DELETE FROM case_event WHERE case_id = :c AND seq = 5", c=case_id)
    result = await replay(api, case_id)
    assert result["chain_valid"] is False
    assert result["broken_at_seq"] == 6


async def test_rehashed_forgery_is_caught_as_an_illegal_step(api: Api) -> None:
    """Even with a recomputed chain, a step the rules forbid does not replay as legal."""
    from sqlalchemy import select

    from app.cases.models import CaseEvent
    from app.core.canonical import event_hash
    from app.core.db import make_sessionmaker

    case_id = await api.to_village_nomination()
    engine = make_engine(api.settings.database_url)
    async with make_sessionmaker(engine)() as session, session.begin():
        last = (
            (
                await session.execute(
                    select(CaseEvent)
                    .where(CaseEvent.case_id == case_id)
                    .order_by(CaseEvent.seq.desc())
                )
            )
            .scalars()
            .first()
        )
        assert last is not None
        forged = CaseEvent(
            **{
                c: getattr(last, c)
                for c in (
                    "case_id",
                    "actor_area",
                    "workflow_version",
                    "policy_version",
                    "occurred_at",
                )
            },
            seq=last.seq + 1,
            name="publish_notice",
            from_state="village_nomination",
            to_state="public_notice",
            actor_sub="committee.pinggang",
            actor_role="village_committee",
            payload={},
            prev_hash=last.hash,
        )
        forged.hash = event_hash(forged.hashed_fields(), last.hash)
        session.add(forged)
        await session.execute(
            text(
                "UPDATE monitoring_case SET state = 'public_notice', "
                "version = version + 1 WHERE id = :c"
            ),
            {"c": case_id},
        )
    await engine.dispose()
    result = await replay(api, case_id)
    assert result["chain_valid"] is True  # the attacker recomputed the hashes…
    assert result["all_steps_legal"] is False  # …but no form and no review: illegal step
    illegal = [s for s in result["steps"] if not s["legal"]]
    assert illegal[0]["event"] == "publish_notice"
    assert set(illegal[0]["unmet"]) == {
        "commitment_form_missing",
        "household_facts_missing",
        "review_missing",
    }
