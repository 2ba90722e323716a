"""Rate limits: 429 with Retry-After on the intake, after failed authentications, and per user
on writes; nothing written by a refused request."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.core.clock import FrozenClock
from app.core.config import Settings
from tests.conftest import reset
from tests.helpers import Api, new_id_number
from tests.test_intake import DECLARATION


@pytest.fixture
async def limited(settings: Settings, clock: FrozenClock) -> AsyncIterator[Api]:
    await reset(settings.database_url)
    tight = settings.model_copy(
        update={
            "rate_limits": True,
            "rate_intake_per_minute": 3,
            "rate_auth_failures_per_minute": 2,
            "rate_writes_per_minute": 4,
        }
    )
    async with Api.start(tight, clock) as client:
        yield client


def limited_answer(response: object) -> None:
    assert response.status_code == 429, response.text  # type: ignore[attr-defined]
    assert response.json()["code"] == "rate_limited"  # type: ignore[attr-defined]
    assert int(response.headers["Retry-After"]) >= 1  # type: ignore[attr-defined]


async def test_the_intake_is_limited_per_address(limited: Api) -> None:
    for _ in range(3):
        body = {**DECLARATION, "id_number": new_id_number()}
        answered = await limited.post("platform.12317", "/api/v1/intake/self-declarations", body)
        assert answered.status_code == 201, answered.text
    body = {**DECLARATION, "id_number": new_id_number()}
    limited_answer(await limited.post("platform.12317", "/api/v1/intake/self-declarations", body))
    cases = (await limited.get("bureau.jiaohe", "/api/v1/cases")).json()["items"]
    assert len(cases) == 3  # the refused declaration wrote nothing


async def test_failed_authentication_slows_the_address(limited: Api) -> None:
    bad = {"Authorization": "Bearer forged"}
    for _ in range(2):
        assert (await limited.client.get("/api/v1/cases", headers=bad)).status_code == 401
    limited_answer(await limited.client.get("/api/v1/cases", headers=bad))
    # even a good token from that address waits its turn
    limited_answer(await limited.get("bureau.jiaohe", "/api/v1/cases"))


async def test_writes_are_limited_per_user(limited: Api) -> None:
    case = await limited.open_case("cadre_found")  # 1
    for _ in range(3):  # 2, 3, 4
        response = await limited.post(
            "cadre.pinggang",
            "/api/v1/households",
            {
                "head_name": "赵",
                "head_id_number": new_id_number(),
                "village_code": "220281102200",
                "size": 1,
            },
        )
        assert response.status_code == 201, response.text
    before = await limited.event_count(case["id"])
    limited_answer(await limited.act("cadre.pinggang", case["id"], "start_village_review"))
    assert await limited.event_count(case["id"]) == before
    # another user writes on; reads are not limited
    assert (await limited.post("bureau.jiaohe", "/api/v1/audit/checkpoints")).status_code in (
        200,
        201,
    )
    assert (await limited.get("cadre.pinggang", "/api/v1/cases")).status_code == 200
