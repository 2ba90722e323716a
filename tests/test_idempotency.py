"""Idempotency-Key on POST: a retry answers the first answer and writes nothing."""

from __future__ import annotations

from sqlalchemy import insert

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
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
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
    assert other_caller.status_code == 200 and other_caller.json()["attached"] is True


async def test_key_in_flight_is_409(api: Api) -> None:
    body = report(new_id_number())
    engine = make_engine(api.settings.database_url)
    async with make_sessionmaker(engine)() as session, session.begin():
        import hashlib
        import json

        raw = json.dumps(body).encode()
        await session.execute(
            insert(IdempotencyRecord).values(
                subject="cadre.pinggang",
                method="POST",
                path="/api/v1/cases",
                key="busy",
                request_sha256=hashlib.sha256(raw).hexdigest(),
                created_at=api.clock.now(),
            )
        )
    await engine.dispose()
    response = await api.client.post(
        "/api/v1/cases",
        content=json.dumps(body),
        headers=api.headers(
            "cadre.pinggang", **{"Idempotency-Key": "busy", "Content-Type": "application/json"}
        ),
    )
    assert response.status_code == 409 and response.json()["code"] == "idempotency_key_in_flight"
    assert (await api.get("bureau.jiaohe", "/api/v1/cases")).json()["items"] == []
